"""SCSampler's saliency-ranking objective (Korbar, Tran & Torresani, ICCV 2019, arXiv
1904.04289): the sampler learns to order the clips of a video as the heavy classifier's
confidence in the video's class orders them.

A clip classifier trained on the video's label (the `classification` task) only learns
which class a clip shows; SCSampler's ranking objective trains the sampler on what the
evaluation needs, which of a video's clips the heavy classifier gets right. Each training
example is two clips of one video (the `two_clips` sampler). The heavy classifier, a task
constant read from another run's checkpoint (`classifier_config`, `classifier_checkpoint`),
gives each clip its probability p of the video's class; the sampler gives each a saliency
score s, and the pair's hinge loss is

  max(0, margin - sign(p_1 - p_2) (s_1 - s_2)),

zero for a pair the classifier scores equally. `loss='combined'` adds the sampler's own
classification loss (softmax cross-entropy of both clips on the video's label, weighted 1
against `ranking_weight`): the model then has the classifier's classes plus one output,
the saliency, a linear head each on the same features. `loss='ranking'`: the model has
one output, the saliency. [unverified: the paper's margin, the weight of the combination,
and whether its ground-truth saliency is the classifier's probability of the true class or
its loss; docs/scsampler.md.]

The batch is at the heavy classifier's input (config.input's sampling and pp are the
classifier's, as experiments/scsampler/synthetic.py copies them); the sampler sees the
same clips resized to `sampler_size` pixels, so that its cost is its own. The
`scsampler` evaluator ranks test clips by `predict`'s 'saliency'.

Metrics: 'loss', 'ranking_loss', 'ranking_accuracy' (pairs the sampler orders as the
classifier does), 'classifier_top1' (the classifier on the training clips), and with
`combined` 'classification_loss' and 'top1' (the sampler's own).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import linen as nn

from vidjax import checkpoint, configs, models
from vidjax.data import pipeline
from vidjax.tasks import base

LOSSES = ('ranking', 'combined')


def classifier_model(classifier_config: ml_collections.ConfigDict) -> nn.Module:
  """The heavy classifier's model, from its experiment's config."""
  return configs.load_module('models', classifier_config.model_name).Model(
    **classifier_config.model
  )


def restore_classifier(
  model: nn.Module, classifier_config: ml_collections.ConfigDict, step_dir: str, *, flag: str
) -> dict:
  """The heavy classifier's variables from a step directory of its run's checkpoints,
  shaped by its experiment's input."""
  shapes = pipeline.input_shapes(classifier_config.input)
  clip = models.model_inputs(model, {k: jnp.zeros((1, *s), jnp.float32) for k, s in shapes.items()})
  like = jax.eval_shape(lambda: model.init(jax.random.key(0), clip, train=False))
  return checkpoint.restore_variables(step_dir, like, flag=flag)


