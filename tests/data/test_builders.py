"""Tests of the manual_dir builders on small fake datasets in the official layouts.

Each fake dataset holds a few tiny 1-2 s videos written with PyAV in the formats of the
real one (AVI/MPEG-4 Part 2 for UCF101 and HMDB51, H.264/AAC mp4 for Kinetics, VP9 webm
for Something-Something v2), some with audio, plus corrupt (garbage, truncated), too
short, video-less and missing files that the report must list exactly.
"""

import csv
import io
import json
import os
import shutil

import av
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from vidjax.data import audio, decode, encode, pipeline
from vidjax.data import davis as davis_layout
from vidjax.data.builders import (
  davis,
  hmdb51,
  image_folder,
  kinetics,
  posetrack,
  ssv2,
  transcode_cache,
  ucf101,
  video_common,
  video_folder,
)
from vidjax.data.loaders import clip

FPS = 10


def _frames(num_frames: int, height: int, width: int) -> np.ndarray:
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
      f.write(encode.encode_video(_frames(num_frames, height, width), FPS, audio_track, 16000))
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
      for image in _frames(num_frames, height, width):
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


# --- transcoding -------------------------------------------------------------------------


def test_transcode_portrait_with_audio(tmp_path):
  path = write_video(str(tmp_path / 'portrait.mkv'), num_frames=20, height=40, width=30, audio=True)
  data, info = encode.transcode(path, 64)
  # 40 x 30 -> 85.3 x 64, rounded to even.
  assert (info.height, info.width, info.num_frames, info.fps) == (86, 64, 20, FPS)
  assert decode.decode_frames(data, [0, 19]).shape == (2, 86, 64, 3)
  waveform, rate = decode.decode_audio(data)
  assert rate == 16000 and len(waveform) / rate == pytest.approx(20 / FPS, abs=0.1)
  with open(path, 'rb') as f:
    assert encode.transcode(f.read(), 64) == (data, info)


def test_transcode_stretches_non_square_pixels(tmp_path):
  path = str(tmp_path / 'anamorphic.mkv')
  with av.open(path, 'w') as container:
    stream = container.add_stream('libx264', rate=FPS)
    stream.width, stream.height, stream.pix_fmt = 32, 24, 'yuv420p'
    stream.codec_context.sample_aspect_ratio = 2
    for image in _frames(12, 24, 32):
      container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format='rgb24')))
    container.mux(stream.encode(None))
  # Shown 64 x 24: each stored pixel is twice as wide as high.
  assert encode.transcode(path, 24)[1].width == 64


# --- UCF101 -----------------------------------------------------------------------------

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


@pytest.fixture(scope='module')
def ucf(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('ucf101'))
  make_ucf101(root)
  data_dir = str(tmp_path_factory.mktemp('tfds'))
  # Two worker processes: the pool path.
  return root, data_dir, prepare(ucf101.Ucf101, root, data_dir, 'split1', workers=2)


def test_ucf101_splits_labels_and_videos(ucf):
  _, _, builder = ucf
  assert builder.info.features['label'].names == list(UCF_CLASSES)
  train, test = records(builder, 'train'), records(builder, 'test')
  assert sorted(train) == [
    'v_ApplyEyeMakeup_g02_c01',
    'v_ApplyEyeMakeup_g03_c01',
    'v_Basketball_g03_c01',
    'v_YoYo_g02_c01',
  ]
  assert sorted(test) == ['v_ApplyEyeMakeup_g01_c01', 'v_YoYo_g01_c01']
  for video_id, example in {**train, **test}.items():
    assert UCF_CLASSES[example['label']] == video_id.split('_')[1]
    check_video(example, 256)
    assert (example['num_frames'], example['fps']) == (12, FPS)
    # A keyframe every second (FPS frames).
    assert keyframes(example['video']) == [0, FPS]
    assert example['has_audio'] == (video_id == 'v_ApplyEyeMakeup_g01_c01')
  waveform, rate = decode.decode_audio(test['v_ApplyEyeMakeup_g01_c01']['video'])
  assert rate == 16000 and np.abs(waveform).max() > 0.1


