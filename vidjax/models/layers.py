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
import numpy as np
from jax import lax

from vidjax.models import onednn

Array = jax.Array
Padding = str | int | Sequence[int | tuple[int, int]]

LOWERINGS = ('auto', 'native', 'onednn', 'xla_cpu', 'xla_gpu')
METHODS = (
  'native',
  'onednn',
  'onednn_depthwise',
  'conv2d',
  'temporal',
  'pointwise',
  'depthwise',
  'frames2d',
  'temporal2d',
)

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
    One of `METHODS`, a name understood by `conv`.
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


def _native(x, kernel, strides, padding, groups, dilation):
  dims = 'DHW'[-(x.ndim - 2) :]
  return lax.conv_general_dilated(
    x,
    kernel,
    strides,
    padding,
    rhs_dilation=dilation,
    dimension_numbers=(f'N{dims}C', f'{dims}IO', f'N{dims}C'),
    feature_group_count=groups,
  )


# XLA CPU computes the kernel gradient of a 2D convolution whose output channels are not a
# multiple of 64 (e.g. 36, 57, 72, 115, 144) 2-4x faster in chunks of 32 than in one piece;
# a ragged last chunk (e.g. 25) can be as slow as the whole, so it is zero-padded to 32. With a
# multiple of 64 (e.g. 128), one piece is faster.
_KERNEL_GRAD_CHUNK = 32


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _dense2d(x, kernel, strides, padding, dilation):
  """Ungrouped 2D `_native` whose kernel gradient is computed in output-channel chunks."""
  return _native(x, kernel, strides, padding, 1, dilation)


def _dense2d_fwd(x, kernel, strides, padding, dilation):
  return _native(x, kernel, strides, padding, 1, dilation), (x, kernel)


def _dense2d_bwd(strides, padding, dilation, residuals, dy):
  x, kernel = residuals
  dx = jax.vjp(lambda x: _native(x, kernel, strides, padding, 1, dilation), x)[1](dy)[0]
  cout = kernel.shape[-1]
  chunk = _KERNEL_GRAD_CHUNK
  if cout % (2 * chunk) == 0 or cout < chunk:
    chunk = cout
  else:
    dy = jnp.pad(dy, [(0, 0)] * 3 + [(0, -cout % chunk)])
  kernel_grad = jax.vjp(
    lambda k: _native(x, k, strides, padding, 1, dilation),
    jnp.zeros((*kernel.shape[:-1], chunk), kernel.dtype),
  )[1]
  dkernel = [kernel_grad(dy[..., a : a + chunk])[0] for a in range(0, dy.shape[-1], chunk)]
  return dx, jnp.concatenate(dkernel, axis=-1)[..., :cout]


_dense2d.defvjp(_dense2d_fwd, _dense2d_bwd)


def _conv2d(x, kernel, strides, padding, groups, dilation):
  """2D convolution; grouped ones as one dense convolution per group.

  XLA CPU's grouped convolutions are 4-90x slower than the same work split by group.
  """
  strides, padding = tuple(strides), tuple(tuple(p) for p in padding)
  dilation = tuple(dilation)
  if groups == 1:
    return _dense2d(x, kernel, strides, padding, dilation)
  xs = jnp.split(x, groups, axis=-1)
  kernels = jnp.split(kernel, groups, axis=-1)
  return jnp.concatenate(
    [_dense2d(a, k, strides, padding, dilation) for a, k in zip(xs, kernels, strict=True)],
    axis=-1,
  )


def _pad(x, padding):
  return jnp.pad(x, [(0, 0), *padding, (0, 0)])


def _tap(x, offsets, out_shape, strides):
  """The input window that starts at `offsets`: x[:, o::s][:out] per spatial dim."""
  index = tuple(
    slice(o, o + (n - 1) * s + 1, s) for o, n, s in zip(offsets, out_shape, strides, strict=True)
  )
  return x[(slice(None), *index)]


def _dilated_size(kernel_size, dilation):
  """The extent of a kernel whose taps are `dilation` apart."""
  return [(k - 1) * d + 1 for k, d in zip(kernel_size, dilation, strict=True)]