def ranking_loss(
  saliency: jax.Array, confidence: jax.Array, margin: float
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The hinge loss of pairs of clips [B, 2] ordered by `confidence`.

  Returns (loss per pair [B], whether the sampler orders the pair as `confidence` does
  [B], whether the pair counts [B]: False where the confidences are equal)."""
  order = jnp.sign(confidence[:, 0] - confidence[:, 1])
  difference = saliency[:, 0] - saliency[:, 1]
  counted = order != 0
  loss = jnp.where(counted, jax.nn.relu(margin - order * difference), 0.0)
  return loss, (order * difference > 0), counted


class Task(base.Task):
  """The sampler trained to rank a video's clips by the heavy classifier's confidence."""

  batch_keys = ('video', 'label')

  def __init__(
    self,
    *,
    classifier_config: str,
    classifier_checkpoint: str,
    loss: str = 'combined',
    margin: float = 1.0,
    ranking_weight: float = 1.0,
    sampler_size: int = 0,
  ):
    """See the module docstring.

    Args:
      classifier_config: the heavy classifier's experiment file, 'path.py[:arg]'.
      classifier_checkpoint: its step directory (WORKDIR/checkpoints/STEP).
      loss: 'ranking' (the hinge alone) or 'combined' (plus the sampler's classification).
      margin: the hinge's margin.
      ranking_weight: the hinge's weight against the classification loss.
      sampler_size: the sampler's input size in pixels (bilinear resize of the batch's
        clips); 0: the batch's own.
    """
    if not classifier_config or not classifier_checkpoint:
      raise ValueError(
        "config.task_kwargs: set classifier_config (the heavy classifier's experiment "
        'file, e.g. experiments/quickstart.py) and classifier_checkpoint (its '
        'WORKDIR/checkpoints/STEP).'
      )
    if loss not in LOSSES:
      raise ValueError(f'config.task_kwargs.loss={loss!r}: one of {LOSSES}.')
    if margin <= 0 or ranking_weight <= 0 or sampler_size < 0:
      raise ValueError(
        'config.task_kwargs: margin and ranking_weight must be > 0, sampler_size >= 0.'
      )
    self.classifier_config = configs.load_config_file(classifier_config)
    self.classifier_checkpoint = classifier_checkpoint
    self.classifier = classifier_model(self.classifier_config)
    self.num_classes = self.classifier_config.model['num_classes']
    self.loss = loss
    self.margin = margin
    self.ranking_weight = ranking_weight
    self.sampler_size = sampler_size

  def constants(self) -> dict:
    """{'classifier': the heavy classifier's variables}, read from its checkpoint."""
    variables = restore_classifier(
      self.classifier,
      self.classifier_config,
      self.classifier_checkpoint,
      flag='config.task_kwargs.classifier_checkpoint',
    )
    return {'classifier': variables}

  def sampler_clips(self, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """The batch as the sampler sees it: its clips resized to `sampler_size`."""
    video = batch['video']
    size = self.sampler_size
    if not size or video.shape[-3:-1] == (size, size):
      return batch
    return dict(
      batch, video=jax.image.resize(video, (*video.shape[:-3], size, size, 3), 'bilinear')
    )

  def _outputs(self, outputs: jax.Array) -> tuple[jax.Array, jax.Array | None]:
    """(saliency [N], class logits [N, C] or None) from the model's output."""
    width = 1 if self.loss == 'ranking' else self.num_classes + 1
    if outputs.ndim != 2 or outputs.shape[-1] != width:
      raise ValueError(
        f"loss={self.loss!r} needs a sampler with {width} outputs (the classifier's "
        f'{self.num_classes} classes plus the saliency with combined, the saliency alone '
        f'with ranking): set config.model.num_classes={width}; the model gave '
        f'{outputs.shape}.'
      )
    outputs = outputs.astype(jnp.float32)
    if self.loss == 'ranking':
      return outputs[:, 0], None
    return outputs[:, -1], outputs[:, :-1]

  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    video = batch['video']
    if video.ndim != 6 or video.shape[1] != 2:
      raise ValueError(
        f'The scsampler task trains on pairs of clips of a video, video [B, 2, T, H, W, 3]; '
        f"got {video.shape}. Set config.input.sampling.mode='two_clips'."
      )
    pairs = video.shape[0]
    clips = {
      key: batch[key].reshape(-1, *batch[key].shape[2:])
      for key in ('video', 'audio', 'flow')
      if key in batch
    }
    labels = jnp.repeat(batch['label'], 2)
    classifier_logits, _ = self.classifier.apply(
      ctx.constants['classifier'], models.model_inputs(self.classifier, clips), train=False
    )
    probs = jax.lax.stop_gradient(jax.nn.softmax(classifier_logits.astype(jnp.float32)))
    confidence = jnp.take_along_axis(probs, labels[:, None], axis=-1)[:, 0]
    (outputs, _), model_state = self.apply(model, variables, self.sampler_clips(clips), ctx)
    saliency, logits = self._outputs(outputs)
    hinge, ordered, counted = ranking_loss(
      saliency.reshape(pairs, 2), confidence.reshape(pairs, 2), self.margin
    )
    num_counted = jnp.maximum(counted.sum(), 1)
    metrics = {
      'ranking_loss': hinge.sum() / num_counted,
      'ranking_accuracy': jnp.sum(ordered & counted) / num_counted,
      'classifier_top1': jnp.mean(probs.argmax(-1) == labels),
    }
    loss = self.ranking_weight * metrics['ranking_loss']
    if logits is not None:
      metrics['classification_loss'] = optax.softmax_cross_entropy_with_integer_labels(
        logits, labels
      ).mean()
      metrics['top1'] = jnp.mean(logits.argmax(-1) == labels)
      loss = loss + metrics['classification_loss']
    metrics['loss'] = loss
    return loss, (model_state, metrics)

  def predict(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> dict[str, jax.Array]:
    """'saliency' [N] of each clip and, with `combined`, the sampler's class 'logits'."""
    (outputs, aux), _ = self.apply(model, variables, self.sampler_clips(batch), ctx)
    saliency, logits = self._outputs(outputs)
    predictions = {'saliency': saliency, **{f'aux/{name}': value for name, value in aux.items()}}
    if logits is not None:
      predictions['logits'] = logits
    return predictions