def test_ucf101_report_lists_bad_and_missing_files(ucf):
  root, data_dir, builder = ucf
  report = video_common.read_report(data_dir, 'ucf101/split1')
  assert report_ids(report, 'train') == ({'v_Basketball_g02_c01'}, {'v_YoYo_g03_c01'})
  assert report_ids(report, 'test') == (set(), {'v_Basketball_g01_c01'})
  assert report['splits']['train']['missing'][0]['path'] == os.path.join(
    root, 'UCF-101/Basketball/v_Basketball_g02_c01.avi'
  )
  assert 'cannot open' in report['splits']['train']['left_out'][0]['error']
  assert report['splits']['train']['num_listed'] == 6
  assert report['transcoding'] == {'reused': 0, 'transcoded': 6, 'failed': 2}
  check_manifest(builder, data_dir)


def test_ucf101_split_configs_share_the_transcoded_videos(ucf):
  root, data_dir, _ = ucf
  builder = prepare(ucf101.Ucf101, root, data_dir, 'split2')
  report = video_common.read_report(data_dir, 'ucf101/split2')
  # The corrupt files are tried again: they may have been replaced.
  assert report['transcoding'] == {'reused': 6, 'transcoded': 0, 'failed': 2}
  assert sorted(records(builder, 'test')) == ['v_ApplyEyeMakeup_g02_c01', 'v_YoYo_g02_c01']


def test_ucf101_reads_through_the_input_pipeline(ucf):
  _, data_dir, _ = ucf
  dataset = pipeline.open_dataset('ucf101/split1', 'test', data_dir)
  assert dataset.label_names == UCF_CLASSES and len(dataset.source) == 2
  tfds_source = tfds.data_source('ucf101/split1', split='train', data_dir=data_dir)
  assert len(tfds_source) == 4


def test_ucf101_layout_errors(tmp_path):
  root = str(tmp_path / 'ucf')
  make_ucf101(root)
  os.remove(os.path.join(root, 'ucfTrainTestlist/classInd.txt'))
  with pytest.raises(FileNotFoundError, match=r'classInd.txt not found in .*ucfTrainTestlist'):
    prepare(ucf101.Ucf101, root, str(tmp_path / 'tfds'), 'split1')
  with open(os.path.join(root, 'ucfTrainTestlist/classInd.txt'), 'w') as f:
    f.write('1 ApplyEyeMakeup\n2 Basketball\n3 YoYo\n')
  with open(os.path.join(root, 'ucfTrainTestlist/trainlist01.txt'), 'a') as f:
    f.write('YoYo/v_YoYo_g04_c01.avi 2\n')
  with pytest.raises(ValueError, match=r'trainlist01.txt:7: label 2 disagrees'):
    prepare(ucf101.Ucf101, root, str(tmp_path / 'tfds'), 'split1')


# --- HMDB51 -----------------------------------------------------------------------------


