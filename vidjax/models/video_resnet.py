"""Video ResNets: R3D, MCx, rMCx and R(2+1)D (Tran et al., CVPR 2018, arXiv 1711.11248).

The structure follows torchvision.models.video (r3d_18, mc3_18, r2plus1d_18) and VMZ's
PyTorch models built on it (r2plus1d_34, r2plus1d_152): stride 2 at stages 2-4, in time and
space for 3D and (2+1)D convolutions, in space only for 2D (1x3x3) ones; basic blocks at
depth 10/18/34, bottleneck blocks (1x1x1, 3x3x3-equivalent, 1x1x1 to 4x the width) at
depth 14/50/152. Module names map 1:1 onto torchvision's state dict:

  torchvision                          vidjax
  stem.0, stem.1                       stem/conv, stem/bn                          (3D, 2D)
  stem.0, stem.1, stem.3, stem.4       stem/{spatial,spatial_bn,temporal,bn}       (R(2+1)D)
  layer{s}.{b}.conv{i}.0               layer{s}_{b}/conv{i}                        (3D, 2D)
  layer{s}.{b}.conv{i}.0.{0,1,3}       layer{s}_{b}/conv{i}/{spatial,spatial_bn,temporal}
  layer{s}.{b}.conv{i}.1               layer{s}_{b}/bn{i}
  layer{s}.{b}.conv3.{0,1}             layer{s}_{b}/conv3, bn3                     (bottleneck)
  layer{s}.{b}.downsample.{0,1}        layer{s}_{b}/downsample_conv, downsample_bn
  fc                                   fc
"""

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import heads
from vidjax.models.layers import make_conv_norm
from vidjax.models.resnet import BASIC_STAGE_SIZES, BOTTLENECK_STAGE_SIZES, DEPTHS

ModuleDef = Callable[..., nn.Module]


# Convolution kind of the stem and of stages 1-4 (the paper's conv1, conv2_x, ..., conv5_x)
# for each `block`. Mixed convolutions MCx are 3D below group conv{x} and 2D (1x3x3) from it
# on (torchvision's mc3_18 is MC3); rMCx is the reverse, 2D below conv{x} and 3D from it on.
BLOCK_CONVS = {
  'r3d': ('3d',) * 5,
  'r2plus1d': ('2plus1d',) * 5,
  **{f'mc{x}': ('3d',) * (x - 1) + ('2d',) * (6 - x) for x in range(2, 6)},
  **{f'rmc{x}': ('2d',) * (x - 1) + ('3d',) * (6 - x) for x in range(2, 6)},
}

# How the mid width of a (2+1)D convolution is computed. 'block' (torchvision): once per block
# from the block's input width and its width, shared by its (2+1)D convolutions. 'conv' (the
# paper, Caffe2 VMZ and its PyTorch ports): from each (2+1)D convolution's own input and output
# widths. They differ wherever a block changes the width, so each has its own checkpoints.
MIDPLANES_RULES = ('block', 'conv')

# The classifier's variables (for config.init_from.dont_load when fine-tuning).
CLASSIFIER = r'fc/.*'


def midplanes(in_features: int, out_features: int, t: int = 3, d: int = 3) -> int:
  """Mid width M of a (2+1)D conv with the parameter count of a t x d x d 3D conv.

  M = floor(t d^2 N_in N_out / (d^2 N_in + t N_out)) (Tran et al. 2018, Sec. 3.5).
  """
  return (t * d * d * in_features * out_features) // (d * d * in_features + t * out_features)


class Conv2Plus1D(nn.Module):
  """1 x d x d spatial conv to `mid_features`, BN, ReLU, then t x 1 x 1 temporal conv.

  Attributes:
    features: output channels.
    mid_features: channels between the spatial and the temporal conv.
    strides: (temporal, spatial) stride.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
  """

  features: int
  mid_features: int
  strides: tuple[int, int]
  conv: ModuleDef
  norm: ModuleDef

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T / st, H / ss, W / ss, features] (no final BN)."""
    st, ss = self.strides
    x = self.conv(
      self.mid_features, (1, 3, 3), (1, ss, ss), ((0, 0), (1, 1), (1, 1)), name='spatial'
    )(x)
    x = nn.relu(self.norm(name='spatial_bn')(x))
    return self.conv(
      self.features, (3, 1, 1), (st, 1, 1), ((1, 1), (0, 0), (0, 0)), name='temporal'
    )(x)


def _conv3x3(
  kind: str,
  features: int,
  mid_features: int,
  stride: int,
  conv: ModuleDef,
  norm: ModuleDef,
  name: str,
) -> nn.Module:
  """The block's 3x3x3-equivalent convolution of the given kind."""
  if kind == '3d':
    return conv(features, (3, 3, 3), (stride,) * 3, ((1, 1),) * 3, name=name)
  if kind == '2d':
    return conv(features, (1, 3, 3), (1, stride, stride), ((0, 0), (1, 1), (1, 1)), name=name)
  return Conv2Plus1D(features, mid_features, (stride, stride), conv, norm, name=name)


