"""2D -> 3D inflation: per-leaf rules and boring-video equivalence of inflated networks."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax.convert.inflate import inflate, inflate_leaf
from vidjax.models import i3d, single_frame, video_resnet
from vidjax.models.layers import Conv

# Tiny models: XLA's compile time dominates and its optimisation passes cost ~3x more than
# they save here.
FAST_COMPILE = {'xla_backend_optimization_level': 0}


def _random(shapes, seed: int = 0):
  """Random 2D variables; BN statistics away from (0, 1) so that they matter."""
  rng = np.random.default_rng(seed)

  def draw(path, s):
    name = jax.tree_util.keystr(path)
    if 'var' in name:
      return rng.uniform(0.5, 1.5, s.shape).astype(s.dtype)
    if len(s.shape) == 1:
      return rng.normal(0, 0.1, s.shape).astype(s.dtype)
    return (rng.normal(0, 1, s.shape) / np.sqrt(np.prod(s.shape[:-1]))).astype(s.dtype)

  return jax.tree_util.tree_map_with_path(draw, shapes)


def test_inflate_leaf_mean_and_centre():
  kernel = np.arange(2 * 2 * 1 * 3, dtype=np.float32).reshape(2, 2, 1, 3)
  mean = inflate_leaf(kernel, (4, 2, 2, 1, 3))
  assert mean.shape == (4, 2, 2, 1, 3)
  np.testing.assert_allclose(mean.sum(0), kernel, rtol=1e-6)
  np.testing.assert_allclose(mean[1], kernel / 4)
  centre = inflate_leaf(kernel, (3, 2, 2, 1, 3), method='centre')
  np.testing.assert_array_equal(centre[1], kernel)
  assert not centre[0].any() and not centre[2].any()
  bias = np.ones(3, np.float32)
  np.testing.assert_array_equal(inflate_leaf(bias, (3,)), bias)


def test_inflate_errors_name_the_leaf():
  params_2d = {'params': {'conv': {'kernel': np.zeros((3, 3, 2, 4), np.float32)}}}
  target = {'params': {'conv': {'kernel': jax.ShapeDtypeStruct((3, 3, 3, 2, 5), jnp.float32)}}}
  with pytest.raises(ValueError, match='params/conv/kernel'):
    inflate(params_2d, target)
  target = {'params': {'other': {'kernel': jax.ShapeDtypeStruct((3, 3, 3, 2, 4), jnp.float32)}}}
  with pytest.raises(KeyError, match='params/other/kernel'):
    inflate(params_2d, target)
  with pytest.raises(ValueError, match="method='max'"):
    inflate(params_2d, target, method='max')


@pytest.mark.parametrize('method', ['mean', 'centre'])
def test_inflated_conv_on_static_video_equals_2d(method):
  """Any 2D/3D pair: a strided 7x7 conv inflated to 3x7x7 (valid in time)."""
  conv2d = Conv(6, (7, 7), 2, 3)
  conv3d = Conv(6, (3, 7, 7), (1, 2, 2), ((0, 0), (3, 3), (3, 3)))
  image = jax.random.normal(jax.random.key(1), (2, 16, 16, 3))
  video = jnp.repeat(image[:, None], 5, axis=1)
  v2 = _random(jax.eval_shape(conv2d.init, jax.random.key(0), image))
  v3 = inflate(v2, jax.eval_shape(conv3d.init, jax.random.key(0), video), method=method)
  y2 = conv2d.apply(v2, image)
  y3 = conv3d.apply(v3, video)
  assert y3.shape == (2, 3, 8, 8, 6)
  for t in range(3):
    np.testing.assert_allclose(y3[:, t], y2, atol=1e-5)


def test_inflated_inception_on_boring_video_equals_2d():
  """Carreira & Zisserman's fixed point: I3D on a repeated frame = Inception-v1 on it."""
  image_model = i3d.ImageModel(num_classes=5, width_multiplier=1 / 16)
  # 'native' lowering: the CPU lowering's per-tap graph compiles twice as slowly; layers.py is
  # tested for equality across lowerings, so inflation is what this test is about.
  video_model = i3d.Model(
    num_classes=5, width_multiplier=1 / 16, temporal_padding='edge', lowering='native'
  )
  image = jax.random.normal(jax.random.key(1), (2, 32, 32, 3))
  video = jnp.repeat(image[:, None], 8, axis=1)
  init = lambda m, x: jax.eval_shape(functools.partial(m.init, train=False), jax.random.key(0), x)
  v2 = _random(init(image_model, image))
  v3 = inflate(
    v2,
    init(video_model, video),
    rename=lambda name: name.replace('Conv3d', 'Conv2d').replace('conv_3d', 'conv_2d'),
  )
  assert v3['params']['trunk']['Conv3d_1a_7x7']['conv_3d']['kernel'].shape == (7, 7, 7, 3, 4)
  logits_2d, aux_2d = jax.jit(
    functools.partial(image_model.apply, train=False), compiler_options=FAST_COMPILE
  )(v2, image)
  logits_3d, aux_3d = jax.jit(
    functools.partial(video_model.apply, train=False), compiler_options=FAST_COMPILE
  )(v3, video)
  assert np.abs(np.asarray(logits_2d)).max() > 0.1  # Not trivially zero.
  np.testing.assert_allclose(logits_3d, logits_2d, atol=1e-5)
  np.testing.assert_allclose(aux_3d['features'], aux_2d['features'], atol=1e-5)


def test_inflate_2d_resnet_into_r3d():
  """single_frame's 2D ResNet -> video_resnet's R3D: every leaf found, kernels inflated.

  R3D has no max-pool and strides in time, so its parameters, not its outputs, correspond.
  """
  image_net = single_frame.Model(num_classes=5, depth=10, width=8)
  video_net = video_resnet.Model(num_classes=5, depth=10, width=8, block='r3d')
  init = lambda m, t: jax.eval_shape(
    functools.partial(m.init, train=False),
    jax.random.key(0),
    jax.ShapeDtypeStruct((1, t, 32, 32, 3), jnp.float32),
  )
  v2 = _random(init(image_net, 1))
  stem = {'stem/conv': 'resnet/conv1', 'stem/bn': 'resnet/bn1'}

  def rename(name: str) -> str:
    collection, rest = name.split('/', 1)
    for new, old in stem.items():
      rest = rest.replace(new, old)
    return (
      f'{collection}/{rest}' if rest.startswith(('fc', 'resnet')) else f'{collection}/resnet/{rest}'
    )

  v3 = inflate(v2, init(video_net, 4), rename=rename)
  stem_kernel = v3['params']['stem']['conv']['kernel']
  assert stem_kernel.shape == (3, 7, 7, 3, 8)
  np.testing.assert_allclose(
    stem_kernel.sum(0), v2['params']['resnet']['conv1']['kernel'], rtol=1e-5
  )
  down = v3['params']['layer2_0']['downsample_conv']['kernel']
  np.testing.assert_array_equal(
    down[0], v2['params']['resnet']['layer2_0']['downsample_conv']['kernel']
  )
  np.testing.assert_array_equal(
    v3['batch_stats']['stem']['bn']['var'], v2['batch_stats']['resnet']['bn1']['var']
  )
  np.testing.assert_array_equal(v3['params']['fc']['kernel'], v2['params']['fc']['kernel'])