def test_hmdb51(tmp_path):
  root, data_dir = str(tmp_path / 'hmdb'), str(tmp_path / 'tfds')
  videos = {
    'brush_hair': {
      'April_09_brush_hair_u_nm_np1_ba_goo_0.avi': 1,
      'Blonde_being_brushed_brush_hair_f_nm_np2_ri_med_0.avi': 2,
      'short_brush_hair_u_nm_np1_ba_goo_1.avi': 1,
      'unused_brush_hair_u_nm_np1_ba_goo_2.avi': 0,
    },
    'cartwheel': {
      '#20_Rhythm_clap_u_nm_np1_fr_goo_0.avi': 1,
      '(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi': 2,
      'silent_cartwheel_f_cm_np1_le_med_1.avi': 1,
      'gone_cartwheel_f_cm_np1_le_med_2.avi': 2,
    },
  }
  os.makedirs(os.path.join(root, 'testTrainMulti_7030_splits'))
  for name, marks in videos.items():
    with open(os.path.join(root, f'testTrainMulti_7030_splits/{name}_test_split1.txt'), 'w') as f:
      f.write(''.join(f'{video} {mark} \n' for video, mark in marks.items()))
    for video in marks:
      if not video.startswith(('unused', 'gone')):
        write_video(os.path.join(root, name, video), num_frames=4 if 'short' in video else 12)
  # An AVI with sound only.
  write_video(
    os.path.join(root, 'cartwheel/silent_cartwheel_f_cm_np1_le_med_1.avi'), audio=True, video=False
  )

  builder = prepare(hmdb51.Hmdb51, root, data_dir, 'split1')
  assert builder.info.features['label'].names == ['brush_hair', 'cartwheel']
  train, test = records(builder, 'train'), records(builder, 'test')
  assert sorted(train) == [
    'brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0',
    'cartwheel/#20_Rhythm_clap_u_nm_np1_fr_goo_0',
  ]
  assert sorted(test) == [
    'brush_hair/Blonde_being_brushed_brush_hair_f_nm_np2_ri_med_0',
    'cartwheel/(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0',
  ]
  for video_id, example in {**train, **test}.items():
    assert example['label'] == (0 if video_id.startswith('brush_hair') else 1)
    check_video(example, 256)
  report = video_common.read_report(data_dir, 'hmdb51/split1')
  short, silent = (
    'brush_hair/short_brush_hair_u_nm_np1_ba_goo_1',
    'cartwheel/silent_cartwheel_f_cm_np1_le_med_1',
  )
  assert report_ids(report, 'train') == (set(), {short, silent})
  assert report_ids(report, 'test') == ({'cartwheel/gone_cartwheel_f_cm_np1_le_med_2'}, set())
  errors = {e['example_id']: e['error'] for e in report['splits']['train']['left_out']}
  assert errors[short] == 'too short: 4 frames < min_frames=8'
  assert 'no video stream' in errors[silent]
  check_manifest(builder, data_dir)

  with pytest.raises(FileNotFoundError, match=r'<class>_test_split2.txt not found'):
    prepare(hmdb51.Hmdb51, root, data_dir, 'split2')


# --- Kinetics ---------------------------------------------------------------------------


def _write_csv(path: str, rows: list[list[str]]) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w', newline='') as f:
    csv.writer(f).writerows(rows)


