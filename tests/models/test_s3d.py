"""S3D / S3D-G: shapes, gating, published parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_testing import jit_apply, random_variables

from vidjax.models import s3d

TINY = dict(num_classes=5, width_multiplier=0.125)


def _param_count(model, shape=(1, 16, 64, 64, 3)):
  variables = jax.eval_shape(
    lambda: model.init(jax.random.key(0), jnp.zeros(shape, jnp.float32), train=False)
  )
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables['params']))


def test_tiny_forward_train_and_eval():
  model = s3d.Model(**TINY, dropout_rate=0.5)
  x = jax.random.normal(jax.random.key(0), (2, 8, 32, 32, 3))
  variables = random_variables(model, x)
  # Eval mode is run (its graph compiles in half the time); train mode is shape-checked.
  logits, aux = jit_apply(model, variables, x, False)
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert aux['features'].shape == (2, 128)  # 1024 / 8
  assert np.all(np.isfinite(logits))
  (logits_train, _), updates = jit_apply(model, variables, x, True, run=False)
  assert logits_train.shape == (2, 5)
  assert set(updates['batch_stats']) == set(variables['batch_stats'])


def test_separable_convs_and_gates():
  params = jax.eval_shape(
    lambda: s3d.Model(num_classes=400).init(
      jax.random.key(0), jnp.zeros((1, 16, 64, 64, 3)), train=False
    )
  )['params']
  sep = params['Mixed_5c']['Branch_1_Conv2d_0b_3x3']
  assert sep['spatial']['conv']['kernel'].shape == (1, 3, 3, 192, 384)
  assert sep['temporal']['conv']['kernel'].shape == (3, 1, 1, 384, 384)
  assert params['Mixed_5c']['Branch_1_gating']['dense']['kernel'].shape == (384, 384)
  assert params['Conv2d_1a_7x7']['temporal']['conv']['kernel'].shape == (7, 1, 1, 64, 64)


def test_published_parameter_counts():
  # torchvision.models.video.s3d (Kinetics-400): 8,320,048 parameters; measured the same.
  plain = _param_count(s3d.Model(num_classes=400, variant='s3d'))
  assert plain == 8_320_048
  # S3D-G adds one dense gate (C x C + C) after Conv2d_2c and on every Inception branch:
  # 9,545,056 in all, the ~9.6 M usually quoted for S3D-G.
  widths = [192]
  for w0, (_, w1), (_, w2), w3 in s3d.MIXED.values():
    widths += [w0, w1, w2, w3]
  gated = _param_count(s3d.Model(num_classes=400, variant='s3d-g'))
  assert gated == plain + sum(c * c + c for c in widths) == 9_545_056


def test_unknown_variant_raises():
  with pytest.raises(ValueError, match='variant'):
    s3d.Model(num_classes=5, variant='i3d')


def test_speednet_variant_keeps_time_and_pools_max_plus_mean():
  """SpeedNet's S3D-G: no temporal stride anywhere (the time axis reaches the pooling at
  the input's length), and the sum of the global max- and average-pooled features."""
  x = jax.random.normal(jax.random.key(0), (1, 8, 32, 32, 3))

  def last_block(model):
    return lambda v: model.apply(
      v, x, train=False, capture_intermediates=lambda mdl, _: mdl.name == 'Mixed_5c'
    )

  for downsampling, frames in ((True, 1), (False, 8)):  # 8 frames / 8, or all of them
    model = s3d.Model(**TINY, temporal_downsampling=downsampling, global_pool='max+mean')
    variables = random_variables(model, x)
    _, state = jax.eval_shape(last_block(model), variables)
    assert state['intermediates']['Mixed_5c']['__call__'][0].shape[1] == frames
  (_, aux), state = jax.jit(last_block(model))(variables)
  last = state['intermediates']['Mixed_5c']['__call__'][0]
  np.testing.assert_allclose(
    aux['features'], last.mean(axis=(1, 2, 3)) + last.max(axis=(1, 2, 3)), rtol=1e-5
  )
  with pytest.raises(ValueError, match='global_pool'):
    s3d.Model(**TINY, global_pool='max')
