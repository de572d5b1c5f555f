"""X3D: expanded 3D networks (Feichtenhofer, CVPR 2020), sizes XS, S, M, L.

X3D expands a tiny mobile 3D ResNet along width (x2.0), bottleneck (x2.25) and depth (x2.2
for XS/S/M, x5.0 for L); XS, S and M differ only in the input clip (4x160^2, 13x160^2,
16x224^2) and L in depth and input (16x312^2). Blocks are conv_a 1x1x1 -> BN -> ReLU ->
depthwise 3x3x3 -> BN -> squeeze-excitation (every other block) -> swish -> conv_c 1x1x1 ->
BN, plus shortcut and ReLU. The stem is a 1x3x3 conv with stride (1, 2, 2) followed by a
depthwise 5x1x1 conv; the head is conv5 (1x1x1 to 2.25x the width, BN, ReLU), global
average pooling, a 1x1x1 conv to 2048 features with ReLU (no BN), dropout and a linear
layer. The structure follows `pytorchvideo.models.x3d.create_x3d` and its hub builders
`x3d_xs`, `x3d_s`, `x3d_m`, `x3d_l`.

Flax names map onto PyTorchVideo's state dict as below ('/' -> '.', kernel -> weight
transposed from [O, I, T, H, W] to [T, H, W, I, O], BN scale/bias/mean/var -> weight/bias/
running_mean/running_var):

  blocks_0_conv_xy, blocks_0_conv_t, blocks_0_norm     blocks.0.conv.conv_t|conv_xy, blocks.0.norm
                                                       (PyTorchVideo swaps the two names)
  blocks_{s}_res_blocks_{b}/branch1_conv|branch1_norm  blocks.{s}.res_blocks.{b}.branch1_*
                                                       (branch1_norm only where the width grows)
  .../branch2/conv_a|norm_a|conv_b|conv_c|norm_c       ...branch2.<same>
  .../branch2/norm_b_0                                 ...branch2.norm_b.0 (BN)
  .../branch2/norm_b_1/block_0|block_2                 ...branch2.norm_b.1.block.0|2 (SE convs)
  blocks_5_pre_conv|pre_norm|post_conv                 blocks.5.pool.pre_conv|pre_norm|post_conv
  blocks_5_proj                                        blocks.5.proj
"""

import functools
import math
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import heads
from vidjax.models.layers import Conv, make_conv_norm

ModuleDef = Callable[..., nn.Module]

# variant -> depth factor (XS/S/M share the network; the clip size differs).
VARIANTS = {'xs': 2.2, 's': 2.2, 'm': 2.2, 'l': 5.0}
# Input clip (frames, crop) each variant is trained and evaluated at.
INPUT_SIZES = {'xs': (4, 160), 's': (13, 160), 'm': (16, 224), 'l': (16, 312)}
BASE_DEPTHS = (1, 2, 5, 3)

# The classifier's variables (for config.init_from.dont_load when fine-tuning).
CLASSIFIER = r'blocks_5_proj/.*'


