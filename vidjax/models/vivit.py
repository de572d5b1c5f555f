"""ViViT factorised encoder (Arnab et al., ICCV 2021, arXiv 2103.15691, "Model 2").

The clip is cut into non-overlapping t x p x p tubelets, each linearly embedded (a strided
3D convolution). A spatial transformer encodes the tokens of each temporal index on its
own, with a CLS token and learned position embeddings; its per-index CLS outputs form a
sequence of nt tokens that a temporal transformer (with its own CLS token and position
embeddings) encodes. The temporal CLS output, layer-normalised, is the clip feature.
Blocks are pre-LN ViT blocks (MHSA, MLP with GELU). Names follow Scenic's
`projects/vivit` so an ImageNet ViT / Scenic checkpoint maps over directly:

  embedding (Conv)                                  embedding
  SpatialTransformer/{cls, posembed, encoderblock_{i}, encoder_norm}
  TemporalTransformer/{cls, posembed, encoderblock_{i}, encoder_norm}
  encoderblock_{i}/{LayerNorm_0, MultiHeadDotProductAttention_0, LayerNorm_1, MlpBlock_0}
  output_projection (Dense)                         output_projection

To initialise from a 2D ViT, the embedding kernel is inflated along time ("central frame"
or averaged, see `vidjax.convert`).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import heads
from vidjax.models.layers import Conv

# variant -> (hidden size, heads, MLP size, spatial layers, temporal layers).
VARIANTS = {
  'tiny': (32, 2, 64, 2, 1),
  'Ti': (192, 3, 768, 12, 4),
  'S': (384, 6, 1536, 12, 4),
  'B': (768, 12, 3072, 12, 4),
  'L': (1024, 16, 4096, 24, 4),
}


class MlpBlock(nn.Module):
  """Dense -> GELU -> dropout -> Dense -> dropout.

  Attributes:
    mlp_dim: hidden width.
    dropout_rate: dropout after each dense.
    dtype: computation dtype.
  """

  mlp_dim: int
  dropout_rate: float
  dtype: Any

  @nn.compact
  def __call__(self, x: jax.Array, *, deterministic: bool) -> jax.Array:
    """[B, N, D] -> [B, N, D]."""
    d = x.shape[-1]
    init = nn.initializers.xavier_uniform()
    x = nn.Dense(self.mlp_dim, dtype=self.dtype, kernel_init=init)(x)
    x = nn.Dropout(self.dropout_rate)(nn.gelu(x), deterministic=deterministic)
    x = nn.Dense(d, dtype=self.dtype, kernel_init=init)(x)
    return nn.Dropout(self.dropout_rate)(x, deterministic=deterministic)


class EncoderBlock(nn.Module):
  """Pre-LN transformer block: x + MHSA(LN(x)), then x + MLP(LN(x)).

  Attributes:
    num_heads: attention heads.
    mlp_dim: MLP hidden width.
    dropout_rate: dropout on the residual branches.
    attention_dropout_rate: dropout on the attention weights.
    dtype: computation dtype.
  """

  num_heads: int
  mlp_dim: int
  dropout_rate: float
  attention_dropout_rate: float
  dtype: Any

  @nn.compact
  def __call__(self, x: jax.Array, deterministic: bool) -> jax.Array:
    """[B, N, D] -> [B, N, D]. (`deterministic` is positional for `nn.remat`'s static
    arguments.)"""
    y = nn.LayerNorm(dtype=self.dtype)(x)
    y = nn.MultiHeadDotProductAttention(
      num_heads=self.num_heads,
      dtype=self.dtype,
      kernel_init=nn.initializers.xavier_uniform(),
      dropout_rate=self.attention_dropout_rate,
      deterministic=deterministic,
    )(y, y)
    x = x + nn.Dropout(self.dropout_rate)(y, deterministic=deterministic)
    y = nn.LayerNorm(dtype=self.dtype)(x)
    return x + MlpBlock(self.mlp_dim, self.dropout_rate, self.dtype)(y, deterministic=deterministic)


class Encoder(nn.Module):
  """CLS token + learned position embeddings + `num_layers` blocks + final LayerNorm.

  Attributes:
    num_layers: number of blocks.
    num_heads, mlp_dim, dropout_rate, attention_dropout_rate, dtype: see `EncoderBlock`.
    remat: recompute each block's activations in the backward pass (`nn.remat`).
  """

  num_layers: int
  num_heads: int
  mlp_dim: int
  dropout_rate: float
  attention_dropout_rate: float
  dtype: Any
  remat: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, *, deterministic: bool) -> jax.Array:
    """[B, N, D] tokens -> [B, D], the CLS token's output."""
    b, n, d = x.shape
    cls = self.param('cls', nn.initializers.zeros, (1, 1, d), jnp.float32)
    x = jnp.concatenate([jnp.broadcast_to(cls.astype(x.dtype), (b, 1, d)), x], axis=1)
    pos = self.param('posembed', nn.initializers.normal(0.02), (1, n + 1, d), jnp.float32)
    x = nn.Dropout(self.dropout_rate)(x + pos.astype(x.dtype), deterministic=deterministic)
    # static_argnums counts the module: (self, x, deterministic).
    block = nn.remat(EncoderBlock, static_argnums=(2,)) if self.remat else EncoderBlock
    for i in range(self.num_layers):
      x = block(
        self.num_heads,
        self.mlp_dim,
        self.dropout_rate,
        self.attention_dropout_rate,
        self.dtype,
        name=f'encoderblock_{i}',
      )(x, deterministic)
    return nn.LayerNorm(dtype=self.dtype, name='encoder_norm')(x[:, 0])