def _shortcut(
  x: jax.Array, features: int, stride: int, kind: str, conv: ModuleDef, norm: ModuleDef
) -> jax.Array:
  """Identity, or a strided 1x1x1 conv + BN where the block changes the shape."""
  if stride == 1 and x.shape[-1] == features:
    return x
  # torchvision's `get_downsample_stride`: 2D convs leave time alone.
  strides = (1, stride, stride) if kind == '2d' else (stride,) * 3
  x = conv(features, (1, 1, 1), strides, 'VALID', name='downsample_conv')(x)
  return norm(name='downsample_bn')(x)


class BasicBlock(nn.Module):
  """Two 3x3x3-equivalent convolutions with a residual connection.

  Attributes:
    features: output channels.
    stride: stride of the first conv and the shortcut (in space, and in time unless 2D).
    kind: '3d', '2d' or '2plus1d'.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
    midplanes_rule: 'block' or 'conv', see `MIDPLANES_RULES`.
  """

  features: int
  stride: int
  kind: str
  conv: ModuleDef
  norm: ModuleDef
  midplanes_rule: str = 'block'

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T / s, H / s, W / s, features] (T unchanged if 2D)."""
    mid1 = midplanes(x.shape[-1], self.features)
    mid2 = mid1 if self.midplanes_rule == 'block' else midplanes(self.features, self.features)
    y = _conv3x3(self.kind, self.features, mid1, self.stride, self.conv, self.norm, 'conv1')(x)
    y = nn.relu(self.norm(name='bn1')(y))
    y = _conv3x3(self.kind, self.features, mid2, 1, self.conv, self.norm, 'conv2')(y)
    y = self.norm(name='bn2')(y)
    x = _shortcut(x, self.features, self.stride, self.kind, self.conv, self.norm)
    return nn.relu(x + y)


class Bottleneck(nn.Module):
  """1x1x1 conv, 3x3x3-equivalent conv (strided), 1x1x1 conv to 4x the width, residual.

  Attributes:
    features: bottleneck width; the block outputs 4 * features channels.
    stride: stride of the middle conv and the shortcut (in space, and in time unless 2D).
    kind: '3d', '2d' or '2plus1d'.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
    midplanes_rule: 'block' or 'conv', see `MIDPLANES_RULES`.
  """

  features: int
  stride: int
  kind: str
  conv: ModuleDef
  norm: ModuleDef
  midplanes_rule: str = 'block'

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T / s, H / s, W / s, 4 * features] (T unchanged if 2D)."""
    # The middle conv maps features -> features; torchvision nevertheless sizes its (2+1)D
    # mid width from the block's input width.
    mid_in = x.shape[-1] if self.midplanes_rule == 'block' else self.features
    mid = midplanes(mid_in, self.features)
    y = self.conv(self.features, (1, 1, 1), 1, 'VALID', name='conv1')(x)
    y = nn.relu(self.norm(name='bn1')(y))
    y = _conv3x3(self.kind, self.features, mid, self.stride, self.conv, self.norm, 'conv2')(y)
    y = nn.relu(self.norm(name='bn2')(y))
    y = self.conv(4 * self.features, (1, 1, 1), 1, 'VALID', name='conv3')(y)
    y = self.norm(name='bn3')(y)
    x = _shortcut(x, 4 * self.features, self.stride, self.kind, self.conv, self.norm)
    return nn.relu(x + y)


