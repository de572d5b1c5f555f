"""The audio tower of VMZ's audio-visual networks: a 2D ResNet on a clip's log-mel spectrogram.

As VMZ's Caffe2 `audio_visual_model.py` builds it (`create_av_resnet`, the audio half, and
`create_acoustic_resnet`), on a log-mel of 100 time frames x 40 mel bins aligned with the
visual clip:

  a 3x3 convolution to 16 channels (with bias; no norm or ReLU after it), three basic
  blocks 16 -> 32 (the first with stride 2), 32, 32, then four stages of the visual
  network's depth with its widths (basic blocks 64-512 at depth 18/34, bottlenecks
  256/64-2048/512 from 50), each starting with a stride-2 block, and a max-pool over what
  is left (VMZ's MaxPool [4, 2], which is global on 100 x 40 after the five halvings).

Every block is VMZ's: 3x3 convolutions without bias, BatchNorm (epsilon 1e-3) and ReLU,
a 1x1 projection + BatchNorm on the shortcut where the width or the stride changes, ReLU
after the sum. Time and frequency are the image axes; the input has one channel.
"""

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import heads

# Blocks per stage, as VMZ's BLOCK_CONFIG; depth 10 and 14 are test variants.
STAGE_SIZES = {
  10: (1, 1, 1, 1),
  14: (1, 1, 1, 1),
  18: (2, 2, 2, 2),
  34: (3, 4, 6, 3),
  50: (3, 4, 6, 3),
  101: (3, 4, 23, 3),
  152: (3, 8, 36, 3),
}
BOTTLENECK_DEPTHS = (14, 50, 101, 152)
STEM_WIDTH, ENTRY_WIDTH = 16, 32

# The classifier's variables (for config.init_from.dont_load when fine-tuning).
CLASSIFIER = r'fc/.*'


class Block(nn.Module):
  """VMZ's simple block (two 3x3 convolutions) or bottleneck (1x1, 3x3, 1x1 to `features`).

  Attributes:
    features: output channels.
    bottleneck_features: inner width of a bottleneck; 0 for a simple block.
    stride: of the first 3x3 convolution and of the shortcut.
  """

  features: int
  bottleneck_features: int = 0
  stride: int = 1
  dtype: Any = jnp.float32
  train: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = lambda f, k, s=1: nn.Conv(  # noqa: E731
      f, (k, k), (s, s), padding=k // 2, use_bias=False, dtype=self.dtype
    )
    norm = lambda: nn.BatchNorm(  # noqa: E731
      use_running_average=not self.train, momentum=0.9, epsilon=1e-3, dtype=self.dtype
    )
    if self.bottleneck_features:
      y = nn.relu(norm()(conv(self.bottleneck_features, 1)(x)))
      y = nn.relu(norm()(conv(self.bottleneck_features, 3, self.stride)(y)))
      y = norm()(conv(self.features, 1)(y))
    else:
      y = nn.relu(norm()(conv(self.features, 3, self.stride)(x)))
      y = norm()(conv(self.features, 3)(y))
    if self.stride != 1 or x.shape[-1] != self.features:
      x = norm()(conv(self.features, 1, self.stride)(x))
    return nn.relu(x + y)


class Model(nn.Module):
  """Audio ResNet classifier on log-mel spectrograms.

  Attributes:
    num_classes: classes (0: the pooled features, for fusion with a visual tower).
    depth: a key of `STAGE_SIZES` (18/34 basic blocks; 50/101/152 bottlenecks).
    width: channels of the first stage (64 in VMZ); stages double it.
    dropout_rate: before the classifier.
    dtype: computation dtype name.
  """

  num_classes: int
  depth: int = 18
  width: int = 64
  dropout_rate: float = 0.0
  dtype: Any = 'float32'

  def __post_init__(self):
    if self.depth not in STAGE_SIZES:
      raise ValueError(f'depth={self.depth!r}; allowed values: {tuple(STAGE_SIZES)}.')
    super().__post_init__()

  # The model reads the batch's log-mel ('audio'); a fusion model passes it the array.
  input_keys = ('audio',)

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, Any]]:
    """log-mel [B, frames, mels] (or {'audio': it}) -> (logits [B, num_classes], aux
    {'features', 'feature_map' (the last stage's output, before the max-pool)})."""
    if isinstance(x, Mapping):
      x = x['audio']
    dtype = jnp.dtype(self.dtype)
    x = jnp.asarray(x, dtype)[..., None]
    x = nn.Conv(STEM_WIDTH, (3, 3), padding=1, dtype=dtype, name='conv1')(x)
    block = lambda features, bottleneck=0, stride=1: Block(  # noqa: E731
      features, bottleneck, stride, dtype, train
    )
    x = block(ENTRY_WIDTH, stride=2)(x)
    x = block(ENTRY_WIDTH)(x)
    x = block(ENTRY_WIDTH)(x)
    bottleneck = self.depth in BOTTLENECK_DEPTHS
    for stage, num_blocks in enumerate(STAGE_SIZES[self.depth]):
      inner = self.width * 2**stage
      features = 4 * inner if bottleneck else inner
      for index in range(num_blocks):
        x = block(features, inner if bottleneck else 0, 2 if index == 0 else 1)(x)
    features = jnp.max(x, axis=(1, 2))
    return heads.classifier_output(
      features,
      {'feature_map': x},
      num_classes=self.num_classes,
      dropout_rate=self.dropout_rate,
      train=train,
      name='fc',
      dtype=dtype,
    )
