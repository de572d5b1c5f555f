"""The binary pretext tasks: SpeedNet and Arrow of Time (pairs into one batch) and
Shuffle & Learn (tuples); binary cross-entropy, per-view scores."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vidjax.tasks import arrow_of_time, base, shuffle_learn, speednet

_CONTEXT = base.Context(step=0, rngs={}, train=False, state={}, constants={}, pp=None)
# Each task, its field, its metrics' name and the names of its two kinds of clip.
TASKS = pytest.mark.parametrize(
  'task_class, field, name, kinds',
  [
    (speednet.Task, 'sped_up', 'speed', ('normal', 'sped_up')),
    (arrow_of_time.Task, 'reversed', 'arrow', ('forward', 'reversed')),
  ],
)


class MeanPixel(nn.Module):
  """One logit per clip: a scale times the clip's mean pixel (inputs chosen by the test)."""

  num_outputs: int = 1

  @nn.compact
  def __call__(self, x, *, train):
    scale = self.param('scale', nn.initializers.ones, (self.num_outputs,))
    return x.mean(axis=(1, 2, 3, 4))[:, None] * scale, {}


@TASKS
def test_pairs_become_one_batch_with_the_binary_loss(task_class, field, name, kinds):
  # 3 pairs; clip logits are the mean pixels: first clips 1, -2, 3, second clips -1, 2, 4.
  means = jnp.array([[1.0, -1.0], [-2.0, 2.0], [3.0, 4.0]])
  video = jnp.broadcast_to(means[:, :, None, None, None, None], (3, 2, 2, 4, 4, 3))
  batch = {'video': video, field: jnp.array([[0, 1]] * 3, jnp.int32)}
  model = MeanPixel()
  variables = model.init(jax.random.key(0), video[:, 0], train=False)
  loss, (_, metrics) = task_class().loss_and_metrics(model, variables, batch, _CONTEXT)
  logits, labels = means.reshape(-1), jnp.array([0.0, 1.0] * 3)
  expected = optax.sigmoid_binary_cross_entropy(logits, labels).mean()
  np.testing.assert_allclose(float(loss), float(expected), rtol=1e-6)
  # Right: first -2 (< 0); second 2 and 4 (> 0). Wrong: first 1 and 3, second -1.
  np.testing.assert_allclose(float(metrics['accuracy']), 3 / 6)
  np.testing.assert_allclose(float(metrics[f'accuracy/{kinds[0]}']), 1 / 3)
  np.testing.assert_allclose(float(metrics[f'accuracy/{kinds[1]}']), 2 / 3)


@TASKS
def test_predict_scores_every_view_against_its_field(task_class, field, name, kinds):
  # Evaluation: the views flattened ([B * V] clips), the field still [B, V].
  means = jnp.array([-1.0, 2.0, 0.5, -3.0])
  video = jnp.broadcast_to(means[:, None, None, None, None], (4, 2, 4, 4, 3))
  batch = {'video': video, field: jnp.array([[0, 1], [0, 1]], jnp.int32)}
  model = MeanPixel()
  variables = model.init(jax.random.key(0), video, train=False)
  predictions = task_class().predict(model, variables, batch, _CONTEXT)
  np.testing.assert_allclose(predictions[f'aux/{name}_logit'], means, rtol=1e-6)
  assert predictions[f'aux/{name}/accuracy'].tolist() == [1.0, 1.0, 0.0, 0.0]
  np.testing.assert_allclose(
    predictions[f'aux/{name}/loss'],
    optax.sigmoid_binary_cross_entropy(means, jnp.array([0.0, 1.0, 0.0, 1.0])),
    rtol=1e-6,
  )


@TASKS
def test_wrong_inputs_are_named(task_class, field, name, kinds):
  video = jnp.zeros((2, 2, 2, 4, 4, 3))
  batch = {'video': video, field: jnp.array([[0, 1]] * 2, jnp.int32)}
  model = MeanPixel(num_outputs=3)
  variables = model.init(jax.random.key(0), video[:, 0], train=False)
  with pytest.raises(ValueError, match='num_classes=1'):
    task_class().loss_and_metrics(model, variables, batch, _CONTEXT)
  with pytest.raises(ValueError, match=f"mode='{task_class.sampler}'"):
    task_class().loss_and_metrics(model, variables, {**batch, 'video': video[:, 0]}, _CONTEXT)


def test_shuffle_learn_scores_tuples_by_their_field():
  # 4 tuples; logits are the mean pixels: 2, -1, 3, -4; in order: 1, 1, 0, 0.
  means = jnp.array([2.0, -1.0, 3.0, -4.0])
  video = jnp.broadcast_to(means[:, None, None, None, None], (4, 3, 4, 4, 3))
  batch = {'video': video, 'in_order': jnp.array([1, 1, 0, 0], jnp.int32)}
  model = MeanPixel()
  variables = model.init(jax.random.key(0), video, train=False)
  loss, (_, metrics) = shuffle_learn.Task().loss_and_metrics(model, variables, batch, _CONTEXT)
  expected = optax.sigmoid_binary_cross_entropy(means, jnp.array([1.0, 1.0, 0.0, 0.0])).mean()
  np.testing.assert_allclose(float(loss), float(expected), rtol=1e-6)
  # Right: in order 2 (> 0), shuffled -4 (< 0); wrong: -1 and 3.
  np.testing.assert_allclose(float(metrics['accuracy']), 0.5)
  np.testing.assert_allclose(float(metrics['accuracy/in_order']), 0.5)
  np.testing.assert_allclose(float(metrics['accuracy/shuffled']), 0.5)
  predictions = shuffle_learn.Task().predict(
    model, variables, {**batch, 'in_order': batch['in_order'].reshape(2, 2)}, _CONTEXT
  )
  assert predictions['aux/order/accuracy'].tolist() == [1.0, 0.0, 0.0, 1.0]