class Model(nn.Module):
  """ViViT factorised-encoder video classifier.

  Attributes:
    num_classes: number of output classes.
    variant: 'tiny' (tests), 'Ti', 'S', 'B' or 'L' (ViT sizes; 4 temporal layers).
    tubelet: (t, p): tubelets of t frames x p x p pixels.
    temporal_layers: layers of the temporal transformer; None = the variant's (4).
    dropout_rate: dropout in the blocks and before the classifier.
    attention_dropout_rate: dropout on attention weights.
    dtype: computation dtype name.
    remat: recompute each transformer block's activations in the backward pass instead of
      keeping them (`nn.remat`).
  """

  num_classes: int
  variant: str = 'B'
  tubelet: tuple[int, int] = (2, 16)
  temporal_layers: int | None = None
  dropout_rate: float = 0.0
  attention_dropout_rate: float = 0.0
  dtype: Any = 'float32'
  remat: bool = False

  def __post_init__(self):
    if self.variant not in VARIANTS:
      raise ValueError(f'variant={self.variant!r}; allowed values: {tuple(VARIANTS)}.')
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips.

    Args:
      x: normalised video [B, T, H, W, 3], T a multiple of t and H, W of p.
      train: dropout on (True) or off (False).

    Returns:
      logits [B, num_classes] (float32) and aux {'features': [B, D] (temporal CLS output),
      'frame_features': [B, T / t, D] (the spatial CLS output per temporal index)}.
    """
    dtype = jnp.dtype(self.dtype)
    hidden, attention_heads, mlp, spatial_layers, temporal_layers = VARIANTS[self.variant]
    if self.temporal_layers is not None:
      temporal_layers = self.temporal_layers
    t, p = self.tubelet
    if x.shape[1] % t or x.shape[2] % p or x.shape[3] % p:
      raise ValueError(f'input {x.shape} is not divisible into tubelet={self.tubelet} tubelets.')
    x = Conv(hidden, (t, p, p), (t, p, p), 'VALID', dtype=dtype, name='embedding')(
      jnp.asarray(x, dtype)
    )
    b, nt, nh, nw, d = x.shape
    encoder = dict(
      num_heads=attention_heads,
      mlp_dim=mlp,
      dropout_rate=self.dropout_rate,
      attention_dropout_rate=self.attention_dropout_rate,
      dtype=dtype,
      remat=self.remat,
    )
    # Temporal indices are folded into the batch: space is attended within each index only.
    frames = Encoder(spatial_layers, **encoder, name='SpatialTransformer')(
      x.reshape(b * nt, nh * nw, d), deterministic=not train
    ).reshape(b, nt, d)
    features = Encoder(temporal_layers, **encoder, name='TemporalTransformer')(
      frames, deterministic=not train
    )
    # Scenic's ViViT starts its classifier at zero.
    return heads.classifier_output(
      features,
      {'frame_features': frames},
      num_classes=self.num_classes,
      dropout_rate=self.dropout_rate,
      train=train,
      name='output_projection',
      dtype=dtype,
      kernel_init=nn.initializers.zeros,
    )
