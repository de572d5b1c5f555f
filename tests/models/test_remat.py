"""`remat=True` on every network that has it: the same loss, gradients and BatchNorm
updates as without (video_resnet's own test: tests/models/test_video_resnet.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.models.model_testing import random_variables
from vidjax.models import csn, slowfast, vivit, x3d

MODELS = {
  'csn': lambda: csn.Model(num_classes=5, depth=14, width=8, lowering='native'),
  'slowfast': lambda: slowfast.Model(num_classes=5, depth=14, width=16, lowering='native'),
  'x3d': lambda: x3d.Model(
    num_classes=5, variant='xs', width=4, depth_factor=0.5, head_features=16, lowering='native'
  ),
  'vivit': lambda: vivit.Model(num_classes=5, variant='tiny', tubelet=(2, 8), dropout_rate=0.1),
}


@pytest.mark.parametrize('name', sorted(MODELS))
def test_remat_gives_the_same_loss_gradients_and_statistics(name):
  plain = MODELS[name]()
  x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 8, 16, 16, 3), np.float32))
  variables = random_variables(plain, x)

  def loss_and_grads(model):
    def loss(params):
      logits, updates = model.apply(
        {**variables, 'params': params},
        x,
        train=True,
        mutable=['batch_stats'],
        rngs={'dropout': jax.random.key(1)},
      )
      return jnp.mean(logits[0] ** 2), updates

    return jax.jit(jax.value_and_grad(loss, has_aux=True))(variables['params'])

  (loss, stats), grads = loss_and_grads(plain)
  (loss_remat, stats_remat), grads_remat = loss_and_grads(plain.clone(remat=True))
  np.testing.assert_allclose(loss_remat, loss, rtol=1e-6)
  # Recomputation regroups float32 sums: equal to rounding, relative to each tensor's scale
  # (with a floor for the gradients that are zero but for rounding, e.g. ViViT's before a
  # LayerNorm that cancels them).
  for got, want in zip(jax.tree.leaves(grads_remat), jax.tree.leaves(grads), strict=True):
    np.testing.assert_allclose(got, want, atol=1e-5 * float(np.abs(want).max()) + 1e-8)
  for got, want in zip(jax.tree.leaves(stats_remat), jax.tree.leaves(stats), strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
