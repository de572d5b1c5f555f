"""`segments` (TSN, TSM, PySlowFast's Something-Something v2 loader): the video is cut
into `num_frames` equal segments and one frame is taken from each, a random one in
training and evenly spread ones at test time; a clip always spans the whole video."""

from __future__ import annotations

import numpy as np

from vidjax.data import sampling
from vidjax.data.samplers import Sample, VideoMeta


class Sampler:
  def __init__(self, *, num_frames: int):
    self.num_frames = num_frames

  def train(self, rng: np.random.Generator, meta: VideoMeta) -> Sample:
    return Sample(sampling.segment_clip(rng, meta.num_frames, self.num_frames), {})

  def eval(self, meta: VideoMeta, num_views: int) -> Sample:
    return Sample(sampling.segment_views(meta.num_frames, self.num_frames, num_views), {})
