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


class BasicBlock2D(nn.Module):
  """torchvision's ResNet BasicBlock: two 3x3 convs with a residual connection.

  Attributes:
    features: output channels.
    stride: stride of the first conv and the shortcut.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
  """

  features: int
  stride: int
  conv: Callable[..., nn.Module]
  norm: Callable[..., nn.Module]

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """[N, H, W, C] -> [N, H / stride, W / stride, features]."""
    y = self.conv(self.features, (3, 3), self.stride, ((1, 1), (1, 1)), name='conv1')(x)
    y = nn.relu(self.norm(name='bn1')(y))
    y = self.conv(self.features, (3, 3), 1, ((1, 1), (1, 1)), name='conv2')(y)
    y = self.norm(name='bn2')(y)
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
  """

  features: int
  stride: int
  conv: Callable[..., nn.Module]
  norm: Callable[..., nn.Module]

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """[N, H, W, C] -> [N, H / stride, W / stride, 4 * features]."""
    y = nn.relu(
      self.norm(name='bn1')(self.conv(self.features, (1, 1), 1, 'VALID', name='conv1')(x))
    )
    y = self.conv(self.features, (3, 3), self.stride, ((1, 1), (1, 1)), name='conv2')(y)
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
  """

  depth: int = 18
  width: int = 64
  dtype: Any = jnp.float32
  lowering: str = 'auto'

  @nn.compact
  def __call__(self, x: Array, *, train: bool) -> Array:
    """Images [N, H, W, C] -> globally average-pooled features [N, 8 * width] (basic
    blocks) or [N, 32 * width] (bottlenecks)."""
    if self.depth in BASIC_STAGE_SIZES:
      block, stage_sizes = BasicBlock2D, BASIC_STAGE_SIZES[self.depth]
    elif self.depth in BOTTLENECK_STAGE_SIZES:
      block, stage_sizes = Bottleneck2D, BOTTLENECK_STAGE_SIZES[self.depth]
    else:
      raise ValueError(f'depth={self.depth!r}; allowed values: {DEPTHS}.')
    conv, norm = make_conv_norm(train, self.dtype, self.lowering)
    x = conv(self.width, (7, 7), 2, ((3, 3), (3, 3)), name='conv1')(x)
    x = nn.relu(norm(name='bn1')(x))
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for i, num_blocks in enumerate(stage_sizes):
      for j in range(num_blocks):
        stride = 2 if i > 0 and j == 0 else 1
        x = block(self.width * 2**i, stride, conv, norm, name=f'layer{i + 1}_{j}')(x)
    return jnp.mean(x, axis=(1, 2))