def test_kinetics(tmp_path):
  root, data_dir = str(tmp_path / 'k400'), str(tmp_path / 'tfds')
  header = ['label', 'youtube_id', 'time_start', 'time_end', 'split', 'is_cc']
  train = [
    ['abseiling', '--07WQ2iBlw', '1', '11', 'train', '0'],
    ['abseiling', '-0n9pJqp5XQ', '30', '40', 'train', '0'],
    ['playing guitar', 'a_b-c_d', '125', '135', 'train', '0'],
    ['playing guitar', 'gone1', '0', '10', 'train', '0'],
    ['zumba', 'zz0', '0', '10', 'train', '0'],
    ['zumba', 'zz0', '0', '10', 'train', '0'],
  ]
  val = [
    ['abseiling', 'v1', '5', '15', 'validate', '0'],
    ['zumba', 'v2', '0', '10', 'validate', '0'],
    ['zumba', 'gone2', '0', '10', 'validate', '0'],
  ]
  _write_csv(os.path.join(root, 'train.csv'), [header, *train])
  _write_csv(os.path.join(root, 'validate.csv'), [header, *val])
  _write_csv(os.path.join(root, 'test.csv'), [header[1:5], ['t1', '0', '10', 'test']])
  # Train clips in class folders (one as webm), validation clips flat.
  write_video(os.path.join(root, 'train/abseiling/--07WQ2iBlw_000001_000011.mp4'), audio=True)
  write_video(os.path.join(root, 'train/abseiling/-0n9pJqp5XQ_000030_000040.webm'))
  write_video(os.path.join(root, 'train/playing guitar/a_b-c_d_000125_000135.mp4'), audio=True)
  write_video(os.path.join(root, 'train/zumba/zz0_000000_000010.mp4'))
  write_video(os.path.join(root, 'val/v1_000005_000015.mp4'), audio=True)
  truncate(write_video(os.path.join(root, 'val/v2_000000_000010.mp4')))
  write_video(os.path.join(root, 'test/t1_000000_000010.mp4'))

  builder = prepare(kinetics.Kinetics, root, data_dir, 'k400')
  assert builder.info.features['label'].names == ['abseiling', 'playing guitar', 'zumba']
  assert sorted(builder.info.splits) == ['test', 'train', 'validation']
  train_records = records(builder, 'train')
  labels = {video_id: ex['label'] for video_id, ex in train_records.items()}
  assert labels == {
    '--07WQ2iBlw_000001_000011': 0,
    '-0n9pJqp5XQ_000030_000040': 0,
    'a_b-c_d_000125_000135': 1,
    'zz0_000000_000010': 2,
  }
  assert [ex['has_audio'] for _, ex in sorted(train_records.items())] == [True, False, True, False]
  assert list(records(builder, 'validation')) == ['v1_000005_000015']
  test = records(builder, 'test')
  assert list(test) == ['t1_000000_000010'] and test['t1_000000_000010']['label'] == -1
  for example in train_records.values():
    check_video(example, 256)
  report = video_common.read_report(data_dir, 'kinetics/k400')
  assert report_ids(report, 'train') == ({'gone1_000000_000010'}, set())
  assert report_ids(report, 'validation') == ({'gone2_000000_000010'}, {'v2_000000_000010'})
  assert report['splits']['train']['missing'][0]['path'] == os.path.join(
    root, 'train', 'gone1_000000_000010.mp4'
  )
  check_manifest(builder, data_dir)

  os.rename(os.path.join(root, 'validate.csv'), os.path.join(root, 'val.csv'))
  os.rename(os.path.join(root, 'val'), os.path.join(root, 'elsewhere'))
  with pytest.raises(FileNotFoundError, match=r'val/ or validate/ \(the validation clips\)'):
    prepare(kinetics.Kinetics, root, data_dir, 'k600')


# --- Something-Something v2 -------------------------------------------------------------

SSV2_CLASSES = [
  'Putting something on a surface',
  *(name for pair in ssv2.FLIP_LABEL_SWAPS for name in pair),
]


def test_flip_label_swaps_are_mirror_images():
  for left, right in ssv2.FLIP_LABEL_SWAPS:
    mirrored = left.replace('left', '<').replace('right', 'left').replace('<', 'right')
    assert mirrored == right != left


def test_ssv2(tmp_path):
  root, data_dir = str(tmp_path / 'ssv2'), str(tmp_path / 'tfds')
  os.makedirs(os.path.join(root, 'labels'))
  # Indices in another order than the names: the label order is the index order.
  order = [3, 0, 6, 1, 5, 2, 4]
  labels = {name: str(order[i]) for i, name in enumerate(SSV2_CLASSES)}
  names_by_index = sorted(labels, key=lambda name: int(labels[name]))

  def entry(video_id: int, name: str) -> dict:
    template = name.replace('something', '[something]')
    return {'id': str(video_id), 'label': name.lower(), 'template': template, 'placeholders': []}

  train = [entry(i, name) for i, name in enumerate(SSV2_CLASSES)]
  validation = [
    entry(100, SSV2_CLASSES[1]),
    entry(101, SSV2_CLASSES[2]),
    entry(102, SSV2_CLASSES[3]),
  ]
  for filename, content in (
    ('labels.json', labels),
    ('something-something-v2-train.json', train),
    ('something-something-v2-validation.json', validation),
  ):
    with open(os.path.join(root, 'labels', filename), 'w') as f:
      json.dump(content, f)
  videos = os.path.join(root, '20bn-something-something-v2')
  for video_id in [*range(len(SSV2_CLASSES)), 100, 101]:
    write_video(os.path.join(videos, f'{video_id}.webm'), num_frames=15, height=30, width=40)
  truncate(os.path.join(videos, '101.webm'), 0.75)

  builder = prepare(ssv2.Ssv2, root, data_dir, 'default')
  assert builder.info.features['label'].names == names_by_index
  train_records = records(builder, 'train')
  assert len(train_records) == len(SSV2_CLASSES)
  for video_id, example in train_records.items():
    assert names_by_index[example['label']] == SSV2_CLASSES[int(video_id)]
    check_video(example, 256)
    assert example['width'] == 342  # 30x40 -> 256x341.3, rounded to even.
  assert list(records(builder, 'validation')) == ['100']
  report = video_common.read_report(data_dir, 'ssv2/default')
  assert report_ids(report, 'validation') == ({'102'}, {'101'})
  assert 'truncated' in report['splits']['validation']['left_out'][0]['error']
  check_manifest(builder, data_dir)
  # The swaps give a label permutation of this dataset for the input pipeline.
  flip = clip.flip_label_map(names_by_index, ssv2.FLIP_LABEL_SWAPS)
  for left, right in ssv2.FLIP_LABEL_SWAPS:
    assert names_by_index[flip[names_by_index.index(left)]] == right


