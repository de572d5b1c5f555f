"""UniDual R(2+1)D: one network for images and videos (Wang, Tran & Torresani, arXiv 1906.03857).

The UniDual block replaces each (2+1)D convolution of R(2+1)D: a 1 x d x d spatial
convolution shared by both modalities, then one of two parallel point-wise convolutions
chosen by the input's modality: for a video the t x 1 x 1 temporal convolution of R(2+1)D,
for an image a 1 x 1 convolution. The normalisation and ReLU that follow every (2+1)D
convolution in R(2+1)D follow both branches, so the image branch is the paper's "1x1
convolution with normalisation and nonlinearity". Images and videos thus share the spatial
filters ("commonalities in visual appearance") and are separated by the point-wise
operations ("patterns specific to each modality"), one head per task on top.

Choices the abstract leaves open, and the defaults here:

- Which convolutions become UniDual: every (2+1)D convolution, the stem's included
  (`dual_stages=(0, 1, 2, 3, 4)`, 0 being the stem). A stage left out is shared: images
  pass its temporal convolutions as single-frame clips (zero-padded in time, so only the
  kernel's centre tap sees them). `dual_stages=()` is traditional multi-task learning,
  one trunk for both.
- Normalisation: BatchNorm is per-channel, a point-wise operation, so by the paper's
  principle it is per modality (`share_norm=False`): each modality has its own scale,
  bias and running statistics, and evaluation of either task uses statistics of its own
  data. `share_norm=True` shares them (with `dual_stages=()`: everything shared).
- The other convolutions (bottlenecks' 1x1x1, the downsampling shortcuts) are shared;
  they have no temporal extent, so both modalities can use them as they are.
- Image resolution: the model takes any; the experiments crop images to the video crop
  size, so that the shared spatial filters see objects at one scale.

The modality is static: a call with {'video': clips, 'image': images} runs two compiled
paths through the same shared weights, and only the branch an input takes receives its
gradient. The video path's variables are named exactly as `video_resnet`'s R(2+1)D
(stem/spatial, layer1_0/conv1/temporal, bn1, ..., fc), so R(2+1)D checkpoints load into it
with `config.init_from` (dont_load the image branch, CLASSIFIER for the heads); the image
path adds `<conv>/pointwise`, `<norm>_image` and the head `fc_image`.

Every variable of both paths is created at initialisation, whichever inputs it sees, so
one-modality runs (the separate baselines, the phases of pretrain-then-fine-tune) and
joint runs have the same variables and their checkpoints load into each other.
"""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import heads
from vidjax.models.layers import make_conv_norm
from vidjax.models.resnet import BASIC_STAGE_SIZES, BOTTLENECK_STAGE_SIZES, DEPTHS
from vidjax.models.video_resnet import MIDPLANES_RULES, midplanes

ModuleDef = Callable[..., nn.Module]

MODALITIES = ('video', 'image')

# The classifier heads (for config.init_from.dont_load when fine-tuning).
CLASSIFIER = r'fc(_image)?/.*'
# The image path's own variables: its branches, norms and head (to leave fresh when loading
# a video-only R(2+1)D checkpoint).
IMAGE_PATH = r'.*(pointwise|_image)(/.*)?'

_SPATIAL_PAD = ((0, 0), (1, 1), (1, 1))
_TEMPORAL_PAD = ((1, 1), (0, 0), (0, 0))


@dataclasses.dataclass(frozen=True)
class ModalityPath:
  """How one modality's input runs through the trunk: its norms and its branches.

  Attributes:
    modality: 'video' or 'image'.
    dual: the current stage's (2+1)D convolutions branch by modality.
    share_norm: both modalities use one set of norms.
    make_norm: BatchNorm partial.
  """

  modality: str
  dual: bool
  share_norm: bool
  make_norm: ModuleDef

  def norm(self, name: str) -> nn.Module:
    """The modality's norm `name` (the video's keeps R(2+1)D's name)."""
    if self.share_norm or self.modality == 'video':
      return self.make_norm(name=name)
    return self.make_norm(name=f'{name}_{self.modality}')

  @property
  def image_branch(self) -> bool:
    return self.dual and self.modality == 'image'


class DualConv(nn.Module):
  """Shared 1 x 3 x 3 spatial conv to `mid_features`, norm, ReLU; then the video's 3 x 1 x 1
  temporal conv or the image's 1 x 1 point-wise conv to `features` (no final norm).

  Attributes:
    features: output channels.
    mid_features: channels between the spatial and the point-wise conv.
    strides: (temporal, spatial) stride; an image has one frame, which stays one.
    conv: Conv partial (no bias).
  """

  features: int
  mid_features: int
  strides: tuple[int, int]
  conv: ModuleDef

  @nn.compact
  def __call__(self, x: jax.Array, path: ModalityPath) -> jax.Array:
    """[B, T, H, W, C] -> [B, T / st, H / ss, W / ss, features]."""
    st, ss = self.strides
    x = self.conv(self.mid_features, (1, 3, 3), (1, ss, ss), _SPATIAL_PAD, name='spatial')(x)
    x = nn.relu(path.norm('spatial_bn')(x))
    if path.image_branch:
      return self.conv(self.features, (1, 1, 1), 1, 'VALID', name='pointwise')(x)
    return self.conv(self.features, (3, 1, 1), (st, 1, 1), _TEMPORAL_PAD, name='temporal')(x)


