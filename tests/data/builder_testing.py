"""Fake videos and datasets in the official layouts, and checks of what a builder wrote,
shared by the builder tests.

The videos are tiny 1-2 s clips written with PyAV in the formats of the real datasets;
corrupt (garbage, truncated), too short, video-less and missing files are what a
builder's report must list exactly.
"""

import csv
import io
import json
import os

import av
import numpy as np
import pytest
import tensorflow_datasets as tfds

from vidjax.data import audio, decode, encode, pipeline
from vidjax.data.builders import video_common

FPS = 10


def drifting_frames(num_frames: int, height: int, width: int) -> np.ndarray:
  """A smooth pattern drifting sideways: no scene cut, so keyframes come from the GOP."""
  y, x = np.mgrid[:height, :width]
  frames = np.empty((num_frames, height, width, 3), np.uint8)
  for t in range(num_frames):
    frames[t, ..., 0] = 128 + 100 * np.sin((x + t) / 5)
    frames[t, ..., 1] = 128 + 100 * np.cos(y / 4)
    frames[t, ..., 2] = 60 + 5 * t
  return frames


def _tone(num_frames: int, rate: int) -> np.ndarray:
  t = np.arange(num_frames * rate // FPS) / rate
  return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def write_video(
  path: str,
  num_frames: int = 12,
  height: int = 24,
  width: int = 32,
  audio: bool = False,
  video: bool = True,
) -> str:
  """Writes a video in the format its extension names, the codecs of the real datasets."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  extension = os.path.splitext(path)[1].lower()
  if extension == '.mp4' and video:
    audio_track = _tone(num_frames, 16000) if audio else None
    with open(path, 'wb') as f:
      f.write(
        encode.encode_video(drifting_frames(num_frames, height, width), FPS, audio_track, 16000)
      )
    return path
  container_format, video_codec, audio_codec, rate = {
    '.avi': ('avi', 'mpeg4', 'libmp3lame', 16000),
    '.webm': ('webm', 'libvpx-vp9', 'libopus', 48000),
    '.mkv': ('matroska', 'libx264', 'aac', 16000),
    '.mov': ('mov', 'libx264', 'aac', 16000),
    '.mp4': ('mp4', None, 'aac', 16000),
  }[extension]
  with av.open(path, 'w', format=container_format) as container:
    # Every stream must exist before the first packet is muxed (that writes the header).
    video_stream = audio_stream = None
    if video:
      video_stream = container.add_stream(video_codec, rate=FPS)
      video_stream.width, video_stream.height, video_stream.pix_fmt = width, height, 'yuv420p'
    if audio:
      audio_stream = container.add_stream(audio_codec, rate=rate, layout='mono')
    if video:
      for image in drifting_frames(num_frames, height, width):
        container.mux(video_stream.encode(av.VideoFrame.from_ndarray(image, format='rgb24')))
    if audio:
      frame = av.AudioFrame.from_ndarray(
        _tone(num_frames, rate)[None], format='fltp', layout='mono'
      )
      frame.sample_rate, frame.pts = rate, 0
      container.mux(audio_stream.encode(frame))
    for stream in (video_stream, audio_stream):
      if stream is not None:
        container.mux(stream.encode(None))
  return path


def write_garbage(path: str) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'wb') as f:
    f.write(np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes())
  return path


def truncate(path: str, fraction: float = 0.5) -> str:
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(data[: int(len(data) * fraction)])
  return path


def prepare(
  builder_cls, manual_dir: str, data_dir: str, config, workers: int = 1, beam_runner=None
):
  builder = builder_cls(data_dir=data_dir, config=config, workers=workers, progress=False)
  download_config = tfds.download.DownloadConfig(manual_dir=manual_dir, beam_runner=beam_runner)
  builder.download_and_prepare(download_config=download_config)
  return builder


def records(builder, split: str) -> dict[str, dict]:
  source = builder.as_data_source(split=split)
  examples = [source[i] for i in range(len(source))]
  key = 'image_id' if 'image_id' in examples[0] else 'video_id'
  return {ex[key].decode(): ex for ex in examples}


def report_ids(report: dict, split: str) -> tuple[set[str], set[str]]:
  """(missing ids, left-out ids) of a split in the report."""
  outcome = report['splits'][split]
  return (
    {e['example_id'] for e in outcome['missing']},
    {e['example_id'] for e in outcome['left_out']},
  )


def keyframes(video: bytes) -> list[int]:
  with av.open(io.BytesIO(video)) as container:
    packets = [p for p in container.demux(video=0) if p.size]
  packets.sort(key=lambda p: p.pts)
  return [i for i, p in enumerate(packets) if p.is_keyframe]


def check_video(example: dict, short_side: int) -> None:
  info = decode.probe(example['video'])
  assert min(info.height, info.width) == short_side
  assert (info.height, info.width) == (example['height'], example['width'])
  assert info.height % 2 == info.width % 2 == 0
  assert (info.num_frames, info.has_audio) == (example['num_frames'], example['has_audio'])
  assert example['fps'] == pytest.approx(info.fps)
  # The stored soundtrack is the mp4's, as the audio path would decode it.
  pcm = audio.soundtrack_pcm(example['video']) if info.has_audio else b''
  assert example['audio_pcm'] == pcm


def check_manifest(builder, data_dir: str) -> None:
  manifest = video_common.read_manifest(data_dir, f'{builder.name}/{builder.builder_config.name}')
  with open(os.path.join(builder.data_dir, video_common.MANIFEST_FILENAME)) as f:
    assert json.load(f) == manifest
  assert sorted(manifest['splits']) == sorted(builder.info.splits)
  for split, entry in manifest['splits'].items():
    ids = list(records(builder, split))
    assert entry == {'num_examples': len(ids), 'ids_sha256': video_common.ids_sha256(ids)}
    assert builder.info.splits[split].num_examples == len(ids)
    # What evaluations record next to their results.
    recorded = pipeline.split_manifest(builder, split)
    assert recorded['config'] == manifest['config'] and recorded['split'] == split
    assert recorded['ids_sha256'] == entry['ids_sha256']


UCF_CLASSES = ('ApplyEyeMakeup', 'Basketball', 'YoYo')


def make_ucf101(root: str) -> None:
  """3 classes x groups g01-g03; split 1 tests on g01, split 2 on g02 (like the real ones)."""
  lists = os.path.join(root, 'ucfTrainTestlist')
  os.makedirs(lists)
  with open(os.path.join(lists, 'classInd.txt'), 'w', newline='') as f:
    f.write(''.join(f'{i} {name}\r\n' for i, name in enumerate(UCF_CLASSES, 1)))
  for name in UCF_CLASSES:
    for group in (1, 2, 3):
      video = f'{name}/v_{name}_g0{group}_c01.avi'
      path = os.path.join(root, 'UCF-101', video)
      write_video(path, audio=name == 'ApplyEyeMakeup' and group == 1)
  write_garbage(os.path.join(root, 'UCF-101/YoYo/v_YoYo_g03_c01.avi'))
  truncate(os.path.join(root, 'UCF-101/Basketball/v_Basketball_g01_c01.avi'), 0.3)
  os.remove(os.path.join(root, 'UCF-101/Basketball/v_Basketball_g02_c01.avi'))
  for split in (1, 2, 3):
    train = test = ''
    for label, name in enumerate(UCF_CLASSES, 1):
      for group in (1, 2, 3):
        video = f'{name}/v_{name}_g0{group}_c01.avi'
        if group == min(split, 2):
          test += f'{video}\r\n'
        else:
          train += f'{video} {label}\r\n'
    for filename, text in ((f'trainlist0{split}.txt', train), (f'testlist0{split}.txt', test)):
      with open(os.path.join(lists, filename), 'w', newline='') as f:
        f.write(text)


def write_csv(path: str, rows: list[list[str]]) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w', newline='') as f:
    csv.writer(f).writerows(rows)
