"""`tcc`: timesteps spread over the whole video, each with its context frames (temporal
cycle-consistency, `tcc/`'s data pipeline).

`num_frames` timesteps: in training one random frame in each of `num_frames` equal
segments of the video (sorted, covering all of it: every phase of an action is in every
example), at test the segments' centres. Each timestep brings `num_context` frames, the
last being the timestep and the others `context_stride` frames apart before it (clamped at
the first frame), as the official embedder's context frames (2 at stride 15 at 30 fps).
The clip is [num_frames * num_context] frames, timestep by timestep; fields: 'steps', the
timesteps' frame indices, and 'num_video_frames', which the loss divides them by.
"""

from __future__ import annotations

import numpy as np

from vidjax.data import sampling
from vidjax.data.samplers import Sample, VideoMeta


class Sampler:
  def __init__(self, *, num_frames: int, num_context: int = 2, context_stride: int = 15):
    if num_context < 1 or context_stride < 1:
      raise ValueError(
        f'config.input.sampling: num_context={num_context} and context_stride='
        f'{context_stride} must be at least 1.'
      )
    self.num_frames, self.num_context, self.context_stride = num_frames, num_context, context_stride

  def _with_context(self, steps: np.ndarray) -> np.ndarray:
    """[..., T] timesteps -> [..., T * num_context] frames, each step's context first."""
    back = self.context_stride * np.arange(self.num_context - 1, -1, -1)
    return np.maximum(steps[..., None] - back, 0).reshape(*steps.shape[:-1], -1)

  def _fields(self, steps: np.ndarray, meta: VideoMeta) -> dict:
    return {
      'steps': steps.astype(np.int32),
      'num_video_frames': np.full(steps.shape[:-1], meta.num_frames, np.int32),
    }

  def train(self, rng: np.random.Generator, meta: VideoMeta) -> Sample:
    steps = sampling.segment_clip(rng, meta.num_frames, self.num_frames)
    return Sample(self._with_context(steps), self._fields(steps, meta))

  def eval(self, meta: VideoMeta, num_views: int) -> Sample:
    steps = sampling.segment_views(meta.num_frames, self.num_frames, num_views)
    return Sample(self._with_context(steps), self._fields(steps, meta))
