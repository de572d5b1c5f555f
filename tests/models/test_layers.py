"""Every convolution lowering equals `lax.conv_general_dilated` in value and gradients."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from vidjax.models import layers, onednn

# (method, input shape, kernel shape, strides, padding, groups)
CASES = [
  ('conv2d', (2, 5, 9, 8, 3), (3, 7, 7, 3, 4), (1, 2, 2), ((1, 1), (3, 3), (3, 3)), 1),
  ('conv2d', (2, 6, 9, 8, 4), (3, 3, 3, 4, 40), (2, 2, 2), ((1, 1), (1, 1), (1, 1)), 1),
  ('conv2d', (2, 6, 9, 8, 4), (3, 3, 3, 2, 6), (1, 1, 1), 'SAME', 2),
  ('conv2d', (2, 7, 9, 8, 4), (2, 3, 2, 4, 5), (3, 1, 2), ((0, 2), (1, 0), (0, 1)), 1),
  ('conv2d', (2, 4, 9, 8, 4), (1, 3, 3, 4, 6), (1, 2, 2), 'SAME', 1),
  ('conv2d', (2, 4, 9, 8, 4), (1, 3, 3, 4, 6), (2, 1, 1), 'VALID', 1),
  ('conv2d', (3, 11, 10, 3), (7, 7, 3, 5), (2, 2), ((3, 3), (3, 3)), 1),
  ('conv2d', (3, 11, 10, 4), (3, 3, 2, 6), (2, 1), 'SAME', 2),
  ('conv2d', (3, 11, 10, 4), (4, 3, 4, 36), (3, 2), ((2, 1), (0, 2)), 1),
  ('temporal', (2, 7, 5, 4, 6), (3, 1, 1, 6, 40), (1, 1, 1), ((1, 1), (0, 0), (0, 0)), 1),
  ('temporal', (2, 7, 5, 4, 6), (3, 1, 1, 6, 5), (2, 2, 1), ((1, 1), (0, 0), (1, 0)), 1),
  ('temporal', (2, 7, 5, 4, 6), (5, 1, 1, 3, 4), (3, 1, 1), ((2, 0), (0, 0), (0, 0)), 2),
  ('temporal', (2, 7, 5, 4, 6), (3, 1, 1, 6, 5), (2, 1, 1), ((1, 0), (0, 0), (0, 0)), 1),
  # One frame: the outer taps read only padding.
  ('temporal', (3, 1, 4, 4, 6), (3, 1, 1, 6, 5), (1, 1, 1), ((1, 1), (0, 0), (0, 0)), 1),
  ('pointwise', (2, 7, 5, 4, 6), (1, 1, 1, 6, 5), (2, 2, 2), 'VALID', 1),
  ('pointwise', (2, 7, 5, 4, 6), (1, 1, 1, 2, 6), (1, 2, 3), ((0, 1), (1, 1), (0, 0)), 3),
  ('pointwise', (3, 9, 8, 6), (1, 1, 6, 5), (2, 1), 'SAME', 1),
  ('depthwise', (2, 6, 9, 8, 4), (3, 3, 3, 1, 4), (1, 1, 1), 'SAME', 4),
  ('depthwise', (2, 7, 9, 8, 4), (3, 3, 3, 1, 8), (2, 1, 2), ((1, 1), (0, 1), (2, 0)), 4),
  ('depthwise', (2, 7, 9, 8, 4), (5, 1, 1, 1, 4), (1, 1, 1), ((2, 2), (0, 0), (0, 0)), 4),
  ('depthwise', (3, 11, 10, 5), (3, 3, 1, 5), (2, 2), ((1, 1), (1, 1)), 5),
  ('frames2d', (2, 5, 9, 8, 3), (1, 7, 7, 3, 4), (2, 2, 2), ((0, 1), (3, 3), (3, 3)), 1),
  ('frames2d', (2, 4, 9, 8, 4), (1, 3, 3, 2, 6), (1, 1, 2), 'SAME', 2),
  ('temporal2d', (2, 7, 5, 4, 6), (3, 1, 1, 6, 5), (2, 2, 1), ((1, 1), (0, 0), (1, 0)), 1),
  ('temporal2d', (2, 7, 5, 4, 6), (5, 1, 1, 3, 4), (3, 1, 1), ((2, 0), (0, 0), (0, 0)), 2),
]


def _onednn_cases(cases):
  """The same convolutions through oneDNN (`VIDJAX_ONEDNN=0` skips them), but for the GPU
  methods' cases, which repeat others."""
  skip = pytest.mark.skipif(not onednn.available(), reason='oneDNN turned off')
  return [
    pytest.param('onednn_depthwise' if method == 'depthwise' else 'onednn', *rest, marks=skip)
    for method, *rest in cases
    if method not in ('frames2d', 'temporal2d')
  ]


