"""ACAR-Net's head (Pan et al., "Actor-Context-Actor Relation Network", CVPR 2021; the
AVA-Kinetics 2020 winner), as the official `models/heads/acar.py` builds it, for clips
with a fixed number of actor slots (padded actors masked).

    backbone pathways [B, T_i, H, W, C_i] -> mean over time, concatenated (2304 for SlowFast)
    conv_reduce 1x1 -> 1024 (the context map)
    actor features: RoIAlign 7x7 of each box on the context map, max-pooled -> 1024
    per actor: [context map, its feature tiled] -> conv1 1x1 512, ReLU -> conv2 3x3
        unpadded 512, ReLU -> max-pool 3x3 stride 2 (padding 1)
    HR2O x depth (R50: 2; R101: 1 with a 1x1 output conv): q, k, v 3x3 convs; at each
        position each actor attends to the clip's actors (softmax of q.k / sqrt(512)), the
        sum of their values -> GroupNorm(1), ReLU, conv, dropout 0.2 -> added back
    average-pooled -> 512, beside fc1(actor feature) -> 512, ReLU; fc2 -> classes

With `bank_layers` > 0 the head also reads an actor-context feature bank (ACFB: the
paper's long-term extension, never released): 'bank' [B, M, 512], the pooled first-order
actor-context features (`actor_context` below, from a first ACAR model,
`tools/extract_feature_bank.py`) of every actor of the keyframes around this one. Each
actor's relation feature attends over the bank through `bank_layers` non-local feature
bank operators as LFB's (queries from the actor, keys and values from the bank, latent
512, LayerNorm, ReLU, a linear layer, dropout 0.2, added back). [unverified: the paper's
exact read of the bank; this is LFB's operator on ACAR's features.]

Differences from the official module: actors are a padded [B, N] axis with a mask, and the
attention leaves the padded ones out (the official code runs actors clip by clip, without
padding); the context map is the whole feature map (the official code crops the padding
its variable-size batches add, which static crops do not have). Names are the official
ones, so that `vidjax/convert/acar.py` maps its checkpoints one to one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models.roi_align import roi_align


class HR2O(nn.Module):
  """One high-order relation reasoning operator on actor-context maps [B, N, h, w, C]."""

  hidden_dim: int = 512
  kernel_size: int = 3
  mlp_1x1: bool = False
  dropout_rate: float = 0.2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array, *, train: bool) -> jax.Array:
    k = self.kernel_size
    conv = lambda name, size: nn.Conv(  # noqa: E731
      self.hidden_dim, (size, size), padding='SAME', use_bias=False, dtype=self.dtype, name=name
    )
    query, key, value = (conv(name, k)(x) for name in ('conv_q', 'conv_k', 'conv_v'))
    logits = jnp.einsum('bihwc,bjhwc->bhwij', query, key) / self.hidden_dim**0.5
    # Padded actors get no attention. A finite fill keeps a clip of padding alone (a padded
    # batch entry) finite, so that its masked-out loss cannot turn the gradient into NaN.
    logits = jnp.where(mask[:, None, None, None, :], logits.astype(jnp.float32), -1e9)
    attention = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
    virtual = jnp.einsum('bhwij,bjhwc->bihwc', attention, value)
    # GroupNorm(1) per actor's map, as torch's over [actors, C, h, w].
    shape = virtual.shape
    virtual = virtual.reshape(-1, *shape[2:])
    virtual = nn.GroupNorm(num_groups=1, epsilon=1e-5, dtype=self.dtype, name='norm')(virtual)
    virtual = virtual.reshape(shape)
    virtual = conv('conv', 1 if self.mlp_1x1 else k)(nn.relu(virtual))
    virtual = nn.Dropout(self.dropout_rate, deterministic=not train)(virtual)
    return x + virtual


class FeatureBankOperator(nn.Module):
  """LFB's non-local operator: actor features [B, N, C] attend over a bank [B, M, C]."""

  latent_dim: int = 512
  dropout_rate: float = 0.2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(
    self, actors: jax.Array, bank: jax.Array, bank_mask: jax.Array, *, train: bool
  ) -> jax.Array:
    dense = lambda features, name: nn.Dense(features, dtype=self.dtype, name=name)  # noqa: E731
    query, key = dense(self.latent_dim, 'query')(actors), dense(self.latent_dim, 'key')(bank)
    value = dense(self.latent_dim, 'value')(bank)
    logits = jnp.einsum('bnc,bmc->bnm', query, key) / self.latent_dim**0.5
    logits = jnp.where(bank_mask[:, None, :], logits.astype(jnp.float32), -1e9)
    attention = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
    read = jnp.einsum('bnm,bmc->bnc', attention, value)
    read = nn.relu(nn.LayerNorm(dtype=self.dtype, name='norm')(read))
    read = dense(actors.shape[-1], 'out')(read)
    read = nn.Dropout(self.dropout_rate, deterministic=not train)(read)
    # A keyframe whose bank is empty (a short video, a first keyframe) reads nothing.
    has_bank = jnp.any(bank_mask, axis=-1)[:, None, None]
    return actors + jnp.where(has_bank, read, 0.0)


