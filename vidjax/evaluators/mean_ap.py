"""Mean average precision over a split: multi-label classification (hashtag pretraining,
Charades-style labels), scored on per-example outputs gathered from every host.

config.evals.<name>: type='mean_ap', split, batch_size, every_steps, num_clips,
num_crops, pred, input (see `common`). Labels are multi-hot [K] or class indices (one
positive each). AP per class is the area under the step-wise precision-recall curve
(sklearn's `average_precision_score`: the precision at each positive, averaged); classes
without a positive in the split are left out of the mean, as is usual for mAP.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from vidjax.evaluators import common

DEFAULTS = common.SPLIT_DEFAULTS
KEYS = ('type', 'split', 'batch_size', 'every_steps', 'num_clips', 'num_crops', *DEFAULTS)


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
  """AP of one class: scores [N] float, positives [N] bool (at least one True)."""
  order = np.argsort(-scores, kind='stable')
  hits = positives[order]
  precision_at_hits = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
  return float(precision_at_hits.mean())


def mean_average_precision(scores: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
  """(mAP over the classes with a positive, number of such classes); scores, labels [N, K]."""
  positives = labels > 0
  present = np.flatnonzero(positives.any(axis=0))
  if not present.size:
    raise ValueError('mAP needs at least one positive label in the split.')
  aps = [average_precision(scores[:, k], positives[:, k]) for k in present]
  return float(np.mean(aps)), int(present.size)


class Evaluator(common.SplitEvaluator):
  """mAP (in percent) of the view-averaged scores, and the sigmoid loss."""

  @staticmethod
  def _multi_hot(labels: jax.Array, num_classes: int) -> jax.Array:
    if labels.ndim == 1:
      return jax.nn.one_hot(labels, num_classes)
    return labels.astype(jnp.float32)

  def sums(self, output: jax.Array, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    targets = self._multi_hot(batch['label'], output.shape[-1])
    loss = optax.sigmoid_binary_cross_entropy(output, targets).sum(-1)
    return {'loss': jnp.sum(jnp.where(batch['mask'], loss, 0.0))}

  def per_example(self, output: jax.Array, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    return {'scores': output, 'targets': self._multi_hot(batch['label'], output.shape[-1])}

  def metrics(
    self, totals: dict[str, float], gathered: dict[str, np.ndarray], count: int
  ) -> dict[str, float]:
    value, num_classes = mean_average_precision(gathered['scores'], gathered['targets'])
    return {
      'mAP': 100.0 * value,
      'classes_with_positives': num_classes,
      'loss': totals['loss'] / count,
    }