def _shortcut(
  x: jax.Array, features: int, stride: int, conv: ModuleDef, path: ModalityPath
) -> jax.Array:
  """Identity, or a strided 1x1x1 conv + norm where the block changes the shape."""
  if stride == 1 and x.shape[-1] == features:
    return x
  x = conv(features, (1, 1, 1), (stride,) * 3, 'VALID', name='downsample_conv')(x)
  return path.norm('downsample_bn')(x)


class BasicBlock(nn.Module):
  """Two UniDual convolutions with a residual connection (R(2+1)D's basic block)."""

  features: int
  stride: int
  conv: ModuleDef
  midplanes_rule: str = 'block'

  @nn.compact
  def __call__(self, x: jax.Array, path: ModalityPath) -> jax.Array:
    mid1 = midplanes(x.shape[-1], self.features)
    mid2 = mid1 if self.midplanes_rule == 'block' else midplanes(self.features, self.features)
    strides = (self.stride, self.stride)
    y = DualConv(self.features, mid1, strides, self.conv, name='conv1')(x, path)
    y = nn.relu(path.norm('bn1')(y))
    y = DualConv(self.features, mid2, (1, 1), self.conv, name='conv2')(y, path)
    y = path.norm('bn2')(y)
    return nn.relu(_shortcut(x, self.features, self.stride, self.conv, path) + y)


class Bottleneck(nn.Module):
  """1x1x1 conv, UniDual conv (strided), 1x1x1 conv to 4x the width, residual."""

  features: int
  stride: int
  conv: ModuleDef
  midplanes_rule: str = 'block'

  @nn.compact
  def __call__(self, x: jax.Array, path: ModalityPath) -> jax.Array:
    mid_in = x.shape[-1] if self.midplanes_rule == 'block' else self.features
    mid = midplanes(mid_in, self.features)
    y = self.conv(self.features, (1, 1, 1), 1, 'VALID', name='conv1')(x)
    y = nn.relu(path.norm('bn1')(y))
    y = DualConv(self.features, mid, (self.stride,) * 2, self.conv, name='conv2')(y, path)
    y = nn.relu(path.norm('bn2')(y))
    y = self.conv(4 * self.features, (1, 1, 1), 1, 'VALID', name='conv3')(y)
    y = path.norm('bn3')(y)
    return nn.relu(_shortcut(x, 4 * self.features, self.stride, self.conv, path) + y)


class Stem(nn.Module):
  """R(2+1)D's stem as a UniDual conv: shared 1x7x7 spatial conv to 45/64 of the width,
  norm, ReLU, then the 3x1x1 temporal (video) or 1x1 point-wise (image) conv; norm, ReLU
  and, with `pool`, a 1x3x3 max-pool with stride (1, 2, 2)."""

  features: int
  conv: ModuleDef
  pool: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, path: ModalityPath) -> jax.Array:
    mid = (45 * self.features + 32) // 64
    x = self.conv(mid, (1, 7, 7), (1, 2, 2), ((0, 0), (3, 3), (3, 3)), name='spatial')(x)
    x = nn.relu(path.norm('spatial_bn')(x))
    if path.image_branch:
      x = self.conv(self.features, (1, 1, 1), 1, 'VALID', name='pointwise')(x)
    else:
      x = self.conv(self.features, (3, 1, 1), 1, _TEMPORAL_PAD, name='temporal')(x)
    x = nn.relu(path.norm('bn')(x))
    if self.pool:
      x = nn.max_pool(x, (1, 3, 3), (1, 2, 2), ((0, 0), (1, 1), (1, 1)))
    return x