# --- video_folder -----------------------------------------------------------------------


def test_video_folder_class_folders(tmp_path):
  root, data_dir = str(tmp_path / 'mine'), str(tmp_path / 'tfds')
  for split, extensions in (('train', ('.mp4', '.avi', '.webm')), ('val', ('.mkv', '.MOV'))):
    for name in ('cat', 'dog'):
      for extension in extensions:
        write_video(os.path.join(root, split, name, f'clip{extension}'), audio=extension != '.avi')
  write_garbage(os.path.join(root, 'val/dog/broken.mp4'))
  with open(os.path.join(root, 'train/cat/notes.txt'), 'w') as f:
    f.write('not a video')
  config = video_common.VideoConfig(name='my_videos', short_side=64)
  builder = prepare(video_folder.VideoFolder, root, data_dir, config, workers=2)
  assert builder.info.features['label'].names == ['cat', 'dog']
  train, val = records(builder, 'train'), records(builder, 'val')
  assert sorted(train) == sorted(
    f'train/{name}/clip{ext}' for name in ('cat', 'dog') for ext in ('.mp4', '.avi', '.webm')
  )
  assert sorted(val) == sorted(f'val/{n}/clip{e}' for n in ('cat', 'dog') for e in ('.mkv', '.MOV'))
  for video_id, example in {**train, **val}.items():
    assert example['label'] == (0 if '/cat/' in video_id else 1)
    assert example['has_audio'] == (not video_id.endswith('.avi'))
    check_video(example, 64)
  report = video_common.read_report(data_dir, 'video_folder/my_videos')
  assert report_ids(report, 'val') == (set(), {'val/dog/broken.mp4'})
  assert report['transcoding']['transcoded'] == 10
  # A user config is read back from the prepared files.
  assert len(tfds.data_source('video_folder/my_videos', split='val', data_dir=data_dir)) == 4
  check_manifest(builder, data_dir)


def test_a_cache_without_soundtracks_gets_them_without_a_new_transcode(tmp_path):
  root, data_dir = str(tmp_path / 'mine'), str(tmp_path / 'tfds')
  for name in ('cat', 'dog'):
    write_video(os.path.join(root, 'train', name, 'clip.mp4'), audio=True)
  config = video_common.VideoConfig(name='mine', short_side=32)
  first = records(prepare(video_folder.VideoFolder, root, data_dir, config), 'train')
  # As a cache written before the soundtracks were stored: the videos alone.
  cache = os.path.join(data_dir, 'downloads', 'vidjax_transcoded')
  stored = [
    os.path.join(directory, name)
    for directory, _, names in os.walk(cache)
    for name in names
    if name.endswith(transcode_cache.PCM_SUFFIX)
  ]
  assert len(stored) == 2
  for path in stored:
    os.remove(path)
  shutil.rmtree(os.path.join(data_dir, 'video_folder'))
  builder = prepare(video_folder.VideoFolder, root, data_dir, config)
  report = video_common.read_report(data_dir, 'video_folder/mine')
  assert report['transcoding'] == {'reused': 2, 'transcoded': 0, 'failed': 0}
  second = records(builder, 'train')
  for video_id, example in second.items():
    assert example['audio_pcm'] and example['audio_pcm'] == first[video_id]['audio_pcm']
  assert all(os.path.exists(path) for path in stored)


