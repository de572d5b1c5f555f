"""`tuples`: Shuffle & Learn's frame tuples, in temporal order or not.

Misra, Zitnick & Hebert, "Shuffle and Learn: Unsupervised Learning using Temporal Order
Verification" (ECCV 2016). Five frames a < b < c < d < e are drawn from a window of
`window` frames at a random start; a positive tuple is (b, c, d), played forward or, with
probability 1/2, backward (d, c, b): both are in temporal order; a negative tuple puts a
frame from outside between b and d: (b, a, d) or (b, e, d), each with probability 1/2.
`negative_fraction` of the tuples are negatives, 0.75 by default (the paper's best ratio
of positives to negatives, 1:3, and the `SHUFFLE_FRACTION` of TCC's implementation).
A training example is frames int64 [3] (`num_frames` must be 3), the field 'in_order'
int32 (1: positive) and 'window_frames' int64 [5] (a..e).

The paper draws its tuples from windows of high motion (by the optical flow's magnitude)
and rejects tuples whose middle frame is nearly identical to a or e. With `min_motion` > 0
a training tuple is kept only if each of its two consecutive frame pairs differs by at
least `min_motion` (mean absolute difference of the decoded pixels, 0-255): tuples from
still moments and tuples whose middle frame nearly repeats an end are drawn again
(`Sample.accept`; the loader keeps the last of `samplers.MAX_DRAWS` draws). Frame
differences stand in for the paper's flow magnitude. 0 (the default) keeps every tuple:
the embedded videos move throughout.

At test time views come in pairs, a positive (b, c, d) and a negative, (b, a, d) and
(b, e, d) by turns, with a..e evenly spaced in windows at evenly spaced starts; `num_views`
must be even, so the accuracy over the views is balanced.
"""

from __future__ import annotations

import numpy as np

from vidjax.data.samplers import Sample, VideoMeta


def _tuple(frames: np.ndarray, kind: str) -> np.ndarray:
  """The 3 frames of a tuple `kind` from five ordered frames a..e."""
  a, b, c, d, e = frames
  return np.array(
    {'forward': (b, c, d), 'backward': (d, c, b), 'a': (b, a, d), 'e': (b, e, d)}[kind]
  )


class Sampler:
  def __init__(
    self,
    *,
    num_frames: int,
    window: int = 30,
    negative_fraction: float = 0.75,
    min_motion: float = 0.0,
  ):
    if num_frames != 3:
      raise ValueError(
        f'config.input.sampling.num_frames={num_frames}: a Shuffle & Learn tuple has 3 '
        'frames; set it to 3.'
      )
    if window < 5:
      raise ValueError(
        f'config.input.sampling.window={window}: five distinct frames a < b < c < d < e '
        'must fit in the window.'
      )
    if not 0 < negative_fraction < 1:
      raise ValueError(
        f'config.input.sampling.negative_fraction={negative_fraction}: a fraction in (0, 1).'
      )
    if min_motion < 0:
      raise ValueError(f'config.input.sampling.min_motion={min_motion}: 0 (off) or more.')
    self.window, self.negative_fraction, self.min_motion = window, negative_fraction, min_motion

  def _moves(self, frames: np.ndarray) -> bool:
    """Whether each consecutive pair of the tuple's decoded frames differs by min_motion."""
    pixels = frames.astype(np.float32)
    steps = np.abs(np.diff(pixels, axis=0)).reshape(len(pixels) - 1, -1).mean(axis=1)
    return bool(np.all(steps >= self.min_motion))

  def _window(self, meta: VideoMeta) -> int:
    if meta.num_frames < 5:
      raise ValueError(f'A video of {meta.num_frames} frames has no 5 distinct frames for a tuple.')
    return min(self.window, meta.num_frames)

  def train(self, rng: np.random.Generator, meta: VideoMeta) -> Sample:
    window = self._window(meta)
    start = int(rng.integers(0, meta.num_frames - window + 1))
    ordered = start + np.sort(rng.choice(window, 5, replace=False))
    if rng.uniform() < self.negative_fraction:
      kind, in_order = ('a', 'e')[int(rng.integers(2))], 0
    else:
      kind, in_order = ('forward', 'backward')[int(rng.integers(2))], 1
    fields = {'in_order': np.int32(in_order), 'window_frames': ordered.astype(np.int64)}
    accept = self._moves if self.min_motion > 0 else None
    return Sample(_tuple(ordered, kind).astype(np.int64), fields, accept=accept)

  def eval(self, meta: VideoMeta, num_views: int) -> Sample:
    if num_views % 2:
      raise ValueError(
        f'num_clips={num_views}: the tuples sampler tests pairs of tuples (in order, '
        'shuffled); set config.evals.<name>.num_clips to an even number.'
      )
    window = self._window(meta)
    num_pairs = num_views // 2
    starts = np.round(np.linspace(0, meta.num_frames - window, num_pairs)).astype(np.int64)
    frames, in_order, windows = [], [], []
    for pair, start in enumerate(starts):
      ordered = start + np.round(np.linspace(0, window - 1, 5)).astype(np.int64)
      for kind, label in (('forward', 1), (('a', 'e')[pair % 2], 0)):
        frames.append(_tuple(ordered, kind))
        in_order.append(label)
        windows.append(ordered)
    fields = {'in_order': np.array(in_order, np.int32), 'window_frames': np.stack(windows)}
    return Sample(np.stack(frames).astype(np.int64), fields)
