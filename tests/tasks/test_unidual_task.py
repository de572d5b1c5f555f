"""The joint image/video task: weighted per-task losses, per-task metrics, resume, variants."""

import json
import os
import shutil

import jax
import numpy as np
import optax
import pytest

from vidjax import configs, train
from vidjax.models import unidual as unidual_model
from vidjax.tasks import base, unidual

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENT = os.path.join(REPO, 'experiments', 'unidual', 'synthetic.py')
VIDEO = jax.random.normal(jax.random.key(1), (2, 4, 32, 32, 3))
IMAGE = jax.random.normal(jax.random.key(2), (3, 32, 32, 3))
BATCH = {
  'video': {'video': VIDEO, 'label': np.array([0, 4])},
  'image': {'image': IMAGE, 'label': np.array([1, 2, 0])},
}


@pytest.fixture(scope='module')
def model_and_variables():
  model = unidual_model.Model(num_classes=dict(video=5, image=3), depth=10, width=4)
  return model, model.init(jax.random.key(0), {'video': VIDEO}, train=False)


def _context(step=0):
  rngs = {'sources': jax.random.fold_in(jax.random.key(3), step)}
  return base.Context(step=step, rngs=rngs, train=False, state={}, constants={}, pp=None)


def _cross_entropies(model, variables):
  logits, _ = model.apply(variables, {'video': VIDEO, 'image': IMAGE}, train=False)
  return {
    name: float(optax.softmax_cross_entropy_with_integer_labels(logits[name], b['label']).mean())
    for name, b in BATCH.items()
  }


def test_the_loss_is_the_weighted_sum_of_the_tasks_losses(model_and_variables):
  model, variables = model_and_variables
  task = unidual.Task(loss_weights=dict(image=0.25))
  loss, (_, metrics) = task.loss_and_metrics(model, variables, BATCH, _context())
  expected = _cross_entropies(model, variables)
  np.testing.assert_allclose(metrics['video_loss'], expected['video'], rtol=1e-5)
  np.testing.assert_allclose(metrics['image_loss'], expected['image'], rtol=1e-5)
  np.testing.assert_allclose(loss, expected['video'] + 0.25 * expected['image'], rtol=1e-5)
  assert 0.0 <= float(metrics['video_top1']) <= 1.0 and 'image_top1' in metrics


def test_a_source_probability_drops_its_loss_on_some_steps(model_and_variables):
  model, variables = model_and_variables
  task = unidual.Task(source_probabilities=dict(image=0.5))
  expected = _cross_entropies(model, variables)
  kept = []
  for step in range(12):
    loss, (_, metrics) = task.loss_and_metrics(model, variables, BATCH, _context(step))
    kept.append(float(metrics['image_kept']))
    np.testing.assert_allclose(loss, expected['video'] + kept[-1] * expected['image'], rtol=1e-5)
  assert set(kept) == {0.0, 1.0}  # a function of the step, so a resumed run draws the same


def test_predict_scores_the_modality_of_the_batch(model_and_variables):
  model, variables = model_and_variables
  task = unidual.Task()
  predictions = task.predict(model, variables, {'image': IMAGE, 'label': None}, _context())
  assert predictions['logits'].shape == (3, 3) and 'logits/image' in predictions
  with pytest.raises(ValueError, match='exactly one of'):
    task.predict(model, variables, {'image': IMAGE, 'video': VIDEO}, _context())


def test_task_kwargs_must_name_sources_of_the_input(model_and_variables):
  model, variables = model_and_variables
  with pytest.raises(ValueError, match=r"names sources \['audio'\]"):
    unidual.Task(loss_weights=dict(audio=1.0)).loss_and_metrics(model, variables, BATCH, _context())
  with pytest.raises(ValueError, match='0 < p <= 1'):
    unidual.Task(source_probabilities=dict(image=0.0))


def _smoke(variant, data_dir, init_from=''):
  arg = f'smoke,variant={variant}' + (f',init_from={init_from}' if init_from else '')
  config = configs.load_config_file(f'{EXPERIMENT}:{arg}')
  config.input.data_dir = data_dir
  return config


