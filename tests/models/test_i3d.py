"""I3D: published parameter count and layer names, tiny shapes (boring video: test_inflate)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax.models import i3d


def _shapes(model, x_shape):
  x = jax.ShapeDtypeStruct(x_shape, jnp.float32)
  variables = jax.eval_shape(functools.partial(model.init, train=False), jax.random.key(0), x)
  out = jax.eval_shape(functools.partial(model.apply, train=False), variables, x)
  return variables, out


def _count(tree) -> int:
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(tree))


def test_param_count_and_names_kinetics400():
  variables, (logits, aux) = _shapes(i3d.Model(num_classes=400), (1, 64, 224, 224, 3))
  params = variables['params']
  assert logits.shape == (1, 400) and aux['features'].shape == (1, 1024)
  trunk = _count(params['trunk'])
  logits_params = _count(params['Logits/Conv3d_0c_1x1'])
  assert logits_params == 1024 * 400 + 400
  # Published: "12M" for I3D RGB (Carreira & Zisserman 2017, Table 1); the inflated trunk is
  # 12.28 M, 12.69 M with the 400-way logits.
  assert trunk == 12_279_984
  assert trunk + logits_params == 12_689_984
  assert abs(trunk - 12.3e6) / 12.3e6 < 0.01
  names = list(params['trunk'])
  assert names == ['Conv3d_1a_7x7', 'Conv3d_2b_1x1', 'Conv3d_2c_3x3', *i3d.MIXED]
  assert list(params['trunk']['Mixed_4b']) == [
    'Branch_0/Conv3d_0a_1x1',
    'Branch_1/Conv3d_0a_1x1',
    'Branch_1/Conv3d_0b_3x3',
    'Branch_2/Conv3d_0a_1x1',
    'Branch_2/Conv3d_0b_3x3',
    'Branch_3/Conv3d_0b_1x1',
  ]
  assert params['trunk']['Conv3d_1a_7x7']['conv_3d']['kernel'].shape == (7, 7, 7, 3, 64)
  assert set(variables['batch_stats']['trunk']['Mixed_5c']['Branch_0/Conv3d_0a_1x1']) == {
    'batch_norm'
  }


def test_tiny_shapes():
  model = i3d.Model(num_classes=5, width_multiplier=1 / 16)
  variables, (logits, aux) = _shapes(model, (2, 8, 32, 32, 3))
  assert logits.shape == (2, 5) and aux['features'].shape == (2, 64)
  assert variables['params']['trunk']['Mixed_5c']['Branch_0/Conv3d_0a_1x1']['conv_3d'][
    'kernel'
  ].shape == (1, 1, 1, 52, 24)


def test_unknown_temporal_padding():
  with pytest.raises(ValueError, match=r"temporal_padding='reflect'.*'zeros', 'edge'"):
    i3d.Model(num_classes=5, temporal_padding='reflect')
