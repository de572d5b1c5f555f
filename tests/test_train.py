"""End-to-end trainer tests on the tiny embedded dataset with 2 simulated devices."""

import glob
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import orbax.checkpoint as ocp
import pytest

from vidjax import configs, logs, train
from vidjax.data import pipeline
from vidjax.evaluators import common

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Every experiment file (a config with get_config; experiments/unidual/study.py is a runner).
EXPERIMENTS = sorted(
  os.path.relpath(p, REPO)
  for p in glob.glob(os.path.join(REPO, 'experiments', '**', '*.py'), recursive=True)
  if 'def get_config' in pathlib.Path(p).read_text()
)

# Evaluate-only mode is checked on the quickstart and on embedded-data experiments that
# between them use every task and evaluator type (the test below holds them to it); the
# others differ from these in data and sizes only.
EVALUATE_ONLY_CHECKED = (
  'experiments/quickstart.py',
  'experiments/arrow_of_time/synthetic.py',
  'experiments/ava/synthetic.py',
  'experiments/avts/synthetic.py',
  'experiments/avts/synthetic_finetune.py',
  'experiments/colorization/synthetic.py',
  'experiments/crw/synthetic.py',
  'experiments/distinit/synthetic.py',
  'experiments/distinit/teacher.py',
  'experiments/gblend/synthetic.py',
  # The person-crop loader's only experiment; its smoke mode reads the embedded videos.
  'experiments/posewarper/posetrack.py',
  'experiments/posewarper/synthetic.py',
  'experiments/scsampler/synthetic.py',
  'experiments/shuffle_learn/synthetic.py',
  'experiments/speednet/synthetic.py',
  'experiments/tcc/synthetic.py',
  'experiments/unidual/synthetic.py',
  'experiments/weak_supervision/synthetic.py',
)


# Experiments whose smoke mode distils the teacher of experiments/distinit/teacher.py:smoke.
NEEDS_A_TEACHER = ('experiments/distinit/synthetic.py', 'experiments/distinit/kinetics400.py')
# Experiments whose smoke mode evaluates with the classifier of experiments/quickstart.py:smoke.
NEEDS_A_CLASSIFIER = ('experiments/scsampler/synthetic.py', 'experiments/scsampler/sports1m.py')


def _smoke_config(path: str, data_dir: str, arg: str = ''):
  config = configs.load_config_file(os.path.join(REPO, path) + ':smoke' + arg)
  config.input.data_dir = data_dir
  return config


@pytest.mark.slow
@pytest.mark.parametrize('path', EXPERIMENTS)
def test_every_experiment_smoke_runs(path, synthetic_images_data_dir, tmp_path, request):
  arg = f',teacher={request.getfixturevalue("distinit_teacher")}' if path in NEEDS_A_TEACHER else ''
  if path in NEEDS_A_CLASSIFIER:
    arg = f',classifier={request.getfixturevalue("scsampler_classifier")}'
  config = _smoke_config(path, synthetic_images_data_dir, arg)
  results = train.train_and_evaluate(config, str(tmp_path))
  entries = logs.read_metrics(str(tmp_path))
  train_losses = [e['train/loss'] for e in entries if 'train/loss' in e]
  assert train_losses and np.all(np.isfinite(train_losses))
  assert entries[0]['model/params_millions'] > 0 and entries[0]['model/gflops_per_clip'] > 0
  eval_counts = [v for k, v in results.items() if k.endswith('/num_examples')]
  # The tiny validation split; the person-crop loader scores the videos that show their
  # object in a labelled frame, 24 of the 32 tiny keypoint videos.
  expected = 24 if config.input.loader == 'person_crops' else 32
  if config.input.label_space.kind:  # the videos that have a class of the space
    expected = json.loads((tmp_path / 'results.json').read_text())['datasets']['val']
    expected = expected['label_space']['num_examples']
    assert 0 < expected <= 32
  assert eval_counts and all(c == expected for c in eval_counts)
  saved = json.loads((tmp_path / 'config.json').read_text())
  assert saved['total_steps'] == config.total_steps
  assert os.path.isdir(tmp_path / 'checkpoints' / str(config.total_steps))
  filenames = ['results.json']
  if path in EVALUATE_ONLY_CHECKED:
    # Evaluate-only mode on the checkpoint gives the same numbers.
    again = train.evaluate(config, str(tmp_path))
    for key, value in again.items():
      np.testing.assert_allclose(value, results[key], rtol=1e-5)
    filenames.append('eval_results.json')
  # Both record which examples the numbers were computed on.
  for filename in filenames:
    recorded = json.loads((tmp_path / filename).read_text())
    for name, eval_config in config.evals.items():
      manifest = recorded['datasets'][name]
      if eval_config.type in ('label_propagation', 'alignment'):  # rendered videos
        assert manifest['source'] == eval_config.source
        continue
      assert manifest['split'] == eval_config.split and manifest['num_examples'] == 32
      dataset = common.eval_input_config(config.input, eval_config).dataset
      assert [manifest['dataset'], manifest['config']] == dataset.split('/')


