"""Clip accuracy: one centre clip and crop per video, top-1 / top-5 (the quick validation).

config.evals.<name>: type='classification', split, batch_size, every_steps, pred, input.
It is the multi-view evaluator at 1 clip x 1 crop, with metrics named clip_top1 / clip_top5.
"""

from __future__ import annotations

import ml_collections
from flax import linen as nn
from jax.sharding import Mesh

from vidjax.evaluators import common, multiview
from vidjax.tasks import base

DEFAULTS = common.SPLIT_DEFAULTS
KEYS = ('type', 'split', 'batch_size', 'every_steps', *common.SPLIT_DEFAULTS)


class Evaluator(multiview.Evaluator):
  """Clip-level top-1/top-5 over every example of a split."""

  def __init__(
    self,
    name: str,
    eval_config: ml_collections.ConfigDict,
    config: ml_collections.ConfigDict,
    model: nn.Module,
    task: base.Task,
    mesh: Mesh,
  ):
    single_view = ml_collections.ConfigDict(eval_config.to_dict())
    single_view.num_clips = single_view.num_crops = 1
    super().__init__(name, single_view, config, model, task, mesh)

  def metric_names(self) -> dict[str, str]:
    return {'top1': 'clip_top1', 'top5': 'clip_top5', 'loss': 'loss'}
