"""Writes TFRecords of `tf.train.SequenceExample`s as google-research tcc's
`dataset_preparation/dataset_utils.py` does (TensorFlow's wire format, written by hand:
TensorFlow is not installed). Shared by test_tfrecord.py and test_tcc_builder.py."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

from vidjax.data import tfrecord


def _varint(value: int) -> bytes:
  value &= (1 << 64) - 1  # negative int64s as ten-byte two's complement
  out = bytearray()
  while True:
    byte, value = value & 0x7F, value >> 7
    out.append(byte | (0x80 if value else 0))
    if not value:
      return bytes(out)


def _message(number: int, payload: bytes) -> bytes:
  return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def feature(values, packed: bool = True) -> bytes:
  """A `Feature` of bytes, float or int values."""
  if values and isinstance(values[0], bytes):
    return _message(1, b''.join(_message(1, v) for v in values))
  if values and isinstance(values[0], float):
    return _message(2, _message(1, struct.pack(f'<{len(values)}f', *values)))
  if packed:
    return _message(3, _message(1, b''.join(_varint(v) for v in values)))
  return _message(3, b''.join(_varint(1 << 3 | 0) + _varint(v) for v in values))


def _map(entries: dict[str, bytes]) -> bytes:
  return b''.join(
    _message(1, _message(1, key.encode()) + _message(2, value)) for key, value in entries.items()
  )


def sequence_example(context: dict[str, bytes], feature_lists: dict[str, list[bytes]]) -> bytes:
  """A serialised `SequenceExample` of encoded features (see `feature`)."""
  lists = {
    name: b''.join(_message(1, step) for step in steps) for name, steps in feature_lists.items()
  }
  return _message(1, _map(context)) + _message(2, _map(lists))


def write_records(path: str, records: list[bytes]) -> None:
  with open(path, 'wb') as f:
    for data in records:
      length = struct.pack('<Q', len(data))
      f.write(length + struct.pack('<I', tfrecord.masked_crc32c(length)))
      f.write(data + struct.pack('<I', tfrecord.masked_crc32c(data)))


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
