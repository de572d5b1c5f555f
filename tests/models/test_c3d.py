"""C3D: tiny shapes, fc6 features and the published parameter count."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from vidjax.models import c3d

# Tiny models: XLA's compile time dominates and its optimisation passes cost ~3x more than
# they save here.
FAST_COMPILE = {'xla_backend_optimization_level': 0}


def _variables(model: c3d.Model, x: jax.Array, seed: int = 0):
  """Random variables drawn in numpy: skips compiling the initialisers (seconds on CPU)."""
  shapes = jax.eval_shape(functools.partial(model.init, train=False), jax.random.key(0), x)
  rng = np.random.default_rng(seed)
  return jax.tree.map(
    lambda s: jnp.asarray(rng.normal(0, 1, s.shape) / np.sqrt(np.prod(s.shape[:-1])), s.dtype),
    shapes,
  )


def _count(model: c3d.Model, shape: tuple[int, ...]) -> tuple[int, dict]:
  x = jax.ShapeDtypeStruct(shape, jnp.float32)
  variables = jax.eval_shape(functools.partial(model.init, train=False), jax.random.key(0), x)
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables)), variables


def _c3d_formula(num_classes: int) -> int:
  """Weights + biases of the layer table in Tran et al. (2015), Fig. 3."""
  widths = [3, 64, 128, 256, 256, 512, 512, 512, 512]
  convs = sum(27 * a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
  fcs = 8192 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * num_classes + num_classes
  return convs + fcs


def test_param_count_sports1m_and_ucf101():
  n487, variables = _count(c3d.Model(num_classes=487), (1, 16, 112, 112, 3))
  # pool5 is 1 x 4 x 4 x 512 at 16 x 112 x 112 (ceil-mode pooling): fc6 sees 8192 inputs.
  assert variables['params']['fc6']['kernel'].shape == (8192, 4096)
  assert n487 == _c3d_formula(487) == 79_991_015
  # Published: "about 78 M" (fc8 487-way, Sports-1M); we measure 80.0 M.
  assert abs(n487 - 78e6) / 78e6 < 0.03
  n101, _ = _count(c3d.Model(num_classes=101), (1, 16, 112, 112, 3))
  assert n101 == _c3d_formula(101) == 78_409_573


def test_tiny_shapes_and_fc6():
  model = c3d.Model(num_classes=5, width=8, fc_width=32, dropout_rate=0.0)
  x = jax.random.normal(jax.random.key(1), (2, 8, 32, 32, 3))
  variables = _variables(model, x)
  assert variables['params']['conv1a']['kernel'].shape == (3, 3, 3, 3, 8)
  logits, aux = jax.jit(functools.partial(model.apply, train=False), compiler_options=FAST_COMPILE)(
    variables, x
  )
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert aux['fc6'].shape == aux['features'].shape == (2, 32)
  assert np.all(np.asarray(aux['fc6']) >= 0)  # fc6 is taken after its ReLU.
