"""Late fusion of modality towers with a head per modality and a fused head (VMZ's AV nets).

As VMZ's `audio_visual_model.py` (`create_av_resnet` with `g_blend=True`): every modality
has its own tower (any zoo model built with `num_classes=0`: a video backbone for RGB or
flow, `audio_resnet` for log-mel), the pooled features are concatenated, and the fused
head is VMZ's: a linear layer to half the concatenated width, ReLU, a linear layer of that
width, ReLU, the classifier (`fused_head='mlp'`; 'linear' is a single layer). Each
modality also has a linear head on its own features, as Gradient Blending trains them
(arXiv 1905.12681, Fig. 3).

config.model = dict(
    towers=dict(video=dict(model_name='video_resnet', depth=18, block='r2plus1d'),
                audio=dict(model_name='audio_resnet', depth=18)),
    num_classes=400)

The model reads the batch keys named by `towers` (each tower's input). Its output is the
fused head's logits; aux has 'logits/<modality>' and 'logits/fused' for every head,
'features/<modality>' and 'features' (the concatenation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax import configs
from vidjax.models import heads


def tower(modality: str, tower_config: Mapping[str, Any]) -> nn.Module:
  """The backbone of one modality: `tower_config['model_name']`'s zoo model with the
  rest of `tower_config` and num_classes=0 (pooled features), named '<modality>_tower'."""
  kwargs = dict(tower_config)
  if 'model_name' not in kwargs:
    raise ValueError(f'towers.{modality} needs model_name (a module of vidjax.models).')
  flag = f'config.model.towers.{modality}.model_name'
  module = configs.load_module('models', kwargs.pop('model_name'), flag)
  return module.Model(num_classes=0, **kwargs, name=f'{modality}_tower')


FUSED_HEADS = ('mlp', 'linear')
FUSED = 'fused'

# The classifiers (for config.init_from.dont_load when fine-tuning).
CLASSIFIER = r'(fc_.*|fused_.*)/.*'


class Model(nn.Module):
  """Modality towers, late fusion by concatenation, per-modality and fused heads.

  Attributes:
    towers: {modality (a batch key): dict(model_name=<zoo module>, **its kwargs)}.
    num_classes: classes of every head.
    fused_head: 'mlp' (VMZ's) or 'linear'.
    dropout_rate: before every head.
    dtype: computation dtype name of the heads (each tower takes its own `dtype`).
  """

  towers: Mapping[str, Mapping[str, Any]]
  num_classes: int
  fused_head: str = 'mlp'
  dropout_rate: float = 0.0
  dtype: Any = 'float32'

  def __post_init__(self):
    if self.fused_head not in FUSED_HEADS:
      raise ValueError(f'fused_head={self.fused_head!r}; allowed values: {FUSED_HEADS}.')
    if len(self.towers) < 2 or FUSED in self.towers:
      raise ValueError(
        f'towers={sorted(self.towers)}: give two or more modalities (batch keys such as '
        f"'video', 'flow', 'audio'); {FUSED!r} names the fused head."
      )
    for modality, tower_config in self.towers.items():
      if 'model_name' not in tower_config:
        raise ValueError(f'towers.{modality} needs model_name (a module of vidjax.models).')
    super().__post_init__()

  @property
  def input_keys(self) -> tuple[str, ...]:
    return tuple(sorted(self.towers))

  @nn.compact
  def __call__(
    self, inputs: Mapping[str, jax.Array], *, train: bool
  ) -> tuple[jax.Array, dict[str, Any]]:
    """{modality: input} -> (fused logits [B, K], aux with every head's logits)."""
    dtype = jnp.dtype(self.dtype)
    aux, features = {}, []
    for modality in self.input_keys:
      pooled, _ = tower(modality, self.towers[modality])(inputs[modality], train=train)
      aux[f'features/{modality}'] = pooled
      aux[f'logits/{modality}'], _ = self._head(pooled, f'fc_{modality}', train, dtype)
      features.append(pooled)
    fused = jnp.concatenate(features, axis=-1)
    hidden = fused
    if self.fused_head == 'mlp':
      width = fused.shape[-1] // 2
      for index in (1, 2):
        hidden = nn.relu(nn.Dense(width, dtype=dtype, name=f'fused_fc{index}')(hidden))
    logits, _ = self._head(hidden, 'fused_out', train, dtype)
    aux.update({f'logits/{FUSED}': logits, 'features': fused})
    return logits, aux

  def _head(self, features, name, train, dtype):
    return heads.classifier_output(
      features,
      {},
      num_classes=self.num_classes,
      dropout_rate=self.dropout_rate,
      train=train,
      name=name,
      dtype=dtype,
    )
