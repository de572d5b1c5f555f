"""Which frames and which pixels a clip is made of.

Temporal samplers return frame indices; spatial samplers return crop corners. Both are
pure numpy so that the host work per clip is a decode of exactly the returned frames and
a slice. Frames requested beyond the end of a video follow `policy`:
  'loop': wrap around to the start (a short video plays again), or
  'pad':  repeat the last frame.
"""

from __future__ import annotations

import numpy as np

POLICIES = ('loop', 'pad')


def clip_span(num_frames: int, stride: int) -> int:
  """Number of source frames a clip of `num_frames` taken every `stride` frames covers."""
  return (num_frames - 1) * stride + 1


def _apply_policy(indices: np.ndarray, video_length: int, policy: str) -> np.ndarray:
  if policy == 'loop':
    return indices % video_length
  if policy == 'pad':
    return np.minimum(indices, video_length - 1)
  raise ValueError(f'Frame policy {policy!r}; choose one of {POLICIES}.')


def random_clip(
  rng: np.random.Generator, video_length: int, num_frames: int, stride: int, policy: str
) -> np.ndarray:
  """A clip at a uniformly random start (training). Returns int64 [num_frames]."""
  max_start = max(video_length - clip_span(num_frames, stride), 0)
  start = rng.integers(0, max_start + 1)
  return _apply_policy(start + stride * np.arange(num_frames), video_length, policy)


def uniform_clips(
  video_length: int, num_frames: int, stride: int, num_clips: int, policy: str
) -> np.ndarray:
  """`num_clips` clips with evenly spaced starts covering the video (multi-view testing).

  One clip is centred; several span first to last possible start. Returns
  int64 [num_clips, num_frames].
  """
  max_start = max(video_length - clip_span(num_frames, stride), 0)
  if num_clips == 1:
    starts = np.array([max_start // 2])
  else:
    starts = np.round(np.linspace(0, max_start, num_clips)).astype(np.int64)
  indices = starts[:, None] + stride * np.arange(num_frames)[None, :]
  return _apply_policy(indices, video_length, policy)


def random_crop(rng: np.random.Generator, height: int, width: int, size: int) -> tuple[int, int]:
  """Top-left corner of a random `size` x `size` crop."""
  _check_crop(height, width, size)
  return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))


def multi_crops(height: int, width: int, size: int, num_crops: int) -> list[tuple[int, int]]:
  """Top-left corners of the standard test crops.

  1: the centre; 3: left/centre/right along the long side (top/centre/bottom for portrait
  frames), as in the SlowFast and X3D papers' 3-crop testing.
  """
  _check_crop(height, width, size)
  centre = ((height - size) // 2, (width - size) // 2)
  if num_crops == 1:
    return [centre]
  if num_crops == 3:
    if width >= height:
      return [(centre[0], 0), centre, (centre[0], width - size)]
    return [(0, centre[1]), centre, (height - size, centre[1])]
  raise ValueError(f'num_crops={num_crops}; multi-view testing supports 1 or 3 crops.')


def _check_crop(height: int, width: int, size: int) -> None:
  if size > min(height, width):
    raise ValueError(
      f'crop_size={size} is larger than the frames ({height}x{width}); lower '
      'config.input.pp.crop_size or resize the frames first.'
    )
