"""The `keyframe` loader: the clip around an annotated keyframe, with its actors' boxes.

What AVA-style spatio-temporal action localization trains and tests on (ACAR-Net, PySlowFast
AVA). A record is one keyframe (`data/builders/ava.keyframe_features`): the video,
the keyframe's frame index, its actors' boxes (AVA's normalised x1, y1, x2, y2) with
multi-hot labels [A, C], and a person detector's boxes and scores. An example:

  video      uint8 [T, S, S, 3]   sampling.num_frames frames, sampling.stride apart, centred
                                  on the keyframe as ACAR's TemporalCenterCrop (the window
                                  starts num_frames * stride // 2 before it); frames before
                                  the first or after the last repeat the video's edge frame
  boxes      float32 [N, 4]       the boxes the head pools, normalised (x1, y1, x2, y2) in the
                                  clip, padded to N = keyframe.max_actors
  box_mask   bool [N]             False for padding
  label      float32 [N, C]       (training) each box's multi-hot actions

Training reads the ground-truth boxes, jittered as ACAR's `necks/utils.py` does (each
coordinate moved by U(-j, j) of the box's width or height, j = keyframe.box_jitter, then
its asymmetric clamps: x1, x2 at least 0, y1, y2 at most 1), through the clip's random
crop and flip (`Crop`, `loaders.clip.train_crop`); a flip exchanges the labels named in
pp.flip_label_swaps. A box the crop leaves empty is masked.

Evaluation reads the ground-truth boxes or the detector's (keyframe.boxes='detections',
those scoring at least keyframe.detection_threshold) on the whole frame resized to
S x S, and its views are that frame (num_crops=1) and its mirror image (num_crops=2, the
flip test, boxes mirrored with it). Because the view is the whole frame, boxes in the clip
are boxes of the frame, and the evaluator scores them against the ground truth as is:
'gt_boxes' [N, 4], 'gt_labels' [N, C] and 'gt_mask' [N] ride along, with 'timestamp'.
A keyframe with more actors than keyframe.max_actors is an error that names the key.

With keyframe.bank.path (an actor-context feature bank, `data/feature_bank.py`), every
example also has the bank of its keyframe's window (keyframe.bank.window seconds either
side): 'bank' float32 [M, C] and 'bank_mask' bool [M], per view in evaluation, the
mirrored features for a mirrored view.
"""

from __future__ import annotations

from collections.abc import Mapping

import ml_collections
import numpy as np

from vidjax.data import decode, feature_bank, loaders
from vidjax.data.crop import Crop
from vidjax.data.loaders import clip

BOX_SOURCES = ('ground_truth', 'detections')


def input_shapes(input_config: ml_collections.ConfigDict) -> dict[str, tuple[int, ...]]:
  num_frames, size = input_config.sampling.num_frames, input_config.pp.crop_size
  actors = input_config.keyframe.max_actors
  shapes = {'video': (num_frames, size, size, 3), 'boxes': (actors, 4), 'box_mask': (actors,)}
  bank = input_config.keyframe.bank
  if bank.path:
    bank_actors, channels = feature_bank.shape(bank.path)
    slots = (2 * bank.window + 1) * bank_actors
    shapes.update(bank=(slots, channels), bank_mask=(slots,))
  return shapes


def check_train_config(input_config: ml_collections.ConfigDict) -> None:
  clip.check_train_config(input_config)
  if input_config.keyframe.boxes != 'ground_truth':
    raise ValueError(
      f'config.input.keyframe.boxes={input_config.keyframe.boxes!r}: training reads the '
      "ground-truth boxes ('ground_truth'); detections are for evaluation "
      "(config.evals.<name>.input.keyframe.boxes='detections')."
    )


def window(keyframe: int, num_video_frames: int, num_frames: int, stride: int) -> np.ndarray:
  """Frame indices of the clip around `keyframe`: `num_frames` frames `stride` apart from
  num_frames * stride // 2 before it, clamped to the video."""
  start = keyframe - num_frames * stride // 2
  return np.clip(start + np.arange(num_frames) * stride, 0, num_video_frames - 1)


