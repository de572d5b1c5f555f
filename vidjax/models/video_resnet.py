"""Video ResNets: R3D and R(2+1)D (Tran et al., CVPR 2018, arXiv 1711.11248).

The structure follows torchvision.models.video (r3d_18, r2plus1d_18): no max-pool, stride 2
in time and space at stages 2-4, and the (2+1)D mid width computed once per block from its
input and output widths and used by both of its convolutions. Module names map 1:1 onto
torchvision's state dict:

  torchvision                          vidjax
  stem.0, stem.1                       stem/conv, stem/bn                          (R3D)
  stem.0, stem.1, stem.3, stem.4       stem/{spatial,spatial_bn,temporal,bn}       (R(2+1)D)
  layer{s}.{b}.conv{i}.0               layer{s}_{b}/conv{i}                        (R3D)
  layer{s}.{b}.conv{i}.0.{0,1,3}       layer{s}_{b}/conv{i}/{spatial,spatial_bn,temporal}
  layer{s}.{b}.conv{i}.1               layer{s}_{b}/bn{i}
  layer{s}.{b}.downsample.{0,1}        layer{s}_{b}/downsample_conv, downsample_bn
  fc                                   fc
"""

import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models.layers import BASIC_STAGE_SIZES, Conv, conv_kernel_init

ModuleDef = Callable[..., nn.Module]

# Convolution kind of the stem and of stages 1-4 for each `block`. The paper's mixed
# convolutions (MCx, rMCx: 3D in some stages, 1x3x3 in the others) are further rows of this
# table with a '2d' kind.
BLOCK_CONVS = {
  'r3d': ('3d', '3d', '3d', '3d', '3d'),
  'r2plus1d': ('2plus1d', '2plus1d', '2plus1d', '2plus1d', '2plus1d'),
}


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
  return Conv2Plus1D(features, mid_features, (stride, stride), conv, norm, name=name)


class BasicBlock(nn.Module):
  """Two 3x3x3-equivalent convolutions with a residual connection.

  Attributes:
    features: output channels.
    stride: stride in time and space of the first conv and the shortcut.
    kind: '3d' or '2plus1d'.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
  """

  features: int
  stride: int
  kind: str
  conv: ModuleDef
  norm: ModuleDef

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T / s, H / s, W / s, features]."""
    mid = midplanes(x.shape[-1], self.features)
    y = _conv3x3(self.kind, self.features, mid, self.stride, self.conv, self.norm, 'conv1')(x)
    y = nn.relu(self.norm(name='bn1')(y))
    y = _conv3x3(self.kind, self.features, mid, 1, self.conv, self.norm, 'conv2')(y)
    y = self.norm(name='bn2')(y)
    if self.stride != 1 or x.shape[-1] != self.features:
      x = self.conv(self.features, (1, 1, 1), (self.stride,) * 3, 'VALID', name='downsample_conv')(
        x
      )
      x = self.norm(name='downsample_bn')(x)
    return nn.relu(x + y)


class Stem(nn.Module):
  """R3D: 3x7x7 conv, BN, ReLU. R(2+1)D: 1x7x7 conv to 45/64 of the width, BN, ReLU, 3x1x1.

  Attributes:
    features: output channels.
    kind: '3d' or '2plus1d'.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
  """

  features: int
  kind: str
  conv: ModuleDef
  norm: ModuleDef

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T, H / 2, W / 2, features]."""
    if self.kind == '3d':
      x = self.conv(self.features, (3, 7, 7), (1, 2, 2), ((1, 1), (3, 3), (3, 3)), name='conv')(x)
    else:
      # torchvision's 45 channels at width 64 (the 3D stem's parameter count), rounded half up.
      mid = (45 * self.features + 32) // 64
      x = self.conv(mid, (1, 7, 7), (1, 2, 2), ((0, 0), (3, 3), (3, 3)), name='spatial')(x)
      x = nn.relu(self.norm(name='spatial_bn')(x))
      x = self.conv(self.features, (3, 1, 1), (1, 1, 1), ((1, 1), (0, 0), (0, 0)), name='temporal')(
        x
      )
    return nn.relu(self.norm(name='bn')(x))


class Model(nn.Module):
  """R3D / R(2+1)D video classifier.

  Attributes:
    num_classes: number of output classes.
    depth: 10, 18 or 34 (basic blocks per stage (1,1,1,1), (2,2,2,2), (3,4,6,3)).
    block: 'r3d' or 'r2plus1d'.
    width: channels of stage 1; stages have width * (1, 2, 4, 8).
    dropout_rate: dropout before the classifier.
    dtype: computation dtype name, e.g. 'float32' or 'bfloat16'.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  num_classes: int
  depth: int = 18
  block: str = 'r2plus1d'
  width: int = 64
  dropout_rate: float = 0.0
  dtype: Any = 'float32'
  lowering: str = 'auto'

  def __post_init__(self):
    if self.depth not in BASIC_STAGE_SIZES:
      raise ValueError(f'depth={self.depth!r}; allowed values: {tuple(BASIC_STAGE_SIZES)}.')
    if self.block not in BLOCK_CONVS:
      raise ValueError(f'block={self.block!r}; allowed values: {tuple(BLOCK_CONVS)}.')
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips.

    Args:
      x: normalised video [B, T, H, W, 3].
      train: batch statistics and dropout on (True) or running averages (False).

    Returns:
      logits [B, num_classes] (float32) and aux {'features': pooled features [B, 8 * width]}.
    """
    dtype = jnp.dtype(self.dtype)
    conv = functools.partial(
      Conv, use_bias=False, dtype=dtype, kernel_init=conv_kernel_init, lowering=self.lowering
    )
    norm = functools.partial(
      nn.BatchNorm, use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=dtype
    )
    kinds = BLOCK_CONVS[self.block]
    x = Stem(self.width, kinds[0], conv, norm, name='stem')(jnp.asarray(x, dtype))
    for i, num_blocks in enumerate(BASIC_STAGE_SIZES[self.depth]):
      for j in range(num_blocks):
        stride = 2 if i > 0 and j == 0 else 1
        x = BasicBlock(
          self.width * 2**i, stride, kinds[i + 1], conv, norm, name=f'layer{i + 1}_{j}'
        )(x)
    features = jnp.mean(x, axis=(1, 2, 3))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(features)
    logits = nn.Dense(
      self.num_classes, dtype=dtype, kernel_init=nn.initializers.normal(0.01), name='fc'
    )(x)
    return jnp.asarray(logits, jnp.float32), {'features': features}
