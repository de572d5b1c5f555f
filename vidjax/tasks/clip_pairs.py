"""Binary pretext tasks: pairs of clips of one moment (SpeedNet, Arrow of Time) and, on
the same binary head, Shuffle & Learn's frame tuples (`BinaryFieldTask`).

The pair samplers give every training example two versions of the same frames, video
[B, 2, T, h, w, 3], and a field [B, 2] that says which version is which: normal or sped up
(`speed` sampler), forward or reversed (`arrow` sampler). Both clips of every pair go into
one batch of 2B clips ("same-batch training", SpeedNet's term): every batch is balanced,
and what a moment shows cannot be the cue, only how it moves. The model has one output,
the logit of the field being 1, trained with the binary cross-entropy (`num_classes=1`).

`predict` scores each view on its own ('aux/<name>/accuracy': whether the view was judged
right, 'aux/<name>/loss': its loss), so that the `pretext` evaluator's mean over the views
of a video (the samplers' test views are pairs) is that video's accuracy; the logit itself
is 'aux/<name>_logit'.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from vidjax.tasks import base


def single_logit(outputs: jax.Array) -> jax.Array:
  """The logit [N] from the model's [N, 1] output, checked."""
  if outputs.ndim != 2 or outputs.shape[-1] != 1:
    raise ValueError(
      f'A binary pretext task needs a model with one output (config.model.num_classes=1); '
      f'it gave shape {outputs.shape}.'
    )
  return outputs[:, 0].astype(jnp.float32)


def binary_scores(logits: jax.Array, labels: jax.Array) -> dict[str, jax.Array]:
  """Per clip: the binary cross-entropy and whether the sign of the logit is right."""
  return {
    'loss': optax.sigmoid_binary_cross_entropy(logits, labels.astype(jnp.float32)),
    'accuracy': ((logits > 0) == (labels > 0)).astype(jnp.float32),
  }


class BinaryFieldTask(base.Task):
  """Binary classification of clips by the sampler's field `label` (0 or 1).

  Subclasses name the field (`label`), the metrics' prefix (`name`) and the names of the
  two values (`kinds`, for 0 and 1), and may override `model_clips`.
  """

  label: str
  name: str
  kinds: tuple[str, str]

  @property
  def batch_keys(self) -> tuple[str, ...]:
    return ('video', self.label)

  def model_clips(self, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """The clips the model scores in training, one per entry of the flattened field."""
    return batch

  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    labels = batch[self.label].reshape(-1)
    (outputs, _), model_state = self.apply(model, variables, self.model_clips(batch), ctx)
    scores = binary_scores(single_logit(outputs), labels)
    metrics = {'loss': scores['loss'].mean(), 'accuracy': scores['accuracy'].mean()}
    for value, kind in enumerate(self.kinds):
      chosen = labels == value
      metrics[f'accuracy/{kind}'] = jnp.sum(scores['accuracy'] * chosen) / jnp.maximum(
        chosen.sum(), 1
      )
    return metrics['loss'], (model_state, metrics)

  def predict(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> dict[str, jax.Array]:
    """Per view: 'aux/<name>_logit' and, where the batch has the label field ([B, V],
    flattened to the views), 'aux/<name>/accuracy' and 'aux/<name>/loss'; plus the model's
    own outputs."""
    predictions = super().predict(model, variables, batch, ctx)
    logits = single_logit(predictions['logits'])
    predictions[f'aux/{self.name}_logit'] = logits
    if self.label in batch:
      scores = binary_scores(logits, batch[self.label].reshape(-1))
      predictions.update({f'aux/{self.name}/{key}': value for key, value in scores.items()})
    return predictions


class PairedClipsTask(BinaryFieldTask):
  """`BinaryFieldTask` on pairs of clips, both of every pair in one batch; `sampler` names
  the sampler mode that makes the pairs."""

  sampler: str

  def model_clips(self, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    video = batch['video']
    if video.ndim != 6:
      raise ValueError(
        f'{type(self).__module__} trains on pairs of clips, video [B, 2, T, H, W, 3]; got '
        f"{video.shape}. Set config.input.sampling.mode='{self.sampler}'."
      )
    return {'video': video.reshape(-1, *video.shape[2:])}
