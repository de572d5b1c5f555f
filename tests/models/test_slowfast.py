"""SlowFast and Slow-only: shapes, lateral connections, published parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_testing import jit_apply, random_variables

from vidjax.models import layers, slowfast

TINY = dict(num_classes=5, depth=14, width=16, beta_inv=8)


def _params(model, shape):
  return jax.eval_shape(
    lambda: model.init(jax.random.key(0), jnp.zeros(shape, jnp.float32), train=False)
  )['params']


def _param_count(model, shape):
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(_params(model, shape)))


def test_tiny_forward_train_and_eval():
  model = slowfast.Model(**TINY, variant='8x8', dropout_rate=0.5)
  x = jax.random.normal(jax.random.key(0), (2, 8, 32, 32, 3))
  variables = random_variables(model, x)
  (logits, aux), _ = jit_apply(model, variables, x, True)
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  # Slow: 32 * 16 channels, fast: 32 * 16 / 8.
  assert aux['features'].shape == (2, 512 + 64)
  slow, fast = aux['feature_maps']
  # alpha = 4: 2 slow frames, 8 fast frames; spatial stride 32.
  assert slow.shape == (2, 2, 1, 1, 512)
  assert fast.shape == (2, 8, 1, 1, 64)
  # features = [mean of the slow map, mean of the fast map].
  np.testing.assert_allclose(aux['features'][:, :512], jnp.mean(slow, (1, 2, 3)), rtol=1e-5)
  np.testing.assert_allclose(aux['features'][:, 512:], jnp.mean(fast, (1, 2, 3)), rtol=1e-5)
  logits_eval, aux_eval = jit_apply(model, variables, x, False, run=False)
  assert logits_eval.shape == (2, 5)
  assert aux_eval['feature_maps'][1].shape == (2, 8, 1, 1, 64)


def test_slow_only_forward():
  model = slowfast.Model(**TINY, pathway='slow')
  x = jnp.zeros((2, 4, 32, 32, 3))
  variables = random_variables(model, x)
  logits, aux = jit_apply(model, variables, x, False, run=False)
  assert logits.shape == (2, 5)
  assert aux['features'].shape == (2, 512)
  assert aux['feature_maps'][0].shape == (2, 4, 1, 1, 512)


@pytest.mark.parametrize(('variant', 'alpha', 'kernel'), [('8x8', 4, 7), ('4x16', 8, 5)])
def test_lateral_connections(variant, alpha, kernel):
  width, fast = 16, 2
  model = slowfast.Model(num_classes=5, depth=14, width=width, variant=variant)
  params = _params(model, (1, 32, 64, 64, 3))
  for s in range(4):
    fast_out = fast if s == 0 else 4 * fast * 2 ** (s - 1)
    # 5x1x1 / 7x1x1 conv, C_fast -> 2 C_fast, applied with temporal stride alpha.
    lateral = params[f'blocks_{s}']['multipathway_fusion']['conv_fast_to_slow']['kernel']
    assert lateral.shape == (kernel, 1, 1, fast_out, 2 * fast_out)
    # The next slow stage takes the slow channels plus the concatenated lateral ones.
    slow_out = width if s == 0 else 4 * width * 2 ** (s - 1)
    conv_a = params[f'blocks_{s + 1}']['multipathway_blocks_0']['res_blocks_0']['branch2']
    assert conv_a['conv_a']['kernel'].shape[-2] == slow_out + 2 * fast_out
  assert 'multipathway_fusion' not in params['blocks_4']
  # The lateral conv's output is time-aligned with the slow pathway.
  fuse = slowfast.FuseFastToSlow(4, kernel, alpha, *layers.make_conv_norm(False, 'float32', 'auto'))
  slow_x, fast_x = jnp.zeros((2, 32 // alpha, 8, 8, 6)), jnp.zeros((2, 32, 8, 8, 2))
  out, _ = fuse.apply(fuse.init(jax.random.key(0), slow_x, fast_x), slow_x, fast_x)
  assert out.shape == (2, 32 // alpha, 8, 8, 10)


def test_slow_frame_indices():
  # PyTorchVideo PackPathway: torch.linspace(0, 31, 8).long().
  np.testing.assert_array_equal(slowfast.slow_frame_indices(32, 4), [0, 4, 8, 13, 17, 22, 26, 31])


def test_published_parameter_counts():
  shape = (1, 32, 64, 64, 3)
  # PyTorchVideo slowfast_r50 (8x8): 34.57 M; paper 34.6 M. Measured 34,566,488.
  n = _param_count(slowfast.Model(num_classes=400), shape)
  assert abs(n - 34.57e6) / 34.57e6 < 0.005, n
  # PyTorchVideo slowfast_r101 (8x8): 62.83 M. Measured 62,826,968.
  n = _param_count(slowfast.Model(num_classes=400, depth=101), shape)
  assert abs(n - 62.83e6) / 62.83e6 < 0.005, n
  # PyTorchVideo slow_r50 (Slow-only 8x8): 32.45 M. Measured 32,454,096.
  n = _param_count(slowfast.Model(num_classes=400, pathway='slow'), (1, 8, 64, 64, 3))
  assert abs(n - 32.45e6) / 32.45e6 < 0.005, n


def test_unknown_values_raise():
  for kwargs, name in [({'variant': '2x32'}, 'variant'), ({'pathway': 'fast'}, 'pathway')]:
    with pytest.raises(ValueError, match=name):
      slowfast.Model(num_classes=5, **kwargs)


def test_dilated_res5_keeps_res4_resolution_and_adds_non_local_blocks():
  # The AVA detection backbone: res5 dilated instead of strided (maps of stride 16), and the
  # Slow-NL network's non-local blocks after the given blocks of the slow pathway.
  model = slowfast.Model(
    **TINY, variant='8x8', res5_dilation=2, non_local_location=((), (0,), (0,), ())
  )
  x = jnp.zeros((2, 8, 64, 64, 3))
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
  logits, aux = jit_apply(model, shapes, x, False, run=False)
  slow, fast = aux['feature_maps']
  assert logits.shape == (2, 5)
  assert slow.shape == (2, 2, 4, 4, 512) and fast.shape == (2, 8, 4, 4, 64)
  params = shapes['params']
  assert set(params['blocks_2']['multipathway_blocks_0']) >= {'res_blocks_0', 'non_local_0'}
  assert 'non_local_0' not in params['blocks_2']['multipathway_blocks_1']  # slow pathway only
  res5_conv_b = params['blocks_4']['multipathway_blocks_0']['res_blocks_0']['branch2']['conv_b']
  assert res5_conv_b['kernel'].shape[:3] == (1, 3, 3)


def test_dilated_res5_equals_the_native_dilated_convolution():
  model = slowfast.Model(**TINY, pathway='slow', res5_dilation=2)
  x = jax.random.normal(jax.random.key(1), (1, 4, 64, 64, 3))
  variables = random_variables(model, x)
  ours, _ = jit_apply(model, variables, x, False)
  native, _ = jit_apply(model.clone(lowering='native'), variables, x, False)
  np.testing.assert_allclose(ours, native, atol=1e-4, rtol=1e-4)
