"""Video-level accuracy over T clips x S crops per video, logits averaged (multi-view test).

config.evals.<name>: type='multiview', split, batch_size (global, in videos), num_clips
(T), num_crops (S: 1 centre or 3 along the long side), every_steps. Metrics are named with
their views, e.g. 'video_top1_4x3', so that numbers from different protocols never mix.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import linen as nn
from jax.sharding import Mesh

from vidjax import models, parallel
from vidjax.data import augment, flow, pipeline


class Evaluator:
  """Runs a model over every example of a split once; padded batches are masked."""

  def __init__(
    self,
    eval_config: ml_collections.ConfigDict,
    input_config: ml_collections.ConfigDict,
    model: nn.Module,
    mesh: Mesh,
  ):
    self.num_clips = eval_config.num_clips
    self.num_crops = eval_config.num_crops
    self.every_steps = eval_config.every_steps
    self._mesh = mesh
    self._input = pipeline.make_eval_input(
      input_config,
      eval_config.split,
      parallel.check_batch_size(eval_config.batch_size, f'evals.{eval_config.type}.batch_size'),
      self.num_clips,
      self.num_crops,
      jax.process_index(),
      jax.process_count(),
    )
    pp = input_config.pp

    def eval_step(variables, batch):
      num_videos, num_views = batch['video'].shape[:2]  # [B, V, T, H, W, 3]
      inputs = {'video': augment.to_float(batch['video'], pp.mean, pp.std)}
      if 'flow' in batch:
        inputs['flow'] = flow.dequantize(batch['flow'])
      views = {key: x.reshape(-1, *x.shape[2:]) for key, x in inputs.items()}
      logits, _ = model.apply(variables, models.model_inputs(model, views), train=False)
      logits = logits.reshape(num_videos, num_views, -1).mean(axis=1)
      labels, mask = batch['label'], batch['mask']
      k = min(5, logits.shape[-1])
      top_k = jax.lax.top_k(logits, k)[1]
      loss = -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], -1)[:, 0]
      return {
        'top1': jnp.sum((top_k[:, 0] == labels) & mask),
        'top5': jnp.sum(jnp.any(top_k == labels[:, None], axis=-1) & mask),
        'loss': jnp.sum(jnp.where(mask, loss, 0.0)),
        'count': jnp.sum(mask),
      }

    self._eval_step = jax.jit(eval_step, out_shardings=parallel.replicated(mesh))

  @property
  def dataset_manifest(self) -> dict:
    """The identity of the evaluated split (recorded next to the results)."""
    return self._input.dataset.manifest

  def metric_names(self) -> dict[str, str]:
    views = f'{self.num_clips}x{self.num_crops}'
    return {'top1': f'video_top1_{views}', 'top5': f'video_top5_{views}', 'loss': 'loss'}

  def run(self, variables: dict) -> dict[str, float]:
    """Returns accuracies in percent and the mean loss over the whole split."""
    totals = None
    for batch in self._input:
      sums = self._eval_step(variables, parallel.to_global(batch, self._mesh))
      totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
    totals = jax.tree.map(lambda x: float(np.asarray(x)), totals)
    count = int(totals.pop('count'))
    expected = self._input.num_examples
    assert count == expected, f'evaluated {count} examples of a split of {expected}'
    names = self.metric_names()
    return {
      names['top1']: 100.0 * totals['top1'] / count,
      names['top5']: 100.0 * totals['top5'] / count,
      names['loss']: totals['loss'] / count,
      'num_examples': count,
    }
