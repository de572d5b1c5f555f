"""LRCN: tiny shapes, per-step predictions averaged over time, and the paper's sizes."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax.models import lrcn

# Tiny models: XLA's compile time dominates and its optimisation passes cost ~3x more than
# they save here.
FAST_COMPILE = {'xla_backend_optimization_level': 0}


def _variables(model: lrcn.Model, x: jax.Array, seed: int = 0):
  """Random variables drawn in numpy: skips compiling the initialisers (seconds on CPU)."""
  shapes = jax.eval_shape(functools.partial(model.init, train=False), jax.random.key(0), x)
  rng = np.random.default_rng(seed)
  return jax.tree.map(
    lambda s: jnp.asarray(rng.normal(0, 1, s.shape) / np.sqrt(np.prod(s.shape[:-1])), s.dtype),
    shapes,
  )


def test_tiny_shapes_and_time_averaging():
  model = lrcn.Model(num_classes=5, width=12, fc_width=32, hidden=16, dropout_rate=0.0)
  x = jax.random.normal(jax.random.key(1), (2, 8, 32, 32, 3))
  logits, aux = jax.jit(functools.partial(model.apply, train=False), compiler_options=FAST_COMPILE)(
    _variables(model, x), x
  )
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert aux['features'].shape == (2, 16)
  assert aux['step_logits'].shape == (2, 8, 5)
  # The video prediction is the mean over time of the per-step probabilities.
  probs = jax.nn.softmax(aux['step_logits']).mean(axis=1)
  np.testing.assert_allclose(np.exp(logits), probs, rtol=1e-5, atol=1e-7)
  # The LSTM carries state: different steps give different predictions.
  assert np.abs(np.diff(np.asarray(aux['step_logits']), axis=1)).max() > 1e-6


def test_paper_sizes():
  model = lrcn.Model(num_classes=101)
  x = jax.ShapeDtypeStruct((1, 16, 227, 227, 3), jnp.float32)
  params = jax.eval_shape(functools.partial(model.init, train=False), jax.random.key(0), x)
  params = params['params']
  # CaffeNet's pool5 is 6 x 6 x 256 at 227 x 227; fc6 (4096) feeds a 256-unit LSTM.
  assert params['cnn']['fc6']['kernel'].shape == (9216, 4096)
  assert params['cnn']['conv2']['kernel'].shape == (5, 5, 48, 256)  # two groups
  assert params['lstm']['ii']['kernel'].shape == (4096, 256)
  assert params['fc8']['kernel'].shape == (256, 101)


def test_width_must_allow_groups():
  with pytest.raises(ValueError, match='width=8'):
    lrcn.Model(num_classes=5, width=8)
