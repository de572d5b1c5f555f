"""The SpeedNet task: pairs into one batch, binary cross-entropy, per-view scores."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vidjax.tasks import base, speednet

_CONTEXT = base.Context(step=0, rngs={}, train=False, state={}, constants={}, pp=None)


class MeanPixel(nn.Module):
  """One logit per clip: a scale times the clip's mean pixel (inputs chosen by the test)."""

  num_outputs: int = 1

  @nn.compact
  def __call__(self, x, *, train):
    scale = self.param('scale', nn.initializers.ones, (self.num_outputs,))
    return x.mean(axis=(1, 2, 3, 4))[:, None] * scale, {}


def test_pairs_become_one_batch_with_the_binary_loss():
  # 3 pairs; clip logits are the mean pixels: normal clips 1, -2, 3, sped-up -1, 2, 4.
  means = jnp.array([[1.0, -1.0], [-2.0, 2.0], [3.0, 4.0]])
  video = jnp.broadcast_to(means[:, :, None, None, None, None], (3, 2, 2, 4, 4, 3))
  batch = {'video': video, 'sped_up': jnp.array([[0, 1]] * 3, jnp.int32)}
  model = MeanPixel()
  variables = model.init(jax.random.key(0), video[:, 0], train=False)
  loss, (_, metrics) = speednet.Task().loss_and_metrics(model, variables, batch, _CONTEXT)
  logits, labels = means.reshape(-1), jnp.array([0.0, 1.0] * 3)
  expected = optax.sigmoid_binary_cross_entropy(logits, labels).mean()
  np.testing.assert_allclose(float(loss), float(expected), rtol=1e-6)
  # Right: normal -2 (< 0); sped-up 2 and 4 (> 0). Wrong: normal 1 and 3, sped-up -1.
  np.testing.assert_allclose(float(metrics['accuracy']), 3 / 6)
  np.testing.assert_allclose(float(metrics['accuracy/normal']), 1 / 3)
  np.testing.assert_allclose(float(metrics['accuracy/sped_up']), 2 / 3)


def test_predict_scores_every_view_against_its_field():
  # Evaluation: the views flattened ([B * V] clips), 'sped_up' still [B, V].
  means = jnp.array([-1.0, 2.0, 0.5, -3.0])
  video = jnp.broadcast_to(means[:, None, None, None, None], (4, 2, 4, 4, 3))
  batch = {'video': video, 'sped_up': jnp.array([[0, 1], [0, 1]], jnp.int32)}
  model = MeanPixel()
  variables = model.init(jax.random.key(0), video, train=False)
  predictions = speednet.Task().predict(model, variables, batch, _CONTEXT)
  np.testing.assert_allclose(predictions['aux/speed_logit'], means, rtol=1e-6)
  assert predictions['aux/speed/accuracy'].tolist() == [1.0, 1.0, 0.0, 0.0]
  np.testing.assert_allclose(
    predictions['aux/speed/loss'],
    optax.sigmoid_binary_cross_entropy(means, jnp.array([0.0, 1.0, 0.0, 1.0])),
    rtol=1e-6,
  )


def test_wrong_inputs_are_named():
  video = jnp.zeros((2, 2, 2, 4, 4, 3))
  batch = {'video': video, 'sped_up': jnp.array([[0, 1]] * 2, jnp.int32)}
  model = MeanPixel(num_outputs=3)
  variables = model.init(jax.random.key(0), video[:, 0], train=False)
  with pytest.raises(ValueError, match='num_classes=1'):
    speednet.Task().loss_and_metrics(model, variables, batch, _CONTEXT)
  with pytest.raises(ValueError, match="mode='speed'"):
    speednet.Task().loss_and_metrics(model, variables, {**batch, 'video': video[:, 0]}, _CONTEXT)
