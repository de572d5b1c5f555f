"""The task contract: what a method family plugs into the one trainer.

A task turns a loaded batch into a loss. It is a class `vidjax.tasks.<name>.Task` built
from `config.task_kwargs`, deriving from `Task` here, which gives every default:

  batch_keys      the keys the task reads from a batch (documentation and input checks).
  rng_names       extra named random streams it draws from `ctx.rngs` (e.g. 'walk').
  init_state()    a pytree that changes during training (Gradient Blending's weights, a
                  curriculum's stage); kept in the TrainState, checkpointed with it, and
                  restored exactly on resume.
  constants()     a pytree of frozen inputs (a teacher's variables, colour cluster
                  centres): replicated into the step once, never trained or checkpointed.
  preprocess(batch, ctx)
                  the loaded batch -> model input; `data.preprocess.model_batch` unless
                  the task needs more (pretext labels, pairs of clips).
  loss_and_metrics(model, variables, batch, ctx)
                  -> (loss, (model_state, metrics)) on the preprocessed batch.
  predict(model, variables, batch, ctx)
                  -> {'logits': ..., 'aux/<name>': ...}: the outputs evaluators score
                  (an evaluator's `pred` names one of them).
  update_state(state, step, eval_results)
                  host side, after the evaluations of a step: the new task state.

The trainer's order at a step is: train step, log, evaluations, `update_state`,
checkpoint; so a run killed anywhere resumes to the same parameters and task state.
"""

from __future__ import annotations

import abc
from typing import Any, NamedTuple

import jax
import ml_collections
from flax import linen as nn

from vidjax import models
from vidjax.data import preprocess


class Context(NamedTuple):
  """What a task sees besides the batch, inside the jitted step.

  Attributes:
    step: int32 scalar, the number of steps taken before this one.
    rngs: named random streams for this step: 'augment', 'mix', 'dropout' and the task's
      `rng_names`; a function of (seed, name, step) only. Empty at evaluation.
    train: True in the train step, False in evaluators.
    state: the task state (`Task.init_state()` as updated by `update_state`).
    constants: the task constants (`Task.constants()`).
    pp: the preprocessing config of the input the batch comes from (config.input.pp, an
      evaluator's own input's pp), or {source name: pp} for a batch of several sources.
  """

  step: jax.Array
  rngs: dict[str, jax.Array]
  train: bool
  state: Any
  constants: Any
  pp: ml_collections.ConfigDict


class Task(abc.ABC):
  """Defaults of the task contract; a family overrides what it changes."""

  batch_keys: tuple[str, ...] = ('video',)
  rng_names: tuple[str, ...] = ()
  # Whether the loss reads the 'mix_label' / 'mix_weight' keys that Mixup / CutMix add;
  # the trainer refuses mixing for a task that does not (it would train on wrong targets).
  reads_mixed_labels: bool = False

  def init_state(self) -> Any:
    return {}

  def constants(self) -> Any:
    return {}

  def preprocess(self, batch: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """`model_batch` of the batch, or of each source's batch with its own pp (and its
    own augmentation draws) when the input has several sources."""
    if not isinstance(ctx.pp, dict):
      return preprocess.model_batch(batch, ctx.pp, train=ctx.train, rngs=ctx.rngs)
    result = {}
    for index, (name, pp) in enumerate(sorted(ctx.pp.items())):
      rngs = {key: jax.random.fold_in(rng, index) for key, rng in ctx.rngs.items()}
      result[name] = preprocess.model_batch(batch[name], pp, train=ctx.train, rngs=rngs)
    return result

  def apply(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: Context
  ) -> tuple[tuple[jax.Array, dict], dict]:
    """model.apply on the model's inputs of `batch`: ((outputs, aux), updated model state).

    In training the batch statistics are updated and the 'dropout' stream is used.
    """
    x = models.model_inputs(model, batch)
    if ctx.train:
      return model.apply(
        variables, x, train=True, rngs={'dropout': ctx.rngs['dropout']}, mutable=['batch_stats']
      )
    return model.apply(variables, x, train=False), {}

  @abc.abstractmethod
  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    """(loss, (updated model state, metrics)) of a preprocessed batch; metrics are
    scalars (batch means), logged as 'train/<name>'."""

  def predict(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: Context
  ) -> dict[str, jax.Array]:
    """The outputs evaluators can score: 'logits' (the model's output; a backbone built
    with num_classes=0 gives its features) and 'aux/<name>' for each entry of its aux."""
    (outputs, aux), _ = self.apply(model, variables, batch, ctx)
    return {'logits': outputs, **{f'aux/{name}': value for name, value in aux.items()}}

  def propagation_features(self, model: nn.Module, variables: dict, frames: jax.Array) -> jax.Array:
    """Features [T, h, w, C] of a whole video's frames, float32 [T, H, W, 3] in [0, 1],
    that the `label_propagation` evaluator propagates masks with (correspondence tasks)."""
    del model, variables, frames
    raise NotImplementedError(
      f'{type(self).__module__}: this task gives no features for label propagation; the '
      "'label_propagation' evaluator needs a correspondence task (crw, colorization)."
    )

  def update_state(self, state: Any, step: int, eval_results: dict[str, float]) -> Any:
    del step, eval_results
    return state
