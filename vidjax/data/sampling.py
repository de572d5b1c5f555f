"""Which frames and which pixels a clip is made of.

Temporal samplers return frame indices; spatial samplers return crop corners or boxes. Both are
pure numpy so that the host work per clip is a decode of exactly the returned frames and
a slice. Frames requested beyond the end of a video follow `policy`:
  'loop': wrap around to the start (a short video plays again), or
  'pad':  repeat the last frame.

The temporal samplers that config.input.sampling.mode names are built on these functions
(`vidjax.data.samplers`: 'stride', 'fps', 'segments'). In mode 'fps' frame k of a clip
starting at `start` is round(start + k * fps / target_fps); the fps is the record's average
frame rate, so for a variable-frame-rate source the clip is at `target_fps` on average only
(vidjax's prepared videos are constant-rate: transcoding renumbers frames at the source's
average rate).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

POLICIES = ('loop', 'pad')


def clip_offsets(num_frames: int, stride: float) -> np.ndarray:
  """Frame offsets from a clip's first frame: round(k * stride), int64 [num_frames].

  `stride` may be fractional (mode 'fps'); halves round up so that offsets never repeat
  for strides of at least 1.
  """
  return np.floor(np.arange(num_frames) * stride + 0.5).astype(np.int64)


def clip_span(num_frames: int, stride: float) -> int:
  """Number of source frames a clip of `num_frames` taken every `stride` frames covers."""
  return int(clip_offsets(num_frames, stride)[-1]) + 1


def fps_stride(fps: float, target_fps: float) -> float:
  """The fractional stride that samples a video of `fps` frames/s at `target_fps`."""
  if not fps > 0:
    raise ValueError(
      f'Video frame rate {fps}: sampling mode "fps" needs the record\'s positive "fps"; '
      'use config.input.sampling.mode="stride" for this dataset or re-prepare it.'
    )
  if not target_fps > 0:
    raise ValueError(
      f'config.input.sampling.target_fps={target_fps}: must be positive in mode "fps".'
    )
  return fps / target_fps


def apply_policy(indices: np.ndarray, video_length: int, policy: str) -> np.ndarray:
  """`indices` with those past the end of the video replaced as `policy` says."""
  if policy == 'loop':
    return indices % video_length
  if policy == 'pad':
    return np.minimum(indices, video_length - 1)
  raise ValueError(f'Frame policy {policy!r}; choose one of {POLICIES}.')


def random_clip(
  rng: np.random.Generator, video_length: int, num_frames: int, stride: float, policy: str
) -> np.ndarray:
  """A clip at a uniformly random start (training). Returns int64 [num_frames]."""
  max_start = max(video_length - clip_span(num_frames, stride), 0)
  start = rng.integers(0, max_start + 1)
  return apply_policy(start + clip_offsets(num_frames, stride), video_length, policy)


def uniform_clips(
  video_length: int, num_frames: int, stride: float, num_clips: int, policy: str
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
  indices = starts[:, None] + clip_offsets(num_frames, stride)[None, :]
  return apply_policy(indices, video_length, policy)


def _segment_bounds(video_length: int, num_segments: int) -> tuple[np.ndarray, np.ndarray]:
  """First and last frame (inclusive) of each of `num_segments` equal segments.

  As PySlowFast's ssv2 loader: segments of (video_length - 1) / num_segments frames whose
  rounded bounds are shared by neighbours; a video shorter than `num_segments` repeats
  frames instead of reading past its end.
  """
  size = (video_length - 1) / num_segments
  bounds = np.round(size * np.arange(num_segments + 1)).astype(np.int64)
  return bounds[:-1], bounds[1:]


def segment_clip(rng: np.random.Generator, video_length: int, num_frames: int) -> np.ndarray:
  """One random frame in each of `num_frames` equal segments (TSN training).

  Returns int64 [num_frames], non-decreasing.
  """
  first, last = _segment_bounds(video_length, num_frames)
  return rng.integers(first, last + 1)


def segment_views(video_length: int, num_frames: int, num_views: int) -> np.ndarray:
  """`num_views` deterministic segment clips (TSN testing).

  View v takes the frame at fraction (v + 0.5) / num_views of every segment, so one view
  is the segments' centre frames (PySlowFast's ssv2 test clip) and several views are
  evenly spread offsets inside the segments, like TSN's and TSM's multi-clip testing.
  (PySlowFast's ssv2 loader itself repeats the centre clip for every temporal view and
  varies only the crops.)

  Returns:
    int64 [num_views, num_frames].
  """
  first, last = _segment_bounds(video_length, num_frames)
  fractions = (np.arange(num_views) + 0.5) / num_views
  return first[None, :] + np.floor(fractions[:, None] * (last - first)[None, :]).astype(np.int64)


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


def scale_jitter_crop(
  rng: np.random.Generator, height: int, width: int, size: int, short_side_range: Sequence[int]
) -> tuple[float, float, float, float]:
  """A random `size` crop of the frames resized to a random short side (SlowFast's jitter).

  The short side S is uniform in `short_side_range` (inclusive), the crop uniform in the
  resized frame. Returned in the source frame's coordinates, so that the caller resamples
  only the crop: box (top, left, box_height, box_width), a square of side size * short / S.
  """
  low, high = short_side_range
  if not size <= low <= high:
    raise ValueError(
      f'config.input.pp.scale_jitter={tuple(short_side_range)}: needs crop_size={size} '
      '<= min <= max.'
    )
  short_side = int(rng.integers(low, high + 1))
  scale = short_side / min(height, width)
  top, left = random_crop(rng, round(height * scale), round(width * scale), size)
  side = size / scale
  # Rounding the resized size up can put the last crop up to a pixel past the frame.
  return min(top / scale, height - side), min(left / scale, width - side), side, side


def random_resized_crop(
  rng: np.random.Generator,
  height: int,
  width: int,
  area_range: Sequence[float],
  aspect_ratio_range: Sequence[float],
) -> tuple[int, int, int, int]:
  """An Inception-style box (torchvision's RandomResizedCrop.get_params).

  Up to 10 draws of an area fraction (uniform in `area_range`) and a width / height ratio
  (log-uniform in `aspect_ratio_range`) until the box fits; otherwise the whole frame with
  its aspect ratio clamped into the range, centred. Returns (top, left, box_height,
  box_width) in pixels.
  """
  area = height * width
  log_ratios = np.log(aspect_ratio_range)
  for _ in range(10):
    target_area = area * rng.uniform(*area_range)
    aspect_ratio = np.exp(rng.uniform(*log_ratios))
    box_width = round(np.sqrt(target_area * aspect_ratio))
    box_height = round(np.sqrt(target_area / aspect_ratio))
    if 0 < box_width <= width and 0 < box_height <= height:
      top = int(rng.integers(0, height - box_height + 1))
      left = int(rng.integers(0, width - box_width + 1))
      return top, left, box_height, box_width
  ratio = width / height
  if ratio < min(aspect_ratio_range):
    box_width, box_height = width, round(width / min(aspect_ratio_range))
  elif ratio > max(aspect_ratio_range):
    box_width, box_height = round(height * max(aspect_ratio_range)), height
  else:
    box_width, box_height = width, height
  return (height - box_height) // 2, (width - box_width) // 2, box_height, box_width
