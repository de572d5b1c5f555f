"""PoseWarper's training (Bertasius et al. 2019): poses from sparsely labelled video.

Each example is a labelled frame A and a supporting frame B within `max_delta` frames
(`data/samplers/posewarper.py`), with A's keypoints. Two objectives, two runs, as the
paper trains:

  'pose'  the pose network alone on the labelled frames: its heatmaps of A against
          Gaussians at A's keypoints (the paper starts from an HRNet so trained);
  'warp'  the warping module (`models/posewarper.py`, the pose network frozen with
          `config.model.freeze_heatmaps`): B's heatmaps warped to A against A's Gaussians.
          No label of B is read: this is what lets sparse labels train it.

The loss is the official JointsMSELoss: half the mean squared error of the heatmaps, each
keypoint weighted by its visibility. Metrics: the loss and 'pck' (percent of visible
keypoints decoded within `pck_threshold` of the object size, `heatmaps.object_size`).
The miniature's videos hold one object; its keypoints are object 0's.

`pose_heatmaps` and `warp` serve the `keypoint_propagation` evaluator, which propagates
labelled frames' poses through whole videos.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from vidjax import heatmaps
from vidjax.data import preprocess
from vidjax.tasks import base

OBJECTIVES = ('pose', 'warp')


class Task(base.Task):
  """Heatmap regression of a labelled frame, from itself ('pose') or warped from a
  neighbour ('warp')."""

  batch_keys = ('video', 'keypoints', 'keypoint_visible')

  def __init__(
    self,
    *,
    objective: str = 'warp',
    sigma: float = 1.0,
    heatmap_stride: int = 2,
    pck_threshold: float = 0.2,
  ):
    """Args:
    objective: 'pose' or 'warp' (see the module docstring).
    sigma: std of the target Gaussians, in heatmap cells (official: 3 at HRNet-W48's 96 x
      72 cells, 2 at W32's 64 x 48; the miniature: 1 at 32 x 32).
    heatmap_stride: input pixels per heatmap cell (the model's).
    pck_threshold: of the training metric 'pck', a fraction of the object size.
    """
    if objective not in OBJECTIVES:
      raise ValueError(f'config.task_kwargs.objective={objective!r}: one of {OBJECTIVES}.')
    if not sigma > 0 or heatmap_stride < 1:
      raise ValueError(
        f'config.task_kwargs: sigma={sigma} must be positive and heatmap_stride='
        f'{heatmap_stride} at least 1.'
      )
    self.objective = objective
    self.sigma = sigma
    self.stride = heatmap_stride
    self.pck_threshold = pck_threshold

  def targets(self, keypoints: jax.Array, size: tuple[int, int]) -> jax.Array:
    """Gaussians [..., h, w, K] at keypoints [..., K, 2] (y, x input pixels)."""
    return heatmaps.gaussians(keypoints, size, self.stride, self.sigma)

  def _scores(
    self, predicted: jax.Array, batch: dict[str, jax.Array]
  ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per example: the loss [B], and per joint whether it is correct [B, K] and visible
    [B, K] (float). Keypoints [..., N, K, 2] of object 0; eval views flattened like the
    model's input."""
    keypoints = batch['keypoints'].reshape(-1, *batch['keypoints'].shape[-3:])[:, 0]
    visible = batch['keypoint_visible'].reshape(-1, *batch['keypoint_visible'].shape[-2:])
    visible = visible[:, 0].astype(jnp.float32)
    target = self.targets(keypoints, predicted.shape[1:3])
    weight = visible[:, None, None, :]
    loss = 0.5 * jnp.mean((weight * (predicted - target)) ** 2, axis=(1, 2, 3))
    decoded = heatmaps.decode(predicted, self.stride)
    distance = jnp.linalg.norm(decoded - keypoints, axis=-1)
    size = heatmaps.object_size(keypoints, visible)
    correct = (distance <= self.pck_threshold * size[:, None]) & (size[:, None] > 0)
    return loss, correct.astype(jnp.float32), visible

  def _prediction(self, warped: jax.Array, aux: dict) -> jax.Array:
    return warped if self.objective == 'warp' else aux['heatmaps'][:, 0]

  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    (warped, aux), model_state = self.apply(model, variables, batch, ctx)
    loss, correct, visible = self._scores(self._prediction(warped, aux), batch)
    loss = jnp.mean(loss)
    pck = 100.0 * jnp.sum(correct * visible) / jnp.maximum(jnp.sum(visible), 1.0)
    return loss, (model_state, {'loss': loss, 'pck': pck})

  def predict(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> dict[str, jax.Array]:
    """Besides the base outputs, 'aux/pose/loss' and 'aux/pose/pck' per example (the
    percent of its visible joints within the PCK threshold), which the `pretext`
    evaluator averages over a split (`pred='aux/pose/'`)."""
    (warped, aux), _ = self.apply(model, variables, batch, ctx)
    loss, correct, visible = self._scores(self._prediction(warped, aux), batch)
    pck = 100.0 * jnp.sum(correct * visible, -1) / jnp.maximum(jnp.sum(visible, -1), 1.0)
    outputs = {'logits': warped, **{f'aux/{name}': value for name, value in aux.items()}}
    return {**outputs, 'aux/pose/loss': loss, 'aux/pose/pck': pck}

  def pose_heatmaps(self, model: nn.Module, variables: dict, frames: Any, pp) -> jax.Array:
    """Heatmaps [T, h, w, K] of uint8 frames [T, H, W, 3], normalised as in training."""
    video = preprocess.model_batch({'video': jnp.asarray(frames)[None]}, pp, train=False)['video']
    return model.apply(variables, video[0], train=False, method=type(model).pose_heatmaps)

  def warp(
    self, model: nn.Module, variables: dict, target: jax.Array, support: jax.Array, moved: jax.Array
  ) -> jax.Array:
    """`moved` [B, h, w, K] warped from the supporting frames to the targets, by offsets
    from the pose network's heatmaps of both (`target`, `support`: [B, h, w, K])."""
    return model.apply(
      variables, target, support, moved, train=False, method=type(model).warp_heatmaps
    )
