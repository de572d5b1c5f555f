"""ir-/ip-CSN: shapes, depthwise conv_b, published parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_testing import jit_apply, param_count, random_variables

from vidjax.models import csn

TINY = dict(num_classes=5, depth=14, width=8)


@pytest.mark.parametrize('variant', csn.VARIANTS)
def test_tiny_forward_train_and_eval(variant):
  model = csn.Model(**TINY, variant=variant, dropout_rate=0.5)
  x = jax.random.normal(jax.random.key(0), (2, 8, 32, 32, 3))
  variables = random_variables(model, x)
  # The ir variant is run; ip differs by one 1x1x1 conv, so only its shapes are traced.
  (logits, aux), updates = jit_apply(model, variables, x, True, run=variant == 'ir')
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert aux['features'].shape == (2, 32 * 8)
  if variant == 'ir':
    assert np.all(np.isfinite(logits))
    # Training mode updates the running statistics.
    before = jax.tree.leaves(variables['batch_stats'])
    after = jax.tree.leaves(updates['batch_stats'])
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))
  logits_eval, _ = jit_apply(model, variables, x, False, run=False)
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
  n = param_count(csn.Model(num_classes=400, depth=152), (1, 8, 64, 64, 3))
  assert abs(n - 29.6e6) / 29.6e6 < 0.005, n
  # PyTorchVideo csn_r101 (ir-CSN-101): 22.21 M; measured 22,213,776.
  n = param_count(csn.Model(num_classes=400, depth=101), (1, 8, 64, 64, 3))
  assert abs(n - 22.21e6) / 22.21e6 < 0.005, n


def test_unknown_variant_raises():
  with pytest.raises(ValueError, match='variant'):
    csn.Model(num_classes=5, variant='xx')
  with pytest.raises(ValueError, match='depth'):
    csn.Model(num_classes=5, depth=34)
