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


class ResNet2D(nn.Module):
  """torchvision ResNet trunk with basic blocks, without the classifier.

  Names map 1:1 onto torchvision's state dict: conv1, bn1, layer{s}.{b}.{conv1,bn1,conv2,bn2}
  -> layer{s}_{b}/..., layer{s}.{b}.downsample.{0,1} -> layer{s}_{b}/downsample_{conv,bn}.

  Attributes:
    depth: 10, 18 or 34.
    width: channels of stage 1; stages have width * (1, 2, 4, 8).
    dtype: computation dtype.
    lowering: convolution lowering, see `conv_lowering`.
  """

  depth: int = 18
  width: int = 64
  dtype: Any = jnp.float32
  lowering: str = 'auto'

  @nn.compact
  def __call__(self, x: Array, *, train: bool) -> Array:
    """Images [N, H, W, C] -> globally average-pooled features [N, 8 * width]."""
    if self.depth not in BASIC_STAGE_SIZES:
      raise ValueError(f'depth={self.depth!r}; allowed values: {tuple(BASIC_STAGE_SIZES)}.')
    conv, norm = make_conv_norm(train, self.dtype, self.lowering)
    x = conv(self.width, (7, 7), 2, ((3, 3), (3, 3)), name='conv1')(x)
    x = nn.relu(norm(name='bn1')(x))
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for i, num_blocks in enumerate(BASIC_STAGE_SIZES[self.depth]):
      for j in range(num_blocks):
        stride = 2 if i > 0 and j == 0 else 1
        x = BasicBlock2D(self.width * 2**i, stride, conv, norm, name=f'layer{i + 1}_{j}')(x)
    return jnp.mean(x, axis=(1, 2))
