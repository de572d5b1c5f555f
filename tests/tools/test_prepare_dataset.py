"""Tests of tools/prepare_dataset.py: the command line, its errors, resuming a prepare."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

from vidjax.data import encode
from vidjax.data.builders import ucf101, video_common

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tools', 'prepare_dataset.py')
CLASSES = ('Archery', 'Bowling')


def _video(path: str, num_frames: int = 12) -> None:
  """A tiny clip (the container is found from the content, whatever the extension)."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  frames = np.zeros((num_frames, 16, 24, 3), np.uint8)
  frames += np.arange(num_frames, dtype=np.uint8)[:, None, None, None] * 10
  with open(path, 'wb') as f:
    f.write(encode.encode_video(frames, fps=10))


def _make_ucf101(root: str) -> None:
  """2 classes x 3 groups, split 1 (test: g01); one training video is missing, one test
  video is garbage."""
  lists = os.path.join(root, 'ucfTrainTestlist')
  os.makedirs(lists)
  with open(os.path.join(lists, 'classInd.txt'), 'w') as f:
    f.write('1 Archery\n2 Bowling\n')
  train = test = ''
  for label, name in enumerate(CLASSES, 1):
    for group in (1, 2, 3):
      video = f'{name}/v_{name}_g0{group}_c01.avi'
      _video(os.path.join(root, 'UCF-101', video))
      if group == 1:
        test += f'{video}\n'
      else:
        train += f'{video} {label}\n'
  for name, text in (('trainlist01.txt', train), ('testlist01.txt', test)):
    with open(os.path.join(lists, name), 'w') as f:
      f.write(text)
  os.remove(os.path.join(root, 'UCF-101/Bowling/v_Bowling_g03_c01.avi'))
  with open(os.path.join(root, 'UCF-101/Bowling/v_Bowling_g01_c01.avi'), 'wb') as f:
    f.write(b'not a video' * 100)


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
  env = {**os.environ, 'PYTHONPATH': REPO}
  result = subprocess.run(
    [sys.executable, TOOL, *args], capture_output=True, text=True, env=env, timeout=120
  )
  if check:
    assert result.returncode == 0, result.stdout + result.stderr
  return result


def _cache_files(data_dir: str) -> dict[str, int]:
  """{path: modification time (ns)} of the transcoded videos in the cache."""
  cache = os.path.join(data_dir, 'downloads', 'vidjax_transcoded')
  return {
    os.path.join(directory, name): os.stat(os.path.join(directory, name)).st_mtime_ns
    for directory, _, names in os.walk(cache)
    for name in names
    if name.endswith('.mp4')
  }


def test_resumes_after_an_interruption(tmp_path, monkeypatch):
  manual_dir, data_dir = str(tmp_path / 'ucf'), str(tmp_path / 'tfds')
  _make_ucf101(manual_dir)
  transcode, calls = encode.transcode, []

  def interrupted_after_two(*args, **kwargs):
    calls.append(args[0])
    if len(calls) == 3:
      raise KeyboardInterrupt
    return transcode(*args, **kwargs)

  # The hook runs in this process: one worker transcodes inline.
  monkeypatch.setattr(encode, 'transcode', interrupted_after_two)
  builder = ucf101.Ucf101(data_dir=data_dir, config='split1', workers=1, progress=False)
  download_config = tfds.download.DownloadConfig(manual_dir=manual_dir)
  with pytest.raises(KeyboardInterrupt):
    builder.download_and_prepare(download_config=download_config)
  monkeypatch.undo()
  assert not builder.is_prepared()
  done = _cache_files(data_dir)
  assert len(done) == 2

  # 5 of the 6 listed videos exist, 2 are in the cache, 1 is garbage.
  output = _run(
    '--dataset=ucf101', f'--manual_dir={manual_dir}', f'--data_dir={data_dir}', '--workers=2'
  ).stdout
  assert 'videos: 2 transcoded, 2 reused from the cache, 1 failed' in output
  assert {k: v for k, v in _cache_files(data_dir).items() if k in done} == done
  assert 'train: 3 examples of 4 listed, 1 missing, 0 left out' in output
  assert 'test: 1 examples of 2 listed, 0 missing, 1 left out' in output
  missing = os.path.join(manual_dir, 'UCF-101/Bowling/v_Bowling_g03_c01.avi')
  assert f'missing: {missing}' in output
  assert 'left out: ' + os.path.join(manual_dir, 'UCF-101/Bowling/v_Bowling_g01_c01.avi') in output
  version_dir = os.path.join(data_dir, 'ucf101', 'split1', str(video_common.VideoBuilder.VERSION))
  for filename in (video_common.REPORT_FILENAME, video_common.MANIFEST_FILENAME):
    path = os.path.join(version_dir, filename)
    assert os.path.exists(path) and path in output
  manifest = video_common.read_manifest(data_dir, 'ucf101/split1')
  assert {k: v['num_examples'] for k, v in manifest['splits'].items()} == {'train': 3, 'test': 1}

  # Deleting the prepared dataset but keeping the cache: nothing is transcoded again.
  done = _cache_files(data_dir)
  for directory, _, names in os.walk(os.path.join(data_dir, 'ucf101'), topdown=False):
    for name in names:
      os.remove(os.path.join(directory, name))
    os.rmdir(directory)
  output = _run('--dataset=ucf101', f'--manual_dir={manual_dir}', f'--data_dir={data_dir}').stdout
  assert 'videos: 0 transcoded, 4 reused from the cache, 1 failed' in output
  assert _cache_files(data_dir) == done
  assert video_common.read_manifest(data_dir, 'ucf101/split1') == manifest

  output = _run('--dataset=ucf101', f'--manual_dir={manual_dir}', f'--data_dir={data_dir}').stdout
  assert 'ucf101/split1 is already prepared' in output and 'Report:' in output


