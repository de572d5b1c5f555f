"""ResNet stage tables, shared by the 2D and 3D ResNets, and the torchvision 2D ResNet trunk
(single-frame and CorrNet backbones, inflation sources)."""

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models.layers import make_conv_norm

Array = jax.Array

# Basic-block ResNets (He et al. 2016): blocks per stage by depth. Depth 10 is the usual
# (1, 1, 1, 1) reduction of ResNet-18 used for fast experiments and tests.
BASIC_STAGE_SIZES = {10: (1, 1, 1, 1), 18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
# Bottleneck ResNets (three convolutions a block): blocks per stage by depth. Depth 14 is the
# (1, 1, 1, 1) reduction for tests.
BOTTLENECK_STAGE_SIZES = {14: (1, 1, 1, 1), 50: (3, 4, 6, 3), 152: (3, 8, 36, 3)}
DEPTHS = (*BASIC_STAGE_SIZES, *BOTTLENECK_STAGE_SIZES)
PADDING_MODES = ('zeros', 'reflect')


def padded(x: Array, amount: int, mode: str) -> tuple[Array, Any]:
  """(input, conv padding) for a conv padded by `amount` pixels on each side: with zeros by
  the conv itself, or reflected (PyTorch's padding_mode='reflect') by padding x first."""
  if mode == 'zeros':
    return x, ((amount, amount), (amount, amount))
  if mode == 'reflect':
    return jnp.pad(x, ((0, 0), (amount, amount), (amount, amount), (0, 0)), mode='reflect'), 'VALID'
  raise ValueError(f'padding_mode={mode!r}; allowed values: {PADDING_MODES}.')


class BasicBlock2D(nn.Module):
  """torchvision's ResNet BasicBlock: two 3x3 convs with a residual connection.

  Attributes:
    features: output channels.
    stride: stride of the first conv and the shortcut.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
    padding_mode: 'zeros' or 'reflect', for the 3x3 convs.
  """

  features: int
  stride: int
  conv: Callable[..., nn.Module]
  norm: Callable[..., nn.Module]
  padding_mode: str = 'zeros'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """[N, H, W, C] -> [N, H / stride, W / stride, features]."""
    y, padding = padded(x, 1, self.padding_mode)
    y = self.conv(self.features, (3, 3), self.stride, padding, name='conv1')(y)
    y, padding = padded(nn.relu(self.norm(name='bn1')(y)), 1, self.padding_mode)
    y = self.norm(name='bn2')(self.conv(self.features, (3, 3), 1, padding, name='conv2')(y))
    if self.stride != 1 or x.shape[-1] != self.features:
      x = self.conv(self.features, (1, 1), self.stride, 'VALID', name='downsample_conv')(x)
      x = self.norm(name='downsample_bn')(x)
    return nn.relu(x + y)


class Bottleneck2D(nn.Module):
  """torchvision's ResNet Bottleneck (v1.5: the stride on the 3x3 conv): 1x1, 3x3, 1x1 to
  4x the width, with a residual connection.

  Attributes:
    features: width of the 1x1 and 3x3 convs; the block outputs 4 * features.
    stride: stride of the 3x3 conv and the shortcut.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
    padding_mode: 'zeros' or 'reflect', for the 3x3 conv.
  """

  features: int
  stride: int
  conv: Callable[..., nn.Module]
  norm: Callable[..., nn.Module]
  padding_mode: str = 'zeros'

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """[N, H, W, C] -> [N, H / stride, W / stride, 4 * features]."""
    y = nn.relu(
      self.norm(name='bn1')(self.conv(self.features, (1, 1), 1, 'VALID', name='conv1')(x))
    )
    y, padding = padded(y, 1, self.padding_mode)
    y = self.conv(self.features, (3, 3), self.stride, padding, name='conv2')(y)
    y = nn.relu(self.norm(name='bn2')(y))
    y = self.norm(name='bn3')(self.conv(4 * self.features, (1, 1), 1, 'VALID', name='conv3')(y))
    if self.stride != 1 or x.shape[-1] != 4 * self.features:
      x = self.conv(4 * self.features, (1, 1), self.stride, 'VALID', name='downsample_conv')(x)
      x = self.norm(name='downsample_bn')(x)
    return nn.relu(x + y)


class ResNet2D(nn.Module):
  """torchvision ResNet trunk (resnet18 ... resnet152), without the classifier.

  Names map 1:1 onto torchvision's state dict: conv1, bn1, layer{s}.{b}.{conv{i},bn{i}}
  -> layer{s}_{b}/..., layer{s}.{b}.downsample.{0,1} -> layer{s}_{b}/downsample_{conv,bn}.

  Attributes:
    depth: 10, 18 or 34 (basic blocks); 14, 50 or 152 (bottleneck blocks). 10 and 14 are
      the (1, 1, 1, 1) test variants.
    width: channels of stage 1; stages have width * (1, 2, 4, 8) (4x that output with
      bottlenecks).
    dtype: computation dtype.
    lowering: convolution lowering, see `conv_lowering`.
    stage_strides: stride of each stage's first block; (1, 2, 1, 1) keeps the output stride
      at 8, as the contrastive random walk's encoder does (its layer3 and layer4 strides
      set to 1, downsampling shortcuts included).
    num_stages: how many stages run (3: up to layer3, the features CRW propagates labels with).
    pool: average the output over space; False returns the feature map.
    padding_mode: 'zeros' or 'reflect' for every padded conv (CRW's encoder from scratch
      reflects); the max-pool pads as before.
  """

  depth: int = 18
  width: int = 64
  dtype: Any = jnp.float32
  lowering: str = 'auto'
  stage_strides: tuple[int, ...] = (1, 2, 2, 2)
  num_stages: int = 4
  pool: bool = True
  padding_mode: str = 'zeros'

  @nn.compact
  def __call__(self, x: Array, *, train: bool, stages: int | None = None) -> Array:
    """Images [N, H, W, C] -> globally average-pooled features [N, 8 * width] (basic
    blocks) or [N, 32 * width] (bottlenecks), or with `pool=False` the feature map
    [N, h, w, channels] of the last stage that runs: `stages` (default `num_stages`), so
    that one network can stop early (CRW propagates labels with layer3's map)."""
    if self.depth in BASIC_STAGE_SIZES:
      block, stage_sizes = BasicBlock2D, BASIC_STAGE_SIZES[self.depth]
    elif self.depth in BOTTLENECK_STAGE_SIZES:
      block, stage_sizes = Bottleneck2D, BOTTLENECK_STAGE_SIZES[self.depth]
    else:
      raise ValueError(f'depth={self.depth!r}; allowed values: {DEPTHS}.')
    if len(self.stage_strides) != 4 or not 1 <= self.num_stages <= 4:
      raise ValueError(
        f'stage_strides={self.stage_strides}, num_stages={self.num_stages}: four strides, '
        'and 1 to 4 stages.'
      )
    conv, norm = make_conv_norm(train, self.dtype, self.lowering)
    x, padding = padded(x, 3, self.padding_mode)
    x = conv(self.width, (7, 7), 2, padding, name='conv1')(x)
    x = nn.relu(norm(name='bn1')(x))
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for i, num_blocks in enumerate(stage_sizes[: stages or self.num_stages]):
      for j in range(num_blocks):
        stride = self.stage_strides[i] if j == 0 else 1
        x = block(
          self.width * 2**i, stride, conv, norm, self.padding_mode, name=f'layer{i + 1}_{j}'
        )(x)
    return jnp.mean(x, axis=(1, 2)) if self.pool else x
