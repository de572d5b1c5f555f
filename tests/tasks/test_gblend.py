"""Gradient Blending: the OGR arithmetic, its degenerate windows, the weights as task state."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vidjax import models
from vidjax.models import multimodal
from vidjax.tasks import base, gblend

HEADS = ('audio', 'video', 'fused')


def test_ogr_weights_on_hand_computed_losses():
  # [V, T] losses of the heads (audio, video, fused) at N and at N + n.
  previous = np.array([[2.0, 2.0, 2.0], [1.9, 1.8, 1.5]])
  current = np.array([[1.5, 1.8, 1.2], [1.2, 1.2, 0.6]])
  weights, g, o, notes = gblend.ogr_weights(previous, current, min_overfitting=1e-4)
  np.testing.assert_allclose(g, [0.5, 0.2, 0.8])
  # Gaps 0.1, 0.2, 0.5 grow to 0.3, 0.6, 0.6.
  np.testing.assert_allclose(o, [0.2, 0.4, 0.1], atol=1e-12)
  ratios = np.array([0.5 / 0.2**2, 0.2 / 0.4**2, 0.8 / 0.1**2])  # 12.5, 1.25, 80
  np.testing.assert_allclose(weights, ratios / ratios.sum())
  assert not notes


def test_degenerate_windows_follow_the_documented_rule():
  previous = np.array([[2.0, 2.0, 2.0], [1.9, 1.9, 1.9]])
  # audio: no generalisation (G < 0); video: the gap shrank (O < 0); fused: normal.
  current = np.array([[2.1, 1.5, 1.6], [1.8, 1.5, 1.3]])
  weights, g, o, notes = gblend.ogr_weights(previous, current, min_overfitting=1e-2)
  assert g[0] < 0 and weights[0] == 0
  assert o[1] < 0  # reported as measured, floored in the ratio
  ratios = np.array([0.0, 0.5 / 1e-2**2, 0.4 / 0.2**2])
  np.testing.assert_allclose(weights, ratios / ratios.sum())
  assert len(notes) == 2 and 'weight 0' in notes[1] and 'floor' in notes[0]
  nothing, *_ = gblend.ogr_weights(previous, previous + 0.5, min_overfitting=1e-2)
  np.testing.assert_array_equal(nothing, [0.0, 0.0, 0.0])


def test_the_relative_floor_bounds_a_head_whose_gap_shrank():
  previous = np.array([[2.0, 2.0, 2.0], [1.9, 1.9, 1.9]])
  # O: audio 0.4, video -0.1 (the gap shrank), fused 0.2; G: 0.4, 0.5, 0.4.
  current = np.array([[1.6, 1.5, 1.6], [1.1, 1.5, 1.3]])
  weights, g, o, notes = gblend.ogr_weights(
    previous, current, min_overfitting=1e-4, relative_min_overfitting=0.25
  )
  np.testing.assert_allclose(o, [0.4, -0.1, 0.2], atol=1e-12)
  # The video head's O is taken as 0.25 x 0.4 = 0.1, not 1e-4.
  ratios = np.array([0.4 / 0.4**2, 0.5 / 0.1**2, 0.4 / 0.2**2])  # 2.5, 50, 10
  np.testing.assert_allclose(weights, ratios / ratios.sum())
  assert len(notes) == 1 and 'head 1' in notes[0] and '0.1' in notes[0]


def _evals(v, t):
  return {
    **{f'eval/gblend_v/loss/{h}': x for h, x in zip(HEADS, v, strict=True)},
    **{f'eval/gblend_t/loss/{h}': x for h, x in zip(HEADS, t, strict=True)},
  }


@pytest.mark.parametrize('estimate', ['online', 'offline'])
def test_weights_are_reestimated_online_and_estimated_once_offline(estimate):
  task = gblend.Task(heads=HEADS, estimate=estimate)
  state = jax.device_get(task.init_state())
  np.testing.assert_allclose(state['weights'], [1 / 3] * 3, rtol=1e-6)
  state = task.update_state(state, 100, _evals([2.0, 2.0, 2.0], [1.9, 1.8, 1.5]))
  np.testing.assert_allclose(state['weights'], [1 / 3] * 3, rtol=1e-6)  # one point: no window
  state = task.update_state(state, 200, _evals([1.5, 1.8, 1.2], [1.2, 1.2, 0.6]))
  first, _, _, _ = gblend.ogr_weights(
    np.array([[2.0, 2.0, 2.0], [1.9, 1.8, 1.5]]),
    np.array([[1.5, 1.8, 1.2], [1.2, 1.2, 0.6]]),
    min_overfitting=1e-4,
    relative_min_overfitting=0.25,
  )
  np.testing.assert_allclose(state['weights'], first, rtol=1e-6)
  state = task.update_state(state, 300, _evals([1.0, 1.7, 1.1], [0.9, 1.0, 0.3]))
  if estimate == 'offline':
    np.testing.assert_allclose(state['weights'], first, rtol=1e-6)
    assert int(state['num_estimates']) == 1
  else:
    assert not np.allclose(state['weights'], first) and int(state['num_estimates']) == 2
  assert task.update_state(state, 350, {'eval/other/top1': 1.0}) is state  # no G-Blend evals
  with pytest.raises(ValueError, match='at the same steps'):
    task.update_state(state, 400, {f'eval/gblend_v/loss/{h}': 1.0 for h in HEADS})


def test_the_loss_is_the_weighted_sum_of_the_heads_losses():
  model = multimodal.Model(
    towers=dict(
      video=dict(model_name='video_resnet', depth=10, width=4, block='r2plus1d'),
      audio=dict(model_name='audio_resnet', depth=10, width=4),
    ),
    num_classes=3,
  )
  batch = {
    'video': jax.random.normal(jax.random.key(1), (2, 4, 32, 32, 3)),
    'audio': jax.random.normal(jax.random.key(2), (2, 100, 40)),
    'label': jnp.array([0, 2]),
  }
  variables = model.init(jax.random.key(0), models.model_inputs(model, batch), train=False)
  task = gblend.Task(heads=HEADS, weights=dict(audio=1.0, video=2.0, fused=1.0))
  state = task.init_state()
  ctx = base.Context(step=0, rngs={}, train=False, state=state, constants={}, pp=None)
  loss, (_, metrics) = task.loss_and_metrics(model, variables, batch, ctx)
  _, aux = model.apply(variables, models.model_inputs(model, batch), train=False)
  losses = [
    optax.softmax_cross_entropy_with_integer_labels(aux[f'logits/{h}'], batch['label']).mean()
    for h in HEADS
  ]
  np.testing.assert_allclose(loss, 0.25 * losses[0] + 0.5 * losses[1] + 0.25 * losses[2], rtol=1e-5)
  assert float(metrics['gblend/weight/video']) == 0.5
  with pytest.raises(ValueError, match="names \\['flow'\\]"):
    gblend.Task(heads=('flow', 'fused')).loss_and_metrics(
      model, variables, batch, ctx._replace(state=gblend.Task(heads=('flow', 'fused')).init_state())
    )


@pytest.mark.parametrize(
  'kwargs, match',
  [
    (dict(heads=HEADS, estimate='sometimes'), 'estimate='),
    (dict(heads=HEADS, weights=dict(audio=1.0)), 'a weight >= 0 for each'),
  ],
)
def test_bad_settings_are_named(kwargs, match):
  with pytest.raises(ValueError, match=match):
    gblend.Task(**kwargs)


@pytest.mark.slow
def test_online_weights_resume_exactly_after_a_kill_between_estimate_and_checkpoint(
  synthetic_data_dir, tmp_path
):
  """Estimates at steps 2, 4 and 6 (windows of 2 from the evaluation at step 0),
  checkpoints at 3 and 6: a run killed after the step-4 estimate, before the step-6
  checkpoint, resumes from step 3 and ends with the uninterrupted run's weights and
  parameters."""
  import os
  import shutil

  from tests.test_train import _final_state, jax_leaves
  from vidjax import configs, logs, train

  repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  path = os.path.join(repo, 'experiments', 'gblend', 'synthetic.py')
  config = configs.load_config_file(f'{path}:smoke,variant=online')
  config.input.data_dir = synthetic_data_dir
  config.total_steps, config.ckpt_every = 6, 3
  # Only G-Blend's evaluations in between.
  config.evals.val.every_steps = config.evals.val_heads.every_steps = 6
  reference, resumed = tmp_path / 'reference', tmp_path / 'resumed'
  train.train_and_evaluate(config, str(reference))
  shutil.copytree(reference, resumed)
  shutil.rmtree(resumed / 'checkpoints' / '6')
  os.remove(resumed / 'results.json')
  train.train_and_evaluate(config, str(resumed))
  expected, got = _final_state(str(reference), 6), _final_state(str(resumed), 6)
  assert int(expected['task_state']['num_estimates']) == 3
  for workdir in (reference, resumed):
    entries = logs.read_metrics(str(workdir))
    evaluated = [e['step'] for e in entries if 'eval/gblend_v/loss/fused' in e]
    assert evaluated == [0, 2, 4, 6]  # at_start: the first window starts at initialisation
  for a, b in zip(jax_leaves(expected), jax_leaves(got), strict=True):
    np.testing.assert_array_equal(a, b)
