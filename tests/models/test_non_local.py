"""Non-local block: identity at initialisation, shapes, and the attention against numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax.models import non_local
from vidjax.models.layers import make_conv_norm


def _block(pool_size=(1, 1, 1), train=False, instantiation='softmax'):
  conv, norm = make_conv_norm(train, jnp.float32, 'auto')
  return non_local.NonLocal(4, conv, norm, pool_size, instantiation)


def _video(shape=(2, 3, 4, 6, 8)):
  return jnp.asarray(np.random.default_rng(0).standard_normal(shape, np.float32))


@pytest.mark.parametrize('pool_size', [(1, 1, 1), (1, 2, 2)])
def test_identity_at_init_with_pytorch_shapes(pool_size):
  x = _video()
  block = _block(pool_size)
  variables = block.init(jax.random.key(0), x)
  params = variables['params']
  assert params['conv_theta']['kernel'].shape == (1, 1, 1, 8, 4)
  assert params['conv_g']['bias'].shape == (4,)
  assert params['conv_out']['kernel'].shape == (1, 1, 1, 4, 8)
  np.testing.assert_array_equal(params['bn']['scale'], 0.0)
  # Non-zero output-conv weights: only the zero BN scale makes the block the identity.
  assert float(jnp.abs(params['conv_out']['kernel']).sum()) > 0
  np.testing.assert_array_equal(block.apply(variables, x), x)


def _naive(x, params, pool_size, instantiation='softmax'):
  """The block written out in numpy, with the BN in inference mode."""
  x = np.asarray(x, np.float64)
  b, t, h, w, c = x.shape
  pt, ph, pw = pool_size
  pooled = x.reshape(b, t // pt, pt, h // ph, ph, w // pw, pw, c).max(axis=(2, 4, 6))

  def pointwise(name, v):
    p = {k: np.asarray(a, np.float64) for k, a in params[name].items()}
    return v.reshape(b, -1, v.shape[-1]) @ p['kernel'].reshape(v.shape[-1], -1) + p['bias']

  theta = pointwise('conv_theta', x)
  phi, g = pointwise('conv_phi', pooled), pointwise('conv_g', pooled)
  attention = np.zeros((b, theta.shape[1], phi.shape[1]))
  for i in range(b):
    if instantiation == 'dot_product':  # normalised by the number of pooled positions
      attention[i] = theta[i] @ phi[i].T / phi.shape[1]
      continue
    logits = theta[i] @ phi[i].T / np.sqrt(theta.shape[-1])
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    attention[i] = weights / weights.sum(axis=-1, keepdims=True)
  y = pointwise('conv_out', attention @ g).reshape(x.shape)
  bn = {k: np.asarray(a, np.float64) for k, a in params['bn'].items()}
  return x + bn['scale'] * y / np.sqrt(1.0 + 1e-5) + bn['bias'], attention


@pytest.mark.parametrize(
  'pool_size, instantiation',
  [
    ((1, 1, 1), 'softmax'),
    ((1, 2, 2), 'softmax'),
    ((3, 2, 1), 'softmax'),
    ((1, 2, 2), 'dot_product'),
    ((3, 2, 2), 'dot_product'),
  ],
)
def test_block_and_attention_match_numpy(pool_size, instantiation):
  x = _video()
  block = _block(pool_size, instantiation=instantiation)
  variables = block.init(jax.random.key(0), x)
  rng = np.random.default_rng(1)
  # A non-zero BN, so that the attended values reach the output.
  params = dict(variables['params'], bn={'scale': rng.standard_normal(8), 'bias': np.ones(8)})
  variables = dict(variables, params=jax.tree.map(jnp.float32, params))
  y, state = block.apply(variables, x, mutable=['intermediates'])
  (attention,) = state['intermediates']['attention']
  want_y, want_attention = _naive(x, variables['params'], pool_size, instantiation)
  pooled_positions = 3 * 4 * 6 * 8 // (8 * int(np.prod(pool_size)))
  assert attention.shape == (2, 3 * 4 * 6, pooled_positions)
  if instantiation == 'softmax':
    np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(attention, want_attention, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(y, want_y, rtol=1e-4, atol=1e-5)
  assert not np.allclose(y, x)


def test_an_unknown_instantiation_is_named():
  with pytest.raises(ValueError, match="instantiation='gaussian'"):
    _block(instantiation='gaussian').init(jax.random.key(0), _video())


def test_train_mode_updates_batch_stats():
  x = _video()
  block = _block((1, 2, 2), train=True)
  variables = block.init(jax.random.key(0), x)
  y, state = block.apply(variables, x, mutable=['batch_stats'])
  assert y.shape == x.shape
  assert not np.allclose(state['batch_stats']['bn']['mean'], 0.0)
