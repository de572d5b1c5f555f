"""Tests of the manual_dir builders of the action datasets on small fake datasets in the
official layouts (AVI/MPEG-4 Part 2 for UCF101 and HMDB51, H.264/AAC mp4 for Kinetics,
VP9 webm for Something-Something v2; `builder_testing`), with the dispatch by name and
the manifest; the folder, DAVIS and PoseTrack builders are in test_folder_builders.py.
"""

import json
import os

import av
import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.data.builder_testing import (
  FPS,
  UCF_CLASSES,
  check_manifest,
  check_video,
  drifting_frames,
  keyframes,
  make_ucf101,
  prepare,
  records,
  report_ids,
  truncate,
  write_csv,
  write_video,
)
from vidjax.data import decode, encode, pipeline
from vidjax.data.builders import (
  hmdb51,
  kinetics,
  ssv2,
  ucf101,
  video_common,
)
from vidjax.data.loaders import clip

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
    for image in drifting_frames(12, 24, 32):
      container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format='rgb24')))
    container.mux(stream.encode(None))
  # Shown 64 x 24: each stored pixel is twice as wide as high.
  assert encode.transcode(path, 24)[1].width == 64


# --- UCF101 -----------------------------------------------------------------------------


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
  write_csv(os.path.join(root, 'train.csv'), [header, *train])
  write_csv(os.path.join(root, 'validate.csv'), [header, *val])
  write_csv(os.path.join(root, 'test.csv'), [header[1:5], ['t1', '0', '10', 'test']])
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
