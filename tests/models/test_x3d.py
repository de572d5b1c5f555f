"""X3D: shapes, published parameter counts and X3D-S FLOPs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax.models import x3d

TINY = dict(num_classes=5, variant='xs', width=4, depth_factor=0.5, head_features=32)


def _param_count(model, shape):
  variables = jax.eval_shape(
    lambda: model.init(jax.random.key(0), jnp.zeros(shape, jnp.float32), train=False)
  )
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables['params']))


def _variables(model, x):
  """Random variables of `model` without compiling `init`.

  XLA CPU takes tens of seconds to compile the initialisers of a whole network, so the
  shapes come from `jax.eval_shape` and the values from numpy.
  """
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
  rng = np.random.default_rng(0)

  def fill(path, s):
    name = jax.tree_util.keystr(path)
    if 'var' in name or 'scale' in name:
      return jnp.ones(s.shape, s.dtype)
    if 'mean' in name or 'bias' in name:
      return jnp.zeros(s.shape, s.dtype)
    fan_in = max(1, int(np.prod(s.shape[:-1])))
    return jnp.asarray(rng.normal(0, fan_in**-0.5, s.shape), s.dtype)

  return jax.tree_util.tree_map_with_path(fill, shapes)


def _apply(model, variables, x, train, run=True):
  """Jitted apply (one compilation instead of hundreds of eager per-op ones).

  With run=False only the output shapes are computed (`jax.eval_shape`): compiling a second
  graph per model would double the suite's time on CPU.
  """
  if train:
    fn = lambda v, x: model.apply(
      v, x, train=True, rngs={'dropout': jax.random.key(2)}, mutable=['batch_stats']
    )
  else:
    fn = lambda v, x: model.apply(v, x, train=False)
  return jax.jit(fn)(variables, x) if run else jax.eval_shape(fn, variables, x)


def test_tiny_forward_train_and_eval():
  model = x3d.Model(**TINY, dropout_rate=0.5)
  x = jax.random.normal(jax.random.key(0), (2, 8, 32, 32, 3))
  variables = _variables(model, x)
  (logits, aux), updates = _apply(model, variables, x, True)
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert aux['features'].shape == (2, 32)
  assert np.all(np.isfinite(logits))
  assert set(updates['batch_stats']) == set(variables['batch_stats'])
  logits_eval, _ = _apply(model, variables, x, False, run=False)
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
  n = _param_count(x3d.Model(num_classes=400, variant='s'), (1, 4, 64, 64, 3))
  assert n == 3_794_274, n
  n = _param_count(x3d.Model(num_classes=400, variant='l'), (1, 4, 64, 64, 3))
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
