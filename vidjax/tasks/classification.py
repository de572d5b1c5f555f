"""Supervised classification: softmax cross-entropy (with label smoothing) or sigmoid.

Batch keys: the model's inputs ('video', float, normalised; multi-modal models name theirs,
see `vidjax.models.model_inputs`) and 'label': int [B] for softmax, multi-hot
float [B, K] when `multi_label` (IG-65M-style hashtag / multi-label training).
A batch mixed by Mixup / CutMix (`vidjax.data.augment.mix_batch`) also has 'mix_label'
(the partner clip's label) and 'mix_weight' float [B] (the share of the clip's own label):
the targets are then soft, and top1 is still measured against 'label'.
With `frame_level_loss` the loss is taken on every frame's logits (aux['frame_logits'])
instead of the clip's: this is how the single-frame baseline of Karpathy et al. is trained
(each frame an independent example), while its clip logits average probabilities.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from vidjax.tasks import base

BATCH_KEYS = ('video', 'label')


def targets(batch: dict[str, jax.Array], num_classes: int, multi_label: bool) -> jax.Array:
  """Float targets [B, K]: the one-hot (or multi-hot) label, mixed with 'mix_label' by
  'mix_weight' when the batch carries them."""

  def encode(labels: jax.Array) -> jax.Array:
    return labels.astype(jnp.float32) if multi_label else jax.nn.one_hot(labels, num_classes)

  result = encode(batch['label'])
  if 'mix_weight' in batch:
    weight = batch['mix_weight'][:, None]
    result = weight * result + (1.0 - weight) * encode(batch['mix_label'])
  return result


class Task(base.Task):
  """Loss and metrics of a classification model."""

  batch_keys = BATCH_KEYS
  reads_mixed_labels = True  # see `targets`

  def __init__(self, *, label_smoothing: float, multi_label: bool, frame_level_loss: bool):
    self.label_smoothing = label_smoothing
    self.multi_label = multi_label
    self.frame_level_loss = frame_level_loss

  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    """Returns (loss, (updated model state, metrics)); metrics are batch means."""
    (logits, aux), model_state = self.apply(model, variables, batch, ctx)
    labels = batch['label']
    soft = targets(batch, logits.shape[-1], self.multi_label)
    if self.multi_label:
      loss = optax.sigmoid_binary_cross_entropy(logits, soft).sum(-1)
      correct = jnp.take_along_axis(labels, logits.argmax(-1)[:, None], axis=-1)[:, 0] > 0
    else:
      # Smoothing is linear in the targets, so smoothing a mix equals mixing smoothed
      # labels (timm's order).
      soft = optax.smooth_labels(soft, self.label_smoothing)
      if self.frame_level_loss:
        frame_logits = aux['frame_logits']
        frame_targets = jnp.broadcast_to(soft[:, None], frame_logits.shape)
        loss = optax.softmax_cross_entropy(frame_logits, frame_targets).mean(-1)
      else:
        loss = optax.softmax_cross_entropy(logits, soft)
      correct = logits.argmax(-1) == labels
    metrics = {'loss': loss.mean(), 'top1': correct.mean()}
    return loss.mean(), (model_state, metrics)
