"""S3D and S3D-G (Xie et al., ECCV 2018, arXiv 1712.04851); SpeedNet's backbone.

S3D is I3D (an inflated Inception-v1) with every 3x3x3 convolution made separable: a
1 x k x k spatial conv, BN, ReLU, then a k x 1 x 1 temporal conv, BN, ReLU. S3D-G adds
feature gating -- y = sigmoid(W mean_{t,h,w}(x) + b) * x, a per-channel gate computed from
the globally pooled features -- after Conv2d_2c and on every Inception branch. Layer names,
widths, pools (TF 'SAME' padding) and the gating positions follow the TF-Slim reference
(`s3dg.py`, gating_startat='Conv2d_2c_3x3'); Flax module paths are the TF variable scopes,
so a checkpoint converter maps `InceptionV1/<scope>/{weights, BatchNorm/*}` onto
`<scope>/{kernel, bn/*}` ('SepConv' scopes hold 'spatial'/'temporal' children for TF's
'Conv2d_*' and 'Conv2d_*_temporal'; gates are '<scope>/gating/dense').
"""

import functools
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import heads, pooling
from vidjax.models.layers import make_conv_norm

ModuleDef = Callable[..., nn.Module]

VARIANTS = ('s3d-g', 's3d')
# The classifier's parameters (init_from.dont_load when fine-tuning for other classes).
CLASSIFIER = r'Conv2d_0c_1x1/.*'
GLOBAL_POOLS = ('mean', 'max+mean')
# Inception blocks: name -> (branch0, (branch1 reduce, branch1), (branch2 reduce, branch2),
# branch3 after the max-pool), the Inception-v1 widths.
MIXED = {
  'Mixed_3b': (64, (96, 128), (16, 32), 32),
  'Mixed_3c': (128, (128, 192), (32, 96), 64),
  'Mixed_4b': (192, (96, 208), (16, 48), 64),
  'Mixed_4c': (160, (112, 224), (24, 64), 64),
  'Mixed_4d': (128, (128, 256), (24, 64), 64),
  'Mixed_4e': (112, (144, 288), (32, 64), 64),
  'Mixed_4f': (256, (160, 320), (32, 128), 128),
  'Mixed_5b': (256, (160, 320), (32, 128), 128),
  'Mixed_5c': (384, (192, 384), (48, 128), 128),
}
# Max-pools (kernel, stride) before the named block.
POOLS = {
  'Mixed_3b': ((1, 3, 3), (1, 2, 2)),
  'Mixed_4b': ((3, 3, 3), (2, 2, 2)),
  'Mixed_5b': ((2, 2, 2), (2, 2, 2)),
}


class Gating(nn.Module):
  """Feature gating: x * sigmoid(dense(mean over T, H, W of x))."""

  dtype: Any

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> same shape."""
    pooled = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    return x * nn.sigmoid(nn.Dense(x.shape[-1], dtype=self.dtype, name='dense')(pooled))


class Unit(nn.Module):
  """Conv (no bias), BN, ReLU with TF 'SAME' padding.

  Attributes:
    features: output channels.
    kernel_size: (T, H, W).
    strides: (T, H, W) strides.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
  """

  features: int
  kernel_size: tuple[int, int, int]
  strides: tuple[int, int, int]
  conv: ModuleDef
  norm: ModuleDef

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T / st, H / sh, W / sw, features]."""
    x = self.conv(self.features, self.kernel_size, self.strides, 'SAME', name='conv')(x)
    return nn.relu(self.norm(name='bn')(x))


class SepConv(nn.Module):
  """k x k x k conv factorised as 1 x k x k ('spatial') then k x 1 x 1 ('temporal').

  Attributes:
    features: output channels of both convs.
    kernel: k.
    strides: (T, H, W) strides, spatial ones on 'spatial', the temporal one on 'temporal'.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
  """

  features: int
  kernel: int
  strides: tuple[int, int, int]
  conv: ModuleDef
  norm: ModuleDef

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T / st, H / sh, W / sw, features]."""
    k, (st, sh, sw) = self.kernel, self.strides
    x = Unit(self.features, (1, k, k), (1, sh, sw), self.conv, self.norm, name='spatial')(x)
    return Unit(self.features, (k, 1, 1), (st, 1, 1), self.conv, self.norm, name='temporal')(x)


class Inception(nn.Module):
  """Separable Inception block: 1x1x1 | 1x1x1 + sep3 | 1x1x1 + sep3 | maxpool + 1x1x1.

  Attributes:
    widths: (branch0, (branch1 reduce, out), (branch2 reduce, out), branch3).
    gating: gate every branch (S3D-G).
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
    pool: TF 'SAME' max-pool partial (pads with -inf, so padding never wins).
  """

  widths: tuple
  gating: bool
  conv: ModuleDef
  norm: ModuleDef
  pool: Callable[..., jax.Array]

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T, H, W, sum of the branch widths]."""
    w0, (r1, w1), (r2, w2), w3 = self.widths
    one = (1, 1, 1)
    unit = functools.partial(Unit, kernel_size=one, strides=one, conv=self.conv, norm=self.norm)
    sep = functools.partial(SepConv, kernel=3, strides=one, conv=self.conv, norm=self.norm)
    branches = [
      unit(w0, name='Branch_0_Conv2d_0a_1x1')(x),
      sep(w1, name='Branch_1_Conv2d_0b_3x3')(unit(r1, name='Branch_1_Conv2d_0a_1x1')(x)),
      sep(w2, name='Branch_2_Conv2d_0b_3x3')(unit(r2, name='Branch_2_Conv2d_0a_1x1')(x)),
      unit(w3, name='Branch_3_Conv2d_0b_1x1')(self.pool(x, (3, 3, 3), one)),
    ]
    if self.gating:
      branches = [Gating(x.dtype, name=f'Branch_{i}_gating')(b) for i, b in enumerate(branches)]
    return jnp.concatenate(branches, axis=-1)


