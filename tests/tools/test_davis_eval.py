"""tools/davis_eval.py against the official DAVIS-2017 evaluation (tests/tools/davis2017)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from davis2017.evaluation import DAVISEvaluation
from davis2017.utils import db_statistics
from davis_masks import write_davis_folder
from PIL import Image

from vidjax.data import davis as davis_data
from vidjax.evaluators import davis

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


SEQUENCES = {  # name: (frames, objects, height, width)
  'bear': (12, 1, 120, 214),
  'dogs': (9, 3, 96, 160),
  'swap': (6, 2, 240, 427),
  'short': (3, 2, 64, 64),
  'long': (40, 4, 48, 80),
}


@pytest.fixture(scope='module')
def davis_folders(tmp_path_factory):
  root = tmp_path_factory.mktemp('davis')
  return str(root), write_davis_folder(root, SEQUENCES)


def official(root, results):
  """The official figures, aggregated as its evaluation_method.py does."""
  metrics = DAVISEvaluation(davis_root=root, task='semi-supervised', gt_set='val').evaluate(results)
  j, f = metrics['J'], metrics['F']
  figures = {
    'J&F-Mean': (np.mean(j['M']) + np.mean(f['M'])) / 2,
    'J-Mean': np.mean(j['M']),
    'J-Recall': np.mean(j['R']),
    'J-Decay': np.mean(j['D']),
    'F-Mean': np.mean(f['M']),
    'F-Recall': np.mean(f['R']),
    'F-Decay': np.mean(f['D']),
  }
  per_object = {
    k: {'J-Mean': j['M_per_object'][k], 'F-Mean': f['M_per_object'][k]} for k in j['M_per_object']
  }
  return figures, per_object


def test_every_number_equals_the_official_evaluation(davis_folders):
  root, results = davis_folders
  figures, per_object = official(root, results)
  ours = davis.evaluate_folder(root, results, 'val', processes=1)
  for name in davis.METRICS:
    assert ours[name] == pytest.approx(figures[name], abs=1e-6), name
  assert ours['per_object'].keys() == per_object.keys()
  for key, means in per_object.items():
    assert ours['per_object'][key] == pytest.approx(means, abs=1e-6), key
  # The mask sets are not trivial: neither perfect nor empty.
  assert 0.2 < figures['J&F-Mean'] < 0.9


def test_the_annotations_score_one(davis_folders, tmp_path):
  root, _ = davis_folders
  for name in SEQUENCES:
    folder = os.path.join(root, 'Annotations', '480p', name)
    os.makedirs(tmp_path / name)
    for frame in os.listdir(folder):
      labels = davis_data.read_mask(os.path.join(folder, frame))
      davis_data.write_mask(tmp_path / name / frame, np.where(labels == 255, 0, labels))
  ours = davis.evaluate_folder(root, str(tmp_path), 'val', processes=1)
  assert ours['J-Mean'] == 1.0 and ours['F-Mean'] == 1.0 and ours['J&F-Mean'] == 1.0


def test_the_decay_has_no_uint8_overflow():
  # 300 frames: bins start at frames 0, 75, 149 and 224 and end at 299, which the
  # official code casts to uint8 (43), leaving its last bin empty.
  values = np.r_[np.ones(224), np.zeros(76)]
  assert davis.statistics(values) == (224 / 300, 224 / 300, 1.0)
  assert np.isnan(db_statistics(values)[2])
  short = np.random.default_rng(0).random(104)  # DAVIS-2017's longest sequence: they agree
  assert davis.statistics(short) == pytest.approx(db_statistics(short), abs=1e-12)


def test_the_tool_prints_the_tables_and_writes_json(davis_folders, tmp_path):
  root, results = davis_folders
  out = tmp_path / 'davis.json'
  command = [sys.executable, os.path.join(REPO, 'tools', 'davis_eval.py'), '--davis_root', root]
  command += ['--results_dir', results, '--set', 'val', '--json', str(out), '--processes', '2']
  completed = subprocess.run(command, capture_output=True, text=True, check=True)
  assert 'Global results for val' in completed.stdout and 'dogs_3' in completed.stdout
  written = json.loads(out.read_text())
  expected = davis.evaluate_folder(root, results, 'val', processes=1)
  assert written == expected  # JSON keeps floats exactly
  assert set(written) == {*davis.METRICS, 'per_object'} and len(written['per_object']) == 12


def _copy(root, tmp_path):
  copy = tmp_path / 'copy'
  shutil.copytree(root, copy)
  return copy


def test_an_id_the_first_frame_lacks_is_refused_naming_the_file(davis_folders, tmp_path):
  root, _ = davis_folders
  copy = _copy(root, tmp_path)
  results = copy / 'results'
  mask = davis_data.read_mask(results / 'dogs' / '00004.png').copy()
  mask[:5, :5] = 4
  davis_data.write_mask(results / 'dogs' / '00004.png', mask)
  with pytest.raises(SystemExit):  # the official code exits without saying where
    DAVISEvaluation(davis_root=str(copy), task='semi-supervised', gt_set='val').evaluate(
      str(results)
    )
  with pytest.raises(ValueError, match=r'dogs/00004.png: object id 4.*objects 1..3'):
    davis.evaluate_folder(str(copy), str(results), 'val', processes=1)


@pytest.mark.parametrize(
  'problem', ['missing annotation', 'other size', 'rgb', 'unknown gt id', 'no results']
)
def test_bad_folders_are_refused_naming_the_file(davis_folders, tmp_path, problem):
  root, _ = davis_folders
  copy = _copy(root, tmp_path)
  annotations, results = copy / 'Annotations' / '480p' / 'bear', copy / 'results'
  if problem == 'missing annotation':
    os.remove(annotations / '00007.png')
    match = r'bear/00007.png not found: 1 of the 12 frames'
  elif problem == 'other size':
    davis_data.write_mask(results / 'bear' / '00003.png', np.zeros((60, 107), np.uint8))
    match = r'bear/00003.png: a mask of 107x60 pixels where the sequence\'s annotations are 214x120'
  elif problem == 'rgb':
    Image.fromarray(np.zeros((120, 214, 3), np.uint8)).save(results / 'bear' / '00002.png')
    match = r'bear/00002.png: a RGB image; masks are indexed PNGs'
  elif problem == 'unknown gt id':
    mask = davis_data.read_mask(annotations / '00005.png').copy()
    mask[:3, :3] = 7
    davis_data.write_mask(annotations / '00005.png', mask)
    match = r'bear/00005.png: object id 7 is not in the first frame, whose objects are 1..1'
  else:
    shutil.rmtree(results / 'swap')
    match = r'results/swap not found: 1 of the 5 sequences have no results folder'
  with pytest.raises((ValueError, FileNotFoundError), match=match):
    davis.evaluate_folder(str(copy), str(results), 'val', processes=1)


def test_the_benchmark_times_both_on_the_same_masks(monkeypatch):
  sys.path.insert(0, os.path.join(REPO, 'tools'))
  import davis_speed

  monkeypatch.setattr(davis_speed, 'SEQUENCES', 2)
  monkeypatch.setattr(davis_speed, 'FRAMES', 4)
  results = davis_speed.davis_benchmark(rounds=1)
  assert results['j_and_f_vidjax'] == pytest.approx(results['j_and_f_official'], abs=1e-6)
  for key in ('official_s', 'vidjax_1_process_s', 'davis_eval_command_s'):
    assert results[key] > 0
  # The times are written to the millisecond, the ratio from the unrounded times: on these
  # tiny sets the rounding alone moves the ratio by several per cent.
  official, vidjax = results['official_s'], results['vidjax_1_process_s']
  half_ms = 0.0005
  lowest = (official - half_ms) / (vidjax + half_ms)
  highest = (official + half_ms) / (vidjax - half_ms)
  assert lowest - 0.005 <= results['speedup_1_process'] <= highest + 0.005
