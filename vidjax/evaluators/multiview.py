"""Video-level accuracy over T clips x S crops per video, logits averaged (multi-view test).

config.evals.<name>: type='multiview', split, batch_size (global, in videos), num_clips
(T), num_crops (S: 1 centre or 3 along the long side), every_steps, pred, input (see
`common`). Metrics are named with their views, e.g. 'video_top1_4x3', so that numbers from
different protocols never mix.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vidjax.evaluators import common

DEFAULTS = common.SPLIT_DEFAULTS
KEYS = (
  'type',
  'split',
  'batch_size',
  'every_steps',
  'num_clips',
  'num_crops',
  *common.SPLIT_DEFAULTS,
)


class Evaluator(common.SplitEvaluator):
  """Top-1 / top-5 and the loss of the view-averaged logits over every video of a split."""

  def metric_names(self) -> dict[str, str]:
    views = f'{self.num_clips}x{self.num_crops}'
    return {'top1': f'video_top1_{views}', 'top5': f'video_top5_{views}', 'loss': 'loss'}

  def sums(self, output: jax.Array, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    logits, labels, mask = output, batch['label'], batch['mask']
    top_k = jax.lax.top_k(logits, min(5, logits.shape[-1]))[1]
    loss = -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], -1)[:, 0]
    return {
      'top1': jnp.sum((top_k[:, 0] == labels) & mask),
      'top5': jnp.sum(jnp.any(top_k == labels[:, None], axis=-1) & mask),
      'loss': jnp.sum(jnp.where(mask, loss, 0.0)),
    }

  def metrics(
    self, totals: dict[str, float], gathered: dict[str, np.ndarray], count: int
  ) -> dict[str, float]:
    """Accuracies in percent and the mean loss over the scored videos."""
    names = self.metric_names()
    return {
      names['top1']: 100.0 * totals['top1'] / count,
      names['top5']: 100.0 * totals['top5'] / count,
      names['loss']: totals['loss'] / count,
    }
