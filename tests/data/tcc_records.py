"""Writes TFRecords of `tf.train.SequenceExample`s as google-research tcc's
`dataset_preparation/dataset_utils.py` does (TensorFlow's wire format, written by hand:
TensorFlow is not installed), for test_tcc_builder.py."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

from vidjax import tfrecord


def feature(values, packed: bool = True) -> bytes:
  """A `Feature` of bytes, float or int values."""
  if values and isinstance(values[0], bytes):
    return tfrecord.length_delimited(1, b''.join(tfrecord.length_delimited(1, v) for v in values))
  if values and isinstance(values[0], float):
    return tfrecord.length_delimited(
      2, tfrecord.length_delimited(1, struct.pack(f'<{len(values)}f', *values))
    )
  if packed:
    return tfrecord.length_delimited(
      3, tfrecord.length_delimited(1, b''.join(tfrecord.varint(v) for v in values))
    )
  return tfrecord.length_delimited(
    3, b''.join(tfrecord.varint(1 << 3 | 0) + tfrecord.varint(v) for v in values)
  )


def _map(entries: dict[str, bytes]) -> bytes:
  return b''.join(
    tfrecord.length_delimited(
      1, tfrecord.length_delimited(1, key.encode()) + tfrecord.length_delimited(2, value)
    )
    for key, value in entries.items()
  )


def sequence_example(context: dict[str, bytes], feature_lists: dict[str, list[bytes]]) -> bytes:
  """A serialised `SequenceExample` of encoded features (see `feature`)."""
  lists = {
    name: b''.join(tfrecord.length_delimited(1, step) for step in steps)
    for name, steps in feature_lists.items()
  }
  return tfrecord.length_delimited(1, _map(context)) + tfrecord.length_delimited(2, _map(lists))


def write_records(path: str, records: list[bytes]) -> None:
  with open(path, 'wb') as f:
    f.writelines(tfrecord.frame_record(data) for data in records)


def jpeg(frame: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(frame).save(buffer, 'jpeg', quality=95)
  return buffer.getvalue()


def tcc_video(name: str, frames: np.ndarray, phases) -> bytes:
  """A video's record as TCC writes it: name, len, label; per frame a JPEG and its phase."""
  context = {
    'name': feature([name.encode()]),
    'len': feature([len(frames)]),
    'label': feature([0]),
  }
  lists = {
    'video': [feature([jpeg(frame)]) for frame in frames],
    'frame_labels': [feature([int(p)]) for p in phases],
  }
  return sequence_example(context, lists)
