"""Supervised classification: softmax cross-entropy (with label smoothing) or sigmoid.

Batch keys: 'video' (float, normalised) and 'label': int [B] for softmax, multi-hot
float [B, K] when `multi_label` (IG-65M-style hashtag / multi-label training).
With `frame_level_loss` the loss is taken on every frame's logits (aux['frame_logits'])
instead of the clip's: this is how the single-frame baseline of Karpathy et al. is trained
(each frame an independent example), while its clip logits average probabilities.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

BATCH_KEYS = ('video', 'label')


def _softmax_loss(logits: jax.Array, labels: jax.Array, label_smoothing: float) -> jax.Array:
  num_classes = logits.shape[-1]
  targets = optax.smooth_labels(jax.nn.one_hot(labels, num_classes), label_smoothing)
  return optax.softmax_cross_entropy(logits, targets)


class Task:
  """Loss and metrics of a classification model."""

  batch_keys = BATCH_KEYS

  def __init__(self, *, label_smoothing: float, multi_label: bool, frame_level_loss: bool):
    self.label_smoothing = label_smoothing
    self.multi_label = multi_label
    self.frame_level_loss = frame_level_loss

  def loss_and_metrics(
    self,
    model: nn.Module,
    variables: dict,
    batch: dict[str, jax.Array],
    rngs: dict[str, jax.Array],
    train: bool,
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    """Returns (loss, (updated model state, metrics)); metrics are batch means."""
    if train:
      (logits, aux), model_state = model.apply(
        variables, batch['video'], train=True, rngs=rngs, mutable=['batch_stats']
      )
    else:
      (logits, aux), model_state = model.apply(variables, batch['video'], train=False), {}
    labels = batch['label']
    if self.multi_label:
      loss = optax.sigmoid_binary_cross_entropy(logits, labels).sum(-1)
      correct = jnp.take_along_axis(labels, logits.argmax(-1)[:, None], axis=-1)[:, 0] > 0
    elif self.frame_level_loss:
      frame_logits = aux['frame_logits']
      frame_labels = jnp.broadcast_to(labels[:, None], frame_logits.shape[:2])
      loss = _softmax_loss(frame_logits, frame_labels, self.label_smoothing).mean(-1)
      correct = logits.argmax(-1) == labels
    else:
      loss = _softmax_loss(logits, labels, self.label_smoothing)
      correct = logits.argmax(-1) == labels
    metrics = {'loss': loss.mean(), 'top1': correct.mean()}
    return loss.mean(), (model_state, metrics)
