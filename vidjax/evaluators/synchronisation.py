"""Audio-visual synchronisation on held-out pairs (AVTS), easy and hard negatives apart.

config.evals.<name>: type='synchronisation', split, batch_size, every_steps, pred, input
(see `common`); one view per video (num_clips = num_crops = 1), so that the batch's next
example, whose sound is the easy negative, is another video. `pred` is the task's
distances, 'aux/distance/' ('positive', 'easy', 'hard': `tasks/avts.py`'s predict, with
the `avts` sampler's shifted sound as the hard negative). A pair is judged in sync when
its distance is below the task's `decision_threshold`.

Metrics (percent):
  sync_accuracy/easy, sync_accuracy/hard: accuracy on balanced sets of positives and
    easy (or hard) negatives: the mean of the two accuracies;
  accuracy/positive, accuracy/easy, accuracy/hard: per pair kind;
  ranking/easy, ranking/hard: how often the clip is closer to its own sound than to the
    negative (no threshold);
and the mean distance of each kind, 'distance/<kind>'. Videos without sound (and, for
hard negatives, too short to shift) are left out of the pairs they cannot make.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vidjax.evaluators import common

DEFAULTS = dict(common.SPLIT_DEFAULTS, pred='aux/distance/', num_clips=1, num_crops=1)
KEYS = ('type', 'split', 'batch_size', 'every_steps', *DEFAULTS)


class Evaluator(common.SplitEvaluator):
  """Synchronisation accuracy and ranking over every video of a split."""

  def __init__(self, name, eval_config, config, model, task, mesh):
    if eval_config.num_clips * eval_config.num_crops != 1:
      raise ValueError(
        f'config.evals.{name}: num_clips={eval_config.num_clips}, num_crops='
        f'{eval_config.num_crops}; synchronisation scores one view per video (set both to 1).'
      )
    if not hasattr(task, 'decision_threshold'):
      raise ValueError(
        f"config.evals.{name}: type 'synchronisation' needs a task with a decision_threshold "
        f'(avts), not {type(task).__module__}.'
      )
    self.threshold = task.decision_threshold
    super().__init__(name, eval_config, config, model, task, mesh)

  def sums(self, output: dict, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    scored = batch['mask'] & batch['has_audio']
    valid = {
      'positive': scored,
      'easy': scored & jnp.roll(scored, 1),
      'hard': scored & batch['has_shifted_audio'].reshape(len(scored), -1)[:, 0],
    }
    sums = {}
    for kind, d in output.items():
      correct = d < self.threshold if kind == 'positive' else d >= self.threshold
      sums[f'count/{kind}'] = jnp.sum(valid[kind])
      sums[f'correct/{kind}'] = jnp.sum(valid[kind] & correct)
      sums[f'distance/{kind}'] = jnp.sum(jnp.where(valid[kind], d, 0.0))
      if kind != 'positive':
        sums[f'ranked/{kind}'] = jnp.sum(valid[kind] & (output['positive'] < d))
    return sums

  def metrics(
    self, totals: dict[str, float], gathered: dict[str, np.ndarray], count: int
  ) -> dict[str, float]:
    del gathered, count
    ratio = lambda a, b: 100.0 * a / max(b, 1.0)  # noqa: E731
    metrics = {}
    for kind in ('positive', 'easy', 'hard'):
      pairs = totals[f'count/{kind}']
      metrics[f'accuracy/{kind}'] = ratio(totals[f'correct/{kind}'], pairs)
      metrics[f'distance/{kind}'] = totals[f'distance/{kind}'] / max(pairs, 1.0)
    for kind in ('easy', 'hard'):
      metrics[f'sync_accuracy/{kind}'] = (
        metrics['accuracy/positive'] + metrics[f'accuracy/{kind}']
      ) / 2
      metrics[f'ranking/{kind}'] = ratio(totals[f'ranked/{kind}'], totals[f'count/{kind}'])
    return metrics
