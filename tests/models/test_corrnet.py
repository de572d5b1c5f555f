"""CorrNet: the correlation operator against a direct computation; tiny forward shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_testing import jit_apply, random_variables

from vidjax.models import corrnet

TINY = dict(num_classes=5, depth=10, width=8, corr_groups=2, corr_window=3)


def test_correlation_matches_direct_computation():
  x = jax.random.normal(jax.random.key(0), (1, 3, 5, 6, 4))
  op = corrnet.Correlation(groups=2, window=3)
  variables = op.init(jax.random.key(1), x)
  weight = jnp.arange(1.0, 5.0)
  out = np.asarray(op.apply({'params': {'weight': weight}}, x))
  assert out.shape == (1, 3, 5, 6, 2 * 9)
  assert variables['params']['weight'].shape == (4,)
  xs = np.asarray(x)
  nxt = np.concatenate([xs[:, 1:], xs[:, -1:]], axis=1)
  t, i, j, g = 1, 2, 0, 1
  for d, (di, dj) in enumerate(np.ndindex(3, 3)):
    ii, jj = i + di - 1, j + dj - 1
    want = 0.0
    if 0 <= ii < 5 and 0 <= jj < 6:  # zero padding outside the frame
      c = slice(2 * g, 2 * g + 2)
      want = np.mean(np.asarray(weight)[c] * xs[0, t, i, j, c] * nxt[0, t, ii, jj, c])
    np.testing.assert_allclose(out[0, t, i, j, g * 9 + d], want, rtol=1e-5, atol=1e-6)


def test_tiny_forward_train_and_eval():
  model = corrnet.Model(**TINY, dropout_rate=0.5)
  x = jax.random.normal(jax.random.key(0), (2, 8, 32, 32, 3))
  variables = random_variables(model, x)
  # After res3 (16 channels) and res4 (32): correlation on a quarter of the channels,
  # 2 groups x 3^2 displacements back to the block's width.
  params = variables['params']
  assert params['corr2']['correlation']['weight'].shape == (4,)
  assert params['corr3']['correlation']['weight'].shape == (8,)
  assert params['corr3']['expand']['kernel'].shape == (1, 1, 1, 2 * 9, 32)
  (logits, aux), updates = jit_apply(model, variables, x, True)
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert aux['features'].shape == (2, 64)
  assert np.all(np.isfinite(logits))
  assert set(updates['batch_stats']) == set(variables['batch_stats'])
  logits_eval, _ = jit_apply(model, variables, x, False, run=False)
  assert logits_eval.shape == (2, 5)


def test_unknown_depth_raises():
  with pytest.raises(ValueError, match='depth'):
    corrnet.Model(num_classes=5, depth=26)
