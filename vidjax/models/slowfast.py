"""SlowFast networks (Feichtenhofer et al., ICCV 2019) and the Slow-only baseline.

The slow pathway sees T frames (every alpha-th frame of the input) with the ResNet's full
width; the fast pathway sees all alpha * T frames with 1 / beta_inv of the width and
temporal convolutions in every stage. After the stem and after stages 1-3, a lateral
connection -- a (k x 1 x 1) convolution with temporal stride alpha to 2 * C_fast channels,
BN, ReLU -- is concatenated onto the slow features. Both pathways are globally pooled and
concatenated before the classifier. The structure, and the fusion kernel k of each
configuration, follow `pytorchvideo.models.slowfast.create_slowfast` and its hub builders
(`slowfast_r50`: 8x8, k = 7; `slowfast_r101`, 4x16 and 16x8: k = 5, as in PySlowFast's
SLOWFAST_*.yaml); Slow-only follows `pytorchvideo.models.resnet` (`slow_r50`).

Variants name T x tau of the slow pathway: '4x16' (alpha 8), '8x8' (alpha 4), '16x8'
(alpha 4). The model takes ONE clip of alpha * T frames and picks the slow frames itself
with PyTorchVideo's `PackPathway` index rule (linspace(0, T_fast - 1, T_fast // alpha)).

Flax names map onto PyTorchVideo's state dict by the rule of `vidjax.models.csn` ('/' ->
'.', a trailing '_<n>' -> '.<n>', kernel -> weight transposed, BN params renamed):

  blocks_{s}/multipathway_blocks_{p}/...      blocks.{s}.multipathway_blocks.{p}... (p=0 slow)
    s = 0: conv, norm (the stem); s = 1..4: res_blocks_{b}/branch1_*|branch2/conv_a..norm_c
  blocks_{s}/multipathway_fusion/conv_fast_to_slow|norm   blocks.{s}.multipathway_fusion.*
  blocks_6_proj (SlowFast), blocks_5_proj (Slow-only)     blocks.6.proj / blocks.5.proj
  Slow-only: blocks_0/conv|norm, blocks_{s}/res_blocks_{b}/...   blocks.0.*, blocks.{s}.*
"""

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vidjax.models import heads
from vidjax.models.csn import ResStage, Stem
from vidjax.models.layers import make_conv_norm

ModuleDef = Callable[..., nn.Module]

