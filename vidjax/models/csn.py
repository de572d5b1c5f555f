"""Channel-Separated Networks, ir-CSN and ip-CSN (Tran et al., ICCV 2019, arXiv 1904.02811).

A CSN is a 3D ResNet with bottleneck blocks whose 3x3x3 convolution is depthwise: ir-CSN
("interaction-reduced") replaces it by a depthwise 3x3x3, ip-CSN ("interaction-preserved")
by a 1x1x1 convolution, BN (no ReLU) and a depthwise 3x3x3, as in VMZ. The
structure follows `pytorchvideo.models.csn.create_csn` (hub builder `csn_r101`): a 3x7x7
stem with stride (1, 2, 2) and a (1, 3, 3) max-pool, stages of depth (3, 4, 6, 3) /
(3, 4, 23, 3) / (3, 8, 36, 3) for depth 50 / 101 / 152, stride 2 in time and space at
stages 2-4 (on conv_b), global average pooling and a linear projection.

`ResStage`, `ResBlock` and `Bottleneck` are PyTorchVideo's generic ResNet pieces and are
reused by `vidjax.models.slowfast`. Flax names map onto PyTorchVideo's state dict by the
rule '/' -> '.', a trailing '_<n>' -> '.<n>', kernel -> weight (transposed from
[O, I, T, H, W] to [T, H, W, I, O]), BN scale/bias/mean/var -> weight/bias/running_mean/
running_var:

  blocks_0/conv, blocks_0/norm                         blocks.0.conv, blocks.0.norm
  blocks_{s}/res_blocks_{b}/branch1_conv|branch1_norm  blocks.{s}.res_blocks.{b}.branch1_*
  blocks_{s}/res_blocks_{b}/branch2/conv_a|norm_a      blocks.{s}.res_blocks.{b}.branch2.*_a
  .../branch2/conv_b|norm_b|conv_c|norm_c              (likewise)
  .../branch2/conv_b_pw, norm_b_pw (ip-CSN only)       VMZ's conv2.0.0, conv2.0.1
  blocks_5_proj                                        blocks.5.proj
"""

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import heads
from vidjax.models.layers import make_conv_norm
from vidjax.models.non_local import NonLocal

ModuleDef = Callable[..., nn.Module]

