"""The `sequence` loader: a record -> every frame of its video and the masks of every frame.

For evaluations that need whole videos at their own size and length (mask and keypoint
propagation: `evaluators/label_propagation.py`), so it has no training examples and no
batching: each example is one sequence,

  frames  uint8 [T, H, W, 3]   every frame, uncropped
  labels  uint8 [T, H, W]      DAVIS labels: 0 background, 1..N the first frame's objects,
                               255 void (absent when the record has no masks)
  video_id, index, mask, decode_failed
  keypoints, keypoint_visible, labelled_frames   as stored, where the record has them
                               (the embedded `keypoints` config, `posetrack`:
                               [N, T, K, 2] (y, x) pixels, [N, T, K], [T])

It reads a `davis` or `posetrack` record (the JPEG bytes of every frame, and the masks or
keypoints as stored) and any
video record (`video` bytes decoded whole, e.g. the embedded data), whose scene masks
become DAVIS labels as `tools/export_davis.py` writes them: the first frame's objects
numbered 1..N, any other object background. A sequence that cannot be decoded gives an
empty example with mask False and decode_failed True, never another sequence.
"""

from __future__ import annotations

from collections.abc import Mapping

import ml_collections
import numpy as np

from vidjax.data import davis, decode, loaders
from vidjax.data.loaders import image

POSE_KEYS = ('keypoints', 'keypoint_visible', 'labelled_frames')
_EVALUATION_ONLY = (
  "config.input.loader='sequence' reads whole videos for evaluation (label_propagation); "
  "train with loader='clip'."
)


def input_shapes(input_config: ml_collections.ConfigDict) -> dict[str, tuple[int, ...]]:
  del input_config
  raise ValueError(_EVALUATION_ONLY)


def check_train_config(input_config: ml_collections.ConfigDict) -> None:
  del input_config
  raise ValueError(_EVALUATION_ONLY)


def _decode_sequence(record: Mapping) -> tuple[np.ndarray, np.ndarray | None]:
  """(frames [T, H, W, 3], DAVIS labels [T, H, W] or None) of a davis or video record."""
  if 'frames' in record:  # davis, posetrack: one JPEG per frame
    try:
      frames = np.stack([image.decode_image(data) for data in record['frames']])
    except ValueError as error:
      raise decode.DecodeError(str(error)) from None
    return frames, np.asarray(record['masks'], np.uint8) if 'masks' in record else None
  frames = decode.decode_frames(record['video'], range(int(record['num_frames'])))
  if 'masks' not in record:
    return frames, None
  return frames, davis.first_frame_objects(np.asarray(record['masks'], np.uint8))


class Loader:
  """Whole sequences for evaluation; see the module docstring."""

  rejected_samples_kept = 0  # no sampler, nothing rejected

  def __init__(self, dataset, input_config: ml_collections.ConfigDict):
    del input_config  # nothing is sampled or cropped
    self._reader = loaders.RecordReader(
      dataset.source, 'sequence', 'video_id', (decode.DecodeError,)
    )

  @property
  def decode_failures(self) -> int:
    return self._reader.decode_failures

  def train_example(self, index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    del index, rng
    raise ValueError(_EVALUATION_ONLY)

  def eval_example(
    self, index: int, num_clips: int = 1, num_crops: int = 1
  ) -> dict[str, np.ndarray]:
    """Every frame of sequence `index` and its labels, 'video_id', 'index', 'mask' and
    'decode_failed'."""
    if (num_clips, num_crops) != (1, 1):
      raise ValueError(
        f'A sequence is one view of the whole video; use num_clips=1 and num_crops=1, not '
        f'{num_clips} and {num_crops}.'
      )
    try:
      record, (frames, labels) = self._reader.read(index, _decode_sequence, substitute=False)
    except decode.DecodeError:
      return dict(self.empty_example(1), index=np.int32(index), decode_failed=np.bool_(True))
    video_id = record['video_id']
    example = {
      'frames': frames,
      'video_id': video_id.decode() if isinstance(video_id, bytes) else str(video_id),
      'index': np.int32(index),
      'mask': np.bool_(True),
      'decode_failed': np.bool_(False),
    }
    if labels is not None:
      example['labels'] = labels
    for key in POSE_KEYS:
      if key in record:
        example[key] = np.asarray(record[key])
    return example

  def empty_example(self, num_views: int = 1) -> dict[str, np.ndarray]:
    """A masked sequence of no frames (an undecodable one)."""
    del num_views  # a sequence is one view
    return {
      'frames': np.zeros((0, 0, 0, 3), np.uint8),
      'labels': np.zeros((0, 0, 0), np.uint8),
      'video_id': '',
      'index': np.int32(-1),
      'mask': np.bool_(False),
      'decode_failed': np.bool_(False),
    }
