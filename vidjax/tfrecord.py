"""TFRecord files and protocol buffers, read and written without TensorFlow.

vidjax never needs TensorFlow, yet writes TensorBoard's event files (`tensorboard.py`) and
reads datasets released only as TFRecords (TCC's Pouring and its Penn Action phase
records: `data/builders/tcc.py`). Both formats are small enough to handle directly:

- the TFRecord framing: per record a little-endian uint64 length, the masked CRC-32C of
  those 8 bytes, the data, the masked CRC-32C of the data. Reading verifies the length's
  checksum (a misframed or truncated file is an error at the record's offset), not the
  data's: every byte a builder keeps is decoded (a JPEG, a protocol buffer) and a corrupt
  one fails there;
- the protocol buffer wire format: varints and length-delimited fields to write, and the
  decoding of `SequenceExample` (tensorflow/core/example/example.proto, feature.proto):
  `context` (field 1) and `feature_lists` (field 2), each a map from names to `Feature`
  (bytes_list 1, float_list 2, int64_list 3) or `FeatureList`
  (repeated Feature), packed or not.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np

_CRC32C_POLY = 0x82F63B78  # Castagnoli, reflected
_CRC32C_TABLE = []
for _byte in range(256):
  _crc = _byte
  for _ in range(8):
    _crc = (_crc >> 1) ^ (_CRC32C_POLY if _crc & 1 else 0)
  _CRC32C_TABLE.append(_crc)


def crc32c(data: bytes) -> int:
  crc = 0xFFFFFFFF
  for byte in data:
    crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
  return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
  """TFRecord's checksum: CRC-32C, rotated and offset as TFRecord masks it."""
  crc = crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
  """One TFRecord of `data`: length, its checksum, the data, its checksum."""
  length = struct.pack('<Q', len(data))
  checksum = lambda part: struct.pack('<I', masked_crc32c(part))  # noqa: E731
  return length + checksum(length) + data + checksum(data)


def varint(value: int) -> bytes:
  """A protocol buffer varint (a negative int64 as its ten-byte two's complement)."""
  value &= (1 << 64) - 1
  out = bytearray()
  while True:
    byte, value = value & 0x7F, value >> 7
    out.append(byte | (0x80 if value else 0))
    if not value:
      return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
  """A length-delimited protocol buffer field (bytes, a string, a message, a packed list)."""
  return varint(number << 3 | 2) + varint(len(payload)) + payload


def read_records(path: str) -> Iterator[bytes]:
  """The records of a TFRecord file, in order.

  Raises:
    ValueError: the file is truncated or misframed; the message names the file and the
      byte offset of the bad record.
  """
  with open(path, 'rb') as f:
    index = 0
    while header := f.read(12):
      offset = f.tell() - len(header)
      if len(header) < 12:
        raise ValueError(f'{path}: record {index} at byte {offset}: truncated header.')
      (length,), (crc,) = struct.unpack('<Q', header[:8]), struct.unpack('<I', header[8:])
      if crc != masked_crc32c(header[:8]):
        raise ValueError(
          f'{path}: record {index} at byte {offset}: bad length checksum (not a TFRecord '
          'file, or corrupt).'
        )
      data = f.read(length)
      if len(data) < length or len(f.read(4)) < 4:
        raise ValueError(f'{path}: record {index} at byte {offset}: truncated data.')
      yield data
      index += 1


def _varint(data: bytes, pos: int) -> tuple[int, int]:
  result = shift = 0
  while True:
    if pos >= len(data):
      raise ValueError('truncated varint')
    byte = data[pos]
    result |= (byte & 0x7F) << shift
    pos += 1
    if not byte & 0x80:
      return result, pos
    shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, bytes | int]]:
  """(field number, wire type, value) of a message: an int for varints, else bytes."""
  pos = 0
  while pos < len(data):
    key, pos = _varint(data, pos)
    number, wire_type = key >> 3, key & 7
    if wire_type == 0:
      value, pos = _varint(data, pos)
    elif wire_type == 1:
      value, pos = data[pos : pos + 8], pos + 8
    elif wire_type == 2:
      length, pos = _varint(data, pos)
      value, pos = data[pos : pos + length], pos + length
    elif wire_type == 5:
      value, pos = data[pos : pos + 4], pos + 4
    else:
      raise ValueError(f'unsupported wire type {wire_type}')
    if pos > len(data):
      raise ValueError('truncated message')
    yield number, wire_type, value


def _int64(value: int) -> int:
  return value - (1 << 64) if value >= 1 << 63 else value


def parse_feature(data: bytes) -> list[bytes] | np.ndarray:
  """A `Feature`: a list of bytes, or float32 / int64 values."""
  for number, _, value in _fields(data):
    values: list = []
    for _, wire_type, item in _fields(value):
      if number == 1:
        values.append(bytes(item))
      elif number == 2:
        values.extend(np.frombuffer(item, '<f4'))
      elif wire_type == 2:  # packed int64s
        pos = 0
        while pos < len(item):
          varint, pos = _varint(item, pos)
          values.append(_int64(varint))
      else:
        values.append(_int64(item))
    if number == 1:
      return values
    return np.asarray(values, np.float32 if number == 2 else np.int64)
  return []


def _map(message: bytes) -> Iterator[tuple[str, bytes]]:
  """The (key, value) entries of a message whose field 1 is a proto map (`Features`,
  `FeatureLists`): each entry a message of key (1) and value (2)."""
  for number, _, entry in _fields(message):
    if number == 1:
      fields = {field: value for field, _, value in _fields(entry)}
      yield bytes(fields.get(1, b'')).decode(), bytes(fields.get(2, b''))


def parse_sequence_example(data: bytes) -> tuple[dict, dict]:
  """(context, feature_lists) of a serialised `SequenceExample`: context maps names to
  a feature's values, feature_lists maps names to the list of each step's values.

  Raises:
    ValueError: the bytes are not a well-formed message.
  """
  context, feature_lists = {}, {}
  for number, _, value in _fields(data):
    if number == 1:
      context.update((name, parse_feature(feature)) for name, feature in _map(value))
    elif number == 2:
      for name, steps in _map(value):
        feature_lists[name] = [parse_feature(step) for _, _, step in _fields(steps)]
  return context, feature_lists
