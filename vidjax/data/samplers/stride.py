"""`stride`: `num_frames` frames every `stride` source frames, at a random start in
training and at evenly spaced starts at test time (one clip is centred). Frames past the
end of a video follow `policy` ('loop' wraps to the start, 'pad' repeats the last)."""

from __future__ import annotations

import numpy as np

from vidjax.data import sampling
from vidjax.data.samplers import Sample, VideoMeta


class Sampler:
  def __init__(self, *, num_frames: int, stride: int, policy: str):
    self.num_frames, self.stride, self.policy = num_frames, stride, policy

  def clip_stride(self, meta: VideoMeta) -> float:
    del meta
    return self.stride

  def train(self, rng: np.random.Generator, meta: VideoMeta) -> Sample:
    stride = self.clip_stride(meta)
    frames = sampling.random_clip(rng, meta.num_frames, self.num_frames, stride, self.policy)
    return Sample(frames, {})

  def eval(self, meta: VideoMeta, num_views: int) -> Sample:
    stride = self.clip_stride(meta)
    frames = sampling.uniform_clips(
      meta.num_frames, self.num_frames, stride, num_views, self.policy
    )
    return Sample(frames, {})
