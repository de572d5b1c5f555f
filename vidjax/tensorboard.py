"""TensorBoard event files of scalars, written without TensorFlow, PyTorch or tensorboardX.

A run logs only scalars, and the event file format for them is small: TFRecord framing
(length, masked CRC-32C of the length, the serialised `Event` proto, masked CRC-32C of it,
`vidjax/tfrecord.py`) around hand-encoded `Event {wall_time, step, summary {value {tag,
simple_value}}}` protos (tensorflow/core/util/event.proto). tensorboardX wrote the same
files but imports PyTorch whenever it is installed (the `[torch]` extra), which cost every
training process about 3 s at start-up.
"""

from __future__ import annotations

import os
import socket
import struct
import time

from vidjax import tfrecord


def encode_event(
  step: int, *, wall_time: float, scalars: dict[str, float] | None = None, file_version: str = ''
) -> bytes:
  """A serialised `Event` with one summary value per scalar."""
  event = b'\x09' + struct.pack('<d', wall_time) + b'\x10' + tfrecord.varint(step & (2**64 - 1))
  if file_version:
    event += tfrecord.length_delimited(3, file_version.encode())
  if scalars:
    values = b''.join(
      tfrecord.length_delimited(
        1, tfrecord.length_delimited(1, tag.encode()) + b'\x15' + struct.pack('<f', value)
      )
      for tag, value in scalars.items()
    )
    event += tfrecord.length_delimited(5, values)
  return event


class SummaryWriter:
  """Appends scalar summaries to a new `events.out.tfevents.*` file in `logdir`."""

  def __init__(self, logdir: str):
    os.makedirs(logdir, exist_ok=True)
    name = f'events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}'
    self.path = os.path.join(logdir, name)
    self._file = open(self.path, 'ab')  # noqa: SIM115 (open for the writer's lifetime)
    self._write(encode_event(0, wall_time=time.time(), file_version='brain.Event:2'))

  def _write(self, event: bytes) -> None:
    self._file.write(tfrecord.frame_record(event))

  def add_scalars(self, step: int, scalars: dict[str, float]) -> None:
    self._write(encode_event(step, wall_time=time.time(), scalars=scalars))

  def flush(self) -> None:
    self._file.flush()

  def close(self) -> None:
    self._file.close()