def test_video_folder_csv(tmp_path):
  root, data_dir = str(tmp_path / 'mine'), str(tmp_path / 'tfds')
  outside = write_video(str(tmp_path / 'elsewhere/far.mp4'))
  for name in ('a', 'b', 'c'):
    write_video(os.path.join(root, 'clips', f'{name}.mp4'))
  _write_csv(
    os.path.join(root, 'train.csv'),
    [['path', 'label'], ['clips/a.mp4', 'run'], ['clips/b.mp4', 'jump'], [outside, 'jump']],
  )
  _write_csv(os.path.join(root, 'test.csv'), [['clips/c.mp4', 'run'], ['clips/lost.mp4', 'run']])
  builder = prepare(video_folder.VideoFolder, root, data_dir, 'default')
  assert builder.info.features['label'].names == ['jump', 'run']
  train = records(builder, 'train')
  assert {k: ex['label'] for k, ex in train.items()} == {
    'clips/a.mp4': 1,
    'clips/b.mp4': 0,
    outside: 0,
  }
  assert list(records(builder, 'test')) == ['clips/c.mp4']
  report = video_common.read_report(data_dir, 'video_folder/default')
  assert report_ids(report, 'test') == ({'clips/lost.mp4'}, set())

  _write_csv(os.path.join(root, 'val.csv'), [['clips/a.mp4']])
  with pytest.raises(ValueError, match=r'val.csv:1: expected "path,label"'):
    prepare(video_folder.VideoFolder, root, data_dir, 'short320')


# --- image_folder -----------------------------------------------------------------------


def _write_image(path: str, height: int, width: int, image_format: str) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  pixels = _frames(1, height, width)[0]
  Image.fromarray(pixels).save(path, format=image_format)
  return path


@pytest.fixture(scope='module')
def images(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('images'))
  for split in ('train', 'val'):
    for name in ('n01440764', 'n01443537'):
      _write_image(os.path.join(root, split, name, f'{name}_1.JPEG'), 30, 40, 'JPEG')
      _write_image(os.path.join(root, split, name, f'{name}_2.png'), 40, 20, 'PNG')
  write_garbage(os.path.join(root, 'train/n01440764/garbage.JPEG'))
  truncate(_write_image(os.path.join(root, 'val/n01443537/cut.jpg'), 60, 80, 'JPEG'))
  return root


def test_image_folder_keeps_the_files(images, tmp_path):
  data_dir = str(tmp_path / 'tfds')
  builder = prepare(image_folder.ImageFolder, images, data_dir, 'default')
  assert builder.info.features['label'].names == ['n01440764', 'n01443537']
  train = records(builder, 'train')
  assert sorted(train) == [
    'train/n01440764/n01440764_1.JPEG',
    'train/n01440764/n01440764_2.png',
    'train/n01443537/n01443537_1.JPEG',
    'train/n01443537/n01443537_2.png',
  ]
  for image_id, example in train.items():
    with open(os.path.join(images, image_id), 'rb') as f:
      assert example['image'] == f.read()
    assert example['label'] == (0 if 'n01440764/' in image_id else 1)
    assert (example['height'], example['width']) == ((30, 40) if 'JPEG' in image_id else (40, 20))
  report = video_common.read_report(data_dir, 'image_folder/default')
  assert report_ids(report, 'train') == (set(), {'train/n01440764/garbage.JPEG'})
  assert report_ids(report, 'val') == (set(), {'val/n01443537/cut.jpg'})
  check_manifest(builder, data_dir)


