"""Spatio-temporal action localization: multi-label actions of every actor box (AVA, ACAR).

Each example is a keyframe's clip with its actors' boxes and multi-hot labels
(`data/loaders/keyframe.py`); the model (`models/ava.py`) gives logits [B, N, C] of every
actor slot. The loss is ACAR-Net's (`losses.py`, `pose_softmax: True`): a softmax over the
first `pose_classes` classes (mutually exclusive: AVA's 13 PERSON_MOVEMENT classes) and a
sigmoid over the rest, the probabilities clamped to [0, 1] and scored by the binary cross
entropy against the multi-hot targets (torch's `F.binary_cross_entropy`, its logarithms
floored at -100). The same probabilities are the test scores. pose_classes=0 is the plain
sigmoid loss of PySlowFast's AVA models.

The official code averages the cross entropy over every actor and class of a GPU's batch
(one clip per GPU in the paper) and the GPUs' gradients are averaged: a mean over clips of
each clip's mean. Here padded actor slots are masked out and clips without an actor left
out of the mean, so the loss does not depend on the padding or on how many clips share a
device. With several input sources (AVA and AVA-Kinetics: `config.input.sources`), their
keyframes are one batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from vidjax.tasks import base

# torch's binary_cross_entropy clamps its log terms at -100 and the denominator of its
# gradient at 1e-12.
LOG_FLOOR = -100.0
GRAD_EPSILON = 1e-12


def action_probabilities(logits: jax.Array, pose_classes: int) -> jax.Array:
  """[..., C] logits -> probabilities: softmax over the first `pose_classes`, sigmoid over
  the rest, clamped to [0, 1] (ACAR's `ava_pose_softmax_func`)."""
  rest = jax.nn.sigmoid(logits[..., pose_classes:])
  if pose_classes:
    rest = jnp.concatenate([jax.nn.softmax(logits[..., :pose_classes], axis=-1), rest], -1)
  return jnp.clip(rest, 0.0, 1.0)


@jax.custom_vjp
def binary_cross_entropy(probabilities: jax.Array, targets: jax.Array) -> jax.Array:
  """Elementwise, as torch's `F.binary_cross_entropy`: log terms floored at -100, and its
  gradient (p - y) / max(p (1 - p), 1e-12), finite where a probability saturates at 0 or 1
  (where the floored logarithm's own gradient would be 0 * inf = NaN)."""
  log_p = jnp.maximum(jnp.log(probabilities), LOG_FLOOR)
  log_not_p = jnp.maximum(jnp.log1p(-probabilities), LOG_FLOOR)
  return -(targets * log_p + (1.0 - targets) * log_not_p)


def _bce_forward(probabilities, targets):
  return binary_cross_entropy(probabilities, targets), (probabilities, targets)


def _bce_backward(residuals, grad):
  p, y = residuals
  grad_p = grad * (p - y) / jnp.maximum(p * (1.0 - p), GRAD_EPSILON)
  return grad_p, grad * (jnp.log1p(-p) - jnp.log(p)).clip(-100.0, 100.0)


binary_cross_entropy.defvjp(_bce_forward, _bce_backward)


def clip_mean_loss(
  logits: jax.Array, targets: jax.Array, box_mask: jax.Array, pose_classes: int
) -> tuple[jax.Array, jax.Array]:
  """(the mean over clips with an actor of each clip's mean cross entropy over its actors
  and classes, how many clips had one); logits, targets [B, N, C], box_mask [B, N]."""
  losses = binary_cross_entropy(action_probabilities(logits, pose_classes), targets)
  mask = box_mask.astype(jnp.float32)
  actors = jnp.sum(mask, axis=1)
  per_clip = jnp.sum(losses.mean(-1) * mask, axis=1) / jnp.maximum(actors, 1.0)
  clips = jnp.sum(actors > 0)
  return jnp.sum(jnp.where(actors > 0, per_clip, 0.0)) / jnp.maximum(clips, 1), clips


class Task(base.Task):
  """ACAR's loss on every actor box of a keyframe clip; see the module docstring."""

  batch_keys = ('video', 'boxes', 'box_mask', 'label')

  def __init__(self, *, pose_classes: int = 13):
    """Args:
    pose_classes: the first classes that are mutually exclusive (softmax): 13 on AVA
      (PERSON_MOVEMENT); 0 for a sigmoid over every class.
    """
    if pose_classes < 0:
      raise ValueError(f'config.task_kwargs.pose_classes={pose_classes}: 0 or more.')
    self.pose_classes = pose_classes

  def probabilities(self, logits: jax.Array) -> jax.Array:
    return action_probabilities(logits, self.pose_classes)

  @staticmethod
  def merged(batch: dict) -> dict[str, jax.Array]:
    """One batch of keyframes from several sources' (`config.input.sources`, e.g. AVA and
    AVA-Kinetics), concatenated; a single source's batch as it is."""
    if 'box_mask' in batch:
      return batch
    sources = [batch[name] for name in sorted(batch)]
    keys = set.intersection(*(set(source) for source in sources))
    return {key: jnp.concatenate([source[key] for source in sources]) for key in sorted(keys)}

  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    batch = self.merged(batch)
    (logits, _), model_state = self.apply(model, variables, batch, ctx)
    box_mask = batch['box_mask'] > 0
    loss, clips = clip_mean_loss(logits, batch['label'], box_mask, self.pose_classes)
    actors = jnp.sum(box_mask.astype(jnp.float32))
    metrics = {'loss': loss, 'actors_per_clip': actors / jnp.maximum(clips, 1)}
    if self.pose_classes:
      # Top-1 of the exclusive group, over the actors that have one of its labels.
      pose = batch['label'][..., : self.pose_classes]
      labelled = box_mask & (pose.sum(-1) > 0)
      hit = jnp.take_along_axis(pose, logits[..., : self.pose_classes].argmax(-1)[..., None], -1)
      correct = jnp.sum(hit[..., 0] * labelled)
      metrics['pose_top1'] = 100.0 * correct / jnp.maximum(jnp.sum(labelled), 1)
    return loss, (model_state, metrics)

  def predict(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> dict[str, jax.Array]:
    """Besides the base outputs, 'scores': the action probabilities [B, N, C]."""
    outputs = super().predict(model, variables, batch, ctx)
    return {**outputs, 'scores': self.probabilities(outputs['logits'])}
