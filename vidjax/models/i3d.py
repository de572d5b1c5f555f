"""I3D (Carreira & Zisserman, CVPR 2017): Inception-v1 with BatchNorm, inflated to 3D.

Module names are those of DeepMind's released I3D (kinetics-i3d `i3d.py`): Conv3d_1a_7x7,
MaxPool3d_2a_3x3, Conv3d_2b_1x1, Conv3d_2c_3x3, MaxPool3d_3a_3x3, Mixed_3b, Mixed_3c,
MaxPool3d_4a_3x3, Mixed_4b..Mixed_4f, MaxPool3d_5a_2x2, Mixed_5b, Mixed_5c, Logits; inside a
Mixed block Branch_0/Conv3d_0a_1x1, Branch_1/Conv3d_0{a_1x1,b_3x3}, Branch_2/Conv3d_0{a_1x1,
b_3x3}, Branch_3/Conv3d_0b_1x1; each unit holds `conv_3d` and `batch_norm`.

`ImageModel` is the 2D Inception-v1 (BN) that I3D is inflated from, with TF-slim's names
(Conv2d_* for Conv3d_*), so `vidjax.convert.inflate` maps one onto the other by renaming.
As in the release, BatchNorm has an offset but no scale (a ReLU follows every BN).
"""

import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import pooling
from vidjax.models.layers import Conv, make_conv_norm

ModuleDef = Callable[..., nn.Module]

# Mixed block widths: (b0 1x1, b1 1x1, b1 3x3, b2 1x1, b2 3x3, b3 pool-proj 1x1).
MIXED = {
  'Mixed_3b': (64, 96, 128, 16, 32, 32),
  'Mixed_3c': (128, 128, 192, 32, 96, 64),
  'Mixed_4b': (192, 96, 208, 16, 48, 64),
  'Mixed_4c': (160, 112, 224, 24, 64, 64),
  'Mixed_4d': (128, 128, 256, 24, 64, 64),
  'Mixed_4e': (112, 144, 288, 32, 64, 64),
  'Mixed_4f': (256, 160, 320, 32, 128, 128),
  'Mixed_5b': (256, 160, 320, 32, 128, 128),
  'Mixed_5c': (384, 192, 384, 48, 128, 128),
}
TEMPORAL_PADDINGS = ('zeros', 'edge')


class Unit(nn.Module):
  """Conv (no bias) -> BN -> ReLU, in 3D (kernel (t, k, k)) or 2D (kernel (k, k)).

  Attributes:
    features: output channels.
    kernel: (t, k, k) for video, (k, k) for images.
    strides: one stride per kernel dim.
    conv: Conv partial.
    norm: BatchNorm partial.
    temporal_padding: 'zeros' (TF 'SAME') or 'edge' (replicate the boundary frames).
  """

  features: int
  kernel: tuple[int, ...]
  strides: tuple[int, ...]
  conv: ModuleDef
  norm: ModuleDef
  temporal_padding: str = 'zeros'

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, (T,) H, W, C] -> [B, (T / st,) H / s, W / s, features]."""
    pads = [
      tuple(p) for p in jax.lax.padtype_to_pads(x.shape[1:-1], self.kernel, self.strides, 'SAME')
    ]
    if len(self.kernel) == 3 and self.temporal_padding == 'edge' and pads[0] != (0, 0):
      # A static video stays static through an edge-padded conv, so an inflated net's
      # outputs equal its 2D parent's at every frame, boundaries included.
      x = jnp.pad(x, [(0, 0), pads[0], (0, 0), (0, 0), (0, 0)], mode='edge')
      pads[0] = (0, 0)
    x = self.conv(self.features, self.kernel, self.strides, pads, name=self.conv_name)(x)
    return nn.relu(self.norm(name='batch_norm')(x))

  @property
  def conv_name(self) -> str:
    """DeepMind's 'conv_3d'; 'conv_2d' in the 2D parent (renamed by inflation)."""
    return 'conv_3d' if len(self.kernel) == 3 else 'conv_2d'


