"""Joint image/video classification (UniDual, arXiv 1906.03857): one step, several tasks.

The input is either one source (a flat batch with 'video' or 'image', as the separate
baselines and the phases of pretrain-then-fine-tune read it) or several sources
(config.input.sources, e.g. {'video': Kinetics clips, 'image': ImageNet images}, each with
its own batch size and augmentation). Each source's batch holds one modality and its
task's 'label'; the model (`vidjax.models.unidual`) classifies each modality with its own
head, and the loss is

  sum over sources s of  loss_weights[s] * keep_s * mean cross-entropy of s,

where keep_s is 1, or, with `source_probabilities[s] = p`, a per-step Bernoulli(p) draw
(stream 'sources', so a resumed run draws the same): the optional per-step sampling ratio
on top of the image:video mix set by the two batch sizes. A dropped source's batch is still
computed (the step is compiled for fixed shapes), so the ratio controls the mix, not the
cost. Metrics: 'loss' and, per source, '<s>_loss' and '<s>_top1'.

Evaluators score one modality at a time: `predict` gives 'logits' (the head of the
modality in the batch) and 'logits/<modality>'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from vidjax.data import pipeline
from vidjax.models import unidual
from vidjax.tasks import base


def _modality(batch: Mapping[str, Any], where: str) -> str:
  present = [m for m in unidual.MODALITIES if m in batch]
  if len(present) != 1:
    raise ValueError(
      f'{where}: a UniDual source holds exactly one of {unidual.MODALITIES}; it has '
      f'{sorted(batch)}. Give each modality its own source in config.input.sources.'
    )
  return present[0]


class Task(base.Task):
  """Summed per-task cross-entropies of a multi-modality model, per-task metrics."""

  batch_keys = ('video', 'image', 'label')
  rng_names = ('sources',)

  def __init__(
    self,
    *,
    loss_weights: Mapping[str, float] | None = None,
    source_probabilities: Mapping[str, float] | None = None,
    label_smoothing: float = 0.0,
  ):
    """Args:
    loss_weights: {source name: weight}; a source not named has weight 1.
    source_probabilities: {source name: p}: the source's loss is counted at a step with
      probability p (default 1 for every source).
    label_smoothing: of every task's targets.
    """
    self.loss_weights = dict(loss_weights or {})
    self.source_probabilities = dict(source_probabilities or {})
    for name, p in self.source_probabilities.items():
      if not 0.0 < p <= 1.0:
        raise ValueError(f'config.task_kwargs.source_probabilities.{name}={p}: give 0 < p <= 1.')
    self.label_smoothing = label_smoothing

  def _sources(self, batch: dict[str, Any]) -> dict[str, dict[str, jax.Array]]:
    """{source name: batch}; a single-source batch is named by its modality."""
    if 'label' in batch:
      return {_modality(batch, 'config.input'): batch}
    return batch

  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, Any], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    sources = self._sources(batch)
    unknown = sorted((set(self.loss_weights) | set(self.source_probabilities)) - set(sources))
    if unknown:
      raise ValueError(
        f'config.task_kwargs names sources {unknown}; the input has {sorted(sources)}.'
      )
    modalities = {name: _modality(b, f'config.input.sources.{name}') for name, b in sources.items()}
    if len(set(modalities.values())) != len(modalities):
      raise ValueError(
        f'config.input.sources {modalities}: each modality may come from one source only.'
      )
    inputs = {modalities[name]: b[modalities[name]] for name, b in sources.items()}
    (logits, _), model_state = self.apply(model, variables, inputs, ctx)
    total, metrics = 0.0, {}
    for index, (name, source) in enumerate(sorted(sources.items())):
      head = logits[modalities[name]]
      targets = jax.nn.one_hot(source['label'], head.shape[-1])
      targets = optax.smooth_labels(targets, self.label_smoothing)
      loss = optax.softmax_cross_entropy(head, targets).mean()
      weight = self.loss_weights.get(name, 1.0)
      if name in self.source_probabilities:
        rng = jax.random.fold_in(ctx.rngs['sources'], index)
        keep = jax.random.bernoulli(rng, self.source_probabilities[name])
        weight = weight * keep.astype(jnp.float32)
        metrics[f'{name}_kept'] = keep.astype(jnp.float32)
      total = total + weight * loss
      metrics[f'{name}_loss'] = loss
      metrics[f'{name}_top1'] = (head.argmax(-1) == source['label']).mean()
    metrics['loss'] = total
    return total, (model_state, metrics)

  def predict(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> dict[str, jax.Array]:
    """'logits' of the batch's modality (its task's head), 'logits/<modality>' and
    'aux/features' (its pooled features)."""
    modality = _modality(batch, 'the evaluation input')
    (logits, aux), _ = self.apply(model, variables, {modality: batch[modality]}, ctx)
    return {
      'logits': logits[modality],
      f'logits/{modality}': logits[modality],
      'aux/features': aux['features'][modality],
    }


# The paper's comparison, as configurations of one model and this task:
#   joint             UniDual trained on both sources at once (the method).
#   shared            traditional multi-task learning: both sources, one trunk (no branches,
#                     shared norms), images as single-frame clips, a head per task.
#   video_only        a separate model for each task: the same UniDual network trained on
#   image_only        one source (its other path is never used).
#   image_then_video  pretrain-then-fine-tune: the `video_only` run started from an
#   video_then_image  `image_only` checkpoint (init_from), and the reverse.
VARIANTS = ('joint', 'shared', 'video_only', 'image_only', 'image_then_video', 'video_then_image')


def configure(
  config: Any,
  variant: str,
  *,
  video: Mapping[str, Any],
  image: Mapping[str, Any],
  init_from: str = '',
) -> None:
  """Sets config.input, config.model's branches and config.init_from for `variant`.

  Args:
    config: an experiment config whose config.input holds what both sources share and
      whose config.model is UniDual's.
    variant: one of `VARIANTS`.
    video: overrides of config.input for the video source (dataset, split, batch size).
    image: overrides of config.input for the image source (with loader='image').
    init_from: the pretraining checkpoint of the `*_then_*` variants (a step directory).
  """
  if variant not in VARIANTS:
    raise ValueError(f'variant={variant!r}; choose one of {VARIANTS}.')
  fine_tunes = variant.endswith(('_then_video', '_then_image'))
  if fine_tunes != bool(init_from):
    raise ValueError(
      f'variant={variant!r}: init_from is '
      + (
        'required: the checkpoint of the pretraining run (e.g. '
        'workdirs/unidual/image_only/checkpoints/300).'
        if fine_tunes
        else 'only for the pretrain-then-fine-tune variants.'
      )
    )
  if variant in ('joint', 'shared'):
    config.input.sources = dict(video=dict(video), image=dict(image))
  else:
    target = 'video' if variant in ('video_only', 'image_then_video') else 'image'
    overrides = video if target == 'video' else image
    config.input = pipeline.with_overrides(config.input, overrides, f'the {target} source')
  if variant == 'shared':
    config.model.update(dual_stages=(), share_norm=True)
  # The pretraining run has every variable of both paths (its other task's path at its
  # initial values), so everything loads; the new task's head starts as initialised.
  config.init_from.path = init_from
