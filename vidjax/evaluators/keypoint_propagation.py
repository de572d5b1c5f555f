"""keypoint_propagation: the poses of a video's unlabelled frames, from its sparse labels.

PoseWarper's comparison (Bertasius et al. 2019, pose propagation): every video of `split`
is read whole (the `sequence` loader: every frame, its keypoints, which frames are
labelled), and each unlabelled frame t takes the pose of its nearest labelled frame s (the
earlier one on a tie) by

  posewarper   Gaussians at s's true keypoints warped to t by the model's warping module
               (offsets from the pose network's heatmaps of t and s: `tasks/posewarper.py`);
  copy         s's keypoints unchanged;
  flow         s's keypoints moved by the optical flow from s to t (DIS, `data/flow.py`,
               the flow of vidjax's two-stream pipeline), read at each keypoint bilinearly.

Two pose estimators that read no label of the video are scored on the same frames:

  single_frame the pose network on frame t alone;
  aggregated   the pose network's heatmaps of frames t-2..t+2 (clamped to the video), each
               warped to t, weighted 0.3 (t), 0.25 (t +- 1) and 0.1 (t +- 2): PoseWarper's
               temporal pose aggregation at test (`pose_hrnet_PoseAgg.py`).

Metrics: '<method>/pck@<a>' for every `thresholds` a: the percentage of the visible true
keypoints of unlabelled frames decoded within a times the object size (0.6 times the
diagonal of the box around its visible keypoints, `heatmaps.object_size`); 'num_examples'
(videos scored), 'num_keypoints'. The miniature's videos hold one object: object 0's
keypoints are scored.

config.evals.<name>: type='keypoint_propagation', split, input (overrides of config.input,
e.g. another dataset), every_steps, at_start (the initial model: its warping module starts
as the identity, so 'posewarper' starts equal to 'copy'), num_videos (0: all), thresholds,
flow_preset (DIS's).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import scipy.ndimage
from absl import logging
from flax import linen as nn
from jax.sharding import Mesh

from vidjax import heatmaps
from vidjax.data import flow, pipeline
from vidjax.data.loaders import sequence
from vidjax.evaluators import common
from vidjax.tasks import base

DEFAULTS = dict(
  split='validation',
  input=dict(),
  at_start=False,
  num_videos=0,
  thresholds=(0.1, 0.2, 0.5),
  flow_preset='medium',
)
KEYS = ('type', 'every_steps', *DEFAULTS)
METHODS = ('posewarper', 'copy', 'flow', 'single_frame', 'aggregated')
# Temporal pose aggregation: the weight of the frame `offset` away from the target.
AGGREGATION_WEIGHTS = {-2: 0.1, -1: 0.25, 0: 0.3, 1: 0.25, 2: 0.1}


def nearest_labelled(labelled: np.ndarray) -> np.ndarray:
  """For every frame, the nearest labelled frame (the earlier one on a tie): int [T]."""
  frames = np.flatnonzero(labelled)
  if not len(frames):
    raise ValueError('a video without labelled frames has no pose to propagate.')
  distance = np.abs(np.arange(len(labelled))[:, None] - frames[None, :])
  return frames[np.argmin(distance, axis=1)]  # argmin takes the first: the earlier frame


def flow_keypoints(frames: np.ndarray, source: int, target: int, points: np.ndarray, preset: str):
  """points [K, 2] (y, x) of frame `source` moved by the DIS flow from it to `target`."""
  field = flow.compute(frames[[source, target]], preset)[0]  # [H, W, 2]: (x, y) pixels
  rows, cols = points[:, 0] - 0.5, points[:, 1] - 0.5  # pixel centres at half-integers
  moved = [
    scipy.ndimage.map_coordinates(field[..., channel], [rows, cols], order=1, mode='nearest')
    for channel in (1, 0)
  ]
  return points + np.stack(moved, axis=-1)


class Evaluator:
  """PCK of propagated and estimated poses on the unlabelled frames of `split`."""

  def __init__(
    self,
    name: str,
    eval_config: ml_collections.ConfigDict,
    config: ml_collections.ConfigDict,
    model: nn.Module,
    task: base.Task,
    mesh: Mesh,
  ):
    del mesh
    self.name = name
    self.every_steps = eval_config.every_steps
    self.at_start = eval_config.at_start
    self.thresholds = tuple(eval_config.thresholds)
    self.flow_preset = eval_config.flow_preset
    self.decode_failures: list[str] = []
    if not hasattr(task, 'warp'):
      raise ValueError(
        f"config.evals.{name}: type='keypoint_propagation' needs a task with a pose network "
        "and a warping module (task='posewarper')."
      )
    input_config = common.eval_input_config(config.input, eval_config)
    self.dataset = pipeline.open_dataset(
      input_config.dataset, eval_config.split, input_config.data_dir
    )
    self.loader = sequence.Loader(self.dataset, input_config)
    self.num_videos = min(
      eval_config.num_videos or len(self.dataset.source), len(self.dataset.source)
    )
    pp = input_config.pp
    offsets = sorted(AGGREGATION_WEIGHTS)
    weights = jnp.array([AGGREGATION_WEIGHTS[o] for o in offsets])[:, None, None, None, None]

    @jax.jit
    def predict(variables, frames, unlabelled, sources, labelled_poses, labelled_visible):
      """Decoded keypoints [U, K, 2] of 'posewarper', 'single_frame' and 'aggregated'."""
      pose = task.pose_heatmaps(model, variables, frames, pp)  # [T, h, w, K]
      size = pose.shape[1:3]
      moved = task.targets(labelled_poses, size) * labelled_visible[:, None, None, :]
      # One warp of every pair: the labelled poses to their unlabelled frames, then each
      # unlabelled frame's neighbours t-2..t+2 (their own heatmaps) to it, for aggregation.
      neighbours = jnp.clip(unlabelled[None, :] + jnp.array(offsets)[:, None], 0, len(frames) - 1)
      num = len(unlabelled)
      warped = task.warp(
        model,
        variables,
        jnp.tile(pose[unlabelled], (1 + len(offsets), 1, 1, 1)),
        jnp.concatenate([pose[sources], pose[neighbours.reshape(-1)]]),
        jnp.concatenate([moved, pose[neighbours.reshape(-1)]]),
      )
      aggregated = jnp.sum(weights * warped[num:].reshape(len(offsets), num, *size, -1), 0)
      return {
        method: heatmaps.decode(value, task.stride)
        for method, value in (
          ('posewarper', warped[:num]),
          ('single_frame', pose[unlabelled]),
          ('aggregated', aggregated),
        )
      }

    self._predict = predict

  def files(self) -> dict[str, str]:
    """No files: the metrics are the whole result."""
    return {}

  @property
  def dataset_manifest(self) -> dict:
    return self.dataset.manifest

  def video_predictions(self, variables, example: dict) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(the unlabelled frames [U], {method: keypoints [U, K, 2]}) of one video."""
    frames = example['frames']
    truth = np.asarray(example['keypoints'][0], np.float32)
    visible = np.asarray(example['keypoint_visible'][0])
    source = nearest_labelled(example['labelled_frames'])
    unlabelled = np.flatnonzero(~np.asarray(example['labelled_frames'], bool))
    sources = source[unlabelled]
    predicted = self._predict(
      variables, frames, unlabelled, sources, truth[sources], visible[sources].astype(np.float32)
    )
    keypoints = {method: np.asarray(value) for method, value in predicted.items()}
    keypoints['copy'] = truth[sources]
    keypoints['flow'] = np.stack(
      [
        flow_keypoints(frames, s, t, truth[s], self.flow_preset)
        for s, t in zip(sources, unlabelled, strict=True)
      ]
    )
    return unlabelled, keypoints

  def run(self, state, constants) -> dict[str, float]:
    del constants
    self.decode_failures = []
    # One device computes each video (the variables replicated over a mesh would make every
    # device compute the same video).
    variables = jax.device_get(state.variables)
    distances = {method: [] for method in METHODS}
    scored = 0
    for index in range(self.num_videos):
      example = self.loader.eval_example(index)
      if example['decode_failed']:
        self.decode_failures.append(str(self.dataset.source[index]['video_id']))
        continue
      unlabelled, keypoints = self.video_predictions(variables, example)
      truth = np.asarray(example['keypoints'][0])[unlabelled]
      visible = np.asarray(example['keypoint_visible'][0])[unlabelled]
      size = np.asarray(heatmaps.object_size(truth, visible))
      counted = visible & (size[:, None] > 0)
      for method, predicted in keypoints.items():
        error = np.linalg.norm(predicted - truth, axis=-1) / np.maximum(size[:, None], 1e-9)
        distances[method].append(error[counted])
      scored += 1
    results = {'num_examples': scored}
    for method in METHODS:
      joined = np.concatenate(distances[method]) if distances[method] else np.zeros(0)
      results['num_keypoints'] = len(joined)  # the same keypoints for every method
      for threshold in self.thresholds:
        value = 100.0 * float(np.mean(joined <= threshold)) if len(joined) else float('nan')
        results[f'{method}/pck@{threshold:g}'] = value
    logging.info(
      '%s: PCK@0.2 %s',
      self.name,
      {m: round(results.get(f'{m}/pck@0.2', float('nan')), 1) for m in METHODS},
    )
    return results
