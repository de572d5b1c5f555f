"""What every evaluator shares: its input, sums over a split, a gather of per-example
outputs, and the check that every example was counted exactly once.

An evaluator is `vidjax.evaluators.<type>.Evaluator(name, eval_config, config, model,
task, mesh)` with `every_steps`, `at_start`, `run(state, constants) -> metrics`, `dataset_manifest`
and `decode_failures` (the ids of the videos that could not be decoded at its last run).
`SplitEvaluator` gives all of it for evaluators that go once over a split; a subclass
defines `sums` (summed over the split on the device), optionally `per_example` (gathered
to the host for metrics that are not sums, such as mAP or J&F) and `metrics`.

config.evals.<name> (the keys of `SPLIT_DEFAULTS` plus the evaluator's own):
  type: the evaluator module; split: e.g. 'validation', 'train[90%:]';
  batch_size: global, in videos; every_steps; num_clips, num_crops: the views of a video;
  at_start: also evaluate the initial model, before the first step of a fresh run (logged
    at step 0; e.g. Gradient Blending's first window then starts at initialisation);
  pred: the output scored: 'logits', or 'aux/<name>' (e.g. 'aux/logits/audio'); a name
    ending in '/' scores every output under it (e.g. 'aux/logits/', each head);
  input: overrides of config.input for this evaluator (another dataset, sampling, crop,
    e.g. dict(dataset='vidjax_synthetic/images')); {} reads config.input as it is.
"""

from __future__ import annotations

import abc
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging
from flax import linen as nn
from jax.sharding import Mesh

from vidjax import parallel
from vidjax.data import pipeline, preprocess
from vidjax.tasks import base

# Keys every split evaluator reads; `configs.validate` fills the missing ones in.
SPLIT_DEFAULTS = dict(pred='logits', input=dict(), at_start=False)


class EvaluationCountError(RuntimeError):
  """An evaluation did not score every example of its split exactly once."""


def eval_input_config(
  input_config: ml_collections.ConfigDict, eval_config: ml_collections.ConfigDict
) -> ml_collections.ConfigDict:
  """config.input with the evaluator's `input` overrides applied (a copy)."""
  return pipeline.with_overrides(
    input_config, eval_config.input, f'config.evals.{eval_config.type}.input'
  )


def select(predictions: dict[str, Any], pred: str, where: str) -> Any:
  """The output named `pred` among a task's predictions ('logits', 'aux/<name>'), or, for
  a `pred` ending in '/', the dict of every output under it ({'video': ..., 'fused': ...}
  for 'aux/logits/')."""
  if pred.endswith('/'):
    selected = {k[len(pred) :]: v for k, v in predictions.items() if k.startswith(pred)}
    if not selected:
      raise KeyError(
        f'{where}.pred={pred!r}: no output under it; the model produces {sorted(predictions)}.'
      )
    return selected
  if pred not in predictions:
    raise KeyError(f'{where}.pred={pred!r}: the model produces {sorted(predictions)}.')
  return predictions[pred]


def check_counted(indices: np.ndarray, counted: np.ndarray, num_examples: int, where: str) -> None:
  """Raises EvaluationCountError unless each of range(num_examples) appears exactly once
  among `indices[counted]` (scored or reported as undecodable)."""
  seen = np.bincount(indices[counted].astype(np.int64), minlength=num_examples)
  missing = np.flatnonzero(seen[:num_examples] == 0)
  repeated = np.flatnonzero(seen[:num_examples] > 1)
  extra = len(seen) > num_examples and seen[num_examples:].any()
  if missing.size or repeated.size or extra:
    raise EvaluationCountError(
      f'{where}: of {num_examples} examples, {missing.size} were not evaluated '
      f'(e.g. {missing[:5].tolist()}) and {repeated.size} more than once '
      f'(e.g. {repeated[:5].tolist()}); the evaluation input is not a partition of the split.'
    )


def flatten_views(batch: dict[str, jax.Array]) -> tuple[dict[str, jax.Array], int]:
  """Evaluation batches carry the views of a video after the batch axis (video
  [B, V, T, H, W, 3], audio [B, V, frames, mels]); the model sees [B * V, ...]."""
  num_views = batch['video'].shape[1] if 'video' in batch else 1
  flat = {}
  for key, value in batch.items():
    has_views = key in preprocess.MODEL_INPUT_KEYS and key != 'image'
    flat[key] = value.reshape(-1, *value.shape[2:]) if has_views else value
  return flat, num_views