class Stem(nn.Module):
  """3D: 3x7x7 conv; 2D: 1x7x7 conv; R(2+1)D: 1x7x7 conv to 45/64 of the width, BN, ReLU,
  3x1x1 conv. Then BN, ReLU and, with `pool`, a 1x3x3 max-pool with stride (1, 2, 2).

  Attributes:
    features: output channels.
    kind: '3d', '2d' or '2plus1d'.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
    pool: VMZ's `use_pool1` (its R(2+1)D-152 and CSN-152 stems).
  """

  features: int
  kind: str
  conv: ModuleDef
  norm: ModuleDef
  pool: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T, H / 2, W / 2, features] (H / 4, W / 4 with `pool`)."""
    if self.kind == '3d':
      x = self.conv(self.features, (3, 7, 7), (1, 2, 2), ((1, 1), (3, 3), (3, 3)), name='conv')(x)
    elif self.kind == '2d':
      x = self.conv(self.features, (1, 7, 7), (1, 2, 2), ((0, 0), (3, 3), (3, 3)), name='conv')(x)
    else:
      # torchvision's 45 channels at width 64 (the 3D stem's parameter count), rounded half up.
      mid = (45 * self.features + 32) // 64
      x = self.conv(mid, (1, 7, 7), (1, 2, 2), ((0, 0), (3, 3), (3, 3)), name='spatial')(x)
      x = nn.relu(self.norm(name='spatial_bn')(x))
      x = self.conv(self.features, (3, 1, 1), (1, 1, 1), ((1, 1), (0, 0), (0, 0)), name='temporal')(
        x
      )
    x = nn.relu(self.norm(name='bn')(x))
    if self.pool:
      x = nn.max_pool(x, (1, 3, 3), (1, 2, 2), ((0, 0), (1, 1), (1, 1)))
    return x


class Model(nn.Module):
  """R3D / MCx / rMCx / R(2+1)D video classifier.

  Attributes:
    num_classes: number of output classes.
    depth: 10, 18 or 34 (basic blocks per stage (1,1,1,1), (2,2,2,2), (3,4,6,3)); 14, 50 or
      152 (bottleneck blocks per stage (1,1,1,1), (3,4,6,3), (3,8,36,3)). 10 and 14 are test
      variants.
    block: convolution kinds, a key of `BLOCK_CONVS`: 'r3d', 'r2plus1d', 'mc2'-'mc5',
      'rmc2'-'rmc5'.
    width: channels of stage 1; stages have width * (1, 2, 4, 8) (4x that output with
      bottlenecks).
    midplanes_rule: (2+1)D mid widths, 'block' (torchvision) or 'conv' (VMZ, the paper).
    stem_pool: max-pool after the stem (VMZ's `use_pool1`).
    bn_epsilon: BatchNorm epsilon, 1e-5 (torchvision) or 1e-3 (VMZ, from Caffe2).
    dropout_rate: dropout before the classifier.
    dtype: computation dtype name, e.g. 'float32' or 'bfloat16'.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
    remat: recompute each residual block's activations in the backward pass instead of
      keeping them from the forward one (`nn.remat`): a train step keeps one tensor per
      block instead of every intermediate, for about a third more compute; the same
      parameters, names and results.
  """

  num_classes: int
  depth: int = 18
  block: str = 'r2plus1d'
  width: int = 64
  midplanes_rule: str = 'block'
  stem_pool: bool = False
  bn_epsilon: float = 1e-5
  dropout_rate: float = 0.0
  dtype: Any = 'float32'
  lowering: str = 'auto'
  remat: bool = False

  def __post_init__(self):
    if self.depth not in DEPTHS:
      raise ValueError(f'depth={self.depth!r}; allowed values: {DEPTHS}.')
    if self.block not in BLOCK_CONVS:
      raise ValueError(f'block={self.block!r}; allowed values: {tuple(BLOCK_CONVS)}.')
    if self.midplanes_rule not in MIDPLANES_RULES:
      raise ValueError(
        f'midplanes_rule={self.midplanes_rule!r}; allowed values: {MIDPLANES_RULES}.'
      )
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips.

    Args:
      x: normalised video [B, T, H, W, 3].
      train: batch statistics and dropout on (True) or running averages (False).

    Returns:
      logits [B, num_classes] (float32; the features with num_classes=0) and aux
      {'features': pooled features [B, 8 * width] (basic blocks) or [B, 32 * width]
      (bottlenecks), 'feature_maps': the output [B, t, h, w, C] of each of the 4 stages}.
    """
    dtype = jnp.dtype(self.dtype)
    conv, norm = make_conv_norm(train, dtype, self.lowering, self.bn_epsilon)
    kinds = BLOCK_CONVS[self.block]
    x = Stem(self.width, kinds[0], conv, norm, self.stem_pool, name='stem')(jnp.asarray(x, dtype))
    if self.depth in BASIC_STAGE_SIZES:
      block, stage_sizes = BasicBlock, BASIC_STAGE_SIZES[self.depth]
    else:
      block, stage_sizes = Bottleneck, BOTTLENECK_STAGE_SIZES[self.depth]
    if self.remat:
      block = nn.remat(block)
    feature_maps = []
    for i, num_blocks in enumerate(stage_sizes):
      for j in range(num_blocks):
        stride = 2 if i > 0 and j == 0 else 1
        x = block(
          self.width * 2**i,
          stride,
          kinds[i + 1],
          conv,
          norm,
          self.midplanes_rule,
          name=f'layer{i + 1}_{j}',
        )(x)
      feature_maps.append(x)
    features = jnp.mean(x, axis=(1, 2, 3))
    return heads.classifier_output(
      features,
      {'feature_maps': feature_maps},
      num_classes=self.num_classes,
      dropout_rate=self.dropout_rate,
      train=train,
      name='fc',
      dtype=dtype,
    )