CASES += _onednn_cases(CASES)


def _assert_close(got, want):
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(jnp.max(jnp.abs(want))))


@pytest.mark.parametrize(('method', 'x_shape', 'k_shape', 'strides', 'padding', 'groups'), CASES)
def test_lowering_equals_native_in_value_and_gradients(
  method, x_shape, k_shape, strides, padding, groups
):
  # numpy data: jax.random would compile a threefry kernel per shape, slower than the test.
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal(x_shape, np.float32))
  kernel = jnp.asarray(rng.standard_normal(k_shape, np.float32))
  pads = layers.explicit_padding(padding, x_shape[1:-1], k_shape[:-2], strides)
  y_want = layers.conv(x, kernel, strides, pads, groups, 'native')
  # A random cotangent, so that every output position's gradient is checked.
  cotangent = jnp.asarray(rng.standard_normal(y_want.shape, np.float32))

  def grads(method):
    def fn(x, kernel):
      return jnp.vdot(layers.conv(x, kernel, strides, pads, groups, method), cotangent)

    return jax.jit(jax.grad(fn, argnums=(0, 1)))(x, kernel)

  dx_want, dk_want = grads('native')
  dx, dk = grads(method)
  y = jax.jit(lambda x, kernel: layers.conv(x, kernel, strides, pads, groups, method))(x, kernel)
  assert y.shape == y_want.shape
  _assert_close(y, y_want)
  _assert_close(dx, dx_want)
  _assert_close(dk, dk_want)


# (method, input shape, kernel shape, strides, padding, groups, dilation)
DILATED_CASES = [
  ('conv2d', (2, 4, 11, 10, 4), (1, 3, 3, 4, 6), (1, 1, 1), 'SAME', 1, (1, 2, 2)),
  ('conv2d', (2, 9, 11, 10, 4), (3, 3, 3, 4, 6), (2, 2, 1), ((2, 2), (1, 1), (3, 3)), 1, (2, 1, 3)),
  ('conv2d', (2, 4, 11, 10, 4), (1, 3, 3, 2, 6), (1, 2, 2), 'SAME', 2, (1, 2, 2)),
  ('conv2d', (3, 11, 10, 4), (3, 3, 4, 5), (2, 1), ((2, 2), (2, 2)), 1, (2, 2)),
  ('temporal', (2, 9, 5, 4, 6), (3, 1, 1, 6, 5), (1, 1, 1), ((2, 2), (0, 0), (0, 0)), 1, (2, 1, 1)),
  ('temporal', (2, 9, 5, 4, 6), (3, 1, 1, 6, 5), (2, 1, 1), ((3, 1), (0, 0), (0, 0)), 1, (2, 1, 1)),
  ('frames2d', (2, 4, 11, 10, 4), (1, 3, 3, 4, 6), (1, 1, 1), 'SAME', 1, (1, 2, 2)),
  ('temporal2d', (2, 9, 5, 4, 6), (3, 1, 1, 6, 5), (1, 1, 1), 'SAME', 1, (2, 1, 1)),
  ('pointwise', (2, 7, 5, 4, 6), (1, 1, 1, 6, 5), (2, 2, 2), 'VALID', 1, (3, 2, 2)),
  ('depthwise', (2, 7, 9, 8, 4), (3, 3, 3, 1, 4), (1, 2, 1), 'SAME', 4, (2, 2, 1)),
]
DILATED_CASES += _onednn_cases(DILATED_CASES)


