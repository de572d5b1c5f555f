"""`pooling.max_pool`: nn.max_pool's values and, without ties, its gradients."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax.models import pooling

CASES = [
  ((2, 7, 9, 10, 3), (3, 3, 3), (1, 1, 1), 'SAME'),  # S3D / I3D Inception branch
  ((2, 7, 9, 10, 3), (1, 3, 3), (1, 2, 2), 'SAME'),  # stems (odd sizes: TF pads after)
  ((2, 7, 9, 10, 3), (2, 2, 2), (1, 2, 2), 'SAME'),  # SpeedNet's Mixed_5b pool
  ((2, 8, 9, 3), (3, 3), (2, 2), ((1, 1), (1, 1))),  # torchvision's ResNet stem, 2D
  ((2, 7, 9, 10, 3), (1, 3, 3), (1, 2, 2), 'VALID'),
]


@pytest.mark.parametrize(('shape', 'window', 'strides', 'padding'), CASES)
def test_values_and_gradients_are_nn_max_pool_s(shape, window, strides, padding):
  x = jnp.asarray(np.random.default_rng(0).normal(size=shape), jnp.float32)
  expected = nn.max_pool(x, window, strides, padding)
  got = pooling.max_pool(x, window, strides, padding)
  np.testing.assert_array_equal(got, expected)
  weights = jnp.arange(expected.size, dtype=jnp.float32).reshape(expected.shape)

  def grad(pool):
    return jax.grad(lambda x: jnp.sum(pool(x, window, strides, padding) * weights))(x)

  np.testing.assert_array_equal(grad(pooling.max_pool), grad(nn.max_pool))


def test_tied_maxima_share_the_gradient():
  x = jnp.zeros((1, 4, 4, 1))
  grad = jax.grad(lambda x: jnp.sum(pooling.max_pool(x, (2, 2), (2, 2))))(x)
  np.testing.assert_allclose(grad, 0.25)  # each 2x2 window of zeros: its gradient shared
