"""AVTS's two-stream network: a video tower and an audio tower, each to an embedding.

Audio-visual temporal synchronisation (Korbar, Tran & Torresani, arXiv 1807.00230) trains
a video network and an audio network so that the embeddings of a clip and of the sound
under it are close and those of a clip and a sound from another video, or from another
moment of the same video, are at least a margin apart (`tasks/avts.py`). The paper's video
network is an MC3 (3D convolutions in the first stages, 2D after: `video_resnet` with
block='mc3'); its audio network a small convolutional network on a log-mel spectrogram
(here VMZ's `audio_resnet`, the tower that Gradient Blending uses too). Each tower's pooled
features go through a linear layer to `embed_dim`, a BatchNorm without scale or offset,
and an L2 normalisation. The normalisation puts the margin on a fixed scale (distances lie
in [0, 2]); the BatchNorm keeps every dimension's spread over the batch at one, so the
embeddings cannot all collapse to one point, the trivial minimum of the contrastive loss
(all distances at margin / 2). Without it, the towers' pooled ReLU features share one
dominant direction and training on the embedded data reached that minimum by step 50 and
stayed there (docs/avts.md). Both are this implementation's choices, not the paper's.

config.model = dict(
    towers=dict(video=dict(model_name='video_resnet', depth=18, block='mc3'),
                audio=dict(model_name='audio_resnet', depth=18)),
    embed_dim=128)

The towers are built as in `models/multimodal.py`, with the same variable names
('video_tower/...', 'audio_tower/...'), so a pretrained tower loads into a classifier by a
rename (`experiments/avts/synthetic_finetune.py`). The model reads 'video' and 'audio'
(whose batch sizes may differ: the task embeds several sounds per clip at evaluation); its
output is the video embedding, and aux has 'embedding/<modality>' and
'features/<modality>' (the pooled tower output, e.g. for a linear probe).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import multimodal

MODALITIES = ('audio', 'video')

# The projections to the embedding and the sync classifier (for config.init_from.dont_load
# when fine-tuning).
CLASSIFIER = r'(embed_|sync_).*/.*'


class Model(nn.Module):
  """Video and audio towers with a linear embedding each.

  Attributes:
    towers: {'video': dict(model_name=..., ...), 'audio': dict(model_name=..., ...)}.
    embed_dim: width of the shared embedding space.
    embed_batch_norm: standardise each embedding dimension over the batch (BatchNorm
      without scale or offset) before the L2 normalisation.
    normalize: L2-normalise the embeddings.
    temporal_bins: 0 embeds each tower's globally pooled features; N > 0 pools each tower's
      last feature map over space (video) or frequency (audio) only, resamples its time axis
      to N bins and embeds the N bins' features together, so that the embedding can say
      when things happen in the clip, which is all that tells a clip's own sound from the
      same video's sound shifted in time.
    sync_classifier: also score every (clip, sound) pair with a classifier on the two
      embeddings concatenated (a hidden layer of `embed_dim`, then one in-sync logit:
      aux['sync_logit']), the paper's alternative to the contrastive loss. With k sounds
      per clip (an audio batch k times the video batch), sound j is paired with clip
      j mod B.
    dtype: computation dtype name of the projections (each tower takes its own `dtype`).
  """

  towers: Mapping[str, Mapping[str, Any]]
  embed_dim: int = 128
  embed_batch_norm: bool = True
  normalize: bool = True
  temporal_bins: int = 0
  sync_classifier: bool = False
  dtype: Any = 'float32'
  input_keys = MODALITIES

  def __post_init__(self):
    if sorted(self.towers) != list(MODALITIES):
      raise ValueError(f'towers={sorted(self.towers)}: AVTS has exactly the towers {MODALITIES}.')
    super().__post_init__()

  @nn.compact
  def __call__(
    self, inputs: Mapping[str, jax.Array], *, train: bool
  ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """{'video': [B, T, H, W, 3], 'audio': [B', frames, mels]} -> (video embedding [B, D],
    aux with both embeddings and both towers' pooled features)."""
    aux = {}
    for modality in MODALITIES:
      pooled, tower_aux = multimodal.tower(modality, self.towers[modality])(
        inputs[modality], train=train
      )
      embedded = pooled
      if self.temporal_bins:
        embedded = _time_bins(_last_feature_map(tower_aux, modality), self.temporal_bins)
      embedding = nn.Dense(self.embed_dim, dtype=jnp.dtype(self.dtype), name=f'embed_{modality}')(
        embedded
      )
      embedding = embedding.astype(jnp.float32)
      if self.embed_batch_norm:
        embedding = nn.BatchNorm(
          use_running_average=not train,
          use_bias=False,
          use_scale=False,
          name=f'embed_{modality}_bn',
        )(embedding)
      if self.normalize:
        embedding = embedding / jnp.maximum(
          jnp.linalg.norm(embedding, axis=-1, keepdims=True), 1e-6
        )
      aux[f'features/{modality}'] = pooled
      aux[f'embedding/{modality}'] = embedding
    if self.sync_classifier:
      video, audio = aux['embedding/video'], aux['embedding/audio']
      clips = jnp.tile(video, (len(audio) // len(video), 1))
      hidden = nn.Dense(self.embed_dim, name='sync_hidden')(jnp.concatenate([clips, audio], -1))
      aux['sync_logit'] = nn.Dense(1, name='sync_logit')(nn.relu(hidden))[:, 0]
    return aux['embedding/video'], aux


def _last_feature_map(tower_aux: Mapping[str, Any], modality: str) -> jax.Array:
  """A tower's last feature map, reduced to [B, time, C]: the mean over space of a video
  tower's last stage, the max over frequency of an audio tower's (as each tower pools)."""
  if 'feature_maps' in tower_aux:
    return jnp.mean(tower_aux['feature_maps'][-1], axis=(2, 3))
  if 'feature_map' in tower_aux:
    return jnp.max(tower_aux['feature_map'], axis=2)
  raise ValueError(
    f'config.model.temporal_bins needs the {modality} tower to return its feature maps '
    "(aux 'feature_maps' or 'feature_map'); use a zoo model that does, or temporal_bins=0."
  )


def _time_bins(features: jax.Array, bins: int) -> jax.Array:
  """[B, time, C] -> [B, bins * C]: the time axis resampled (linearly, anti-aliased) to
  `bins` steps, then flattened, so that each bin keeps its own weights in the embedding."""
  batch, _, channels = features.shape
  resampled = jax.image.resize(features, (batch, bins, channels), method='linear')
  return resampled.reshape(batch, bins * channels)