@pytest.mark.parametrize(
  ('method', 'x_shape', 'k_shape', 'strides', 'padding', 'groups', 'dilation'), DILATED_CASES
)
def test_dilated_lowering_equals_native_in_value_and_gradients(
  method, x_shape, k_shape, strides, padding, groups, dilation
):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal(x_shape, np.float32))
  kernel = jnp.asarray(rng.standard_normal(k_shape, np.float32))
  extent = [(k - 1) * d + 1 for k, d in zip(k_shape[:-2], dilation, strict=True)]
  pads = layers.explicit_padding(padding, x_shape[1:-1], extent, strides)

  def fn(x, kernel, method):
    return layers.conv(x, kernel, strides, pads, groups, method, dilation)

  dims = 'DHW'[-len(strides) :]
  # lax directly, so that the dilation of the native method is checked as well.
  y_want = lax.conv_general_dilated(
    x, kernel, strides, pads, rhs_dilation=dilation, feature_group_count=groups,
    dimension_numbers=(f'N{dims}C', f'{dims}IO', f'N{dims}C'),
  )  # fmt: skip
  cotangent = jnp.asarray(rng.standard_normal(y_want.shape, np.float32))
  grad = jax.grad(lambda x, k, m: jnp.vdot(fn(x, k, m), cotangent), argnums=(0, 1))
  dx_want, dk_want = grad(x, kernel, 'native')
  dx, dk = jax.jit(grad, static_argnums=2)(x, kernel, method)
  y = jax.jit(fn, static_argnums=2)(x, kernel, method)
  assert y.shape == y_want.shape
  _assert_close(fn(x, kernel, 'native'), y_want)
  _assert_close(y, y_want)
  _assert_close(dx, dx_want)
  _assert_close(dk, dk_want)


@pytest.mark.parametrize(
  ('kernel_size', 'groups', 'in_features', 'method'),
  [
    ((3, 3, 3), 1, 8, 'conv2d'),
    ((1, 3, 3), 1, 8, 'conv2d'),
    ((3, 3), 2, 8, 'conv2d'),
    ((3, 1, 1), 1, 8, 'temporal'),
    ((1, 1, 1), 1, 8, 'pointwise'),
    ((1, 1), 1, 8, 'pointwise'),
    ((3, 3, 3), 8, 8, 'depthwise'),
  ],
)
def test_cpu_lowering_choice(kernel_size, groups, in_features, method):
  assert layers.conv_lowering(kernel_size, groups, in_features, 'xla_cpu') == method
  assert layers.conv_lowering(kernel_size, groups, in_features, 'native') == 'native'


@pytest.mark.parametrize(
  ('kernel_size', 'groups', 'in_features', 'method'),
  [
    ((3, 3, 3), 1, 8, 'native'),
    ((1, 3, 3), 2, 8, 'frames2d'),
    ((3, 3), 1, 8, 'native'),
    ((3, 1, 1), 1, 8, 'temporal2d'),
    ((1, 1, 1), 4, 8, 'pointwise'),
    ((3, 3, 3), 8, 8, 'depthwise'),
    ((3, 3), 8, 8, 'native'),
  ],
)
def test_gpu_lowering_choice(kernel_size, groups, in_features, method):
  assert layers.conv_lowering(kernel_size, groups, in_features, 'xla_gpu') == method