class SplitEvaluator(abc.ABC):
  """Runs the task's model once over every example of a split (padded batches masked)."""

  def __init__(
    self,
    name: str,
    eval_config: ml_collections.ConfigDict,
    config: ml_collections.ConfigDict,
    model: nn.Module,
    task: base.Task,
    mesh: Mesh,
  ):
    self.name = name
    self.num_clips = eval_config.num_clips
    self.num_crops = eval_config.num_crops
    self.every_steps = eval_config.every_steps
    self.at_start = eval_config.at_start
    self.pred = eval_config.pred
    self.input_config = eval_input_config(config.input, eval_config)
    self.decode_failures: list[str] = []
    self._mesh = mesh
    self._input = pipeline.make_eval_input(
      self.input_config,
      eval_config.split,
      parallel.check_batch_size(eval_config.batch_size, f'evals.{name}.batch_size'),
      self.num_clips,
      self.num_crops,
      jax.process_index(),
      jax.process_count(),
    )
    pp, where = self.input_config.pp, f'config.evals.{name}'

    def eval_step(state, constants, batch):
      ctx = base.Context(
        step=state.step, rngs={}, train=False, state=state.task_state, constants=constants, pp=pp
      )
      flat, num_views = flatten_views(batch)
      predictions = task.predict(model, state.variables, task.preprocess(flat, ctx), ctx)
      output = select(predictions, self.pred, where)
      # The views of a video are averaged (logits, as PySlowFast's multi-view test).
      output = jax.tree.map(lambda x: x.reshape(-1, num_views, *x.shape[1:]).mean(axis=1), output)
      counted = {
        'index': batch['index'],
        'mask': batch['mask'],
        'counted': batch['mask'] | batch['decode_failed'],
        'decode_failed': batch['decode_failed'],
      }
      return self.sums(output, batch), {**self.per_example(output, batch), **counted}

    # Every host gets the whole of both outputs: the sums, and the per-example arrays of
    # every host's examples (the gather that metrics such as mAP need).
    self._eval_step = jax.jit(eval_step, out_shardings=parallel.replicated(mesh))

  @property
  def dataset_manifest(self) -> dict:
    """The identity of the evaluated split (recorded next to the results)."""
    return self._input.dataset.manifest

  @abc.abstractmethod
  def sums(self, output: jax.Array, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Per-batch sums over the examples with batch['mask'] (a dict of scalars)."""

  def per_example(self, output: jax.Array, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Per-example arrays [B, ...] gathered over the split for `metrics`; none by default."""
    del output, batch
    return {}

  def files(self) -> dict[str, str]:
    """Files of the last `run` (name -> text) that the trainer writes to
    workdir/eval/<name>/<step>/; none by default."""
    return {}

  @abc.abstractmethod
  def metrics(
    self, totals: dict[str, float], gathered: dict[str, np.ndarray], count: int
  ) -> dict[str, float]:
    """The evaluator's metrics from the summed `totals` and the `gathered` per-example
    arrays of the `count` scored examples (mask applied)."""

  def run(self, state: Any, constants: Any) -> dict[str, float]:
    """Metrics over the whole split, plus 'num_examples' (scored) and 'decode_failures'.

    Raises:
      EvaluationCountError: an example was not evaluated, or evaluated twice.
    """
    return self.scored(*self.evaluate_input(self._input, state, constants))

  def evaluate_input(self, input_, state: Any, constants: Any) -> tuple[dict, dict]:
    """(summed totals, per-example arrays with the bookkeeping keys) of one pass of the
    model over `input_` (this evaluator's input, or another view of its split)."""
    totals, gathered = None, []
    for batch in input_:
      sums, examples = self._eval_step(state, constants, parallel.to_global(batch, self._mesh))
      totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
      gathered.append(examples)
    totals = {k: float(np.asarray(v)) for k, v in totals.items()}
    gathered = {k: np.concatenate([np.asarray(g[k]) for g in gathered]) for k in gathered[0]}
    return totals, gathered

  def scored(self, totals: dict, gathered: dict) -> dict[str, float]:
    """The metrics of a pass's `evaluate_input` results, after the counting checks."""
    index, mask = gathered.pop('index'), gathered.pop('mask')
    counted, failed = gathered.pop('counted'), gathered.pop('decode_failed')
    num_examples = self._input.num_examples
    where = f'config.evals.{self.name} (split {self._input.dataset.split!r})'
    check_counted(index, counted, num_examples, where)
    self.decode_failures = [self._input.video_id(int(i)) for i in index[failed]]
    if self.decode_failures:
      logging.warning(
        '%s: %d videos could not be decoded; they are left out of the metrics: %s',
        where,
        len(self.decode_failures),
        self.decode_failures[:10],
      )
    count = int(mask.sum())
    if count == 0:
      raise EvaluationCountError(f'{where}: none of the {num_examples} videos could be decoded.')
    return {
      **self.metrics(totals, {k: v[mask] for k, v in gathered.items()}, count),
      'num_examples': count,
      'decode_failures': len(self.decode_failures),
    }
