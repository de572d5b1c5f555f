"""`avts`: a clip with its own audio and the audio of the same video shifted in time.

Audio-visual temporal synchronisation (AVTS, Korbar, Tran & Torresani, arXiv 1807.00230)
learns from pairs of a clip and a sound: the sound under the clip (in sync), the sound of
another video (an easy negative) or the sound of the same video at another time (a hard
negative: same scene, same sources, only the timing is off). The clip is the `stride`
sampler's; besides its own audio ('audio'), every example carries 'audio_shifted': the
log-mel of a span of the same length starting at least `min_shift_s` earlier or later in
the same video. The task (`tasks/avts.py`) decides which pair an example becomes, so the
curriculum (easy negatives first, hard ones later) follows the training step; the easy
negatives are other videos' audio in the same batch.

Fields: 'audio_shift_s' float32, the shifted span's start minus the clip's, in seconds;
'has_shifted_audio' bool: False when the video is too short for a shift of `min_shift_s`
(then 'audio_shifted' is the clip's own audio and the task must not use it as a negative).
At test time the shift is exactly `min_shift_s` rounded up to whole frames, later when
the video allows it and earlier otherwise: the hardest negative the training rule draws.
"""

from __future__ import annotations

import math

import numpy as np

from vidjax.data import sampling
from vidjax.data.samplers import Sample, VideoMeta, stride


class Sampler(stride.Sampler):
  def __init__(self, *, num_frames: int, stride: int, policy: str, min_shift_s: float = 0.5):
    super().__init__(num_frames=num_frames, stride=stride, policy=policy)
    if not min_shift_s > 0:
      raise ValueError(
        f'config.input.sampling.min_shift_s={min_shift_s}: the hard negatives need a '
        'positive shift in seconds (AVTS: 0.5).'
      )
    self.min_shift_s = min_shift_s

  def _min_shift_frames(self, meta: VideoMeta) -> int:
    return max(1, math.ceil(self.min_shift_s * meta.fps - 1e-6))

  def _shifted(self, frames: np.ndarray, shift: int | None, meta: VideoMeta) -> tuple:
    """(indices of the shifted span, its fields); `shift` None: no shift is possible."""
    if shift is None:
      fields = {'audio_shift_s': np.float32(0.0), 'has_shifted_audio': np.bool_(False)}
      return frames, fields
    fields = {'audio_shift_s': np.float32(shift / meta.fps), 'has_shifted_audio': np.bool_(True)}
    return frames + shift, fields

  def _shift_range(self, start: int, meta: VideoMeta) -> np.ndarray:
    """Every allowed shift of a clip starting at `start`: the shifted span lies inside the
    video and starts at least the minimum shift away."""
    span = sampling.clip_span(self.num_frames, self.stride)
    starts = np.arange(0, max(meta.num_frames - span, -1) + 1)
    shifts = starts - start
    return shifts[np.abs(shifts) >= self._min_shift_frames(meta)]

  def train(self, rng: np.random.Generator, meta: VideoMeta) -> Sample:
    aligned = super().train(rng, meta).frames
    shifts = self._shift_range(int(aligned[0]), meta)
    shift = int(rng.choice(shifts)) if shifts.size else None
    shifted, fields = self._shifted(aligned, shift, meta)
    return Sample(aligned, fields, audio_frames={'audio': aligned, 'audio_shifted': shifted})

  def eval(self, meta: VideoMeta, num_views: int) -> Sample:
    aligned = super().eval(meta, num_views).frames
    views, fields = [], []
    for clip in aligned:
      shifts = self._shift_range(int(clip[0]), meta)
      minimum = self._min_shift_frames(meta)
      shift = minimum if minimum in shifts else (-minimum if -minimum in shifts else None)
      shifted, view_fields = self._shifted(clip, shift, meta)
      views.append(shifted)
      fields.append(view_fields)
    stacked = {key: np.stack([f[key] for f in fields]) for key in fields[0]}
    return Sample(
      aligned, stacked, audio_frames={'audio': aligned, 'audio_shifted': np.stack(views)}
    )