@pytest.mark.parametrize(
  ('kernel_size', 'groups', 'in_features', 'method'),
  [
    ((3, 3, 3), 1, 8, 'onednn'),
    ((1, 1, 1), 4, 8, 'onednn'),
    ((3, 3), 8, 8, 'onednn'),
    ((3, 3, 3), 8, 8, 'onednn_depthwise'),
  ],
)
def test_onednn_lowering_choice(kernel_size, groups, in_features, method):
  if not onednn.available():
    with pytest.raises(onednn.UnavailableError, match='unavailable'):
      layers.conv_lowering(kernel_size, groups, in_features, 'onednn')
    return
  assert layers.conv_lowering(kernel_size, groups, in_features, 'onednn') == method
  with pytest.raises(ValueError, match='float32, not bfloat16'):
    layers.conv_lowering(kernel_size, groups, in_features, 'onednn', jnp.bfloat16)


def test_auto_lowering_follows_the_backend_and_dtype():
  on_cpu = 'onednn' if onednn.available() else layers.conv_lowering((3, 3, 3), 1, 8, 'xla_cpu')
  expected = on_cpu if jax.default_backend() == 'cpu' else 'native'
  assert layers.conv_lowering((3, 3, 3), 1, 8, 'auto') == expected
  expected = 'conv2d' if jax.default_backend() == 'cpu' else 'native'
  assert layers.conv_lowering((3, 3, 3), 1, 8, 'auto', jnp.bfloat16) == expected


def test_unknown_lowering_and_method_are_named():
  with pytest.raises(ValueError, match="lowering='gpu'"):
    layers.conv_lowering((3, 3), 1, 8, 'gpu')
  with pytest.raises(ValueError, match="method='im2col'"):
    layers.conv(
      jnp.zeros((1, 4, 4, 2)), jnp.zeros((3, 3, 2, 2)), (1, 1), ((1, 1),) * 2, 1, 'im2col'
    )


@pytest.mark.parametrize(
  ('x_shape', 'kwargs'),
  [
    ((2, 4, 9, 8, 4), dict(features=6, kernel_size=(3, 3, 3), strides=2, padding='SAME')),
    ((2, 4, 9, 8, 4), dict(features=4, kernel_size=(3, 3, 3), feature_group_count=4, padding=1)),
    ((2, 3, 9, 8, 4), dict(features=6, kernel_size=(3, 3), strides=(2, 1), use_bias=False)),
    ((2, 4, 11, 10, 4), dict(features=6, kernel_size=(1, 3, 3), kernel_dilation=(1, 2, 2))),
    ((2, 5, 11, 10, 4), dict(features=4, kernel_size=(3, 3, 3), kernel_dilation=2, strides=2)),
    ((2, 11, 10, 4), dict(features=4, kernel_size=(3, 3), kernel_dilation=3, padding='VALID')),
  ],
)
def test_conv_module_is_a_drop_in_for_nn_conv(x_shape, kwargs):
  x = jnp.asarray(np.random.default_rng(0).standard_normal(x_shape, np.float32))
  theirs = nn.Conv(**kwargs)
  params = layers.Conv(**kwargs).init(jax.random.key(1), x)
  expected = theirs.init(jax.random.key(1), x)
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, expected)
  jax.tree.map(np.testing.assert_array_equal, params, expected)
  # Non-zero bias, so that its addition is checked too.
  params = jax.tree.map(lambda p: p + 0.1, params)
  for lowering in ('native', 'xla_cpu', 'xla_gpu', 'auto'):
    _assert_close(
      layers.Conv(**kwargs, lowering=lowering).apply(params, x), theirs.apply(params, x)
    )


def test_conv_module_flattens_batch_dims_and_computes_in_dtype():
  x = jnp.ones((2, 3, 2, 8, 8, 3))
  params = {'params': {'kernel': jnp.ones((3, 3, 3, 3, 4)), 'bias': jnp.zeros((4,))}}
  conv = layers.Conv(4, (3, 3, 3), dtype=jnp.bfloat16, lowering='xla_cpu')
  y = conv.apply(params, x)
  assert y.shape == (2, 3, 2, 8, 8, 4) and y.dtype == jnp.bfloat16
