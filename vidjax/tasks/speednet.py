"""SpeedNet: is this clip at normal speed or sped up? (Benaim et al., arXiv 2004.06130)

The `speed` sampler gives every training example a pair of clips of the same moment,
video [B, 2, T, h, w, 3] with 'sped_up' [B, 2] = (0, 1); both go into one batch of 2B
clips ("same-batch training"), so that every batch is balanced and the content of a
moment cannot be the cue. The model has one output, the logit of "sped up", trained with
the binary cross-entropy (`num_classes=1`; S3D-G in the paper).

`predict` scores each view on its own ('aux/speed/accuracy': whether the view was judged
right, 'aux/speed/loss': its loss), so that the `pretext` evaluator's mean over the views of a video
(the speed sampler's test views are pairs) is that video's accuracy. The speediness of a
clip is the sigmoid of the same logit ('aux/speed_logit').
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from vidjax.tasks import base


def speed_logits(outputs: jax.Array) -> jax.Array:
  """The "sped up" logit [N] from the model's [N, 1] output, checked."""
  if outputs.ndim != 2 or outputs.shape[-1] != 1:
    raise ValueError(
      f'SpeedNet needs a model with one output (config.model.num_classes=1); it gave '
      f'shape {outputs.shape}.'
    )
  return outputs[:, 0].astype(jnp.float32)


def speed_scores(logits: jax.Array, sped_up: jax.Array) -> dict[str, jax.Array]:
  """Per clip: the binary cross-entropy and whether the sign of the logit is right."""
  labels = sped_up.astype(jnp.float32)
  return {
    'loss': optax.sigmoid_binary_cross_entropy(logits, labels),
    'accuracy': ((logits > 0) == (sped_up > 0)).astype(jnp.float32),
  }


class Task(base.Task):
  """Binary speed classification of clip pairs (normal, sped up)."""

  batch_keys = ('video', 'sped_up')

  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    video = batch['video']
    if video.ndim != 6:
      raise ValueError(
        f'SpeedNet trains on pairs of clips, video [B, 2, T, H, W, 3]; got {video.shape}. '
        "Set config.input.sampling.mode='speed'."
      )
    clips = {'video': video.reshape(-1, *video.shape[2:])}
    sped_up = batch['sped_up'].reshape(-1)
    (outputs, _), model_state = self.apply(model, variables, clips, ctx)
    scores = speed_scores(speed_logits(outputs), sped_up)
    normal = sped_up == 0
    metrics = {
      'loss': scores['loss'].mean(),
      'accuracy': scores['accuracy'].mean(),
      'accuracy/normal': jnp.sum(scores['accuracy'] * normal) / jnp.maximum(normal.sum(), 1),
      'accuracy/sped_up': jnp.sum(scores['accuracy'] * ~normal) / jnp.maximum((~normal).sum(), 1),
    }
    return metrics['loss'], (model_state, metrics)

  def predict(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> dict[str, jax.Array]:
    """Per view: 'aux/speed_logit' and, where the batch has 'sped_up' (the speed
    sampler's test pairs, [B, V], flattened to the views), 'aux/speed/accuracy' and
    'aux/speed/loss'; plus the model's own outputs."""
    predictions = super().predict(model, variables, batch, ctx)
    logits = speed_logits(predictions['logits'])
    predictions['aux/speed_logit'] = logits
    if 'sped_up' in batch:
      scores = speed_scores(logits, batch['sped_up'].reshape(-1))
      predictions.update({f'aux/speed/{name}': value for name, value in scores.items()})
    return predictions