def round_width(width: float, multiplier: float, min_depth: int = 8, divisor: int = 8) -> int:
  """PyTorchVideo's channel rounding: to the nearest multiple of `divisor`, at least 90 %."""
  width *= multiplier
  out = max(min_depth, int(width + divisor / 2) // divisor * divisor)
  if out < 0.9 * width:
    out += divisor
  return int(out)


def round_repeats(repeats: int, multiplier: float) -> int:
  """Blocks per stage after depth expansion (rounded up)."""
  return int(math.ceil(multiplier * repeats))


class SqueezeExcitation(nn.Module):
  """Channel gating from globally pooled features (Hu et al. 2018).

  Attributes:
    reduced: channels of the bottleneck.
    dtype: computation dtype.
  """

  reduced: int
  dtype: Any

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> same shape, x scaled per channel."""
    conv = functools.partial(Conv, kernel_size=(1, 1, 1), dtype=self.dtype, padding='VALID')
    s = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    s = nn.relu(conv(self.reduced, name='block_0')(s))
    s = nn.sigmoid(conv(x.shape[-1], name='block_2')(s))
    return x * s


class X3DBlock(nn.Module):
  """X3D bottleneck block with shortcut.

  Attributes:
    inner_features: bottleneck (depthwise) width.
    features: output channels.
    stride: spatial stride of conv_b and the shortcut.
    se_ratio: squeeze-excitation reduction (0: no SE).
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
  """

  inner_features: int
  features: int
  stride: int
  se_ratio: float
  conv: ModuleDef
  norm: ModuleDef

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T, H / stride, W / stride, features]."""
    # PyTorchVideo nests branch2 inside the block; a child module keeps the names aligned.
    y = _Branch2(
      self.inner_features, self.features, self.stride, self.se_ratio, self.conv, self.norm,
      name='branch2',
    )(x)  # fmt: skip
    if self.stride != 1 or x.shape[-1] != self.features:
      s = (1, self.stride, self.stride)
      shortcut = self.conv(self.features, (1, 1, 1), s, 'VALID', name='branch1_conv')(x)
      # As in PyTorchVideo's create_x3d_res_block (whose checkpoints lack this BN in res2):
      # a shortcut that only subsamples, without changing the width, is not normalised.
      if x.shape[-1] != self.features:
        shortcut = self.norm(name='branch1_norm')(shortcut)
      x = shortcut
    return nn.relu(x + y)


class _Branch2(nn.Module):
  """The residual branch of `X3DBlock` (same attributes)."""

  inner_features: int
  features: int
  stride: int
  se_ratio: float
  conv: ModuleDef
  norm: ModuleDef

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = self.conv(self.inner_features, (1, 1, 1), 1, 'VALID', name='conv_a')(x)
    x = nn.relu(self.norm(name='norm_a')(x))
    x = self.conv(
      self.inner_features,
      (3, 3, 3),
      (1, self.stride, self.stride),
      ((1, 1),) * 3,
      feature_group_count=self.inner_features,
      name='conv_b',
    )(x)
    x = self.norm(name='norm_b_0')(x)
    if self.se_ratio > 0:
      x = SqueezeExcitation(
        round_width(self.inner_features, self.se_ratio), x.dtype, name='norm_b_1'
      )(x)
    x = nn.swish(x)
    x = self.conv(self.features, (1, 1, 1), 1, 'VALID', name='conv_c')(x)
    return self.norm(name='norm_c')(x)


class Model(nn.Module):
  """X3D video classifier.

  Attributes:
    num_classes: number of output classes.
    variant: 'xs', 's', 'm' or 'l' (sets the depth factor; see INPUT_SIZES for the clip).
    width: channels before width expansion (12); stem width = 2 * width, stages
      2 * width * (1, 2, 4, 8) rounded to multiples of 8.
    depth_factor: blocks per stage = ceil(depth_factor * (1, 2, 5, 3)); None = the variant's.
    bottleneck_factor: inner width / stage width (2.25).
    head_features: width of the last 1x1x1 conv before the classifier (2048).
    se_ratio: squeeze-excitation reduction in every other block (1 / 16).
    dropout_rate: dropout before the classifier (0.5 in the published recipes).
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
    remat: recompute each residual block's activations in the backward pass instead of
      keeping them (`nn.remat`; as `video_resnet.Model.remat`).
  """

  num_classes: int
  variant: str = 's'
  width: int = 12
  depth_factor: float | None = None
  bottleneck_factor: float = 2.25
  head_features: int = 2048
  se_ratio: float = 0.0625
  dropout_rate: float = 0.0
  dtype: Any = 'float32'
  lowering: str = 'auto'
  remat: bool = False

  def __post_init__(self):
    if self.variant not in VARIANTS:
      raise ValueError(f'variant={self.variant!r}; allowed values: {tuple(VARIANTS)}.')
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips.

    Args:
      x: normalised video [B, T, H, W, 3] (H, W multiples of 32).
      train: batch statistics and dropout on (True) or running averages (False).

    Returns:
      logits [B, num_classes] (float32) and aux {'features': [B, head_features]}.
    """
    dtype = jnp.dtype(self.dtype)
    conv, norm = make_conv_norm(train, dtype, self.lowering)
    depth_factor = VARIANTS[self.variant] if self.depth_factor is None else self.depth_factor
    x = jnp.asarray(x, dtype)

    stem = round_width(self.width, 2.0)
    x = conv(stem, (1, 3, 3), (1, 2, 2), ((0, 0), (1, 1), (1, 1)), name='blocks_0_conv_xy')(x)
    # Depthwise temporal conv: the stem mixes time without mixing channels.
    x = conv(stem, (5, 1, 1), 1, ((2, 2), (0, 0), (0, 0)), feature_group_count=stem,
             name='blocks_0_conv_t')(x)  # fmt: skip
    x = nn.relu(norm(name='blocks_0_norm')(x))

    dims = [self.width]
    for _ in range(3):
      dims.append(round_width(dims[-1], 2.0))
    block = nn.remat(X3DBlock) if self.remat else X3DBlock
    for s, base in enumerate(BASE_DEPTHS):
      out = round_width(dims[s], 2.0)
      inner = int(self.bottleneck_factor * out)
      for b in range(round_repeats(base, depth_factor)):
        x = block(
          inner, out, 2 if b == 0 else 1, self.se_ratio if b % 2 == 0 else 0.0, conv, norm,
          name=f'blocks_{s + 1}_res_blocks_{b}',
        )(x)  # fmt: skip

    inner = int(self.bottleneck_factor * x.shape[-1])
    x = conv(inner, (1, 1, 1), 1, 'VALID', name='blocks_5_pre_conv')(x)
    x = nn.relu(norm(name='blocks_5_pre_norm')(x))
    x = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    x = conv(self.head_features, (1, 1, 1), 1, 'VALID', name='blocks_5_post_conv')(x)
    features = nn.relu(x).reshape(x.shape[0], -1)
    return heads.classifier_output(
      features,
      {},
      num_classes=self.num_classes,
      dropout_rate=self.dropout_rate,
      train=train,
      name='blocks_5_proj',
      dtype=dtype,
    )
