"""The `person_crops` loader: top-down pose crops of one person in a frame and a nearby frame.

What PoseWarper trains on (its `posetrack.py` dataset, HRNet's top-down crops): a person
with labelled joints in a labelled frame A, and a supporting frame B = A + delta (delta
uniform in [-max_delta, max_delta], clipped to the video), both cut by the same affine
crop around the person and resized to `config.input.person_crop.size` (384 x 288 for
HRNet-W48):

  video             uint8 [2, H, W, 3]   A's crop, then B's
  keypoints         float32 [1, K, 2]    A's joints, (y, x) crop pixels
  keypoint_visible  bool [1, K]          labelled in A and inside the crop

The crop box: the person's labelled joints' extent, widened to the crop's aspect ratio and
by `box_scale` (1.25); the official code reads the annotation's box instead. Training
augments as HRNet's `JointsDataset` does: a scale factor N(1, scale_factor) clipped to
1 +- scale_factor (0.35), a rotation N(0, rotation) clipped to +-2 rotation degrees (45)
with probability `rotation_prob` (0.6), the half body (the upper or the lower joints alone,
the box x 1.5) with probability `half_body_prob` (0.3) when more than 8 joints are
labelled and K = 17, and a horizontal flip (`config.input.pp.flip`) that exchanges the
`flip_pairs` (left / right joints). A video is drawn uniformly, then a labelled frame and a
person in it; the official code draws (frame, person) pairs uniformly over the dataset.

Evaluation: `num_clips` (frame, person) pairs spread evenly over the video's labelled
ones, unaugmented, each with the frame `max_delta` later (earlier at the end). A video
with nobody labelled cannot give a crop: in training the next video takes its place, in
evaluation it is left out and listed with the videos that could not be decoded.

It reads `posetrack` records (a JPEG per frame, `data/builders/posetrack.py`) and video
records with keypoints (the embedded `keypoints` videos), `keypoints` [N, T, K, 2] (y, x)
pixels with `keypoint_visible` [N, T, K].
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import ml_collections
import numpy as np

from vidjax.data import decode, loaders
from vidjax.data.loaders import image

# HRNet's COCO/PoseTrack layout (K = 17): joints 0-10 are the upper body.
UPPER_BODY = 11
HALF_BODY_MIN_JOINTS = 8


def input_shapes(input_config: ml_collections.ConfigDict) -> dict[str, tuple[int, ...]]:
  height, width = input_config.person_crop.size
  return {'video': (2, height, width, 3)}


def _max_delta(input_config: ml_collections.ConfigDict) -> int:
  if 'max_delta' not in input_config.sampling:
    raise ValueError(
      "config.input.sampling needs 'max_delta' (frames between a labelled frame and its "
      "supporting frame; PoseWarper's is 2) with loader='person_crops'."
    )
  return input_config.sampling.max_delta


def check_train_config(input_config: ml_collections.ConfigDict) -> None:
  _max_delta(input_config)
  crop = input_config.person_crop
  if len(crop.size) != 2 or min(crop.size) < 1:
    raise ValueError(f'config.input.person_crop.size={crop.size}: (height, width) in pixels.')


def _frames(record: Mapping, indices) -> np.ndarray:
  """uint8 [len(indices), H, W, 3] of a JPEG-per-frame or a video record."""
  if 'frames' in record:
    try:
      return np.stack([image.decode_image(record['frames'][int(t)]) for t in indices])
    except ValueError as error:
      raise decode.DecodeError(str(error)) from None
  return decode.decode_frames(record['video'], [int(t) for t in indices])


def people(record: Mapping) -> list[tuple[int, int]]:
  """(frame, person) pairs with labelled joints, in labelled frames, in order."""
  visible = np.asarray(record['keypoint_visible']).any(-1)  # [N, T]
  labelled = np.asarray(record.get('labelled_frames', np.ones(visible.shape[1], bool)), bool)
  persons, frames = np.nonzero(visible & labelled[None])
  order = np.lexsort((persons, frames))
  return [(int(frames[i]), int(persons[i])) for i in order]


def box_of(points: np.ndarray, aspect: float, box_scale: float) -> tuple[np.ndarray, np.ndarray]:
  """(centre, size) in (x, y) pixels of the box around (x, y) `points`, widened to
  `aspect` (width / height) and scaled by `box_scale`."""
  low, high = points.min(0), points.max(0)
  centre, (width, height) = (low + high) / 2, np.maximum(high - low, 1.0)
  if width > aspect * height:
    height = width / aspect
  else:
    width = height * aspect
  return centre, np.array([width, height]) * box_scale


def crop_transform(centre, size, rotation: float, output_size) -> np.ndarray:
  """The 2 x 3 affine map from frame pixels to crop pixels (x, y) of a box (`centre`,
  `size` (w, h)) rotated by `rotation` degrees, onto an output (height, width)."""
  out_h, out_w = output_size
  angle = np.deg2rad(rotation)
  down = np.array([np.sin(angle), np.cos(angle)]) * size[1] / 2  # the box's "down" half-axis
  right = np.array([down[1], -down[0]]) * size[0] / size[1]
  source = np.float32([centre, centre + down, centre + right])
  target = np.float32([[out_w / 2, out_h / 2], [out_w / 2, out_h], [out_w, out_h / 2]])
  return cv2.getAffineTransform(source, target)


def warp_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
  return points @ matrix[:, :2].T + matrix[:, 2]


class Loader:
  """Person crops of labelled frames and their supporting frames; see the module docstring."""

  rejected_samples_kept = 0

  def __init__(self, dataset, input_config: ml_collections.ConfigDict):
    self._crop = input_config.person_crop
    self._flip = input_config.pp.flip
    self._max_delta = _max_delta(input_config)
    self._reader = loaders.RecordReader(dataset.source, 'video', 'video_id', (decode.DecodeError,))

  @property
  def decode_failures(self) -> int:
    return self._reader.decode_failures

  def _example(self, record, frame: int, person: int, support: int, rng) -> dict:
    crop, size = self._crop, tuple(self._crop.size)
    points = np.asarray(record['keypoints'], np.float32)[person, frame][:, ::-1]  # (x, y)
    visible = np.asarray(record['keypoint_visible'])[person, frame].astype(bool)
    frames = _frames(record, (frame, support))
    aspect = size[1] / size[0]
    centre, box = box_of(points[visible], aspect, crop.box_scale)
    rotation, flip = 0.0, False
    if rng is not None:
      if (
        len(points) == 17
        and visible.sum() > HALF_BODY_MIN_JOINTS
        and rng.random() < crop.half_body_prob
      ):
        upper = rng.random() < 0.5
        part = visible & ((np.arange(17) < UPPER_BODY) == upper)
        if part.sum() >= 2:
          centre, box = box_of(points[part], aspect, 1.5)
      box = box * np.clip(
        rng.normal() * crop.scale_factor + 1, 1 - crop.scale_factor, 1 + crop.scale_factor
      )
      if rng.random() < crop.rotation_prob:
        rotation = float(
          np.clip(rng.normal() * crop.rotation, -2 * crop.rotation, 2 * crop.rotation)
        )
      flip = bool(self._flip and rng.random() < 0.5)
    matrix = crop_transform(centre, box, rotation, size)
    video = np.stack(
      [cv2.warpAffine(f, matrix, (size[1], size[0]), flags=cv2.INTER_LINEAR) for f in frames]
    )
    joints = warp_points(matrix, points)
    if flip:
      video = video[:, :, ::-1]
      joints[:, 0] = size[1] - 1 - joints[:, 0]
      for left, right in crop.flip_pairs:
        joints[[left, right]] = joints[[right, left]]
        visible[[left, right]] = visible[[right, left]]
    inside = np.all((joints >= 0) & (joints < (size[1], size[0])), axis=-1)
    return {
      'video': np.ascontiguousarray(video),
      'keypoints': joints[None, :, ::-1].astype(np.float32),
      'keypoint_visible': (visible & inside)[None],
    }

  def _pairs(self, record) -> list[tuple[int, int]]:
    pairs = people(record)
    if not pairs:
      raise decode.DecodeError('no person with labelled joints in a labelled frame')
    return pairs

  def _train(self, record, rng: np.random.Generator) -> dict[str, np.ndarray]:
    pairs = self._pairs(record)
    frame, person = pairs[int(rng.integers(len(pairs)))]
    delta = int(rng.integers(-self._max_delta, self._max_delta + 1))
    support = int(np.clip(frame + delta, 0, int(record['num_frames']) - 1))
    return self._example(record, frame, person, support, rng)

  def _eval_views(self, record, num_views: int) -> dict[str, np.ndarray]:
    pairs = self._pairs(record)
    views = []
    for i in np.linspace(0, len(pairs) - 1, num_views).round().astype(int):
      frame, person = pairs[i]
      later = frame + self._max_delta
      support = later if later < int(record['num_frames']) else max(frame - self._max_delta, 0)
      views.append(self._example(record, frame, person, support, None))
    return {key: np.stack([view[key] for view in views]) for key in views[0]}

  def train_example(self, index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One augmented crop pair; a record without labelled people (or that does not
    decode) is replaced by the next, as an undecodable one is."""
    _, example = self._reader.read(index, lambda r: self._train(r, rng), substitute=True)
    return example

  def eval_example(self, index: int, num_clips: int, num_crops: int) -> dict[str, np.ndarray]:
    """`num_clips` crop pairs of (frame, person) pairs spread over the video, 'index',
    'mask' and 'decode_failed'."""
    if num_crops != 1:
      raise ValueError(f'A person crop is one crop; evaluate with num_crops=1, not {num_crops}.')
    try:
      _, views = self._reader.read(
        index, lambda r: self._eval_views(r, num_clips), substitute=False
      )
    except decode.DecodeError:
      failed = dict(self.empty_example(num_clips), index=np.int32(index))
      return dict(failed, decode_failed=np.bool_(True))
    return dict(views, index=np.int32(index), mask=np.bool_(True), decode_failed=np.bool_(False))

  def empty_example(self, num_views: int) -> dict[str, np.ndarray]:
    """Masked views of zeros (padding and undecodable videos)."""
    (height, width), k = self._crop.size, self._crop.num_keypoints
    return {
      'video': np.zeros((num_views, 2, height, width, 3), np.uint8),
      'keypoints': np.zeros((num_views, 1, k, 2), np.float32),
      'keypoint_visible': np.zeros((num_views, 1, k), bool),
      'index': np.int32(-1),
      'mask': np.bool_(False),
      'decode_failed': np.bool_(False),
    }
