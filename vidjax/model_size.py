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
  # Lowered for the CPU whatever the default device: XLA's cost analysis before compilation
  # exists only on backends outside the PJRT plugin interface (the CUDA plugin answers
  # None), and the count is the same HLO's on every backend.
  with jax.default_device(_cpu_device()):
    lowered = jax.jit(lambda v, x: model.apply(v, x, train=False)).lower(
      _abstract(variables), _abstract(inputs)
    )
  cost = lowered.cost_analysis() or {}
  # Older jax versions return one dict per device.
  cost = cost[0] if isinstance(cost, list | tuple) else cost
  return float(cost.get('flops', 0.0))


def _cpu_device():
  """The first CPU device, or None (the default device) where JAX_PLATFORMS leaves out the
  CPU backend."""
  try:
    return jax.devices('cpu')[0]
  except RuntimeError:
    return None


def layer_macs(model: nn.Module, variables, inputs) -> float:
  """Multiply-accumulates of the convolutions and dense layers of one inference, counted
  as papers do: output positions x kernel taps x input channels per group x output channels.

  Every `nn.Conv`-like module (a 'kernel' param of rank >= 3) and `nn.Dense` call is
  intercepted under `jax.eval_shape`, so nothing is computed.
  """
  total = [0]

  def count(next_fun, args, kwargs, context):
    output = next_fun(*args, **kwargs)
    module = context.module
    if context.method_name == '__call__' and module.has_variable('params', 'kernel'):
      kernel = module.get_variable('params', 'kernel')
      if kernel.ndim >= 2 and hasattr(output, 'shape'):
        # Per output element: the kernel's taps x input channels per group (all but the
        # last kernel axis); over every output element.
        total[0] += int(np.prod(output.shape)) * int(np.prod(kernel.shape[:-1]))
    return output

  def apply(variables, inputs):
    with nn.intercept_methods(count):
      return model.apply(variables, inputs, train=False)

  jax.eval_shape(apply, _abstract(variables), _abstract(inputs))
  return float(total[0])


def _abstract(tree):
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