def test_image_folder_resizes(images, tmp_path):
  config = image_folder.ImageFolderConfig(name='my_images', short_side=16)
  builder = prepare(image_folder.ImageFolder, images, str(tmp_path / 'tfds'), config)
  for image_id, example in records(builder, 'val').items():
    image = Image.open(io.BytesIO(example['image']))
    assert image.format == 'JPEG' and min(image.size) == 16
    assert image.size == (example['width'], example['height'])
    assert image.size == ((21, 16) if 'JPEG' in image_id else (16, 32))


# --- davis ------------------------------------------------------------------------------


def test_davis_keeps_the_jpegs_and_masks_and_reports_broken_sequences(tmp_path):
  """Three embedded validation videos in DAVIS layout: one intact, one listed without its
  frames (missing), one with a truncated JPEG (left out, with the file in the reason)."""
  import sys

  sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'tools'))
  import export_davis

  root = str(tmp_path / 'DAVIS')
  names = export_davis.export('tiny', root, num_videos=3)['val']
  shutil.rmtree(os.path.join(root, 'JPEGImages', '480p', names[1]))
  broken = os.path.join(root, 'JPEGImages', '480p', names[2], '00003.jpg')
  with open(broken, 'r+b') as f:
    f.truncate(40)
  builder = prepare(davis.Davis, root, str(tmp_path / 'tfds'), '480p')
  ((sequence, example),) = records(builder, 'val').items()
  assert sequence == names[0] and example['num_frames'] == len(example['frames'])
  folder = os.path.join(root, 'JPEGImages', '480p', names[0])
  for frame_id, data in zip(example['frame_ids'], example['frames'], strict=True):
    with open(os.path.join(folder, frame_id.decode() + '.jpg'), 'rb') as f:
      assert f.read() == data
  _, labels = davis_layout.annotations(root, names[0])
  np.testing.assert_array_equal(example['masks'], labels)
  assert example['num_objects'] == labels[0].max() > 0
  report = video_common.read_report(str(tmp_path / 'tfds'), 'davis/480p')
  missing, left_out = report_ids(report, 'val')
  assert missing == {names[1]} and left_out == {names[2]}
  (entry,) = report['splits']['val']['left_out']
  assert '00003.jpg' in entry['error']


# --- posetrack --------------------------------------------------------------------------


