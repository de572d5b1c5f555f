"""A pretext task's own scores on held-out videos (SpeedNet's speed accuracy, ...).

config.evals.<name>: type='pretext', split, batch_size, every_steps, num_clips, num_crops,
pred, input (see `common`). `pred` names a dict of per-view scores that the task's
predict computes against the fields its sampler decided, e.g. 'aux/speed/' (SpeedNet:
'accuracy' and 'loss' of each test clip against 'sped_up'). The scores of a video's views
are averaged, then over the videos of the split. Metrics: each score by its name,
'accuracy' entries in percent.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vidjax.evaluators import common

DEFAULTS = dict(common.SPLIT_DEFAULTS, pred='aux/speed/', num_clips=2, num_crops=1)
KEYS = ('type', 'split', 'batch_size', 'every_steps', *DEFAULTS)


class Evaluator(common.SplitEvaluator):
  """The mean of each per-view score over every video of a split."""

  def sums(self, output: dict, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    if not isinstance(output, dict):
      raise ValueError(
        f'config.evals.{self.name}.pred={self.pred!r}: the pretext evaluator reads a dict of '
        "scores, a pred ending in '/' (e.g. 'aux/speed/')."
      )
    mask = batch['mask']
    return {name: jnp.sum(jnp.where(mask, score, 0.0)) for name, score in output.items()}

  def metrics(
    self, totals: dict[str, float], gathered: dict[str, np.ndarray], count: int
  ) -> dict[str, float]:
    del gathered
    return {
      name: (100.0 if name.split('/')[-1] == 'accuracy' else 1.0) * total / count
      for name, total in totals.items()
    }
