"""`arrow`: a clip and the same frames played backward (Arrow of Time).

Wei, Lim, Zisserman & Freeman, "Learning and Using the Arrow of Time" (CVPR 2018): a
network learns whether a clip plays forward or backward. A training example here is the
pair: frames int64 [2, T], row 0 a clip of `num_frames` frames every `stride` frames at a
random start, row 1 the same frames in reverse order; the loader decodes them once and
crops both with one box (`video` [2, T, h, w, 3]). Both go into one batch
(`tasks/clip_pairs.py`), so each batch is balanced and what the clip shows cannot be the
cue, only which way it runs.

Field: 'reversed' int32, (0, 1) in training. At test time `num_views` must be even: views
come in pairs (forward, reversed) at evenly spaced starts, 'reversed' = 0, 1, 0, 1, ...

Camera motion tells the direction without the scene's physics (cameras mostly zoom in and
pan forward). With `max_camera_motion` > 0 a training clip is kept only if the camera's
motion, the median over its consecutive sampled frames of `camera_motion.py`'s estimate
divided by `stride`, is at most `max_camera_motion` (a fraction of the frame's width per
video frame; the estimate of a still camera is below 0.003); a clip shot by a moving camera
is drawn again elsewhere in the video (`Sample.accept`, at most `samplers.MAX_DRAWS` draws,
the loader counts the clips kept after that). The median ignores a shot cut between two
frames. Dropping the clip rather than warping its frames to cancel the motion keeps the
frames as they were shot: a warped frame gains empty borders that grow with time, another
cue to the direction. 0 (the default) keeps every clip: the embedded videos have no camera.
"""

from __future__ import annotations

import numpy as np

from vidjax.data import camera_motion, sampling
from vidjax.data.samplers import Sample, VideoMeta


def forward_and_reversed(clips: np.ndarray) -> np.ndarray:
  """Frames [2N, T] from clips [N, T]: each clip followed by its reverse."""
  return np.stack([clips, clips[:, ::-1]], axis=1).reshape(-1, clips.shape[-1])


class Sampler:
  def __init__(self, *, num_frames: int, stride: int, policy: str, max_camera_motion: float = 0.0):
    if num_frames < 2:
      raise ValueError(
        f'config.input.sampling.num_frames={num_frames}: a clip needs at least 2 frames '
        'to have a direction.'
      )
    if max_camera_motion < 0:
      raise ValueError(
        f'config.input.sampling.max_camera_motion={max_camera_motion}: 0 (off) or more, a '
        'fraction of the frame width per frame (e.g. 0.01).'
      )
    self.num_frames, self.stride, self.policy = num_frames, stride, policy
    self.max_camera_motion = max_camera_motion

  def _camera_still(self, pair: np.ndarray) -> bool:
    """Whether the forward clip of a decoded pair [2, T, H, W, 3] has little camera motion."""
    per_frame = np.median(camera_motion.corner_displacement(pair[0])) / self.stride
    return bool(per_frame <= self.max_camera_motion)

  def train(self, rng: np.random.Generator, meta: VideoMeta) -> Sample:
    clip = sampling.random_clip(rng, meta.num_frames, self.num_frames, self.stride, self.policy)
    accept = self._camera_still if self.max_camera_motion > 0 else None
    fields = {'reversed': np.array([0, 1], np.int32)}
    return Sample(forward_and_reversed(clip[None]), fields, accept=accept)

  def eval(self, meta: VideoMeta, num_views: int) -> Sample:
    if num_views % 2:
      raise ValueError(
        f'num_clips={num_views}: the arrow sampler tests pairs of clips (forward, '
        'reversed); set config.evals.<name>.num_clips to an even number.'
      )
    clips = sampling.uniform_clips(
      meta.num_frames, self.num_frames, self.stride, num_views // 2, self.policy
    )
    reversed_ = np.tile(np.array([0, 1], np.int32), num_views // 2)
    return Sample(forward_and_reversed(clips), {'reversed': reversed_})