def test_evaluate_only_checks_cover_every_task_and_evaluator():
  def kinds(paths):
    found = set()
    for path in paths:
      config = configs.load_config_file(os.path.join(REPO, path) + ':smoke')
      found |= {(config.task, e.type) for e in config.evals.values()}
    return found

  assert set(EVALUATE_ONLY_CHECKED) <= set(EXPERIMENTS)
  assert kinds(EVALUATE_ONLY_CHECKED) >= kinds(EXPERIMENTS)


def _cli(workdir, data_dir, *overrides):
  return [
    sys.executable,
    '-m',
    'vidjax.main',
    '--config',
    'experiments/quickstart.py:smoke',
    '--workdir',
    str(workdir),
    f'--config.input.data_dir={data_dir}',
    '--config.log_every=1',
    *overrides,
  ]


def _wait_for(condition, process, timeout=300):
  deadline = time.time() + timeout
  while time.time() < deadline:
    assert process.poll() is None, process.communicate()[1][-3000:]
    if condition():
      return
    time.sleep(0.2)
  raise TimeoutError('the run did not get there')


def _wait_for_step(workdir, step, process, key='train/loss'):
  """Waits until `workdir`'s metrics log `key` at `step` or later."""
  path = os.path.join(workdir, 'metrics.jsonl')
  _wait_for(
    lambda: (
      os.path.exists(path)
      and any(e['step'] >= step and key in e for e in logs.read_metrics(workdir))
    ),
    process,
  )


def _final_params(workdir, step):
  state = _final_state(workdir, step)
  return state['params'], state['batch_stats']


def _final_state(workdir, step):
  return ocp.StandardCheckpointer().restore(
    os.path.join(workdir, 'checkpoints', str(step), 'state')
  )


