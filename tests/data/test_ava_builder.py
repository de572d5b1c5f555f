"""The AVA builder on a fake manual folder in the official layout: one record per keyframe
with the clip around it, actors' boxes and multi-hot actions over the label map's classes,
detector boxes, exclusions; missing and broken movies in the report; malformed rows and
timestamps outside a movie as errors naming the file and line."""

import os

import numpy as np
import pytest

from tests.data.builder_testing import prepare, report_ids, write_garbage
from vidjax.data import decode, encode, pipeline
from vidjax.data.builders import ava

CLASS_IDS = [i for i in range(1, 81) if i % 4]  # 60 of the 80 ids, as the challenge's map
MOVIE_FPS = 20


def _write(path, data):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'wb' if isinstance(data, bytes) else 'w') as f:
    f.write(data)


def _labelmap(root):
  text = ''.join(f'item {{\n  name: "action {i}"\n  id: {i}\n}}\n' for i in CLASS_IDS)
  _write(os.path.join(root, 'annotations', ava.LABELMAP), text)


def _movie(seconds):
  """A movie whose red channel is the frame index: a clip shows its times."""
  frames = np.zeros((seconds * MOVIE_FPS, 48, 64, 3), np.uint8)
  frames[..., 0] = np.arange(len(frames))[:, None, None]
  return encode.encode_video(frames, MOVIE_FPS)


def _manual_dir(root, train_rows=None, val_rows=None):
  annotations = os.path.join(root, 'annotations')
  _labelmap(root)
  movie = _movie(12)  # a 12 s segment
  for name in ('movA', 'movV'):
    _write(os.path.join(root, 'videos_15min', f'{name}.mp4'), movie)
  write_garbage(os.path.join(root, 'videos_15min', 'movC.mkv'))
  train_rows = train_rows or [
    'movA,0902,0.1,0.2,0.5,0.8,11,0',
    'movA,0902,0.1,0.2,0.5,0.8,17,0',  # the same person's second action
    'movA,0902,0.6,0.1,0.9,0.9,11,1',
    'movA,0905,0.2,0.2,0.4,0.4,12,0',  # a class outside the label map: dropped
    'movA,0908,0.2,0.2,0.4,0.4,11,0',  # excluded
    'movA,0911,0.3,0.3,0.6,0.6,2,4',  # its window reaches past the end
    'movB,0902,0.1,0.1,0.2,0.2,11,0',  # no such movie
    'movC,0902,0.1,0.1,0.2,0.2,11,0',  # undecodable
  ]
  val_rows = val_rows or ['movV,0906,0.1,0.1,0.3,0.3,5,0']
  _write(os.path.join(annotations, 'ava_train_v2.2.csv'), '\n'.join(train_rows) + '\n')
  _write(os.path.join(annotations, 'ava_val_v2.2.csv'), '\n'.join(val_rows) + '\n')
  _write(os.path.join(annotations, 'ava_train_excluded_timestamps_v2.2.csv'), 'movA,0908\n')
  _write(
    os.path.join(annotations, 'ava_detection_val_boxes.csv'),
    'movV,0906,0.1,0.1,0.3,0.3,,0.95\nmovV,0906,0.5,0.5,0.7,0.8,-1,0.4\n'
    'movV,0907,0.5,0.5,0.7,0.8,-1,0.9\n',  # a second that is not a keyframe: not read
  )
  return root


def test_keyframe_records(tmp_path):
  manual = _manual_dir(str(tmp_path / 'manual'))
  data_dir = str(tmp_path / 'data')
  builder = prepare(ava.Ava, manual, data_dir, 'v2.2')
  source = builder.as_data_source(split='train')
  records = {f'{r["video_id"].decode()},{int(r["timestamp"]):04d}': r for r in source}
  assert sorted(records) == ['movA,0902', 'movA,0905', 'movA,0911']
  first = records['movA,0902']
  assert (first['num_frames'], first['fps'], first['keyframe']) == (90, 30.0, 45)
  np.testing.assert_allclose(first['boxes'], [[0.1, 0.2, 0.5, 0.8], [0.6, 0.1, 0.9, 0.9]])
  names = [f'action {i}' for i in CLASS_IDS]
  labels = [[names[j] for j in np.flatnonzero(row)] for row in first['label']]
  assert labels == [['action 11', 'action 17'], ['action 11']]
  assert records['movA,0905']['boxes'].shape == (0, 4)  # its one row's class is not evaluated
  # The keyframe's frame is the movie's frame at that second (red = frame index).
  for key, seconds in (('movA,0902', 2), ('movA,0911', 11)):
    clip = decode.decode_frames(records[key]['video'], range(90))
    assert abs(int(clip[45, 0, 0, 0]) - seconds * MOVIE_FPS) <= 3
  # Past the end of the movie the last frame repeats.
  clip = decode.decode_frames(records['movA,0911']['video'], [89])
  assert abs(int(clip[0, 0, 0, 0]) - (12 * MOVIE_FPS - 1)) <= 3
  missing, left_out = report_ids(builder._report, 'train')
  assert missing == {'movB'} and left_out == {'movC'}
  (val,) = builder.as_data_source(split='validation')
  np.testing.assert_allclose(val['detection_scores'], [0.95, 0.4])
  np.testing.assert_allclose(val['detection_boxes'][1], [0.5, 0.5, 0.7, 0.8])
  dataset = pipeline.open_dataset('ava/v2.2', 'train', data_dir)
  assert dataset.label_names == tuple(names)


@pytest.mark.parametrize(
  'row, message',
  [
    ('movA,0902,0.1,0.2,0.5,11,0', r'ava_train_v2.2.csv:2: 7 columns'),
    ('movA,0902,0.1,0.2,1.5,0.8,11,0', r'ava_train_v2.2.csv:2: box .* outside \[0, 1\]'),
    ('movA,0950,0.1,0.2,0.5,0.8,11,0', r'ava_train_v2.2.csv:2: timestamp 950 is 50.0 s into'),
  ],
)
def test_bad_rows_name_the_file_and_line(tmp_path, row, message):
  manual = _manual_dir(str(tmp_path / 'manual'), train_rows=['movA,0902,0.1,0.2,0.5,0.8,11,0', row])
  with pytest.raises(ValueError, match=message):
    prepare(ava.Ava, manual, str(tmp_path / 'data'), 'v2.2')


def test_ava_kinetics_clips_count_their_timestamps_from_the_clips_start(tmp_path):
  manual = str(tmp_path / 'manual')
  annotations = os.path.join(manual, 'annotations')
  _labelmap(manual)
  clip_path = os.path.join(manual, 'kinetics700', 'abseiling', 'abcdefghijk_000010_000020.mp4')
  _write(clip_path, _movie(10))
  rows = 'abcdefghijk,0015,0.1,0.1,0.4,0.9,11,0\nzzzzzzzzzzz,0015,0.1,0.1,0.4,0.9,11,0\n'
  _write(os.path.join(annotations, 'kinetics_train_v1.0.csv'), rows)
  _write(os.path.join(annotations, 'kinetics_val_v1.0.csv'), rows)
  builder = prepare(ava.Ava, manual, str(tmp_path / 'data'), 'kinetics')
  (record,) = builder.as_data_source(split='train')
  clip = decode.decode_frames(record['video'], [int(record['keyframe'])])
  assert abs(int(clip[0, 0, 0, 0]) - 5 * MOVIE_FPS) <= 3  # 5 s into the clip
  assert report_ids(builder._report, 'train')[0] == {'zzzzzzzzzzz'}  # no such clip
