"""Spatio-temporal action localization: a video backbone and a head on each actor's box.

As ACAR-Net's `models/__init__.py` (and PySlowFast's AVA models): the backbone (any zoo
model built with `num_classes=0` that puts its final maps in aux['feature_maps'], e.g.
`slowfast` with res5_dilation=2, the output stride 16 of the recipe) sees the clip around
the keyframe, and a head classifies every actor box on those maps:

  'linear'  ACAR's `LinearHead` (PySlowFast's `ResNetRoIHead`): each pathway averaged over
            time, RoIAlign 7 x 7 of the box, max-pooled, the pathways concatenated, dropout,
            a linear classifier;
  'acar'    the actor-context-actor relation head (`models/acar.py`, HR2O);
  'acfb'    ACAR's head reading an actor-context feature bank as well: the batch's 'bank'
            [B, M, C] and 'bank_mask' [B, M] (`config.input.keyframe.bank`), through
            head_config.bank_layers operators (2 unless set).

config.model = dict(
    backbone=dict(model_name='slowfast', depth=50, variant='8x8', res5_dilation=2),
    head='acar', num_classes=60, context_maps=2)

The model reads 'video' [B, T, H, W, 3], 'boxes' [B, N, 4] (normalised x1, y1, x2, y2 of
the clip) and 'box_mask' [B, N]; its output is the logits [B, N, num_classes] of every
actor slot (padded slots too: mask them), and aux has 'features' (the backbone's pooled
features) and, with ACAR's head, 'actor_context' [B, N, C] (what a feature bank stores).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax import configs
from vidjax.models.acar import ACARHead
from vidjax.models.roi_align import roi_align

HEADS = ('linear', 'acar', 'acfb')


class LinearHead(nn.Module):
  """Logits [B, N, num_classes] of each box from the time-averaged pathways."""

  num_classes: int
  roi_spatial: int = 7
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, pathways, boxes: jax.Array, *, train: bool) -> jax.Array:
    b, num_actors = boxes.shape[:2]
    pooled = []
    for maps in pathways:
      maps = jnp.mean(maps, axis=1).astype(jnp.float32)  # [B, H, W, C]
      h, w = maps.shape[1:3]
      rois = boxes.reshape(-1, 4) * jnp.array([w, h, w, h], jnp.float32)
      actors = roi_align(maps, rois, jnp.repeat(jnp.arange(b), num_actors), (self.roi_spatial,) * 2)
      pooled.append(jnp.max(actors, axis=(1, 2)))
    features = jnp.concatenate(pooled, axis=-1).reshape(b, num_actors, -1)
    features = nn.Dropout(self.dropout_rate, deterministic=not train)(features)
    return nn.Dense(self.num_classes, name='fc')(features)


class Model(nn.Module):
  """A backbone and an actor head; see the module docstring.

  Attributes:
    backbone: dict(model_name=<zoo module>, **its kwargs), built with num_classes=0.
    num_classes: action classes (60 on AVA).
    head: 'linear' or 'acar'.
    context_maps: how many of the last entries of the backbone's aux['feature_maps'] the
      head reads, averaged over time and concatenated: SlowFast's 2 pathways (slow, fast),
      1 for a single-pathway backbone (its last stage).
    head_config: the head's own settings (ACARHead's reduce_dim, hidden_dim, depth,
      kernel_size, mlp_1x1, dropout_rate, roi_spatial; LinearHead's dropout_rate,
      roi_spatial).
  """

  backbone: Mapping[str, Any]
  num_classes: int
  head: str = 'acar'
  context_maps: int = 2
  head_config: Mapping[str, Any] | None = None

  @property
  def input_keys(self) -> tuple[str, ...]:
    keys = ('video', 'boxes', 'box_mask')
    return (*keys, 'bank', 'bank_mask') if self.head == 'acfb' else keys

  def __post_init__(self):
    if self.head not in HEADS:
      raise ValueError(f'head={self.head!r}; allowed values: {HEADS}.')
    if 'model_name' not in self.backbone:
      raise ValueError('backbone needs model_name (a module of vidjax.models).')
    super().__post_init__()

  @nn.compact
  def __call__(self, x: Mapping[str, jax.Array], *, train: bool) -> tuple[jax.Array, dict]:
    kwargs = dict(self.backbone)
    module = configs.load_module('models', kwargs.pop('model_name'), 'config.model.backbone')
    _, aux = module.Model(num_classes=0, **kwargs, name='backbone')(x['video'], train=train)
    if 'feature_maps' not in aux:
      raise ValueError(
        f'config.model.backbone: {module.__name__} gives no aux["feature_maps"]; use a zoo '
        'model that does (slowfast, video_resnet, csn).'
      )
    pathways = tuple(aux['feature_maps'])[-self.context_maps :]
    boxes = jnp.asarray(x['boxes'], jnp.float32)
    head_config = dict(self.head_config or {})
    if self.head == 'acfb':
      head_config.setdefault('bank_layers', 2)
    if self.head == 'linear':
      logits = LinearHead(self.num_classes, **head_config, name='head')(
        pathways, boxes, train=train
      )
      return jnp.asarray(logits, jnp.float32), {'features': aux['features']}
    mask = jnp.asarray(x['box_mask']) > 0
    bank = (x['bank'], jnp.asarray(x['bank_mask']) > 0) if self.head == 'acfb' else None
    logits, actor_context = ACARHead(self.num_classes, **head_config, name='head')(
      pathways, boxes, mask, bank, train=train
    )
    aux = {'features': aux['features'], 'actor_context': actor_context}
    return jnp.asarray(logits, jnp.float32), aux