def _out_shape(padded_shape, kernel_size, strides):
  return [(n - k) // s + 1 for n, k, s in zip(padded_shape, kernel_size, strides, strict=True)]


def _subsample_unit_dims(x, kernel_size, strides, padding):
  """Replaces stride s along size-1 kernel dims by taking every s-th (padded) position.

  A strided slice's gradient is an interior pad, which costs nothing next to the input
  gradient of a strided convolution on XLA CPU.
  """
  unit = [
    k == 1 and (s > 1 or p != (0, 0)) for k, s, p in zip(kernel_size, strides, padding, strict=True)
  ]
  if not any(unit):
    return x, strides, padding
  x = _pad(x, [p if u else (0, 0) for p, u in zip(padding, unit, strict=True)])
  # With a size-1 kernel, output i reads exactly padded position i * s.
  x = x[
    (slice(None), *(slice(None, None, s if u else 1) for s, u in zip(strides, unit, strict=True)))
  ]
  strides = [1 if u else s for s, u in zip(strides, unit, strict=True)]
  padding = [(0, 0) if u else p for p, u in zip(padding, unit, strict=True)]
  return x, strides, padding


def _pointwise(x, kernel, strides, padding, groups, dilation):
  """1x1(x1) convolution as one matmul (grouped: a batched matmul over groups)."""
  del strides, padding, dilation  # Made trivial by `_subsample_unit_dims` and the 1x1 kernel.
  cin, cout = kernel.shape[-2:]
  if groups == 1:
    return jnp.dot(x, kernel.reshape(cin, cout))
  x = x.reshape(*x.shape[:-1], groups, cin)
  y = jnp.einsum('...gc,cgo->...go', x, kernel.reshape(cin, groups, cout // groups))
  return y.reshape(*y.shape[:-2], cout)


def _temporal(x, kernel, strides, padding, groups, dilation):
  """kt x 1 x 1 convolution as a (kt, 1) 2D convolution over [B, T, H*W, C]."""
  b, _, h, w, c = x.shape
  kt, _, _, cin, cout = kernel.shape
  y = _conv2d(
    x.reshape(b, -1, h * w, c),
    kernel.reshape(kt, 1, cin, cout),
    (strides[0], 1),
    (padding[0], (0, 0)),
    groups,
    (dilation[0], 1),
  )
  return y.reshape(b, y.shape[1], h, w, cout)


def _frames2d(x, kernel, strides, padding, groups, dilation):
  """1 x kh x kw convolution as one native 2D convolution over the frames [B*T, H, W, C]
  (the temporal stride and padding already taken by `_subsample_unit_dims`)."""
  b, t = x.shape[:2]
  y = _native(
    x.reshape(b * t, *x.shape[2:]), kernel[0], strides[1:], padding[1:], groups, dilation[1:]
  )
  return y.reshape(b, t, *y.shape[1:])


def _temporal2d(x, kernel, strides, padding, groups, dilation):
  """kt x 1 x 1 convolution as one native (kt, 1) 2D convolution over [B, T, H*W, C]."""
  b, _, h, w, c = x.shape
  y = _native(
    x.reshape(b, -1, h * w, c),
    kernel.reshape(kernel.shape[0], 1, *kernel.shape[-2:]),
    (strides[0], 1),
    (padding[0], (0, 0)),
    groups,
    (dilation[0], 1),
  )
  return y.reshape(b, y.shape[1], h, w, y.shape[-1])


def _conv2d_or_frames(x, kernel, strides, padding, groups, dilation):
  """2D convolution; a 3D one as a 2D convolution over frames with temporal taps as channels.

  Output frame i sees input frames i*st + a for the kt taps a; stacking those as channels
  and folding time into the batch gives a 2D convolution with kt times the input channels,
  which XLA CPU computes at about twice the rate of the 3D one (and 10-30% faster in a
  whole R3D step than a sum of kt separate 2D convolutions). No strided 3D convolution is
  left: XLA CPU's strided 2D convolutions have fast gradients.
  """
  if x.ndim == 4:
    return _conv2d(x, kernel, strides, padding, groups, dilation)
  x = jnp.pad(x, [(0, 0), padding[0], (0, 0), (0, 0), (0, 0)])
  b, t, h, w, c = x.shape
  kt, kh, kw, cin, cout = kernel.shape
  st, dt = strides[0], dilation[0]
  out_t = (t - (kt - 1) * dt - 1) // st + 1
  taps = [x[:, a * dt : a * dt + (out_t - 1) * st + 1 : st] for a in range(kt)]
  # Channels ordered (group, tap, channel) so that every group keeps its own inputs.
  frames = jnp.stack(taps, axis=-2).reshape(b * out_t, h, w, kt, groups, c // groups)
  frames = jnp.swapaxes(frames, -3, -2).reshape(b * out_t, h, w, kt * c)
  kernel = jnp.moveaxis(kernel, 0, 2).reshape(kh, kw, kt * cin, cout)
  y = _conv2d(frames, kernel, strides[1:], padding[1:], groups, dilation[1:])
  return y.reshape(b, out_t, *y.shape[1:])


def _depthwise(x, kernel, strides, padding, groups, dilation):
  """Depthwise convolution as a sum over taps of a shifted input times a channel weight.

  Memory-bound, yet 100x faster forward and 10-30x faster forward + backward than XLA CPU's
  grouped convolution.
  """
  del groups  # Equal to the number of input channels.
  x = _pad(x, padding)
  kernel_size = kernel.shape[:-2]
  multiplier = kernel.shape[-1] // x.shape[-1]
  if multiplier > 1:
    # lax orders the outputs of group g as g*multiplier + m.
    x = jnp.repeat(x, multiplier, axis=-1)
  out_shape = _out_shape(x.shape[1:-1], _dilated_size(kernel_size, dilation), strides)
  y = None
  for offsets in np.ndindex(*kernel_size):
    start = [o * d for o, d in zip(offsets, dilation, strict=True)]
    term = _tap(x, start, out_shape, strides) * kernel[offsets][0]
    y = term if y is None else y + term
  return y


def _onednn(x, kernel, strides, padding, groups, dilation):
  return onednn.conv(x, kernel, tuple(strides), _pairs(padding), tuple(dilation), groups)


def _pairs(padding):
  return tuple((int(lo), int(hi)) for lo, hi in padding)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _onednn_depthwise3d(x, kernel, strides, padding, dilation):
  """Depthwise 3D convolution: XLA's tap sum forward, oneDNN 2D kernels backward.

  The tap sum is memory-bound and fused (faster forward than oneDNN's 3D depthwise
  convolution); its gradient is one reduction per tap over the whole input (slower than the
  oneDNN 2D depthwise gradients of `onednn.depthwise_by_frames`).
  """
  return _depthwise(x, kernel, strides, padding, x.shape[-1], dilation)


def _onednn_depthwise3d_fwd(x, kernel, strides, padding, dilation):
  return _onednn_depthwise3d(x, kernel, strides, padding, dilation), (x, kernel)


def _onednn_depthwise3d_bwd(strides, padding, dilation, residuals, dy):
  x, kernel = residuals
  by_frames = functools.partial(
    onednn.depthwise_by_frames, strides=strides, padding=padding, dilation=dilation
  )
  return jax.vjp(by_frames, x, kernel)[1](dy)


_onednn_depthwise3d.defvjp(_onednn_depthwise3d_fwd, _onednn_depthwise3d_bwd)


def _onednn_depthwise(x, kernel, strides, padding, groups, dilation):
  if x.ndim == 4:
    return _onednn(x, kernel, strides, padding, groups, dilation)
  return _onednn_depthwise3d(x, kernel, tuple(strides), _pairs(padding), tuple(dilation))


_METHOD_FNS: dict[str, Callable[..., Array]] = {
  'native': _native,
  'onednn': _onednn,
  'onednn_depthwise': _onednn_depthwise,
  'conv2d': _conv2d_or_frames,
  'temporal': _temporal,
  'pointwise': _pointwise,
  'depthwise': _depthwise,
  'frames2d': _frames2d,
  'temporal2d': _temporal2d,
}


def conv(
  x: Array,
  kernel: Array,
  strides: Sequence[int],
  padding: Sequence[tuple[int, int]],
  feature_group_count: int = 1,
  method: str = 'native',
  kernel_dilation: Sequence[int] | None = None,
) -> Array:
  """Channels-last convolution, equal to `lax.conv_general_dilated` for every method.

  Args:
    x: input [B, *spatial, C_in] with 2 or 3 spatial dims.
    kernel: [*kernel_size, C_in // feature_group_count, C_out].
    strides: one stride per spatial dim.
    padding: one explicit (low, high) pair per spatial dim.
    feature_group_count: number of channel groups.
    method: one of `METHODS` (see `conv_lowering`).
    kernel_dilation: spacing of the kernel taps per spatial dim (atrous convolution);
      None: 1 everywhere.

  Returns:
    [B, *out_spatial, C_out].
  """
  if method not in _METHOD_FNS:
    raise ValueError(f'method={method!r}; allowed values: {METHODS}.')
  kernel_size = kernel.shape[:-2]
  strides, padding = list(strides), list(padding)
  dilation = [1] * len(kernel_size) if kernel_dilation is None else list(kernel_dilation)
  if method in ('native', 'onednn'):
    return _METHOD_FNS[method](x, kernel, strides, padding, feature_group_count, dilation)
  if method in ('temporal', 'temporal2d') and (
    len(kernel_size) != 3 or tuple(kernel_size[1:]) != (1, 1)
  ):
    raise ValueError(f'method={method!r} needs a kt x 1 x 1 kernel, got {kernel.shape}.')
  if method == 'frames2d' and (len(kernel_size) != 3 or kernel_size[0] != 1):
    raise ValueError(f"method='frames2d' needs a 1 x kh x kw kernel, got {kernel.shape}.")
  if method == 'pointwise' and any(k != 1 for k in kernel_size):
    raise ValueError(f"method='pointwise' needs a 1x1 kernel, got {kernel.shape}.")
  if method in ('depthwise', 'onednn_depthwise') and kernel.shape[-2] != 1:
    raise ValueError(f"method='depthwise' needs one input channel per group, got {kernel.shape}.")
  x, strides, padding = _subsample_unit_dims(x, kernel_size, strides, padding)
  return _METHOD_FNS[method](x, kernel, strides, padding, feature_group_count, dilation)


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
      self.padding, x.shape[1:-1], _dilated_size(kernel_size, dilation), strides
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
