"""PCK of propagated keypoints, as videowalk's `eval/eval_pck.py` scores JHMDB.

For every frame after the first and every joint the prediction gives (a lost joint,
predicted at (-1, -1), is left out, as the official script marks joints visible from the
predictions), the distance to the true joint is divided by the frame's human size, 0.6
times the diagonal of the box around that frame's true joints (the given ones); PCK@a is,
per joint, the percentage of distances at or below a, averaged over the joints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)  # what the official script prints


def normalised_distances(predicted: np.ndarray, truth: np.ndarray) -> list[np.ndarray]:
  """Per joint, the normalised distances over frames 1..T-1 of one video.

  Args:
    predicted: [T, K, 2] (x, y) pixels; negative for a lost joint.
    truth: [T, K, 2] (x, y) pixels.
  """
  predicted, truth = np.asarray(predicted, np.float64), np.asarray(truth, np.float64)
  if predicted.shape != truth.shape or predicted.ndim != 3 or predicted.shape[-1] != 2:
    raise ValueError(
      f'keypoints of shapes {predicted.shape} and {truth.shape}: both [frames, joints, 2].'
    )
  visible = predicted[..., 0] >= 0
  distances = [[] for _ in range(truth.shape[1])]
  for t in range(1, len(truth)):
    if not visible[t].any():
      continue
    joints = truth[t][visible[t]]
    size = 0.6 * np.linalg.norm(joints.max(0) - joints.min(0))
    for k in np.flatnonzero(visible[t]):
      distances[k].append(np.linalg.norm(predicted[t, k] - truth[t, k]) / size)
  return [np.asarray(d) for d in distances]


def pck(
  videos: Iterable[tuple[np.ndarray, np.ndarray]], thresholds: Sequence[float] = THRESHOLDS
) -> dict[float, float]:
  """{threshold: PCK in percent} over (predicted, truth) pairs of videos."""
  per_joint = None
  for predicted, truth in videos:
    distances = normalised_distances(predicted, truth)
    if per_joint is None:
      per_joint = [[] for _ in distances]
    if len(distances) != len(per_joint):
      raise ValueError(f'{len(distances)} joints where the first video has {len(per_joint)}.')
    for k, d in enumerate(distances):
      per_joint[k].append(d)
  if per_joint is None:
    raise ValueError('No videos to score.')
  joined = [np.concatenate(d) for d in per_joint]
  return {
    threshold: float(np.mean([100.0 * np.mean(d <= threshold) for d in joined if len(d)]))
    for threshold in thresholds
  }
