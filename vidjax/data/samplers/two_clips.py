"""`two_clips`: two clips of one video at independent random starts (SCSampler's ranking).

SCSampler's saliency-ranking loss compares clips of the same video: the sampler must
score higher the one on which the heavy classifier is more confident of the video's
class (`tasks/scsampler.py`). A training example here is such a pair: frames int64
[2, T], each row `num_frames` frames every `stride` frames at its own uniformly random
start; the loader decodes them once and crops both with one box (`video`
[2, T, h, w, 3]; with audio enabled, `audio` [2, S, M], each row under its clip). On a
long untrimmed video the two starts usually fall in different stretches, so a pair often
sets a clip of the action against an idle one.

At test time the views are the `stride` sampler's: `num_views` clips at evenly spaced
starts, frames [num_views, T]. No fields.
"""

from __future__ import annotations

import numpy as np

from vidjax.data import sampling
from vidjax.data.samplers import Sample, VideoMeta, stride


class Sampler(stride.Sampler):
  """The `stride` sampler with two independent training clips; its test views unchanged."""

  def train(self, rng: np.random.Generator, meta: VideoMeta) -> Sample:
    clip_stride = self.clip_stride(meta)
    frames = np.stack(
      [
        sampling.random_clip(rng, meta.num_frames, self.num_frames, clip_stride, self.policy)
        for _ in range(2)
      ]
    )
    return Sample(frames, {})