@pytest.mark.slow
def test_sigkill_then_resume_is_bitwise_identical_with_task_state(synthetic_data_dir, tmp_path):
  """A run killed with SIGKILL between an evaluation and the next checkpoint resumes to
  bitwise-equal parameters, batch statistics and task state. The task's state changes at
  every evaluation (steps 2, 4, 6, 8); checkpoints are written at steps 5 and 8, and the
  run is killed once step 6's evaluation is logged and step 5's checkpoint is complete."""
  steps = [
    '--config.total_steps=8',
    '--config.ckpt_every=5',
    '--config.evals.val.every_steps=2',
    '--config.task=tests.stateful_task',
    '--config.evals.val.split=validation[:16]',  # evaluations, not many videos
  ]
  env = dict(os.environ, PYTHONPATH=REPO)
  reference = tmp_path / 'reference'
  subprocess.run(
    _cli(reference, synthetic_data_dir, *steps), cwd=REPO, env=env, check=True, capture_output=True
  )
  resumed = tmp_path / 'resumed'
  process = subprocess.Popen(
    _cli(resumed, synthetic_data_dir, *steps),
    cwd=REPO,
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )
  _wait_for_step(str(resumed), 6, process, key='eval/val/loss')
  _wait_for(lambda: os.path.isdir(resumed / 'checkpoints' / '5'), process)
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert not os.path.isdir(resumed / 'checkpoints' / '8')
  subprocess.run(
    _cli(resumed, synthetic_data_dir, *steps), cwd=REPO, env=env, check=True, capture_output=True
  )
  expected, got = _final_state(str(reference), 8), _final_state(str(resumed), 8)
  assert int(expected['task_state']['num_updates']) == 4  # one update per evaluation
  assert float(expected['task_state']['loss_weight']) != 1.0
  for part in ('params', 'batch_stats', 'task_state'):
    leaves_expected, leaves_got = jax_leaves(expected[part]), jax_leaves(got[part])
    assert len(leaves_expected) == len(leaves_got) > 0
    for a, b in zip(leaves_expected, leaves_got, strict=True):
      np.testing.assert_array_equal(a, b)  # bitwise, not approximately
  entries = logs.read_metrics(str(resumed))
  assert [e['step'] for e in entries if 'train/loss' in e] == list(range(1, 9))
  # The weight that trained each step is the one the last evaluation before it set.
  weights = {e['step']: e['train/loss_weight'] for e in entries if 'train/loss_weight' in e}
  assert weights[1] == weights[2] == 1.0 and weights[3] != 1.0 and weights[7] != weights[6]


def jax_leaves(tree):
  import jax

  return [np.asarray(x) for x in jax.tree.leaves(tree)]


@pytest.mark.slow
def test_sigterm_saves_and_exits_cleanly(synthetic_data_dir, tmp_path):
  env = dict(os.environ, PYTHONPATH=REPO)
  process = subprocess.Popen(
    _cli(tmp_path, synthetic_data_dir, '--config.total_steps=100000', '--config.ckpt_every=1000'),
    cwd=REPO,
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )
  _wait_for_step(str(tmp_path), 2, process)
  process.send_signal(signal.SIGTERM)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 0, stderr[-3000:]
  saved = [int(d) for d in os.listdir(tmp_path / 'checkpoints') if d.isdigit()]
  assert saved and max(saved) >= 2
  assert 'rerun to resume' in stderr


def test_non_finite_loss_names_the_step(synthetic_data_dir, tmp_path):
  config = _smoke_config('experiments/quickstart.py', synthetic_data_dir)
  config.optim.schedule.base_lr = 1e30
  config.optim.schedule.warmup_steps = 0
  config.total_steps = 6
  config.log_every = 6
  with pytest.raises(FloatingPointError, match=r'at step \d'):
    train.train_and_evaluate(config, str(tmp_path))


def test_accumulation_and_moving_average_train_and_evaluate(synthetic_data_dir, tmp_path):
  """Gradient accumulation and the parameters' moving average in one run: both averages'
  evaluations are logged, and evaluate-only mode gives them again from the checkpoint."""
  config = _smoke_config('experiments/quickstart.py', synthetic_data_dir)
  config.optim.update(accumulation_steps=2, ema_decay=0.5)
  results = train.train_and_evaluate(config, str(tmp_path))
  assert results['eval/val/ema/num_examples'] == results['eval/val/num_examples'] == 32
  assert results['eval/val/ema/loss'] != results['eval/val/loss']
  again = train.evaluate(config, str(tmp_path))
  for key in ('eval/val/loss', 'eval/val/ema/loss'):
    np.testing.assert_allclose(again[key], results[key], rtol=1e-5)


def test_batch_size_must_divide_over_devices(synthetic_data_dir, tmp_path):
  config = _smoke_config('experiments/quickstart.py', synthetic_data_dir)
  config.input.batch_size = 13
  with pytest.raises(ValueError, match='input.batch_size=13 must be a multiple of the number'):
    train.train_and_evaluate(config, str(tmp_path))