class Model(nn.Module):
  """S3D-G / S3D video classifier.

  Attributes:
    num_classes: number of output classes.
    variant: 's3d-g' (with feature gating) or 's3d'.
    width_multiplier: scales every channel count (1.0 = published; small for tests).
    dropout_rate: dropout before the classifier.
    temporal_downsampling: False keeps every temporal stride at 1 (SpeedNet's S3D-G: the
      time axis stays at the input's frame count up to the pooling).
    global_pool: 'mean' (S3D) or 'max+mean' (SpeedNet: the sum of the global max- and
      average-pooled features).
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  num_classes: int
  variant: str = 's3d-g'
  width_multiplier: float = 1.0
  dropout_rate: float = 0.0
  temporal_downsampling: bool = True
  global_pool: str = 'mean'
  dtype: Any = 'float32'
  lowering: str = 'auto'

  def __post_init__(self):
    if self.variant not in VARIANTS:
      raise ValueError(f'variant={self.variant!r}; allowed values: {VARIANTS}.')
    if self.global_pool not in GLOBAL_POOLS:
      raise ValueError(f'global_pool={self.global_pool!r}; allowed values: {GLOBAL_POOLS}.')
    super().__post_init__()

  def _stride(self, strides: tuple[int, int, int]) -> tuple[int, int, int]:
    return strides if self.temporal_downsampling else (1, *strides[1:])

  def _w(self, c: int) -> int:
    return max(1, int(round(c * self.width_multiplier)))

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips.

    Args:
      x: normalised video [B, T, H, W, 3] (T, H, W multiples of 8, 32, 32 keep every
        stage's size exact).
      train: batch statistics and dropout on (True) or running averages (False).

    Returns:
      logits [B, num_classes] (float32) and aux {'features': [B, 1024 * width_multiplier]}.
    """
    dtype = jnp.dtype(self.dtype)
    # TF-Slim's BN: decay 0.999 there; the repository-wide PyTorch-equivalent settings here.
    conv, norm = make_conv_norm(train, dtype, self.lowering)
    pool = functools.partial(pooling.max_pool, padding='SAME', lowering=self.lowering)
    gating = self.variant == 's3d-g'
    x = jnp.asarray(x, dtype)
    x = SepConv(self._w(64), 7, self._stride((2, 2, 2)), conv, norm, name='Conv2d_1a_7x7')(x)
    x = pool(x, (1, 3, 3), (1, 2, 2))
    x = Unit(self._w(64), (1, 1, 1), (1, 1, 1), conv, norm, name='Conv2d_2b_1x1')(x)
    x = SepConv(self._w(192), 3, (1, 1, 1), conv, norm, name='Conv2d_2c_3x3')(x)
    if gating:
      x = Gating(dtype, name='Conv2d_2c_3x3_gating')(x)
    for name, (w0, (r1, w1), (r2, w2), w3) in MIXED.items():
      if name in POOLS:
        kernel, strides = POOLS[name]
        x = pool(x, kernel, self._stride(strides))
      widths = (self._w(w0), (self._w(r1), self._w(w1)), (self._w(r2), self._w(w2)), self._w(w3))
      x = Inception(widths, gating, conv, norm, pool, name=name)(x)
    features = jnp.mean(x, axis=(1, 2, 3))
    if self.global_pool == 'max+mean':
      features = features + jnp.max(x, axis=(1, 2, 3))
    # TF's logits layer is a 1x1x1 conv with bias on the pooled features, i.e. a Dense
    # with flax's default initialiser.
    return heads.classifier_output(
      features,
      {},
      num_classes=self.num_classes,
      dropout_rate=self.dropout_rate,
      train=train,
      name=CLASSIFIER.split('/')[0],
      dtype=dtype,
      kernel_init=nn.initializers.lecun_normal(),
    )