class ACARHead(nn.Module):
  """Per actor slot, class logits [B, N, num_classes] (padded slots too; mask them).

  Attributes:
    num_classes: 60 on AVA (80 with the whole label map).
    roi_spatial: RoIAlign's output size (7).
    reduce_dim, hidden_dim: 1024 and 512.
    depth: HR2O layers (2 for R50, 1 for R101); kernel_size, mlp_1x1: theirs.
    dropout_rate: before fc2 (0 in the official configs).
    bank_layers: feature bank operators reading 'bank' (0: none, ACAR alone; 2: LFB's).
    bank_latent_dim, bank_dropout: their width and dropout (LFB's 512 and 0.2).

  Returns (logits, actor_context): actor_context [B, N, hidden_dim] is each actor's
  first-order actor-context map averaged over positions, what the feature bank stores.
  """

  num_classes: int = 60
  roi_spatial: int = 7
  reduce_dim: int = 1024
  hidden_dim: int = 512
  depth: int = 2
  kernel_size: int = 3
  mlp_1x1: bool = False
  dropout_rate: float = 0.0
  bank_layers: int = 0
  bank_latent_dim: int = 512
  bank_dropout: float = 0.2
  dtype: Any = 'float32'

  @nn.compact
  def __call__(
    self,
    pathways: Sequence[jax.Array],
    boxes: jax.Array,
    mask: jax.Array,
    bank: tuple[jax.Array, jax.Array] | None = None,
    *,
    train: bool,
  ) -> tuple[jax.Array, jax.Array]:
    """pathways: [B, T_i, H, W, C_i]; boxes: [B, N, 4] (x1, y1, x2, y2) in [0, 1] of the
    clip; mask: [B, N], False for padded actor slots; bank (with bank_layers): the
    features [B, M, hidden_dim] and their mask [B, M]."""
    if self.bank_layers and bank is None:
      raise ValueError(
        f'ACARHead: bank_layers={self.bank_layers} reads a feature bank, and the batch has '
        'none; set config.input.keyframe.bank.path (tools/extract_feature_bank.py).'
      )
    dtype = jnp.dtype(self.dtype)
    conv = lambda features, size, name, padding='VALID': nn.Conv(  # noqa: E731
      features, (size, size), padding=padding, use_bias=False, dtype=dtype, name=name
    )
    maps = jnp.concatenate([jnp.mean(p, axis=1) for p in pathways], axis=-1).astype(dtype)
    b, h, w, _ = maps.shape
    maps = conv(self.reduce_dim, 1, 'conv_reduce')(maps)
    num_actors = boxes.shape[1]
    rois = boxes.reshape(-1, 4) * jnp.array([w, h, w, h], jnp.float32)
    actors = roi_align(maps, rois, jnp.repeat(jnp.arange(b), num_actors), (self.roi_spatial,) * 2)
    actors = jnp.max(actors, axis=(1, 2)).reshape(b, num_actors, -1)  # [B, N, 1024]
    tiled = jnp.broadcast_to(actors[:, :, None, None], (b, num_actors, h, w, actors.shape[-1]))
    context = jnp.broadcast_to(maps[:, None], (b, num_actors, *maps.shape[1:]))
    x = jnp.concatenate([context, tiled], axis=-1)
    x = nn.relu(conv(self.hidden_dim, 1, 'conv1')(x))
    x = nn.relu(conv(self.hidden_dim, 3, 'conv2')(x))
    flat = x.reshape(-1, *x.shape[2:])
    flat = nn.max_pool(flat, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    x = flat.reshape(b, num_actors, *flat.shape[1:])
    actor_context = jnp.mean(x, axis=(2, 3)).astype(jnp.float32)
    for i in range(self.depth):
      x = HR2O(self.hidden_dim, self.kernel_size, self.mlp_1x1, dtype=dtype, name=f'hr2o_{i}')(
        x, mask, train=train
      )
    relations = jnp.mean(x, axis=(2, 3))  # [B, N, 512]
    for i in range(self.bank_layers):
      relations = FeatureBankOperator(
        self.bank_latent_dim, self.bank_dropout, dtype=dtype, name=f'fbo_{i}'
      )(relations, bank[0].astype(dtype), bank[1], train=train)
    own = nn.relu(nn.Dense(self.hidden_dim, use_bias=False, dtype=dtype, name='fc1')(actors))
    outputs = jnp.concatenate([own, relations], axis=-1)
    outputs = nn.Dropout(self.dropout_rate, deterministic=not train)(outputs)
    logits = nn.Dense(self.num_classes, use_bias=False, dtype=dtype, name='fc2')(outputs)
    return jnp.asarray(logits, jnp.float32), actor_context
