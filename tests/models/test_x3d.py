"""X3D: shapes, published parameter counts and X3D-S FLOPs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_testing import jit_apply, param_count, random_variables

from vidjax.models import x3d

TINY = dict(num_classes=5, variant='xs', width=4, depth_factor=0.5, head_features=32)


def test_tiny_forward_train_and_eval():
  model = x3d.Model(**TINY, dropout_rate=0.5)
  x = jax.random.normal(jax.random.key(0), (2, 8, 32, 32, 3))
  variables = random_variables(model, x)
  (logits, aux), updates = jit_apply(model, variables, x, True)
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert aux['features'].shape == (2, 32)
  assert np.all(np.isfinite(logits))
  assert set(updates['batch_stats']) == set(variables['batch_stats'])
  logits_eval, _ = jit_apply(model, variables, x, False, run=False)
  assert logits_eval.shape == (2, 5)


def test_structure():
  params = jax.eval_shape(
    lambda: x3d.Model(num_classes=400, variant='s').init(
      jax.random.key(0), jnp.zeros((1, 4, 64, 64, 3)), train=False
    )
  )['params']
  blocks = [k for k in params if k.startswith('blocks_3_res_blocks_')]
  assert len(blocks) == 11  # ceil(2.2 * 5)
  b0, b1 = params['blocks_3_res_blocks_0']['branch2'], params['blocks_3_res_blocks_1']['branch2']
  # Depthwise 3x3x3 over the 2.25x expanded width (96 -> 216).
  assert b0['conv_b']['kernel'].shape == (3, 3, 3, 1, 216)
  # Squeeze-excitation in every other block.
  assert 'norm_b_1' in b0 and 'norm_b_1' not in b1
  assert params['blocks_5_post_conv']['kernel'].shape == (1, 1, 1, 432, 2048)


def test_published_parameter_counts():
  # Paper: X3D-XS, -S, -M 3.79 M (one network), X3D-L 6.15 M; exactly PyTorchVideo's counts.
  n = param_count(x3d.Model(num_classes=400, variant='s'), (1, 4, 64, 64, 3))
  assert n == 3_794_274, n
  n = param_count(x3d.Model(num_classes=400, variant='l'), (1, 4, 64, 64, 3))
  assert n == 6_153_384, n


def test_x3d_s_flops():
  """X3D-S at 13x160x160: 2.03 GMACs in the paper, i.e. about 4.06 GFLOPs.

  XLA counts a multiply-add as 2 FLOPs and also counts BN, activations, SE and residual
  adds, which the paper's MAC count leaves out; with native convolutions the total is
  4.035 GFLOPs (0.6 % below 2 x 2.03 G, the paper's figure being rounded).
  """
  model = x3d.Model(num_classes=400, variant='s', lowering='native')
  shape = (1, *x3d.INPUT_SIZES['s'][:1], 160, 160, 3)
  variables = jax.eval_shape(
    lambda: model.init(jax.random.key(0), jnp.zeros(shape, jnp.float32), train=False)
  )
  lowered = jax.jit(lambda v, x: model.apply(v, x, train=False)).lower(
    variables, jax.ShapeDtypeStruct(shape, jnp.float32)
  )
  flops = lowered.cost_analysis()['flops']
  assert abs(flops - 2 * 2.03e9) / (2 * 2.03e9) < 0.1, flops


def test_unknown_variant_raises():
  with pytest.raises(ValueError, match='variant'):
    x3d.Model(num_classes=5, variant='xxl')