class Mixed(nn.Module):
  """Inception block: 1x1 | 1x1-3x3 | 1x1-3x3 | 3x3 max-pool-1x1, concatenated on channels.

  Attributes:
    widths: the six widths of MIXED.
    unit: Unit partial (conv, norm, temporal padding bound).
    video: 3D (True) or 2D (False).
    pool: 'SAME' max-pool partial (`pooling.max_pool`).
  """

  widths: tuple[int, ...]
  unit: ModuleDef
  video: bool
  pool: Callable[..., jax.Array]

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, (T,) H, W, C] -> [B, (T,) H, W, w0 + w2 + w4 + w5]."""
    d = '3d' if self.video else '2d'
    one = (1,) * (3 if self.video else 2)
    three = (3,) * (3 if self.video else 2)
    w = self.widths
    b0 = self.unit(w[0], one, one, name=f'Branch_0/Conv{d}_0a_1x1')(x)
    b1 = self.unit(w[1], one, one, name=f'Branch_1/Conv{d}_0a_1x1')(x)
    b1 = self.unit(w[2], three, one, name=f'Branch_1/Conv{d}_0b_3x3')(b1)
    b2 = self.unit(w[3], one, one, name=f'Branch_2/Conv{d}_0a_1x1')(x)
    b2 = self.unit(w[4], three, one, name=f'Branch_2/Conv{d}_0b_3x3')(b2)
    b3 = self.pool(x, three, one)
    b3 = self.unit(w[5], one, one, name=f'Branch_3/Conv{d}_0b_1x1')(b3)
    return jnp.concatenate([b0, b1, b2, b3], axis=-1)


class InceptionV1(nn.Module):
  """The Inception-v1 trunk up to Mixed_5c, as a video (I3D) or an image network.

  Attributes:
    video: 3D with I3D's temporal kernels and strides (True) or 2D (False).
    width_multiplier: scales every width (1.0 is the published network).
    temporal_padding: see `Unit`.
    dtype: computation dtype.
    lowering: convolution lowering.
    train: batch statistics (True) or running averages.
  """

  video: bool
  width_multiplier: float = 1.0
  temporal_padding: str = 'zeros'
  dtype: Any = jnp.float32
  lowering: str = 'auto'
  train: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, 3] -> [B, T / 8, H / 32, W / 32, 1024 m] (video) or the 2D analogue."""
    conv, norm = make_conv_norm(self.train, self.dtype, self.lowering, use_scale=False)
    unit = functools.partial(Unit, conv=conv, norm=norm, temporal_padding=self.temporal_padding)
    pool = functools.partial(pooling.max_pool, padding='SAME', lowering=self.lowering)
    scale = lambda c: max(1, int(round(c * self.width_multiplier)))
    d = '3d' if self.video else '2d'
    # (t, s) -> t x s x s kernel or stride in 3D, s x s in 2D.
    k = (lambda t, s: (t, s, s)) if self.video else (lambda t, s: (s, s))
    x = unit(scale(64), k(7, 7), k(2, 2), name=f'Conv{d}_1a_7x7')(x)
    # The poolings are named as layers in the release but hold no parameters.
    x = pool(x, k(1, 3), k(1, 2))  # MaxPool*_2a_3x3
    x = unit(scale(64), k(1, 1), k(1, 1), name=f'Conv{d}_2b_1x1')(x)
    x = unit(scale(192), k(3, 3), k(1, 1), name=f'Conv{d}_2c_3x3')(x)
    x = pool(x, k(1, 3), k(1, 2))  # MaxPool*_3a_3x3
    for name, widths in MIXED.items():
      if name == 'Mixed_4b':
        x = pool(x, k(3, 3), k(2, 2))  # MaxPool*_4a_3x3
      elif name == 'Mixed_5b':
        x = pool(x, k(2, 2), k(2, 2))  # MaxPool*_5a_2x2
      x = Mixed(tuple(scale(c) for c in widths), unit, self.video, pool, name=name)(x)
    return x


class Model(nn.Module):
  """I3D video classifier; input channels follow x (3 for RGB, 2 for the flow stream).

  Attributes:
    num_classes: number of output classes (400 for Kinetics-400).
    width_multiplier: scales every width; 1.0 is the published network, 0.0625 a tiny one.
    temporal_padding: 'zeros' (TF 'SAME', the release) or 'edge' (exact boring-video
      equivalence with the 2D parent).
    dropout_rate: dropout before the logits (0.5 in the release's training).
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  num_classes: int
  width_multiplier: float = 1.0
  temporal_padding: str = 'zeros'
  dropout_rate: float = 0.5
  dtype: Any = 'float32'
  lowering: str = 'auto'

  def __post_init__(self):
    if self.temporal_padding not in TEMPORAL_PADDINGS:
      raise ValueError(
        f'temporal_padding={self.temporal_padding!r}; allowed values: {TEMPORAL_PADDINGS}.'
      )
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips.

    Args:
      x: video [B, T, H, W, C] scaled to [-1, 1] (e.g. 64 x 224 x 224 x 3).
      train: batch statistics and dropout on (True) or running averages (False).

    Returns:
      logits [B, num_classes] (float32) and aux {'features': pooled Mixed_5c [B, 1024 m]}.
    """
    dtype = jnp.dtype(self.dtype)
    x = InceptionV1(
      True, self.width_multiplier, self.temporal_padding, dtype, self.lowering, train, name='trunk'
    )(jnp.asarray(x, dtype))
    # The release average-pools 2x7x7 (stride 1), applies a 1x1x1 conv per time step and
    # averages the logits over time; all linear, so a global mean first is the same function.
    features = jnp.mean(x, axis=(1, 2, 3))
    if self.num_classes == 0:  # the backbone alone
      return features, {'features': features}
    y = nn.Dropout(self.dropout_rate, deterministic=not train)(features)
    logits = Conv(
      self.num_classes, (1, 1, 1), dtype=dtype, lowering=self.lowering, name='Logits/Conv3d_0c_1x1'
    )(y[:, None, None, None, :])
    return jnp.asarray(logits[:, 0, 0, 0], jnp.float32), {'features': features}


class ImageModel(nn.Module):
  """2D Inception-v1 with BatchNorm: the ImageNet network I3D is inflated from.

  Attributes:
    num_classes: number of output classes.
    width_multiplier: as in `Model`.
    dropout_rate: dropout before the logits.
    dtype: computation dtype name.
    lowering: convolution lowering.
  """

  num_classes: int
  width_multiplier: float = 1.0
  dropout_rate: float = 0.5
  dtype: Any = 'float32'
  lowering: str = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies images [B, H, W, C] -> logits [B, num_classes], aux {'features': [B, D]}."""
    dtype = jnp.dtype(self.dtype)
    x = InceptionV1(
      False, self.width_multiplier, 'zeros', dtype, self.lowering, train, name='trunk'
    )(jnp.asarray(x, dtype))
    features = jnp.mean(x, axis=(1, 2))
    if self.num_classes == 0:  # the backbone alone
      return features, {'features': features}
    y = nn.Dropout(self.dropout_rate, deterministic=not train)(features)
    logits = Conv(
      self.num_classes, (1, 1), dtype=dtype, lowering=self.lowering, name='Logits/Conv2d_0c_1x1'
    )(y[:, None, None, :])
    return jnp.asarray(logits[:, 0, 0], jnp.float32), {'features': features}