def jitter_boxes(rng: np.random.Generator, boxes: np.ndarray, amount: float) -> np.ndarray:
  """ACAR's training box jitter of normalised (x1, y1, x2, y2) boxes [A, 4]: each coordinate
  moved by U(-amount, amount) of the box's width (x) or height (y), then x1, x2 clamped
  below at 0 and y1, y2 above at 1, as the official code does (x2 may pass 1, y1 0)."""
  size = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=-1)
  moved = boxes + rng.uniform(-amount, amount, boxes.shape) * np.tile(size, 2)
  moved[:, [0, 2]] = np.maximum(moved[:, [0, 2]], 0.0)
  moved[:, [1, 3]] = np.minimum(moved[:, [1, 3]], 1.0)
  return moved


def boxes_through(crop: Crop, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
  """Normalised (x1, y1, x2, y2) boxes of a height x width frame -> normalised boxes of the
  crop's output (clipped to it)."""
  pixels = boxes[:, [1, 0, 3, 2]] * np.array([height, width, height, width], np.float32)
  out = crop.boxes(pixels) / crop.size
  return out[:, [1, 0, 3, 2]].astype(np.float32)


class Loader:
  """Keyframe clips with their actors' boxes; see the module docstring."""

  rejected_samples_kept = 0

  def __init__(self, dataset, input_config: ml_collections.ConfigDict):
    self._pp, self._keyframe = input_config.pp, input_config.keyframe
    self._num_frames = input_config.sampling.num_frames
    self._stride = input_config.sampling.stride
    self._num_classes = len(dataset.label_names)
    self._flip_map = clip.flip_label_map(dataset.label_names, self._pp.flip_label_swaps)
    if self._keyframe.boxes not in BOX_SOURCES:
      raise ValueError(
        f'config.input.keyframe.boxes={self._keyframe.boxes!r}; choose one of {BOX_SOURCES}.'
      )
    self._reader = loaders.RecordReader(
      dataset.source, 'keyframe', 'video_id', (decode.DecodeError,)
    )
    bank = self._keyframe.bank
    self._bank = feature_bank.open_bank(bank.path, bank.window) if bank.path else None

  @property
  def decode_failures(self) -> int:
    return self._reader.decode_failures

  def _frames(self, record: Mapping) -> np.ndarray:
    indices = window(
      int(record['keyframe']), int(record['num_frames']), self._num_frames, self._stride
    )
    unique, inverse = np.unique(indices, return_inverse=True)
    return decode.decode_frames(record['video'], unique.tolist())[inverse]

  def _padded(self, record: Mapping, values: np.ndarray) -> np.ndarray:
    actors = self._keyframe.max_actors
    if len(values) > actors:
      video_id = record['video_id']
      video_id = video_id.decode() if isinstance(video_id, bytes) else video_id
      raise ValueError(
        f'Keyframe {video_id!r} at frame {int(record["keyframe"])} has '
        f'{len(values)} boxes, more than config.input.keyframe.max_actors={actors}; raise it.'
      )
    padded = np.zeros((actors, *values.shape[1:]), np.float32)
    padded[: len(values)] = values
    return padded

  def _bank_views(self, record: Mapping, flips: tuple[bool, ...]) -> dict[str, np.ndarray]:
    """The keyframe's feature bank per view ({} without a bank)."""
    if self._bank is None:
      return {}
    video_id = record['video_id']
    video_id = video_id.decode() if isinstance(video_id, bytes) else str(video_id)
    views = [self._bank.read(video_id, int(record['timestamp']), int(flip)) for flip in flips]
    return {'bank': np.stack([v[0] for v in views]), 'bank_mask': np.stack([v[1] for v in views])}

  def _train(self, record: Mapping, rng: np.random.Generator) -> dict[str, np.ndarray]:
    frames = self._frames(record)
    height, width = frames.shape[1:3]
    crop = clip.train_crop(height, width, rng, self._pp)
    boxes = np.asarray(record['boxes'], np.float32).reshape(-1, 4)
    boxes = boxes_through(crop, jitter_boxes(rng, boxes, self._keyframe.box_jitter), height, width)
    labels = np.asarray(record['label'], bool).reshape(len(boxes), self._num_classes)
    if crop.flip:
      labels = labels[:, self._flip_map]
    kept = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return {
      'video': crop.frames(frames),
      'boxes': self._padded(record, boxes),
      'box_mask': self._padded(record, kept.astype(np.float32)) > 0,
      'label': self._padded(record, labels.astype(np.float32) * kept[:, None]),
      **{key: views[0] for key, views in self._bank_views(record, (crop.flip,)).items()},
    }

  def _eval(self, record: Mapping, num_crops: int) -> dict[str, np.ndarray]:
    frames = self._frames(record)
    height, width = frames.shape[1:3]
    truth = np.asarray(record['boxes'], np.float32).reshape(-1, 4)
    boxes = truth
    if self._keyframe.boxes == 'detections':
      scores = np.asarray(record['detection_scores'], np.float32)
      boxes = np.asarray(record['detection_boxes'], np.float32).reshape(-1, 4)
      boxes = boxes[scores >= self._keyframe.detection_threshold]
    views = {'video': [], 'boxes': []}
    for flip in (False, True)[:num_crops]:
      crop = Crop(0, 0, height, width, size=self._pp.crop_size, flip=flip)
      views['video'].append(crop.frames(frames))
      views['boxes'].append(self._padded(record, boxes_through(crop, boxes, height, width)))
    labels = np.asarray(record['label'], bool).reshape(len(truth), self._num_classes)
    box_mask = self._padded(record, np.ones(len(boxes), np.float32)) > 0
    return {
      'video': np.stack(views['video']),
      'boxes': np.stack(views['boxes']),
      'box_mask': np.repeat(box_mask[None], num_crops, axis=0),
      'gt_boxes': self._padded(record, truth),
      'gt_labels': self._padded(record, labels.astype(np.float32)) > 0,
      'gt_mask': self._padded(record, np.ones(len(truth), np.float32)) > 0,
      'timestamp': np.int32(record['timestamp']),
      **self._bank_views(record, (False, True)[:num_crops]),
    }

  def train_example(self, index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    _, example = self._reader.read(index, lambda r: self._train(r, rng), substitute=True)
    return example

  def eval_example(self, index: int, num_clips: int, num_crops: int) -> dict[str, np.ndarray]:
    """The keyframe's views (the frame, and its mirror with num_crops=2), its ground
    truth, 'index', 'mask' and 'decode_failed'."""
    if num_clips != 1 or num_crops not in (1, 2):
      raise ValueError(
        f'A keyframe is one clip, seen whole (num_crops=1) or also mirrored (2); evaluate '
        f'with num_clips=1 and num_crops 1 or 2, not {num_clips} and {num_crops}.'
      )
    try:
      _, views = self._reader.read(index, lambda r: self._eval(r, num_crops), substitute=False)
    except decode.DecodeError:
      failed = dict(self.empty_example(num_crops), index=np.int32(index))
      return dict(failed, decode_failed=np.bool_(True))
    return dict(views, index=np.int32(index), mask=np.bool_(True), decode_failed=np.bool_(False))

  def empty_example(self, num_views: int) -> dict[str, np.ndarray]:
    """A masked example of zeros (padding and undecodable keyframes)."""
    size, actors = self._pp.crop_size, self._keyframe.max_actors
    bank = {}
    if self._bank is not None:
      bank = {
        'bank': np.zeros((num_views, self._bank.slots, self._bank.channels), np.float32),
        'bank_mask': np.zeros((num_views, self._bank.slots), bool),
      }
    return {
      **bank,
      'video': np.zeros((num_views, self._num_frames, size, size, 3), np.uint8),
      'boxes': np.zeros((num_views, actors, 4), np.float32),
      'box_mask': np.zeros((num_views, actors), bool),
      'gt_boxes': np.zeros((actors, 4), np.float32),
      'gt_labels': np.zeros((actors, self._num_classes), bool),
      'gt_mask': np.zeros((actors,), bool),
      'timestamp': np.int32(0),
      'index': np.int32(-1),
      'mask': np.bool_(False),
      'decode_failed': np.bool_(False),
    }
