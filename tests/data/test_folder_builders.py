"""Tests of the video_folder, image_folder, DAVIS and PoseTrack builders on small fake
datasets in their layouts (`builder_testing`)."""

import io
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from tests.data.builder_testing import (
  check_manifest,
  check_video,
  drifting_frames,
  prepare,
  records,
  report_ids,
  truncate,
  write_csv,
  write_garbage,
  write_video,
)
from vidjax.data import davis as davis_layout
from vidjax.data import pipeline
from vidjax.data.builders import (
  davis,
  image_folder,
  posetrack,
  transcode_cache,
  video_common,
  video_folder,
)

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
  write_csv(
    os.path.join(root, 'train.csv'),
    [['path', 'label'], ['clips/a.mp4', 'run'], ['clips/b.mp4', 'jump'], [outside, 'jump']],
  )
  write_csv(os.path.join(root, 'test.csv'), [['clips/c.mp4', 'run'], ['clips/lost.mp4', 'run']])
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

  write_csv(os.path.join(root, 'val.csv'), [['clips/a.mp4']])
  with pytest.raises(ValueError, match=r'val.csv:1: expected "path,label"'):
    prepare(video_folder.VideoFolder, root, data_dir, 'short320')


# --- image_folder -----------------------------------------------------------------------


def _write_image(path: str, height: int, width: int, image_format: str) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  pixels = drifting_frames(1, height, width)[0]
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
