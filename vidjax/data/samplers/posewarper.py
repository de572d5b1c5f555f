"""`posewarper`: a labelled frame and a supporting frame near it (PoseWarper's training pairs).

Training: the keyframe A is drawn uniformly from the video's labelled frames (every frame
when the record marks none), and the supporting frame B = A + delta, delta uniform in
[-max_delta, max_delta] and clipped to the video, as the official `TIMESTEP_DELTA_RANGE`
(2) draws it; delta = 0 gives B = A. Frames [2]: A then B; field 'keyframe' = A, at which
the loader reads the keypoints (`loaders.clip.keypoints_of`). At test, `num_views`
labelled frames evenly spread, each with the frame `max_delta` later (earlier at the end).
"""

from __future__ import annotations

import numpy as np

from vidjax.data.samplers import Sample, VideoMeta


def _keyframes(meta: VideoMeta) -> np.ndarray:
  if meta.labelled_frames is None:
    return np.arange(meta.num_frames)
  labelled = np.flatnonzero(np.asarray(meta.labelled_frames))
  return labelled if len(labelled) else np.arange(meta.num_frames)


class Sampler:
  def __init__(self, *, max_delta: int = 2):
    if max_delta < 0:
      raise ValueError(f'config.input.sampling.max_delta={max_delta}: at least 0.')
    self.max_delta = max_delta

  def train(self, rng: np.random.Generator, meta: VideoMeta) -> Sample:
    keyframe = int(rng.choice(_keyframes(meta)))
    delta = int(rng.integers(-self.max_delta, self.max_delta + 1))
    support = int(np.clip(keyframe + delta, 0, meta.num_frames - 1))
    return Sample(np.array([keyframe, support]), {'keyframe': np.int32(keyframe)})

  def eval(self, meta: VideoMeta, num_views: int) -> Sample:
    keyframes = _keyframes(meta)
    chosen = keyframes[np.linspace(0, len(keyframes) - 1, num_views).round().astype(int)]
    later = chosen + self.max_delta
    support = np.where(later < meta.num_frames, later, chosen - self.max_delta)
    support = np.clip(support, 0, meta.num_frames - 1)
    frames = np.stack([chosen, support], axis=1)
    return Sample(frames, {'keyframe': chosen.astype(np.int32)})
