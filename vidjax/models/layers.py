"""`Conv`, the convolution layer of the whole model zoo, whose lowering is chosen in one place.

On GPU and TPU `lax.conv_general_dilated` is fast. XLA's CPU backend is slow on most of the
convolutions video models are made of (`docs/models.md`, "Speed on CPU"): dense 3D ones
run far below oneDNN's rate (the library behind PyTorch's CPU convolutions), the input
gradient of a strided 3D convolution at 50-150x its forward, and grouped/depthwise ones
4-150x slower than the same work split by group or computed tap by tap. On CPU `Conv`
therefore calls oneDNN through the XLA FFI (`vidjax.models.onednn`) and, where oneDNN cannot
be built or the dtype is not float32, falls back to XLA lowerings that avoid the slow cases.
Every lowering keeps `nn.Conv`'s parameters exactly (checkpoints move between them) and
computes the same function.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from vidjax.models import onednn
from vidjax.models.conv_methods import conv, dilated_size

Array = jax.Array
Padding = str | int | Sequence[int | tuple[int, int]]

LOWERINGS = ('auto', 'native', 'onednn', 'xla_cpu', 'xla_gpu')

# Kaiming-normal with fan_out, as torchvision initialises every ResNet convolution.
conv_kernel_init = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')


def auto_lowering_report() -> dict[str, str]:
  """What `lowering='auto'` picks for float32 convolutions on this machine, and why
  (recorded with each run in workdir/config.json)."""
  backend = jax.default_backend()
  if backend != 'cpu':
    return {'lowering': 'native', 'why': f'the {backend} backend has its own convolutions'}
  reason = onednn.unavailable_reason()
  if reason is None:
    return {'lowering': 'onednn', 'why': 'CPU backend; the oneDNN FFI handler is built'}
  return {'lowering': 'xla_cpu', 'why': f'CPU backend; oneDNN unavailable: {reason}'}


def conv_lowering(
  kernel_size: Sequence[int],
  feature_group_count: int,
  in_features: int,
  lowering: str = 'auto',
  dtype: Any = jnp.float32,
) -> str:
  """Chooses how a convolution is computed; the only place that decides.

  'auto' takes the native convolution on GPU/TPU; on CPU, oneDNN for float32 where it is
  available ('onednn'), else the XLA CPU lowerings ('xla_cpu').

  oneDNN makes every zoo model's train step 1.5-3.4x faster than the XLA CPU lowerings
  (`docs/models.md`). Its 3D depthwise convolution pads every
  channel to a group of 16, so 3D depthwise convolutions ('onednn_depthwise') take XLA's
  fused tap sum forward and oneDNN's 2D depthwise kernels, one per temporal tap, backward.

  XLA CPU lowerings (forward + backward against native): depthwise -> 'depthwise' (10-30x),
  1x1(x1) -> 'pointwise' (strided: 20x), t x 1 x 1 -> 'temporal' (2-3x), any other kernel ->
  'conv2d' (3D: 3x, strided 3D: 10-180x, grouped 2D: 4x, dense 2D: the native convolution
  with a faster kernel gradient).

  Args:
    kernel_size: kernel size, 2 (H, W) or 3 (T, H, W) entries.
    feature_group_count: number of channel groups.
    in_features: number of input channels.
    lowering: 'auto'; 'native' (always `lax.conv_general_dilated`); 'onednn' (oneDNN on any
      backend's host; an error where it cannot be built); 'xla_cpu' (the XLA CPU lowerings on
      any backend); 'xla_gpu' (factorised kernels as 2D convolutions: 1 x kh x kw over the
      frames -> 'frames2d', kt x 1 x 1 over [B, T, H*W, C] -> 'temporal2d'; 1x1(x1) as a
      matmul -> 'pointwise'; 3D depthwise as the fused tap sum -> 'depthwise'; any other
      kernel native).
    dtype: the computation dtype; oneDNN is used for float32 only.

  Returns:
    One of `conv_methods.METHODS`, a name understood by `conv`.
  """
  if lowering not in LOWERINGS:
    raise ValueError(f'lowering={lowering!r}; allowed values: {LOWERINGS}.')
  if lowering == 'native' or (lowering == 'auto' and jax.default_backend() != 'cpu'):
    return 'native'
  depthwise = feature_group_count > 1 and feature_group_count == in_features
  if lowering == 'xla_gpu':
    return _gpu_method(kernel_size, depthwise)
  float32 = jnp.dtype(dtype) == jnp.float32
  if lowering == 'onednn':
    onednn.require()
    if not float32:
      raise ValueError(f"lowering='onednn' computes in float32, not {jnp.dtype(dtype)}.")
  if lowering == 'onednn' or (lowering == 'auto' and float32 and onednn.available()):
    return 'onednn_depthwise' if depthwise and len(kernel_size) == 3 else 'onednn'
  if depthwise:
    return 'depthwise'
  if all(k == 1 for k in kernel_size):
    return 'pointwise'
  if len(kernel_size) == 3 and tuple(kernel_size[1:]) == (1, 1):
    return 'temporal'
  return 'conv2d'


def _gpu_method(kernel_size: Sequence[int], depthwise: bool) -> str:
  """The 'xla_gpu' method of a kernel (see `conv_lowering`)."""
  three_d = len(kernel_size) == 3
  if three_d and depthwise:
    return 'depthwise'
  if all(k == 1 for k in kernel_size):
    return 'pointwise'
  if three_d and kernel_size[0] == 1:
    return 'frames2d'
  if three_d and tuple(kernel_size[1:]) == (1, 1):
    return 'temporal2d'
  return 'native'


def explicit_padding(
  padding: Padding,
  spatial_shape: Sequence[int],
  kernel_size: Sequence[int],
  strides: Sequence[int],
) -> list[tuple[int, int]]:
  """Converts `nn.Conv`-style padding to one (low, high) pair per spatial dimension."""
  if isinstance(padding, str):
    if padding not in ('SAME', 'VALID'):
      raise ValueError(f"padding={padding!r}; allowed strings: 'SAME', 'VALID'.")
    return list(lax.padtype_to_pads(spatial_shape, kernel_size, strides, padding))
  if isinstance(padding, int):
    return [(padding, padding)] * len(kernel_size)
  if len(padding) != len(kernel_size):
    raise ValueError(f'padding={padding!r} needs one entry per kernel dimension {kernel_size}.')
  return [(p, p) if isinstance(p, int) else (int(p[0]), int(p[1])) for p in padding]


class Conv(nn.Module):
  """Drop-in for `nn.Conv` (2 or 3 spatial dims) with the same parameters.

  Attributes:
    features: number of output channels.
    kernel_size: (H, W) or (T, H, W).
    strides: an int or one per kernel dimension.
    padding: 'SAME', 'VALID', an int, or one int or (low, high) pair per kernel dimension.
    use_bias: whether to add a bias.
    feature_group_count: number of channel groups (C_in for depthwise).
    kernel_dilation: an int or one per kernel dimension: spacing of the kernel taps.
    dtype: computation dtype (None: inferred from inputs and params).
    param_dtype: parameter dtype.
    kernel_init: initialiser of `kernel` [*kernel_size, C_in // groups, features].
    bias_init: initialiser of `bias` [features].
    lowering: one of `LOWERINGS`; see `conv_lowering`.
  """

  features: int
  kernel_size: Sequence[int]
  strides: int | Sequence[int] = 1
  padding: Padding = 'SAME'
  use_bias: bool = True
  feature_group_count: int = 1
  kernel_dilation: int | Sequence[int] = 1
  dtype: Any = None
  param_dtype: Any = jnp.float32
  kernel_init: Callable[..., Array] = nn.initializers.lecun_normal()
  bias_init: Callable[..., Array] = nn.initializers.zeros_init()
  lowering: str = 'auto'

  @nn.compact
  def __call__(self, inputs: Array) -> Array:
    """Applies the convolution.

    Args:
      inputs: [*batch, *spatial, C_in]; leading batch dims are flattened as in `nn.Conv`.

    Returns:
      [*batch, *out_spatial, features].
    """
    kernel_size = tuple(self.kernel_size)
    n = len(kernel_size)
    if n not in (2, 3):
      raise ValueError(f'kernel_size={kernel_size}; Conv supports 2 or 3 spatial dims.')
    strides = (self.strides,) * n if isinstance(self.strides, int) else tuple(self.strides)
    dilation = self.kernel_dilation
    dilation = (dilation,) * n if isinstance(dilation, int) else tuple(dilation)
    batch_shape = inputs.shape[: inputs.ndim - n - 1]
    x = inputs.reshape(-1, *inputs.shape[-n - 1 :])
    in_features = x.shape[-1]
    if in_features % self.feature_group_count or self.features % self.feature_group_count:
      raise ValueError(
        f'feature_group_count={self.feature_group_count} must divide the input channels '
        f'({in_features}) and features ({self.features}).'
      )
    kernel = self.param(
      'kernel',
      self.kernel_init,
      (*kernel_size, in_features // self.feature_group_count, self.features),
      self.param_dtype,
    )
    bias = None
    if self.use_bias:
      bias = self.param('bias', self.bias_init, (self.features,), self.param_dtype)
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    method = conv_lowering(
      kernel_size, self.feature_group_count, in_features, self.lowering, x.dtype
    )
    padding = explicit_padding(
      self.padding, x.shape[1:-1], dilated_size(kernel_size, dilation), strides
    )
    y = conv(x, kernel, strides, padding, self.feature_group_count, method, dilation)
    if bias is not None:
      y = y + bias
    return y.reshape(*batch_shape, *y.shape[1:])


def make_conv_norm(
  train: bool, dtype: Any, lowering: str, epsilon: float = 1e-5, **norm_kwargs
) -> tuple[Callable[..., nn.Module], Callable[..., nn.Module]]:
  """The bias-free `Conv` and the BatchNorm partials of every ResNet-style model here.

  BatchNorm has PyTorch's defaults (momentum 0.1 there is 0.9 here: flax weighs the old
  value); `norm_kwargs` adds to them (e.g. I3D's `use_scale=False`).
  """
  conv = functools.partial(
    Conv, use_bias=False, dtype=dtype, kernel_init=conv_kernel_init, lowering=lowering
  )
  norm = functools.partial(
    nn.BatchNorm,
    use_running_average=not train,
    momentum=0.9,
    epsilon=epsilon,
    dtype=dtype,
    **norm_kwargs,
  )
  return conv, norm
