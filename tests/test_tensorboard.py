"""The scalar event files that `vidjax.tensorboard` writes read back as TensorBoard reads them."""

import struct

import numpy as np

from vidjax import logs, tfrecord


def test_crc32c_check_value():
  # The CRC-32C (Castagnoli) check value of the standard test string.
  assert tfrecord.crc32c(b'123456789') == 0xE3069283


def _records(path):
  """The payloads of a TFRecord file, each checked against its length and data CRCs."""
  data = path.read_bytes()
  records, offset = [], 0
  while offset < len(data):
    header = data[offset : offset + 8]
    (length,) = struct.unpack('<Q', header)
    assert data[offset + 8 : offset + 12] == struct.pack('<I', tfrecord.masked_crc32c(header))
    payload = data[offset + 12 : offset + 12 + length]
    assert data[offset + 12 + length : offset + 16 + length] == struct.pack(
      '<I', tfrecord.masked_crc32c(payload)
    )
    records.append(payload)
    offset += 16 + length
  return records


def test_metric_writer_events_decode_with_the_tensorflow_protos(tmp_path):
  from tensorboardX.proto import event_pb2  # an independent decoder of the Event proto

  writer = logs.MetricWriter(str(tmp_path), resume_step=None)
  writer.write(5, {'train/loss': 2.5, 'eval/val/video_top1_2x1': 12.0})
  writer.write(2**40, {'train/loss': float('nan')})
  writer.close()
  (path,) = (tmp_path / 'tensorboard').iterdir()
  assert 'tfevents' in path.name
  events = [event_pb2.Event.FromString(r) for r in _records(path)]
  assert events[0].file_version == 'brain.Event:2'
  assert [e.step for e in events[1:]] == [5, 2**40]
  assert {v.tag: v.simple_value for v in events[1].summary.value} == {
    'train/loss': 2.5,
    'eval/val/video_top1_2x1': 12.0,
  }
  assert np.isnan(events[2].summary.value[0].simple_value)
  assert all(e.wall_time > 1e9 for e in events)
