"""TensorBoard event files of scalars, written without TensorFlow, PyTorch or tensorboardX.

A run logs only scalars, and the event file format for them is small: TFRecord framing
(length, masked CRC-32C of the length, the serialised `Event` proto, masked CRC-32C of it)
around hand-encoded `Event {wall_time, step, summary {value {tag, simple_value}}}`
protos (tensorflow/core/util/event.proto). tensorboardX wrote the same files but imports
PyTorch whenever it is installed (the `[torch]` extra), which cost every training process
about 3 s at start-up.
"""

from __future__ import annotations

import os
import socket
import struct
import time


def _crc32c_table() -> list[int]:
  table = []
  for byte in range(256):
    crc = byte
    for _ in range(8):
      crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # Castagnoli, reflected
    table.append(crc)
  return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
  crc = 0xFFFFFFFF
  for byte in data:
    crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
  return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> bytes:
  crc = crc32c(data)
  return struct.pack('<I', (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def _varint(value: int) -> bytes:
  out = bytearray()
  while True:
    byte, value = value & 0x7F, value >> 7
    out.append(byte | (0x80 if value else 0))
    if not value:
      return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
  """A length-delimited protobuf field."""
  return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_event(
  step: int, *, wall_time: float, scalars: dict[str, float] | None = None, file_version: str = ''
) -> bytes:
  """A serialised `Event` with one summary value per scalar."""
  event = b'\x09' + struct.pack('<d', wall_time) + b'\x10' + _varint(step & (2**64 - 1))
  if file_version:
    event += _field(3, file_version.encode())
  if scalars:
    values = b''.join(
      _field(1, _field(1, tag.encode()) + b'\x15' + struct.pack('<f', value))
      for tag, value in scalars.items()
    )
    event += _field(5, values)
  return event


def frame_record(data: bytes) -> bytes:
  """One TFRecord: the way TensorBoard reads events from disk."""
  length = struct.pack('<Q', len(data))
  return length + _masked_crc(length) + data + _masked_crc(data)


class SummaryWriter:
  """Appends scalar summaries to a new `events.out.tfevents.*` file in `logdir`."""

  def __init__(self, logdir: str):
    os.makedirs(logdir, exist_ok=True)
    name = f'events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}'
    self.path = os.path.join(logdir, name)
    self._file = open(self.path, 'ab')  # noqa: SIM115 (open for the writer's lifetime)
    self._write(encode_event(0, wall_time=time.time(), file_version='brain.Event:2'))

  def _write(self, event: bytes) -> None:
    self._file.write(frame_record(event))

  def add_scalars(self, step: int, scalars: dict[str, float]) -> None:
    self._write(encode_event(step, wall_time=time.time(), scalars=scalars))

  def flush(self) -> None:
    self._file.flush()

  def close(self) -> None:
    self._file.close()
