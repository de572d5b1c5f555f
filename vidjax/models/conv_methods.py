"""How each convolution method of `layers.conv_lowering` computes a convolution.

Every method equals `lax.conv_general_dilated` in value and gradients
(`tests/models/test_layers.py`); `layers.conv_lowering` says which runs where and why, and
`layers.Conv` is the module that calls `conv`.
"""

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from vidjax.models import onednn

Array = jax.Array

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


def dilated_size(kernel_size, dilation):
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
  out_shape = _out_shape(x.shape[1:-1], dilated_size(kernel_size, dilation), strides)
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
    method: one of `METHODS` (see `layers.conv_lowering`).
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