class Model(nn.Module):
  """UniDual R(2+1)D with one classifier head per modality's task.

  Attributes:
    num_classes: {'video': K, 'image': K'}: each task's classes (0 gives that modality's
      pooled features instead of logits). Its keys are the modalities the model has.
    depth: 10, 18 or 34 (basic blocks), 14, 50 or 152 (bottlenecks); 10 and 14 are test
      variants.
    width: channels of stage 1; stages have width * (1, 2, 4, 8) (4x that with bottlenecks).
    dual_stages: stages whose (2+1)D convolutions branch by modality, 0 being the stem;
      () is one shared trunk (traditional multi-task learning).
    share_norm: one set of norms for both modalities (default: one per modality).
    midplanes_rule: (2+1)D mid widths, 'block' (torchvision) or 'conv' (VMZ, the paper).
    stem_pool: max-pool after the stem (VMZ's R(2+1)D-152).
    bn_epsilon: 1e-5 (torchvision) or 1e-3 (VMZ).
    dropout_rate: dropout before each head.
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  num_classes: Mapping[str, int]
  depth: int = 18
  width: int = 64
  dual_stages: tuple[int, ...] = (0, 1, 2, 3, 4)
  share_norm: bool = False
  midplanes_rule: str = 'block'
  stem_pool: bool = False
  bn_epsilon: float = 1e-5
  dropout_rate: float = 0.0
  dtype: Any = 'float32'
  lowering: str = 'auto'

  # The model reads whichever of these its batch has (`vidjax.models.model_inputs`).
  any_input_keys = MODALITIES

  def __post_init__(self):
    if self.depth not in DEPTHS:
      raise ValueError(f'depth={self.depth!r}; allowed values: {DEPTHS}.')
    unknown = sorted(set(self.num_classes) - set(MODALITIES))
    if unknown or not self.num_classes:
      raise ValueError(
        f'num_classes={dict(self.num_classes)!r}: give the classes of a task per modality, '
        f'keys among {MODALITIES}, e.g. {{"video": 400, "image": 1000}}.'
      )
    if not set(self.dual_stages) <= set(range(5)):
      raise ValueError(f'dual_stages={self.dual_stages!r}: stages are 0 (the stem) to 4.')
    if self.midplanes_rule not in MIDPLANES_RULES:
      raise ValueError(
        f'midplanes_rule={self.midplanes_rule!r}; allowed values: {MIDPLANES_RULES}.'
      )
    super().__post_init__()

  @nn.compact
  def __call__(
    self, inputs: Mapping[str, jax.Array], *, train: bool
  ) -> tuple[dict[str, jax.Array], dict[str, Any]]:
    """Classifies each modality's batch with its task's head.

    Args:
      inputs: {'video': normalised clips [B, T, H, W, 3], 'image': normalised images
        [B', H', W', 3]}, either or both.
      train: batch statistics and dropout on (True) or running averages (False).

    Returns:
      ({modality: float32 logits [B, K] (features with K=0)}, aux {'features':
      {modality: pooled features}, 'feature_maps': {modality: the 4 stages' outputs}}).
    """
    if not inputs or not set(inputs) <= set(self.num_classes):
      raise ValueError(
        f'UniDual got inputs {sorted(inputs)}; this model has heads for '
        f'{sorted(self.num_classes)} (config.model.num_classes).'
      )
    dtype = jnp.dtype(self.dtype)
    conv, norm = make_conv_norm(train, dtype, self.lowering, self.bn_epsilon)
    # The modules are built once and called once per modality: both calls share their
    # weights, and each creates its modality's own branch and norm variables.
    stem = Stem(self.width, conv, self.stem_pool, name='stem')
    if self.depth in BASIC_STAGE_SIZES:
      block, stage_sizes = BasicBlock, BASIC_STAGE_SIZES[self.depth]
    else:
      block, stage_sizes = Bottleneck, BOTTLENECK_STAGE_SIZES[self.depth]
    stages = [
      [
        block(
          self.width * 2**i,
          2 if i > 0 and j == 0 else 1,
          conv,
          self.midplanes_rule,
          name=f'layer{i + 1}_{j}',
        )
        for j in range(num_blocks)
      ]
      for i, num_blocks in enumerate(stage_sizes)
    ]
    batches = {m: x if m == 'video' else x[:, None] for m, x in inputs.items()}
    if self.is_initializing():
      # Build every path's variables, whichever inputs initialise the model.
      for modality in set(self.num_classes) - set(batches):
        batches[modality] = jnp.zeros((1, 1, 32, 32, 3), dtype)
    logits, aux = {}, {'features': {}, 'feature_maps': {}}
    for modality in sorted(batches):
      paths = [
        ModalityPath(modality, stage in self.dual_stages, self.share_norm, norm)
        for stage in range(5)
      ]
      x = stem(jnp.asarray(batches[modality], dtype), paths[0])
      feature_maps = []
      for i, blocks in enumerate(stages):
        for layer in blocks:
          x = layer(x, paths[i + 1])
        feature_maps.append(x)
      features = jnp.mean(x, axis=(1, 2, 3))
      logits[modality], _ = heads.classifier_output(
        features,
        {},
        num_classes=self.num_classes[modality],
        dropout_rate=self.dropout_rate,
        train=train,
        name='fc' if modality == 'video' else f'fc_{modality}',
        dtype=dtype,
      )
      aux['features'][modality], aux['feature_maps'][modality] = features, feature_maps
    if self.is_initializing():
      logits = {m: logits[m] for m in inputs}
    return logits, aux
