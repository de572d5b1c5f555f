"""Shuffle & Learn's siamese network (Misra et al., ECCV 2016): is a frame tuple in order?

One 2D trunk, shared by the tuple's frames (the paper's siamese CaffeNet towers; here the
zoo's 2D ResNet, named 'resnet' as in `single_frame.Model`, so that a trunk trained here
fine-tunes as a single-frame classifier by name), each frame's pooled features
concatenated in the tuple's order, then fully connected layers (TCC's implementation:
128 -> 64 units) and the output (one logit: "in order"). With more outputs the same
network classifies a tuple, e.g. an action from three frames in order (the miniature's
transfer target, experiments/shuffle_learn/synthetic_finetune.py).
"""

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models.resnet import BASIC_STAGE_SIZES, ResNet2D


class OrderHead(nn.Module):
  """Concatenated frame features -> hidden ReLU layers -> `num_outputs` logits."""

  num_outputs: int
  hidden: Sequence[int]
  dtype: Any

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for index, units in enumerate(self.hidden):
      x = nn.relu(nn.Dense(units, dtype=self.dtype, name=f'fc{index}')(x))
    return nn.Dense(self.num_outputs, dtype=self.dtype, name='logits')(x)


class Model(nn.Module):
  """Shared 2D ResNet trunk per frame, concatenation in order, fully connected order head.

  Attributes:
    num_classes: outputs of the order head (1: the logit of "in order").
    depth: ResNet depth, 10, 18 or 34.
    width: channels of stage 1; stages have width * (1, 2, 4, 8).
    hidden: units of the order head's hidden layers.
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  num_classes: int
  depth: int = 18
  width: int = 64
  hidden: Sequence[int] = (128, 64)
  dtype: Any = 'float32'
  lowering: str = 'auto'

  def __post_init__(self):
    if self.depth not in BASIC_STAGE_SIZES:
      raise ValueError(f'depth={self.depth!r}; allowed values: {tuple(BASIC_STAGE_SIZES)}.')
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Scores tuples.

    Args:
      x: normalised frame tuples [B, T, H, W, 3] (T = 3 for Shuffle & Learn).
      train: batch statistics on (True) or running averages (False).

    Returns:
      logits [B, num_classes] (float32) and aux {'features': [B, T * 8 * width], the
      trunk's features of the frames concatenated in order, what the head reads (and a
      linear probe: averaged over the frames, they could not tell an action from its
      reverse)}.
    """
    b, t = x.shape[:2]
    dtype = jnp.dtype(self.dtype)
    frames = jnp.asarray(x, dtype).reshape(b * t, *x.shape[2:])
    features = ResNet2D(self.depth, self.width, dtype, self.lowering, name='resnet')(
      frames, train=train
    ).reshape(b, -1)
    logits = OrderHead(self.num_classes, tuple(self.hidden), dtype, name='order')(features)
    return jnp.asarray(logits, jnp.float32), {'features': jnp.asarray(features, jnp.float32)}
