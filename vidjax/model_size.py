"""Model size: parameter count and FLOPs per clip by XLA's cost analysis.

Used by the trainer (logged at start) and tools/flops.py. FLOPs come from lowering
`model.apply` on abstract variables -- no compilation, no execution, no parameter memory --
so that the largest network is measured in seconds on a laptop. XLA counts a multiply-add as
2 FLOPs, and also counts normalisation, activations and residual adds, which papers' MAC
counts leave out: GMACs = GFLOPs / 2 is comparable to a paper's number within a few percent.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np


def count_params(params) -> int:
  """Number of scalars in a pytree of arrays or `jax.ShapeDtypeStruct`s."""
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))


def abstract_variables(model: nn.Module, inputs) -> dict:
  """The variables `model.init` would create for `inputs`, as `jax.ShapeDtypeStruct`s."""
  key = jax.random.key(0)
  return jax.eval_shape(
    lambda x: model.init({'params': key, 'dropout': key}, x, train=False), _abstract(inputs)
  )


def flops(model: nn.Module, variables, inputs) -> float:
  """FLOPs of one inference `model.apply(variables, inputs, train=False)`.

  The convolutions are counted with the native lowering (`lowering='native'` where the
  model has that attribute): the CPU lowerings compute the same function with different
  operations, which XLA would count differently.

  Args:
    model: a vidjax model.
    variables: its variables (arrays or `jax.ShapeDtypeStruct`s).
    inputs: the model's input (arrays or `jax.ShapeDtypeStruct`s), e.g. a video
      [1, T, H, W, 3] for the FLOPs per clip; a dict for multi-modal models.

  Returns:
    XLA's FLOP count (a multiply-add counts 2).
  """
  if 'lowering' in getattr(model, '__dataclass_fields__', {}):
    model = model.clone(lowering='native')
  lowered = jax.jit(lambda v, x: model.apply(v, x, train=False)).lower(
    _abstract(variables), _abstract(inputs)
  )
  cost = lowered.cost_analysis() or {}
  # Older jax versions return one dict per device.
  cost = cost[0] if isinstance(cost, list | tuple) else cost
  return float(cost.get('flops', 0.0))


def _abstract(tree):
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
