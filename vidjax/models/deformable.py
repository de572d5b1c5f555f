"""Deformable convolution (Dai et al., ICCV 2017) in pure JAX: PoseWarper's warping operator.

Each output position p samples its k x k taps not on the regular grid but at
p + dilation * tap + offset(p, tap), with bilinear interpolation, and applies an ordinary
kernel to the samples:

  y(p) = sum_taps w(tap) . x(p * stride - padding + dilation * tap + offset(p, tap)).

The input's channels are split into `deformable_groups`, each moved by its own offsets
(PoseWarper: 17 groups, one per joint heatmap). Offsets are the layout of the original
CUDA op (mmcv / PoseWarper's `DeformConv`): 2 * groups * kh * kw channels, per group
and tap (row-major) the (dy, dx) pair. A sample outside the image reads zeros; one
within a pixel of the border interpolates with zeros beyond it, as the original does.

The sampling is a gather of the four neighbours of every sample, so it runs on any
backend and its gradients (with respect to the input, the offsets and the kernel) are
JAX's; `tests/models/test_deformable.py` checks the values against a loop-by-loop NumPy
restatement and the gradients against finite differences. The custom CUDA op this
replaces builds only against CUDA 10.0 and torch 1.1 (PoseWarper issues 3 and 13).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def _bilinear(image: jax.Array, y: jax.Array, x: jax.Array) -> jax.Array:
  """image [H, W, C] sampled at float coordinates y, x [...]: [..., C], zeros outside."""
  height, width = image.shape[:2]
  y0, x0 = jnp.floor(y), jnp.floor(x)
  # The weights are written without abs(), whose derivative at 0 is 0: at an integer
  # position (every offset at PoseWarper's initialisation) the gradient is then the
  # difference to the next pixel, as the CUDA op computes it, instead of a lone term.
  fy, fx = y - y0, x - x0
  result = 0.0
  for dy in (0, 1):
    for dx in (0, 1):
      yy, xx = y0 + dy, x0 + dx
      weight = (fy if dy else 1 - fy) * (fx if dx else 1 - fx)
      inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
      rows = jnp.clip(yy, 0, height - 1).astype(jnp.int32)
      cols = jnp.clip(xx, 0, width - 1).astype(jnp.int32)
      result = result + jnp.where(inside, weight, 0.0)[..., None] * image[rows, cols]
  return result


def deform_conv2d(
  x: jax.Array,
  offsets: jax.Array,
  kernel: jax.Array,
  *,
  stride: int = 1,
  padding: int = 0,
  dilation: int = 1,
  deformable_groups: int = 1,
) -> jax.Array:
  """Deformable convolution of x [B, H, W, C] with kernel [kh, kw, C, F].

  Args:
    x: the input.
    offsets: [B, H', W', 2 * deformable_groups * kh * kw], per group and tap the (dy, dx)
      of the sample from its grid position, in pixels; H', W' the output size.
    kernel: the weights, as flax's Conv (no feature groups).
    stride, padding, dilation: of the regular grid, as an ordinary convolution's.
    deformable_groups: channel groups with their own offsets (C divisible by it).

  Returns:
    [B, H', W', F].
  """
  b, height, width, channels = x.shape
  kh, kw, kernel_channels, features = kernel.shape
  if kernel_channels != channels or channels % deformable_groups:
    raise ValueError(
      f'input of {channels} channels, kernel for {kernel_channels}, {deformable_groups} '
      'deformable groups: the kernel must read every channel, divisible into the groups.'
    )
  out_h = (height + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
  out_w = (width + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
  taps = kh * kw
  expected = (b, out_h, out_w, 2 * deformable_groups * taps)
  if offsets.shape != expected:
    raise ValueError(f'offsets of shape {offsets.shape}; this convolution needs {expected}.')
  offsets = offsets.reshape(b, out_h, out_w, deformable_groups, taps, 2)
  tap_y, tap_x = jnp.meshgrid(jnp.arange(kh) * dilation, jnp.arange(kw) * dilation, indexing='ij')
  grid_y = jnp.arange(out_h)[:, None, None] * stride - padding + tap_y.reshape(1, 1, taps)
  grid_x = jnp.arange(out_w)[None, :, None] * stride - padding + tap_x.reshape(1, 1, taps)
  sample_y = grid_y[None, :, :, None, :] + offsets[..., 0]  # [B, H', W', G, taps]
  sample_x = grid_x[None, :, :, None, :] + offsets[..., 1]
  per_group = channels // deformable_groups
  grouped = x.reshape(b, height, width, deformable_groups, per_group)

  # [H, W, c] sampled at [H', W', taps] -> [H', W', taps, c]; over the groups (axis 2 of
  # each), then the batch: [B, G, H', W', taps, c].
  columns = jax.vmap(jax.vmap(_bilinear, in_axes=(2, 2, 2)))(grouped, sample_y, sample_x)
  columns = jnp.moveaxis(columns, 1, 4).reshape(b, out_h, out_w, taps, channels)
  return jnp.einsum('bhwkc,kcf->bhwf', columns, kernel.reshape(taps, channels, features))


def identity_kernel_init(key, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
  """PoseWarper's initialisation of its deformable convolutions: 1 at the centre tap from
  each channel to the same channel (an identity warp while the offsets are 0)."""
  del key
  kh, kw, channels, features = shape
  if channels != features:
    raise ValueError(f'an identity kernel maps {channels} channels to {features}.')
  return jnp.zeros(shape, dtype).at[kh // 2, kw // 2].set(jnp.eye(channels, dtype=dtype))


class DeformConv(nn.Module):
  """A deformable 2D convolution whose offsets are an input (as PoseWarper's, predicted by
  separate offset convolutions), padded to keep the size at stride 1.

  Attributes:
    features: output channels.
    kernel_size: (kh, kw).
    dilation: of the sampling grid (PoseWarper: 3, 6, 12, 18, 24).
    deformable_groups: channel groups with their own offsets.
    kernel_init: e.g. `identity_kernel_init`.
  """

  features: int
  kernel_size: tuple[int, int] = (3, 3)
  dilation: int = 1
  deformable_groups: int = 1
  use_bias: bool = False
  kernel_init: Callable = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array, offsets: jax.Array) -> jax.Array:
    kh, kw = self.kernel_size
    if kh != kw or kh % 2 == 0:
      raise ValueError(f'kernel_size={self.kernel_size}: an odd square kernel keeps the size.')
    kernel = self.param('kernel', self.kernel_init, (kh, kw, x.shape[-1], self.features))
    y = deform_conv2d(
      x,
      offsets,
      kernel,
      padding=self.dilation * (kh // 2),
      dilation=self.dilation,
      deformable_groups=self.deformable_groups,
    )
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros, (self.features,))
    return y
