"""The `web_videos` builder: videos listed by URI with their hashtags."""

import json
import os
import pathlib
import types

import pytest

from tests.data.builder_testing import check_video, prepare, records, report_ids, write_garbage
from tests.data.builder_testing import write_video as write_video_file
from vidjax import configs
from vidjax.data import pipeline, tags_index
from vidjax.data.builders import transcode_cache, video_common, web_videos


class _RemotePath:
  """A stand-in for a remote `etils.epath` backend: 'fake://<local path>'; 'fake://down/...'
  fails as an unreachable bucket does."""

  def __init__(self, uri: str):
    self._uri, self._path = uri, pathlib.Path(uri.removeprefix('fake://'))

  def is_file(self) -> bool:
    if self._uri.startswith('fake://down/'):
      raise ConnectionError('bucket unreachable')
    return self._path.is_file()

  def read_bytes(self) -> bytes:
    return self._path.read_bytes()


def _write_split(path, entries):
  with open(path, 'w') as f:
    f.write('\n'.join(json.dumps(entry) for entry in entries) + '\n')


# The Beam workers of the DirectRunner run in this process: they see the fake backend.
@pytest.mark.parametrize('beam_runner', [None, 'DirectRunner'])
def test_web_videos_with_tags_and_failures_in_the_report(tmp_path, monkeypatch, beam_runner):
  monkeypatch.setattr(transcode_cache, 'epath', types.SimpleNamespace(Path=_RemotePath))
  root, data_dir = tmp_path / 'manual', str(tmp_path / 'tfds')
  os.makedirs(root)
  for name in ('a', 'b', 'c'):
    write_video_file(str(root / 'videos' / f'{name}.mp4'), audio=name == 'a')
  write_garbage(str(root / 'videos' / 'broken.mp4'))
  remote = f'fake://{root}/videos/c.mp4'
  _write_split(
    root / 'train.jsonl',
    [
      {'uri': 'videos/a.mp4', 'tags': '#CatchingFish #fun'},
      {'uri': 'videos/b.mp4', 'tags': ['catching', 'fish'], 'label': 'fishing'},
      {'uri': remote, 'tags': '#fish', 'id': 'remote_c'},
      {'uri': 'videos/broken.mp4', 'tags': '#fun'},
      {'uri': 'videos/gone.mp4', 'tags': '#fun'},
      {'uri': 'fake://down/d.mp4', 'tags': '#fun'},
    ],
  )
  config = video_common.VideoConfig(name='my_web', short_side=32)
  builder = prepare(web_videos.WebVideos, str(root), data_dir, config, beam_runner=beam_runner)
  train = records(builder, 'train')
  assert sorted(train) == ['remote_c', 'videos/a.mp4', 'videos/b.mp4']
  assert train['videos/a.mp4']['tags'] == b'#CatchingFish #fun'
  assert train['videos/b.mp4']['tags'] == b'#catching #fish'
  assert train['videos/b.mp4']['label'] == 0 and train['videos/a.mp4']['label'] == -1
  check_video(train['remote_c'], 32)
  report = video_common.read_report(data_dir, 'web_videos/my_web')
  missing = {'videos/gone.mp4', 'fake://down/d.mp4'}
  assert report_ids(report, 'train') == (missing, {'videos/broken.mp4'})

  # The tags index holds the records' tags in record order, for any split spec.
  for spec in ('train', 'train[1:]', 'train[:2]'):
    source = builder.as_data_source(split=spec)
    from_records = [source[i]['tags'].decode() for i in range(len(source))]
    assert tags_index.read(builder, spec, source) == from_records
  # An index that does not match the records is not used.
  index = json.loads((builder.data_path / tags_index.FILENAME).read_text())
  index['train']['ids'].reverse()
  (builder.data_path / tags_index.FILENAME).write_text(json.dumps(index))
  assert tags_index.read(builder, 'train', builder.as_data_source(split='train')) is None

  # The hashtags become classes of a label space.
  input_config = configs.base_config().input
  input_config.update(dataset='web_videos/my_web', data_dir=data_dir)
  input_config.label_space.update(kind='hashtag', min_count=2)
  dataset = pipeline.with_label_space(
    pipeline.open_dataset('web_videos/my_web', 'train', data_dir), input_config
  )
  assert dataset.label_names == ('fish',) and len(dataset.source) == 2


@pytest.mark.parametrize(
  ('line', 'message'),
  [
    ('{"uri": "a.mp4", "tags": "#x"', r'train.jsonl:2: not a JSON object'),
    ('{"tags": "#x"}', r'train.jsonl:2: needs a JSON object with a "uri" string'),
    ('{"uri": "a.mp4", "hashtags": "#x"}', r"train.jsonl:2: unknown keys \['hashtags'\]"),
    ('{"uri": "a.mp4", "tags": 3}', r'train.jsonl:2: "tags" must be a string or a list'),
    ('{"uri": "v.mp4"}', r'train.jsonl:2: v.mp4 is listed twice \(line 1 too\)'),
  ],
)
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
  root = tmp_path / 'manual'
  os.makedirs(root)
  with open(root / 'train.jsonl', 'w') as f:
    f.write('{"uri": "v.mp4", "tags": "#a"}\n' + line + '\n')
  with pytest.raises(ValueError, match=message):
    prepare(web_videos.WebVideos, str(root), str(tmp_path / 'tfds'), 'default')