@pytest.mark.slow
def test_a_joint_run_resumes_exactly(synthetic_images_data_dir, tmp_path):
  """Killed after its step-2 checkpoint, a joint run resumes both sources' iterators and
  ends with the uninterrupted run's parameters, bit for bit."""
  reference, resumed = tmp_path / 'reference', tmp_path / 'resumed'
  config = _smoke('joint', synthetic_images_data_dir)
  config.evals = {}
  results = train.train_and_evaluate(config, str(reference))
  assert np.isfinite(results['train/video_loss']) and np.isfinite(results['train/image_loss'])
  shutil.copytree(reference, resumed)
  shutil.rmtree(resumed / 'checkpoints' / '4')
  train.train_and_evaluate(config, str(resumed))
  from tests.test_train import _final_params, jax_leaves

  expected, got = _final_params(str(reference), 4), _final_params(str(resumed), 4)
  for a, b in zip(jax_leaves(expected), jax_leaves(got), strict=True):
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_pretrain_then_fine_tune_starts_from_the_other_tasks_run(
  synthetic_images_data_dir, tmp_path
):
  pretrain = tmp_path / 'image_only'
  results = train.train_and_evaluate(_smoke('image_only', synthetic_images_data_dir), str(pretrain))
  assert 'train/image_top1' in results and 'train/video_loss' not in results
  checkpoint = str(pretrain / 'checkpoints' / '4')
  config = _smoke('image_then_video', synthetic_images_data_dir, init_from=checkpoint)
  config.total_steps = 2
  results = train.train_and_evaluate(config, str(tmp_path / 'fine_tune'))
  assert results['eval/video/num_examples'] == 32 and 'train/image_loss' not in results
  with open(tmp_path / 'fine_tune' / 'config.json') as f:
    assert json.load(f)['init_from']['path'] == checkpoint
  with pytest.raises(ValueError, match='init_from is required'):
    _smoke('image_then_video', synthetic_images_data_dir)


def test_the_study_runs_every_variant_and_summarises_the_seeds(tmp_path, monkeypatch):
  """experiments/unidual/study.py on vidjax/study.py: the pretrain-then-fine-tune runs
  start from the same seed's separate run; finished runs are not run again; mean and
  spread per variant."""
  import importlib.util

  from vidjax import study

  spec = importlib.util.spec_from_file_location(
    'unidual_study', os.path.join(REPO, 'experiments', 'unidual', 'study.py')
  )
  unidual_study = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(unidual_study)
  commands = []

  def fake_run(command, check, cwd):
    commands.append(command)
    workdir = next(c.split('=', 1)[1] for c in command if c.startswith('--workdir='))
    seed = int(next(c.split('=', 1)[1] for c in command if c.startswith('--config.seed=')))
    os.makedirs(os.path.join(workdir, 'checkpoints', '300'))
    with open(os.path.join(workdir, 'results.json'), 'w') as f:
      json.dump({'eval/video/video_top1_2x1': 50.0 + seed, 'eval/image/clip_top1': 10.0}, f)

  monkeypatch.setattr(study.subprocess, 'run', fake_run)

  def run():
    return study.run_study(
      experiment=unidual_study.EXPERIMENT,
      runs=unidual_study.RUNS,
      metrics=unidual_study.METRICS,
      workdir=str(tmp_path),
      seeds=[0, 1],
    )

  result = run()
  assert len(commands) == 12
  fine_tune = next(
    c for c in commands if 'variant=image_then_video' in c[3] and c[-1] == '--config.seed=1'
  )
  assert f'init_from={tmp_path}/seed1/image_only/checkpoints/300' in fine_tune[3]
  assert result['summary']['joint']['video@1'] == dict(
    mean=50.5, std=np.std([50, 51], ddof=1), values=[50.0, 51.0]
  )
  table = study.table(result, list(unidual_study.METRICS))
  assert '| joint | 50.5 ± 0.7 (50.0, 51.0) | 10.0 ± 0.0 (10.0, 10.0) |' in table
  run()
  assert len(commands) == 12  # everything had finished