def _posetrack_video(root, split: str, name: str, num_frames: int = 4, rng=None) -> dict:
  """Writes a PoseTrack 2018 video: JPEG frames and its annotation file; returns the
  annotation content."""
  rng = rng or np.random.default_rng(0)
  folder = os.path.join(root, 'images', split, name)
  os.makedirs(folder, exist_ok=True)
  os.makedirs(os.path.join(root, 'annotations', split), exist_ok=True)
  images, annotations = [], []
  for t in range(num_frames):
    pixels = (rng.uniform(size=(24, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(os.path.join(folder, f'{t:06d}.jpg'))
    image_id = 1000 + t
    images.append(
      {'id': image_id, 'file_name': f'images/{split}/{name}/{t:06d}.jpg', 'is_labeled': t % 2 == 1}
    )
    for track in (0, 3):
      points = np.concatenate([rng.uniform(0, 20, (17, 2)), np.full((17, 1), 1.0)], 1)
      points[0, 2] = 0  # one joint not visible
      annotations.append(
        {
          'id': len(annotations),
          'image_id': image_id,
          'track_id': track,
          'keypoints': points.ravel().tolist(),
          'bbox': [1.0, 2.0, 10.0, 12.0],
        }
      )
  content = {'images': images, 'annotations': annotations, 'categories': [{'keypoints': []}]}
  with open(os.path.join(root, 'annotations', split, f'{name}.json'), 'w') as f:
    json.dump(content, f)
  return content


def test_posetrack_reads_every_frame_and_track_and_reports_broken_videos(tmp_path):
  root = str(tmp_path / 'posetrack_data')
  content = _posetrack_video(root, 'val', '000342_mpii_test')
  _posetrack_video(root, 'val', '000522_mpii_test')
  _posetrack_video(root, 'train', '000001_bonn_train')
  os.remove(os.path.join(root, 'images', 'val', '000522_mpii_test', '000002.jpg'))
  builder = prepare(posetrack.PoseTrack, root, str(tmp_path / 'tfds'), '2018')
  ((video_id, example),) = records(builder, 'val').items()
  assert video_id == '000342_mpii_test' and len(example['frames']) == 4
  assert example['track_ids'].tolist() == [0, 3] and example['labelled_frames'].tolist() == [
    False,
    True,
    False,
    True,
  ]
  first = content['annotations'][0]  # track 0, frame 0
  xyv = np.asarray(first['keypoints']).reshape(17, 3)
  np.testing.assert_allclose(example['keypoints'][0, 0], xyv[:, [1, 0]], rtol=1e-6)
  # Visible: v > 0 in a labelled frame.
  assert not example['keypoint_visible'][:, 0].any()
  assert example['keypoint_visible'][0, 1].tolist() == [False] + [True] * 16
  np.testing.assert_allclose(example['boxes'][1, 2], [2.0, 1.0, 14.0, 11.0])
  report = video_common.read_report(str(tmp_path / 'tfds'), 'posetrack/2018')
  (entry,) = report['splits']['val']['left_out']
  assert entry['example_id'] == '000522_mpii_test' and '000002.jpg' in entry['error']
  # The sequence loader reads it whole, keypoints and all.
  from vidjax.data.loaders import sequence

  dataset = pipeline.open_dataset('posetrack/2018', 'val', str(tmp_path / 'tfds'))
  whole = sequence.Loader(dataset, None).eval_example(0)
  assert whole['frames'].shape == (4, 24, 32, 3) and 'labels' not in whole
  assert whole['keypoints'].shape == (2, 4, 17, 2)


@pytest.mark.parametrize(
  'problem, message',
  [
    ('syntax', r'000342_mpii_test.json:1:\d+: not valid JSON'),
    ('image', r'000342_mpii_test.json: annotation 0 names image 99, not in its images'),
    ('joints', r'000342_mpii_test.json: annotation 0 has 6 keypoint values; expected 51'),
  ],
)
def test_posetrack_malformed_annotations_name_the_file(tmp_path, problem, message):
  root = str(tmp_path / 'posetrack_data')
  content = _posetrack_video(root, 'val', '000342_mpii_test')
  os.makedirs(os.path.join(root, 'annotations', 'train'))
  path = os.path.join(root, 'annotations', 'val', '000342_mpii_test.json')
  if problem == 'syntax':
    text = json.dumps(content)[:-5]
  else:
    first = content['annotations'][0]
    first.update({'image_id': 99} if problem == 'image' else {'keypoints': [1, 2, 1, 3, 4, 1]})
    text = json.dumps(content)
  with open(path, 'w') as f:
    f.write(text)
  with pytest.raises(ValueError, match=message):
    prepare(posetrack.PoseTrack, root, str(tmp_path / 'tfds'), '2018')


# --- dispatch ---------------------------------------------------------------------------


def test_dispatch_by_module_name():
  known = video_common.known_datasets()
  for name in (
    'ava',
    'davis',
    'hmdb51',
    'image_folder',
    'posetrack',
    'kinetics',
    'ssv2',
    'tcc',
    'ucf101',
    'video_folder',
    'web_videos',
  ):
    assert name in known and video_common.builder_class(name).name == name
  with pytest.raises(ValueError, match=r"Unknown dataset 'ucf102'; known datasets: .*ucf101"):
    video_common.builder_class('ucf102')


def test_vidjax_builders_come_before_the_tfds_ones_of_the_same_name(tmp_path):
  import tensorflow_datasets.video  # noqa: F401  (registers tfds's TensorFlow-based ucf101)

  assert isinstance(tfds.builder('ucf101', data_dir=str(tmp_path)), ucf101.Ucf101)


def test_read_manifest_of_unprepared_dataset(tmp_path):
  with pytest.raises(FileNotFoundError, match=r'ssv2/short320 is not prepared .*prepare_dataset'):
    video_common.read_manifest(str(tmp_path), 'ssv2/short320')
