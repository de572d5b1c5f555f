"""Helpers the model tests share: random variables without compiling `init`, one jitted
apply, parameter counts from shapes alone."""

import jax
import jax.numpy as jnp
import numpy as np

from vidjax import model_size


def random_variables(model, x):
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


def jit_apply(model, variables, x, train, run=True):
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


def param_count(model, shape) -> int:
  """Number of parameters of `model` for an input of `shape` (nothing is allocated)."""
  variables = model_size.abstract_variables(model, jax.ShapeDtypeStruct(shape, jnp.float32))
  return model_size.count_params(variables['params'])