def test_corrupt_source_video_is_reported_and_training_runs(synthetic_data_dir, tmp_path):
  from vidjax.data.builders import synthetic

  data_dir = str(tmp_path / 'tfds')
  sources = synthetic.sources_dir(data_dir, 'tiny')
  shutil.copytree(synthetic.sources_dir(synthetic_data_dir, 'tiny'), sources)
  corrupt = os.path.join(sources, 'train', 'train_00003.mp4')
  with open(corrupt, 'wb') as f:
    f.write(b'\x00\x00\x00\x18ftypmp42' + os.urandom(2000))  # an mp4 header, then noise
  config = _smoke_config('experiments/quickstart.py', data_dir)
  results = train.train_and_evaluate(config, str(tmp_path / 'workdir'))
  with open(os.path.join(sources, 'train_report.json')) as f:
    report = json.load(f)
  assert [e['path'] for e in report['left_out']] == [corrupt] and report['left_out'][0]['error']
  assert report['num_examples'] == 63
  assert np.isfinite(results['train/loss']) and results['data/decode_failures'] == 0


def test_mixing_needs_a_task_that_reads_mixed_labels(synthetic_data_dir, tmp_path, monkeypatch):
  from vidjax.tasks import classification  # noqa: PLC0415

  monkeypatch.setattr(classification.Task, 'reads_mixed_labels', False)
  config = _smoke_config('experiments/quickstart.py', synthetic_data_dir)
  config.input.pp.mix.cutmix_alpha = 1.0
  with pytest.raises(ValueError, match='does not read mixed labels'):
    train.train_and_evaluate(config, str(tmp_path))


def _two_source_config(data_dir, total_steps):
  config = _smoke_config('experiments/quickstart.py', data_dir)
  config.total_steps, config.ckpt_every, config.evals = total_steps, 2, {}
  config.input.sources = dict(
    video=dict(batch_size=8),
    image=dict(dataset='vidjax_synthetic/images', loader='image', batch_size=16),
  )
  config.task = 'tests.two_source_task'
  config.task_kwargs = dict(num_frames=config.input.sampling.num_frames)
  return config


def test_two_source_run_resumes_both_iterators_exactly(
  synthetic_images_data_dir, tmp_path, monkeypatch
):
  """A run resumed from its step-2 checkpoint ends where the uninterrupted one did: both
  sources' iterators continue exactly (bitwise-equal parameters at step 4). Started once
  more, the finished run keeps its results."""
  reference, resumed = tmp_path / 'reference', tmp_path / 'resumed'
  config = _two_source_config(synthetic_images_data_dir, 4)
  results = train.train_and_evaluate(config, str(reference))
  assert np.isfinite(results['train/image_loss']) and np.isfinite(results['train/video_loss'])
  # The same run, as if killed after its step-2 checkpoint.
  shutil.copytree(reference, resumed)
  shutil.rmtree(resumed / 'checkpoints' / '4')
  data_state = json.loads((resumed / 'checkpoints' / '2' / 'data' / 'metadata').read_text())
  assert set(data_state) == {'video', 'image'}
  restored = []
  set_state = pipeline.SourcesIterator.set_state
  monkeypatch.setattr(
    pipeline.SourcesIterator,
    'set_state',
    lambda self, state: restored.append(state) or set_state(self, state),
  )
  resumed_results = train.train_and_evaluate(config, str(resumed))
  assert restored == [data_state]  # it resumed at step 2, with both iterators' states
  # Started again when finished, it trains no step, returns what it measured and leaves
  # its results.json as it was.
  written = (resumed / 'results.json').read_text()
  assert train.train_and_evaluate(config, str(resumed)) == resumed_results
  assert (resumed / 'results.json').read_text() == written
  assert 'train/video_loss' in json.loads(written)
  expected, got = _final_params(str(reference), 4), _final_params(str(resumed), 4)
  for a, b in zip(jax_leaves(expected), jax_leaves(got), strict=True):
    np.testing.assert_array_equal(a, b)
