"""Temporal cycle-consistency's embedder (Dwibedi et al., CVPR 2019; google-research `tcc/`).

As `tcc/models.py` (`conv_dims=3`): a per-frame 2D trunk (ImageNet ResNet-50v2 cut at
conv4_block3 in the paper; a ResNet here, `ResNet2D` up to `trunk_stages`), then for each
timestep its `num_context` context frames together: two 3D convolutions (3 x 3 x 3,
`conv_width` channels, BatchNorm, ReLU), a max-pool over the context frames and space,
two fully connected layers (`fc_width`, ReLU, dropout 0.1) and a linear layer to the
128-dimensional embedding, not normalised. The official `CAPACITY_SCALAR` 2 doubles the
configured 256 channels to 512. No positional information enters the embedding: the README
warns that an embedder able to encode a frame's position solves TCC trivially.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models.resnet import DEPTHS, ResNet2D


class Model(nn.Module):
  """Per-timestep embeddings [B, T, embed_dim] of clips [B, T * num_context, H, W, 3].

  Attributes:
    depth, width: of the per-frame ResNet.
    trunk_stages: ResNet stages that run (3: up to layer3, as the paper's conv4 cut).
    num_context: context frames per timestep, consecutive in the input.
    conv_width: channels of the two 3D convolutions (512 in the paper).
    fc_width: units of the two fully connected layers (512 in the paper).
    embed_dim: embedding size (128).
    dropout_rate: before each fully connected layer (0.1).
  """

  depth: int = 18
  width: int = 64
  trunk_stages: int = 3
  num_context: int = 2
  conv_width: int = 512
  fc_width: int = 512
  embed_dim: int = 128
  dropout_rate: float = 0.1
  dtype: Any = 'float32'
  lowering: str = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    if self.depth not in DEPTHS:
      raise ValueError(f'depth={self.depth!r}; allowed values: {DEPTHS}.')
    b, frames = x.shape[:2]
    if frames % self.num_context:
      raise ValueError(
        f'{frames} frames a clip: a multiple of num_context={self.num_context} (each '
        'timestep brings its context frames).'
      )
    dtype = jnp.dtype(self.dtype)
    maps = ResNet2D(
      self.depth, self.width, dtype, self.lowering, num_stages=self.trunk_stages, pool=False
    )(jnp.asarray(x, dtype).reshape(-1, *x.shape[2:]), train=train)
    steps = frames // self.num_context
    y = maps.reshape(b * steps, self.num_context, *maps.shape[1:])
    for layer in range(2):
      y = nn.Conv(self.conv_width, (3, 3, 3), use_bias=False, dtype=dtype, name=f'conv3d_{layer}')(
        y
      )
      y = nn.BatchNorm(use_running_average=not train, dtype=dtype, name=f'bn3d_{layer}')(y)
      y = nn.relu(y)
    y = jnp.max(y, axis=(1, 2, 3))
    for layer in range(2):
      y = nn.Dropout(self.dropout_rate, deterministic=not train)(y)
      y = nn.relu(nn.Dense(self.fc_width, dtype=dtype, name=f'fc_{layer}')(y))
    embeddings = nn.Dense(self.embed_dim, dtype=dtype, name='embedding')(y)
    embeddings = jnp.asarray(embeddings, jnp.float32).reshape(b, steps, self.embed_dim)
    return embeddings, {'embeddings': embeddings}
