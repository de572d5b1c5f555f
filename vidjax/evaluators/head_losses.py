"""The loss and top-1 of every head of a multi-head model over a split (Gradient Blending).

config.evals.<name>: type='head_losses', split (e.g. 'train[90%:]', the held-out part of
train that Gradient Blending's V is, or a part of what is trained on for its T),
batch_size, every_steps, num_clips, num_crops, pred, input (see `common`). `pred` names
the heads' outputs, by default 'aux/logits/' (each head of `models/multimodal.py`: one
per modality and 'fused'). Metrics: 'loss/<head>' (mean cross-entropy of the
view-averaged logits) and 'top1/<head>' (percent).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vidjax.evaluators import common

DEFAULTS = dict(common.SPLIT_DEFAULTS, pred='aux/logits/', num_clips=1, num_crops=1)
KEYS = ('type', 'split', 'batch_size', 'every_steps', *DEFAULTS)


class Evaluator(common.SplitEvaluator):
  """Per-head cross-entropy and top-1 over every example of a split."""

  def sums(self, output: dict, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    if not isinstance(output, dict):
      output = {'logits': output}
    labels, mask = batch['label'], batch['mask']
    sums = {}
    for head, logits in output.items():
      loss = -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], -1)[:, 0]
      sums[f'loss/{head}'] = jnp.sum(jnp.where(mask, loss, 0.0))
      sums[f'top1/{head}'] = jnp.sum((logits.argmax(-1) == labels) & mask)
    return sums

  def metrics(
    self, totals: dict[str, float], gathered: dict[str, np.ndarray], count: int
  ) -> dict[str, float]:
    return {
      name: (100.0 if name.startswith('top1/') else 1.0) * total / count
      for name, total in totals.items()
    }