# 14 (one block per stage) is the tiny test variant, not a published network.
STAGE_DEPTHS = {14: (1, 1, 1, 1), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
VARIANTS = ('ir', 'ip')

# The classifier's variables (for config.init_from.dont_load when fine-tuning).
CLASSIFIER = r'blocks_5_proj/.*'


def _same(kernel_size: Sequence[int]) -> tuple[tuple[int, int], ...]:
  """PyTorch-style symmetric padding k // 2 per dimension."""
  return tuple((k // 2, k // 2) for k in kernel_size)


class Bottleneck(nn.Module):
  """conv_a (kt x 1 x 1) -> BN -> ReLU -> conv_b (grouped) -> BN -> ReLU -> conv_c -> BN.

  Attributes:
    inner_features: channels of conv_a and conv_b.
    features: output channels of conv_c.
    conv_a_kernel: kernel of conv_a, e.g. (1, 1, 1) or (3, 1, 1) (SlowFast).
    conv_b_stride: (temporal, spatial, spatial) stride of conv_b.
    conv_b_groups: channel groups of conv_b; `inner_features` makes it depthwise (CSN).
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
    pointwise_before_b: ip-CSN's extra 1x1x1 conv + BN before the depthwise conv_b.
    conv_b_kernel: 3x3x3 (CSN) or 1x3x3 (SlowFast, Slow-only).
    conv_b_dilation: (t, h, w) dilation of conv_b (SlowFast's detection backbone dilates
      res5 spatially by 2 instead of striding it).
  """

  inner_features: int
  features: int
  conv_a_kernel: tuple[int, int, int]
  conv_b_stride: tuple[int, int, int]
  conv_b_groups: int
  conv: ModuleDef
  norm: ModuleDef
  pointwise_before_b: bool = False
  conv_b_kernel: tuple[int, int, int] = (3, 3, 3)
  conv_b_dilation: tuple[int, int, int] = (1, 1, 1)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T / st, H / ss, W / ss, features] (no final activation)."""
    x = self.conv(
      self.inner_features, self.conv_a_kernel, 1, _same(self.conv_a_kernel), name='conv_a'
    )(x)
    x = nn.relu(self.norm(name='norm_a')(x))
    if self.pointwise_before_b:
      x = self.conv(self.inner_features, (1, 1, 1), 1, 'VALID', name='conv_b_pw')(x)
      x = self.norm(name='norm_b_pw')(x)
    x = self.conv(
      self.inner_features,
      self.conv_b_kernel,
      self.conv_b_stride,
      tuple(
        (d * (k // 2),) * 2 for k, d in zip(self.conv_b_kernel, self.conv_b_dilation, strict=True)
      ),
      feature_group_count=self.conv_b_groups,
      kernel_dilation=self.conv_b_dilation,
      name='conv_b',
    )(x)
    x = nn.relu(self.norm(name='norm_b')(x))
    x = self.conv(self.features, (1, 1, 1), 1, 'VALID', name='conv_c')(x)
    # Zero-init of the last BN's scale would change the published recipe; keep BN defaults.
    return self.norm(name='norm_c')(x)


class ResBlock(nn.Module):
  """Bottleneck branch2 plus identity or projection shortcut (branch1), then ReLU.

  Attributes:
    inner_features, features, conv_a_kernel, conv_b_stride, conv_b_groups, conv, norm,
    pointwise_before_b, conv_b_kernel, conv_b_dilation: as in `Bottleneck`.
  """

  inner_features: int
  features: int
  conv_a_kernel: tuple[int, int, int]
  conv_b_stride: tuple[int, int, int]
  conv_b_groups: int
  conv: ModuleDef
  norm: ModuleDef
  pointwise_before_b: bool = False
  conv_b_kernel: tuple[int, int, int] = (3, 3, 3)
  conv_b_dilation: tuple[int, int, int] = (1, 1, 1)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T / st, H / ss, W / ss, features]."""
    y = Bottleneck(
      self.inner_features,
      self.features,
      self.conv_a_kernel,
      self.conv_b_stride,
      self.conv_b_groups,
      self.conv,
      self.norm,
      self.pointwise_before_b,
      self.conv_b_kernel,
      self.conv_b_dilation,
      name='branch2',
    )(x)
    if x.shape[-1] != self.features or any(s != 1 for s in self.conv_b_stride):
      x = self.conv(self.features, (1, 1, 1), self.conv_b_stride, 'VALID', name='branch1_conv')(x)
      x = self.norm(name='branch1_norm')(x)
    return nn.relu(x + y)


class ResStage(nn.Module):
  """`depth` ResBlocks; the first one carries the stride and the width change.

  Attributes:
    depth: number of blocks.
    inner_features: bottleneck width.
    features: output channels.
    conv_a_kernel: kernel of every conv_a.
    stride: (temporal, spatial) stride of the first block.
    depthwise: conv_b with groups = inner_features (CSN) instead of a dense conv.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
    pointwise_before_b: ip-CSN's 1x1x1 conv + BN before conv_b.
    conv_b_kernel: kernel of every conv_b.
    temporal_blocks: how many leading blocks use `conv_a_kernel`; the rest get a 1x1x1
      conv_a (PyTorchVideo's per-block conv_a kernels). None: all of them.
    conv_b_dilation: dilation of every conv_b (see `Bottleneck`).
    non_local_blocks: indices of the blocks followed by a non-local block (PySlowFast's
      NONLOCAL.LOCATION of this stage), each with `non_local_pool` sub-sampling and the
      `non_local_instantiation` ('softmax' or 'dot_product', `non_local.NonLocal`).
    remat: recompute each block's activations in the backward pass (`nn.remat`).
  """

  depth: int
  inner_features: int
  features: int
  conv_a_kernel: tuple[int, int, int]
  stride: tuple[int, int]
  depthwise: bool
  conv: ModuleDef
  norm: ModuleDef
  pointwise_before_b: bool = False
  conv_b_kernel: tuple[int, int, int] = (3, 3, 3)
  temporal_blocks: int | None = None
  conv_b_dilation: tuple[int, int, int] = (1, 1, 1)
  non_local_blocks: Sequence[int] = ()
  non_local_pool: tuple[int, int, int] = (1, 2, 2)
  non_local_instantiation: str = 'softmax'
  remat: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T / st, H / ss, W / ss, features]."""
    st, ss = self.stride
    block = nn.remat(ResBlock) if self.remat else ResBlock
    for b in range(self.depth):
      stride = (st, ss, ss) if b == 0 else (1, 1, 1)
      temporal = self.temporal_blocks is None or b < self.temporal_blocks
      x = block(
        self.inner_features,
        self.features,
        self.conv_a_kernel if temporal else (1, 1, 1),
        stride,
        self.inner_features if self.depthwise else 1,
        self.conv,
        self.norm,
        self.pointwise_before_b,
        self.conv_b_kernel,
        self.conv_b_dilation,
        name=f'res_blocks_{b}',
      )(x)
      if b in self.non_local_blocks:
        x = NonLocal(
          self.features // 2,
          self.conv,
          self.norm,
          tuple(self.non_local_pool),
          self.non_local_instantiation,
          name=f'non_local_{b}',
        )(x)
    return x


class Stem(nn.Module):
  """kt x 7 x 7 conv with stride (1, 2, 2), BN, ReLU, (1, 3, 3) max-pool with stride (1, 2, 2).

  Attributes:
    features: output channels.
    temporal_kernel: kt (3 for CSN, 1 / 5 for the slow / fast SlowFast pathways).
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
  """

  features: int
  temporal_kernel: int
  conv: ModuleDef
  norm: ModuleDef

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T, H / 4, W / 4, features]."""
    kernel = (self.temporal_kernel, 7, 7)
    x = self.conv(self.features, kernel, (1, 2, 2), _same(kernel), name='conv')(x)
    x = nn.relu(self.norm(name='norm')(x))
    return nn.max_pool(x, (1, 3, 3), (1, 2, 2), ((0, 0), (1, 1), (1, 1)))


class Model(nn.Module):
  """ir-CSN / ip-CSN video classifier.

  Attributes:
    num_classes: number of output classes.
    depth: 50, 101 or 152 (14: one block per stage, for tests).
    variant: 'ir' (depthwise 3x3x3) or 'ip' (1x1x1 + BN + depthwise 3x3x3).
    width: stem channels; stage s has bottleneck width width * 2**s and 4x that output.
    bn_epsilon: BatchNorm epsilon, 1e-5 (PyTorchVideo) or 1e-3 (VMZ, from Caffe2).
    dropout_rate: dropout before the classifier.
    dtype: computation dtype name, e.g. 'float32' or 'bfloat16'.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
    remat: recompute each residual block's activations in the backward pass instead of
      keeping them (`nn.remat`; as `video_resnet.Model.remat`).
  """

  num_classes: int
  depth: int = 152
  variant: str = 'ir'
  width: int = 64
  bn_epsilon: float = 1e-5
  dropout_rate: float = 0.0
  dtype: Any = 'float32'
  lowering: str = 'auto'
  remat: bool = False

  def __post_init__(self):
    if self.depth not in STAGE_DEPTHS:
      raise ValueError(f'depth={self.depth!r}; allowed values: {tuple(STAGE_DEPTHS)}.')
    if self.variant not in VARIANTS:
      raise ValueError(f'variant={self.variant!r}; allowed values: {VARIANTS}.')
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips.

    Args:
      x: normalised video [B, T, H, W, 3].
      train: batch statistics and dropout on (True) or running averages (False).

    Returns:
      logits [B, num_classes] (float32; the features with num_classes=0) and aux
      {'features': pooled features [B, 32 * width], 'feature_maps': the output
      [B, t, h, w, C] of each of the 4 stages}.
    """
    dtype = jnp.dtype(self.dtype)
    conv, norm = make_conv_norm(train, dtype, self.lowering, self.bn_epsilon)
    x = Stem(self.width, 3, conv, norm, name='blocks_0')(jnp.asarray(x, dtype))
    feature_maps = []
    for s, depth in enumerate(STAGE_DEPTHS[self.depth]):
      stride = 1 if s == 0 else 2
      x = ResStage(
        depth,
        self.width * 2**s,
        4 * self.width * 2**s,
        (1, 1, 1),
        (stride, stride),
        True,
        conv,
        norm,
        self.variant == 'ip',
        remat=self.remat,
        name=f'blocks_{s + 1}',
      )(x)
      feature_maps.append(x)
    features = jnp.mean(x, axis=(1, 2, 3))
    return heads.classifier_output(
      features,
      {'feature_maps': feature_maps},
      num_classes=self.num_classes,
      dropout_rate=self.dropout_rate,
      train=train,
      name='blocks_5_proj',
      dtype=dtype,
    )