# 14 (one block per stage) is the tiny test variant, not a published network.
STAGE_DEPTHS = {14: (1, 1, 1, 1), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
# variant -> (slow frames T, alpha).
VARIANTS = {'4x16': (4, 8), '8x8': (8, 4), '16x8': (16, 4)}
PATHWAYS = ('slowfast', 'slow')
# Temporal kernel of conv_a in stages 1-4: the slow pathway has none below res4, since
# the paper found temporal convolutions on early, small-receptive-field features harmful.
SLOW_CONV_A_T = (1, 1, 3, 3)
FAST_CONV_A_T = (3, 3, 3, 3)

# The classifier's variables (for config.init_from.dont_load when fine-tuning).
CLASSIFIER = r'blocks_[56]_proj/.*'


def fusion_kernel_for(depth: int, variant: str) -> int:
  """The lateral convolution's temporal kernel of the PyTorchVideo / PySlowFast config."""
  return 7 if variant == '8x8' and depth != 101 else 5


SLOW_FRAMES = ('linspace', 'stride')


def slow_frame_indices(num_frames: int, alpha: int) -> np.ndarray:
  """Indices of the slow pathway's frames, PyTorchVideo's PackPathway rule.

  Args:
    num_frames: frames of the fast pathway's clip.
    alpha: frame-rate ratio between the pathways.

  Returns:
    int array [num_frames // alpha].
  """
  return np.linspace(0, num_frames - 1, num_frames // alpha).astype(np.int64)


class FuseFastToSlow(nn.Module):
  """Lateral connection: time-strided conv on fast features, concatenated onto slow ones.

  Attributes:
    features: output channels of the lateral conv (2 * C_fast in the paper).
    kernel: temporal kernel size k.
    alpha: temporal stride (the frame-rate ratio).
    conv: Conv partial (no bias).
    norm: BatchNorm partial, followed by a ReLU; None for the conv alone.
  """

  features: int
  kernel: int
  alpha: int
  conv: ModuleDef
  norm: ModuleDef | None

  @nn.compact
  def __call__(self, slow: jax.Array, fast: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Fuses the pathways.

    Args:
      slow: [B, T, H, W, C_s].
      fast: [B, alpha * T, H, W, C_f].

    Returns:
      ([B, T, H, W, C_s + features], fast unchanged).
    """
    pad = self.kernel // 2
    y = self.conv(
      self.features,
      (self.kernel, 1, 1),
      (self.alpha, 1, 1),
      ((pad, pad), (0, 0), (0, 0)),
      name='conv_fast_to_slow',
    )(fast)
    if self.norm is not None:  # None: the lateral is the conv alone (ACAR's R101)
      y = nn.relu(self.norm(name='norm')(y))
    if y.shape[1] != slow.shape[1]:
      raise ValueError(
        f'fast pathway has {fast.shape[1]} frames, slow {slow.shape[1]}; the input clip '
        f'needs a multiple of alpha={self.alpha} frames.'
      )
    return jnp.concatenate([slow, y], axis=-1), fast


def stage_stride_and_dilation(
  stage: int, res5_dilation: int
) -> tuple[tuple[int, int], tuple[int, int, int]]:
  """(temporal, spatial) stride of res2-res5 (`stage` 0-3) and the conv_b dilation.

  A dilated res5 keeps the resolution of res4 (stride 1) and sees as far (dilation)."""
  if stage == 3 and res5_dilation > 1:
    return (1, 1), (1, res5_dilation, res5_dilation)
  return (1, 1 if stage == 0 else 2), (1, 1, 1)


class MultiPathWayWithFuse(nn.Module):
  """One SlowFast stage: stem (stage 0) or ResStage on each pathway, then the fusion.

  Attributes:
    stage: 0 (stem) or 1-4 (res2-res5).
    depth: ResNet depth (50 or 101).
    width: slow pathway's stem width.
    beta_inv: channel ratio slow / fast.
    alpha: frame-rate ratio fast / slow.
    fusion_kernel: temporal kernel of the lateral conv.
    fuse: whether this stage ends with a lateral connection (not after res5).
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
    res4_temporal_blocks, res5_dilation, fusion_norm, remat: see `Model`.
    slow_non_local_blocks: this stage's `Model.non_local_location` entry.
    non_local_pool, non_local_instantiation: see `Model`.
  """

  stage: int
  depth: int
  width: int
  beta_inv: int
  alpha: int
  fusion_kernel: int
  fuse: bool
  conv: ModuleDef
  norm: ModuleDef
  res4_temporal_blocks: int | None = None
  res5_dilation: int = 1
  slow_non_local_blocks: tuple[int, ...] = ()
  fusion_norm: bool = True
  remat: bool = False
  non_local_pool: tuple[int, int, int] = (1, 2, 2)
  non_local_instantiation: str = 'softmax'

  @nn.compact
  def __call__(self, slow: jax.Array, fast: jax.Array) -> tuple[jax.Array, jax.Array]:
    """[B, T, H, W, C_s], [B, alpha T, H, W, C_f] -> the stage's slow and fast outputs."""
    fast_width = self.width // self.beta_inv
    if self.stage == 0:
      slow = Stem(self.width, 1, self.conv, self.norm, name='multipathway_blocks_0')(slow)
      fast = Stem(fast_width, 5, self.conv, self.norm, name='multipathway_blocks_1')(fast)
    else:
      s = self.stage - 1
      stride, dilation = stage_stride_and_dilation(s, self.res5_dilation)
      depth = STAGE_DEPTHS[self.depth][s]
      temporal_blocks = self.res4_temporal_blocks if s == 2 else None
      for p, (w, kt) in enumerate(((self.width, SLOW_CONV_A_T), (fast_width, FAST_CONV_A_T))):
        stage = ResStage(
          depth, w * 2**s, 4 * w * 2**s, (kt[s], 1, 1), stride, False, self.conv, self.norm,
          False, (1, 3, 3), temporal_blocks, dilation,
          self.slow_non_local_blocks if p == 0 else (), remat=self.remat,
          non_local_pool=self.non_local_pool,
          non_local_instantiation=self.non_local_instantiation,
          name=f'multipathway_blocks_{p}',
        )  # fmt: skip
        if p == 0:
          slow = stage(slow)
        else:
          fast = stage(fast)
    if self.fuse:
      fast_out = fast.shape[-1]
      slow, fast = FuseFastToSlow(
        2 * fast_out, self.fusion_kernel, self.alpha, self.conv,
        self.norm if self.fusion_norm else None,
        name='multipathway_fusion',
      )(slow, fast)  # fmt: skip
    return slow, fast


class Model(nn.Module):
  """SlowFast (or Slow-only) video classifier.

  Attributes:
    num_classes: number of output classes.
    depth: 50 or 101 (14: one block per stage, for tests).
    variant: '4x16', '8x8' or '16x8' (slow frames x stride; sets alpha).
    pathway: 'slowfast', or 'slow' for the Slow-only network (input = the slow frames).
    width: slow stem channels (64); stage s has bottleneck width width * 2**s.
    beta_inv: slow / fast channel ratio (8).
    fusion_kernel: temporal kernel of the lateral convs; None = the PyTorchVideo value of
      (depth, variant) (7 for 8x8 below R101, else 5).
    res4_temporal_blocks: SlowFast only: how many leading res4 blocks of each pathway have
      a temporal (3x1x1) conv_a, the rest 1x1x1; None: all. 6 for PyTorchVideo's
      slowfast_16x8_r101_50_50.
    res5_dilation: 2 replaces res5's spatial stride by a spatial dilation of 2 (PySlowFast's
      AVA detection backbone: 16x16 feature maps at 224 px for RoIAlign); 1: the classifier.
    non_local_location: per stage (res2-res5), the indices of the blocks of the slow pathway
      followed by a non-local block (PySlowFast's NONLOCAL.LOCATION; e.g. ((), (1, 3),
      (1, 3, 5), ()) for the Slow-only NL network).
    non_local_pool: the non-local blocks' max-pool before phi and g (NONLOCAL.POOL):
      (1, 2, 2) in PySlowFast's Kinetics configs, (2, 2, 2) in its Caffe2 AVA ones.
    non_local_instantiation: 'softmax' (NONLOCAL.INSTANTIATION of the Kinetics configs) or
      'dot_product' (the Caffe2 AVA configs'); `vidjax.models.non_local`.
    fusion_norm: SlowFast only: the laterals' BatchNorm and ReLU after their conv (True,
      PyTorchVideo's and PySlowFast's); False keeps the conv alone (ACAR-Net's R101).
    slow_frames: SlowFast only: how the slow pathway's frames are picked from the clip,
      'linspace' (PyTorchVideo's PackPathway, ACAR's `slow_full_span`) or 'stride' (every
      alpha-th from the first, ACAR's R101).
    dropout_rate: dropout before the classifier (0.5 in the published recipes).
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
    remat: recompute each residual block's activations in the backward pass instead of
      keeping them (`nn.remat`; as `video_resnet.Model.remat`).
  """

  num_classes: int
  depth: int = 50
  variant: str = '8x8'
  pathway: str = 'slowfast'
  width: int = 64
  beta_inv: int = 8
  fusion_kernel: int | None = None
  res4_temporal_blocks: int | None = None
  res5_dilation: int = 1
  non_local_location: tuple[tuple[int, ...], ...] = ((), (), (), ())
  non_local_pool: tuple[int, int, int] = (1, 2, 2)
  non_local_instantiation: str = 'softmax'
  fusion_norm: bool = True
  slow_frames: str = 'linspace'
  dropout_rate: float = 0.0
  dtype: Any = 'float32'
  lowering: str = 'auto'
  remat: bool = False

  def __post_init__(self):
    if self.depth not in STAGE_DEPTHS:
      raise ValueError(f'depth={self.depth!r}; allowed values: {tuple(STAGE_DEPTHS)}.')
    if self.slow_frames not in SLOW_FRAMES:
      raise ValueError(f'slow_frames={self.slow_frames!r}; allowed values: {SLOW_FRAMES}.')
    if self.variant not in VARIANTS:
      raise ValueError(f'variant={self.variant!r}; allowed values: {tuple(VARIANTS)}.')
    if self.pathway not in PATHWAYS:
      raise ValueError(f'pathway={self.pathway!r}; allowed values: {PATHWAYS}.')
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, Any]]:
    """Classifies clips.

    Args:
      x: normalised video [B, T_in, H, W, 3]; for 'slowfast' T_in = alpha * T (the fast
        pathway's frames), for 'slow' T_in = T.
      train: batch statistics and dropout on (True) or running averages (False).

    Returns:
      logits [B, num_classes] (float32) and aux with 'features' (pooled, concatenated
      pathways [B, 32 * width (1 + 1 / beta_inv)]) and 'feature_maps' (the final maps before
      pooling, (slow [B, T', H', W', 32 * width], fast [B, alpha T', H', W',
      32 * width / beta_inv]); Slow-only: a 1-tuple).
    """
    dtype = jnp.dtype(self.dtype)
    conv, norm = make_conv_norm(train, dtype, self.lowering)
    x = jnp.asarray(x, dtype)
    if self.pathway == 'slow':
      x = Stem(self.width, 1, conv, norm, name='blocks_0')(x)
      for s, depth in enumerate(STAGE_DEPTHS[self.depth]):
        stride, dilation = stage_stride_and_dilation(s, self.res5_dilation)
        w = self.width * 2**s
        x = ResStage(
          depth, w, 4 * w, (SLOW_CONV_A_T[s], 1, 1), stride, False, conv, norm, False, (1, 3, 3),
          None, dilation, tuple(self.non_local_location[s]), remat=self.remat,
          non_local_pool=tuple(self.non_local_pool),
          non_local_instantiation=self.non_local_instantiation, name=f'blocks_{s + 1}',
        )(x)  # fmt: skip
      maps = (x,)
      head_name = 'blocks_5_proj'
    else:
      _, alpha = VARIANTS[self.variant]
      if self.fusion_kernel is None:
        kernel = fusion_kernel_for(self.depth, self.variant)
      else:
        kernel = self.fusion_kernel
      if self.slow_frames == 'linspace':
        slow = x[:, slow_frame_indices(x.shape[1], alpha)]
      else:
        slow = x[:, ::alpha]
      fast = x
      for s in range(5):
        slow, fast = MultiPathWayWithFuse(
          s, self.depth, self.width, self.beta_inv, alpha, kernel, s < 4, conv, norm,
          self.res4_temporal_blocks, self.res5_dilation,
          tuple(self.non_local_location[s - 1]) if s else (), self.fusion_norm, self.remat,
          tuple(self.non_local_pool), self.non_local_instantiation, name=f'blocks_{s}',
        )(slow, fast)  # fmt: skip
      maps = (slow, fast)
      head_name = 'blocks_6_proj'
    features = jnp.concatenate([jnp.mean(m, axis=(1, 2, 3)) for m in maps], axis=-1)
    return heads.classifier_output(
      features,
      {'feature_maps': maps},
      num_classes=self.num_classes,
      dropout_rate=self.dropout_rate,
      train=train,
      name=head_name,
      dtype=dtype,
    )
