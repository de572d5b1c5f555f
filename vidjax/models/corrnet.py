"""CorrNet: video classification with learnable correlation (Wang, Torresani, Feiszli,
CVPR 2020, arXiv 1906.03349).

The learnable correlation operator matches each position of frame t against a k x k window
of displacements (dilation d) in frame t + 1. Channels are split into G groups; within a
group the matching score is a weighted dot product, sum_c w_c x_t(p)_c x_{t+1}(p + delta)_c
/ |group|, with one learnable weight per channel (the paper's filter with a 1 x 1 patch),
giving G * k^2 output channels. The last frame is matched against itself (replicate
padding in time), which keeps T. A correlation block wraps the operator: 1x1x1 conv to
`reduce` channels, BN, ReLU, correlation, BN, ReLU, 1x1x1 conv back, BN, residual, ReLU.

The backbone is `vidjax.models.video_resnet`'s R(2+1)D with basic blocks (the paper's
CorrNet-26/50/101 use bottleneck R(2+1)D blocks; this module keeps the operator and the
block placement -- after the last block of res3 and res4 -- on the repository's R(2+1)D-18/34
so that it trains from the same code and checkpoints). There is no public checkpoint to map;
names are those of `video_resnet` plus `corr{s}/{reduce, reduce_bn, correlation, corr_bn,
expand, expand_bn}`.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import heads
from vidjax.models.layers import make_conv_norm
from vidjax.models.resnet import BASIC_STAGE_SIZES
from vidjax.models.video_resnet import BasicBlock, Stem

# Stages (0-based, of 4) followed by a correlation block: res3 and res4 as in the paper.
CORR_STAGES = (1, 2)


class Correlation(nn.Module):
  """Learnable grouped correlation between consecutive frames.

  Attributes:
    groups: channel groups G (must divide the channels).
    window: k, displacements -k//2 .. k//2 in H and W.
    dilation: spacing of the displacements.
  """

  groups: int
  window: int = 7
  dilation: int = 1

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T, H, W, G * k^2] (group-major, then displacement)."""
    b, t, h, w, c = x.shape
    if c % self.groups:
      raise ValueError(f'groups={self.groups} must divide the channels ({c}).')
    weight = self.param('weight', nn.initializers.ones, (c,), jnp.float32).astype(x.dtype)
    nxt = jnp.concatenate([x[:, 1:], x[:, -1:]], axis=1)
    r = (self.window // 2) * self.dilation
    nxt = jnp.pad(nxt, [(0, 0), (0, 0), (r, r), (r, r), (0, 0)])
    query = (x * weight).reshape(b, t, h, w, self.groups, c // self.groups)
    scores = []
    # k^2 shifted products: a memory-bound loop that XLA fuses, rather than a k^2 x larger
    # gathered tensor.
    for i in range(self.window):
      for j in range(self.window):
        di, dj = i * self.dilation, j * self.dilation
        key = nxt[:, :, di : di + h, dj : dj + w].reshape(query.shape)
        scores.append(jnp.mean(query * key, axis=-1))
    return jnp.stack(scores, axis=-1).reshape(b, t, h, w, -1)


class CorrelationBlock(nn.Module):
  """Residual block around `Correlation`.

  Attributes:
    reduce: channels the correlation runs on.
    groups: correlation groups.
    window: displacement window k.
    dilation: displacement spacing.
    conv: Conv partial (no bias).
    norm: BatchNorm partial.
  """

  reduce: int
  groups: int
  window: int
  dilation: int
  conv: Any
  norm: Any

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> same shape."""
    y = nn.relu(self.norm(name='reduce_bn')(self.conv(self.reduce, (1, 1, 1), name='reduce')(x)))
    y = Correlation(self.groups, self.window, self.dilation, name='correlation')(y)
    y = nn.relu(self.norm(name='corr_bn')(y))
    y = self.norm(name='expand_bn')(self.conv(x.shape[-1], (1, 1, 1), name='expand')(y))
    return nn.relu(x + y)


class Model(nn.Module):
  """R(2+1)D with correlation blocks.

  Attributes:
    num_classes: number of output classes.
    depth: 10, 18 or 34 (R(2+1)D basic-block depths of `video_resnet`).
    width: stage-1 channels.
    corr_groups: correlation groups G.
    corr_window: displacement window k (7 in the paper).
    dropout_rate: dropout before the classifier.
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  num_classes: int
  depth: int = 18
  width: int = 64
  corr_groups: int = 32
  corr_window: int = 7
  dropout_rate: float = 0.0
  dtype: Any = 'float32'
  lowering: str = 'auto'

  def __post_init__(self):
    if self.depth not in BASIC_STAGE_SIZES:
      raise ValueError(f'depth={self.depth!r}; allowed values: {tuple(BASIC_STAGE_SIZES)}.')
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips.

    Args:
      x: normalised video [B, T, H, W, 3].
      train: batch statistics and dropout on (True) or running averages (False).

    Returns:
      logits [B, num_classes] (float32) and aux {'features': [B, 8 * width]}.
    """
    dtype = jnp.dtype(self.dtype)
    conv, norm = make_conv_norm(train, dtype, self.lowering)
    x = Stem(self.width, '2plus1d', conv, norm, name='stem')(jnp.asarray(x, dtype))
    for i, num_blocks in enumerate(BASIC_STAGE_SIZES[self.depth]):
      for j in range(num_blocks):
        stride = 2 if i > 0 and j == 0 else 1
        x = BasicBlock(self.width * 2**i, stride, '2plus1d', conv, norm, name=f'layer{i + 1}_{j}')(
          x
        )
      if i in CORR_STAGES:
        # The correlation runs on a quarter of the channels (one group each at the least).
        reduce = max(self.corr_groups, x.shape[-1] // 4)
        x = CorrelationBlock(
          reduce, self.corr_groups, self.corr_window, 1, conv, norm, name=f'corr{i + 1}'
        )(x)
    features = jnp.mean(x, axis=(1, 2, 3))
    return heads.classifier_output(
      features,
      {},
      num_classes=self.num_classes,
      dropout_rate=self.dropout_rate,
      train=train,
      name='fc',
      dtype=dtype,
    )