def test_user_named_video_folder(tmp_path):
  manual_dir, data_dir = str(tmp_path / 'mine'), str(tmp_path / 'tfds')
  for split in ('train', 'val'):
    for name in ('a', 'b'):
      _video(os.path.join(manual_dir, split, name, 'clip.mp4'))
  common = [f'--manual_dir={manual_dir}', f'--data_dir={data_dir}', '--workers=1']
  output = _run('--dataset=video_folder', '--config=my_clips', '--short_side=32', *common).stdout
  assert f'video_folder/my_clips {video_common.VideoBuilder.VERSION}' in output
  assert 'val: 2 examples of 2 listed, 0 missing, 0 left out' in output
  manifest = video_common.read_manifest(data_dir, 'video_folder/my_clips')
  assert manifest['config'] == {'name': 'my_clips', 'short_side': 32, 'min_frames': 8}
  source = tfds.data_source('video_folder/my_clips', split='train', data_dir=data_dir)
  assert min(source[0]['height'], source[0]['width']) == 32

  # The same videos on Apache Beam's DirectRunner: the same splits.
  on_beam = ['--dataset=video_folder', '--config=my_clips_beam', '--short_side=32', *common]
  output = _run(*on_beam, '--beam_runner=DirectRunner').stdout
  assert 'on Apache Beam' in output and 'val: 2 examples of 2 listed' in output
  beam_manifest = video_common.read_manifest(data_dir, 'video_folder/my_clips_beam')
  assert beam_manifest['splits'] == manifest['splits']

  result = _run(
    '--dataset=video_folder', '--config=my_clips', '--short_side=64', *common, check=False
  )
  assert result.returncode == 1
  assert 'already prepared' in result.stderr and 'short side 32' in result.stderr


@pytest.mark.parametrize(
  'args, message',
  [
    (
      ['--dataset=ucf102'],
      "Unknown dataset 'ucf102'; known datasets: ava, davis, hmdb51, image_folder, kinetics, "
      'posetrack, ssv2, tcc, ucf101, video_folder, web_videos.',
    ),
    (['--dataset=ucf101', '--config=split9'], '--config=split9: ucf101 has no such config'),
    (['--dataset=ucf101'], 'classInd.txt not found in {manual_dir}/ucfTrainTestlist; expected'),
  ],
)
def test_errors_name_the_problem(tmp_path, args, message):
  manual_dir = tmp_path / 'downloads'
  manual_dir.mkdir()
  (manual_dir / 'UCF101.rar').write_bytes(b'still packed')
  result = _run(*args, f'--manual_dir={manual_dir}', f'--data_dir={tmp_path / "tfds"}', check=False)
  assert result.returncode == 1
  assert message.format(manual_dir=manual_dir) in result.stderr
  assert 'Traceback' not in result.stderr
