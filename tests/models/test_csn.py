"""ir-/ip-CSN: shapes, depthwise conv_b, published parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax.models import csn

TINY = dict(num_classes=5, depth=14, width=8)


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


def _param_count(model, shape):
  variables = jax.eval_shape(
    lambda: model.init(jax.random.key(0), jnp.zeros(shape, jnp.float32), train=False)
  )
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables['params']))


@pytest.mark.parametrize('variant', csn.VARIANTS)
def test_tiny_forward_train_and_eval(variant):
  model = csn.Model(**TINY, variant=variant, dropout_rate=0.5)
  x = jax.random.normal(jax.random.key(0), (2, 8, 32, 32, 3))
  variables = _variables(model, x)
  # The ir variant is run; ip differs by one 1x1x1 conv, so only its shapes are traced.
  (logits, aux), updates = _apply(model, variables, x, True, run=variant == 'ir')
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert aux['features'].shape == (2, 32 * 8)
  if variant == 'ir':
    assert np.all(np.isfinite(logits))
    # Training mode updates the running statistics.
    before = jax.tree.leaves(variables['batch_stats'])
    after = jax.tree.leaves(updates['batch_stats'])
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))
  logits_eval, _ = _apply(model, variables, x, False, run=False)
  assert logits_eval.shape == (2, 5)


@pytest.mark.parametrize('variant', csn.VARIANTS)
def test_conv_b_is_depthwise(variant):
  model = csn.Model(**TINY, variant=variant)
  params = jax.eval_shape(
    lambda: model.init(jax.random.key(0), jnp.zeros((1, 8, 32, 32, 3)), train=False)
  )['params']
  for s in range(1, 5):
    branch2 = params[f'blocks_{s}']['res_blocks_0']['branch2']
    inner = 8 * 2 ** (s - 1)
    # [T, H, W, C_in / groups, C_out]: one input channel per output channel.
    assert branch2['conv_b']['kernel'].shape == (3, 3, 3, 1, inner)
    assert ('conv_b_pw' in branch2) == (variant == 'ip')
    if variant == 'ip':
      assert branch2['conv_b_pw']['kernel'].shape == (1, 1, 1, inner, inner)


def test_published_parameter_counts():
  # ir-CSN-152: 29.6 M (Tran et al. 2019, Table 4); measured 29,703,568.
  n = _param_count(csn.Model(num_classes=400, depth=152), (1, 8, 64, 64, 3))
  assert abs(n - 29.6e6) / 29.6e6 < 0.005, n
  # PyTorchVideo csn_r101 (ir-CSN-101): 22.21 M; measured 22,213,776.
  n = _param_count(csn.Model(num_classes=400, depth=101), (1, 8, 64, 64, 3))
  assert abs(n - 22.21e6) / 22.21e6 < 0.005, n


def test_unknown_variant_raises():
  with pytest.raises(ValueError, match='variant'):
    csn.Model(num_classes=5, variant='xx')
  with pytest.raises(ValueError, match='depth'):
    csn.Model(num_classes=5, depth=34)
