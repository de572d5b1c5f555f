"""`speed`: the same moment of a video at normal speed and sped up (SpeedNet).

SpeedNet (Benaim et al., CVPR 2020, arXiv 2004.06130) learns whether a clip plays at its
normal speed or faster. Its "same-batch training" puts a clip and the sped-up version of
the same moment in one batch, so the network cannot tell them apart by what they show,
only by how it moves. A training example here is that pair: frames int64 [2, T], row 0 at
normal speed, row 1 sped up by `speedup`, both starting at the same frame; the loader
decodes both and crops them with one box (`video` [2, T, h, w, 3]).

Against frame-skipping cues (a sped-up clip made by dropping every other frame has
regular skips that a network could count instead of judging motion), each clip's skip
factor is drawn around its nominal one: normal clips step
U[1 - skip_jitter, 1 + skip_jitter] frames at a time, sped-up clips `speedup` times that,
rounded to frames (`sampling.clip_offsets`). So both kinds mix steps (a normal clip
repeats or skips the odd frame), and only the average speed tells them apart. With the
default jitter of 0.25 and `speedup` 2 the two ranges (0.75-1.25 and 1.5-2.5 frames a
step) never meet. The paper states that it jitters the skip factor but its value is not
among the sources here: 0.25 is this implementation's choice.

Fields: 'sped_up' int32 (0 normal, 1 sped up) and 'skip_factor' float32 (the drawn
frames per step), one per clip: [2] in training. At test time `num_views` must be even:
views come in pairs (normal, sped up) at evenly spaced starts, without jitter, so the
fields are [num_views] with 'sped_up' = 0, 1, 0, 1, ...
"""

from __future__ import annotations

import numpy as np

from vidjax.data import sampling
from vidjax.data.samplers import Sample, VideoMeta


class Sampler:
  def __init__(
    self,
    *,
    num_frames: int,
    stride: int,
    policy: str,
    speedup: float = 2.0,
    skip_jitter: float = 0.25,
  ):
    if not speedup > 1:
      raise ValueError(
        f'config.input.sampling.speedup={speedup}: the sped-up clip must be faster than '
        'normal speed (SpeedNet: 2.0).'
      )
    if not 0 <= skip_jitter < 1:
      raise ValueError(
        f'config.input.sampling.skip_jitter={skip_jitter}: a fraction of the skip factor in [0, 1).'
      )
    self.num_frames, self.stride, self.policy = num_frames, stride, policy
    self.speedup, self.skip_jitter = speedup, skip_jitter

  def _pair(self, start: int, skips: tuple[float, float], meta: VideoMeta) -> np.ndarray:
    """Frames [2, T] of a clip at each skip factor, from the same first frame."""
    clips = [start + sampling.clip_offsets(self.num_frames, skip) for skip in skips]
    return np.stack([sampling.apply_policy(c, meta.num_frames, self.policy) for c in clips])

  def _max_start(self, fastest_skip: float, meta: VideoMeta) -> int:
    """The last first frame from which the faster clip stays inside the video."""
    return max(meta.num_frames - sampling.clip_span(self.num_frames, fastest_skip), 0)

  def train(self, rng: np.random.Generator, meta: VideoMeta) -> Sample:
    normal = self.stride * rng.uniform(1 - self.skip_jitter, 1 + self.skip_jitter)
    fast = self.stride * self.speedup * rng.uniform(1 - self.skip_jitter, 1 + self.skip_jitter)
    start = int(rng.integers(0, self._max_start(fast, meta) + 1))
    fields = {
      'sped_up': np.array([0, 1], np.int32),
      'skip_factor': np.array([normal, fast], np.float32),
    }
    return Sample(self._pair(start, (normal, fast), meta), fields)

  def eval(self, meta: VideoMeta, num_views: int) -> Sample:
    if num_views % 2:
      raise ValueError(
        f'num_clips={num_views}: the speed sampler tests pairs of clips (normal, sped up); '
        'set config.evals.<name>.num_clips to an even number.'
      )
    normal, fast = self.stride, self.stride * self.speedup
    max_start = self._max_start(fast, meta)
    num_pairs = num_views // 2
    if num_pairs == 1:
      starts = [max_start // 2]
    else:
      starts = np.round(np.linspace(0, max_start, num_pairs)).astype(np.int64)
    frames = np.concatenate([self._pair(int(s), (normal, fast), meta) for s in starts])
    fields = {
      'sped_up': np.tile(np.array([0, 1], np.int32), num_pairs),
      'skip_factor': np.tile(np.array([normal, fast], np.float32), num_pairs),
    }
    return Sample(frames, fields)
