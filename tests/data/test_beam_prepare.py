"""Dataset preparation on Apache Beam (DirectRunner): the same dataset as the local path."""

import os

import numpy as np
import pytest

from tests.data.builder_testing import make_ucf101, prepare, records
from tools import prepare_dataset
from vidjax.data.builders import image_folder, ucf101, video_common


@pytest.fixture(scope='module')
def local_and_beam(tmp_path_factory):
  """UCF101 split 1 (with a corrupt, a truncated and a missing video) prepared both ways."""
  root = str(tmp_path_factory.mktemp('ucf101'))
  make_ucf101(root)
  local_dir, beam_dir = (str(tmp_path_factory.mktemp(name)) for name in ('local', 'beam'))
  local = prepare(ucf101.Ucf101, root, local_dir, 'split1')
  beam = prepare_dataset.prepare(
    'ucf101',
    root,
    beam_dir,
    config='split1',
    progress=False,
    beam_runner='DirectRunner',
    beam_options='--direct_num_workers=1',
  )
  return local, beam, local_dir, beam_dir


def test_the_same_examples_byte_for_byte(local_and_beam):
  local, beam, _, _ = local_and_beam
  assert sorted(beam.info.splits) == sorted(local.info.splits) == ['test', 'train']
  for split in ('train', 'test'):
    local_examples, beam_examples = records(local, split), records(beam, split)
    assert sorted(beam_examples) == sorted(local_examples)
    for video_id, example in local_examples.items():
      assert sorted(beam_examples[video_id]) == sorted(example)
      for feature, value in example.items():
        assert np.array_equal(beam_examples[video_id][feature], value), (video_id, feature)


def test_the_same_manifest_and_report(local_and_beam):
  local, beam, local_dir, beam_dir = local_and_beam
  assert video_common.read_manifest(beam_dir, 'ucf101/split1') == video_common.read_manifest(
    local_dir, 'ucf101/split1'
  )
  local_report = video_common.read_report(local_dir, 'ucf101/split1')
  beam_report = video_common.read_report(beam_dir, 'ucf101/split1')
  # The corrupt and the truncated videos are left out with the decoder's error, the
  # deleted one is missing: the run finished with the failures in the report.
  assert beam_report['splits'] == local_report['splits']
  # 9 listed: 1 missing, 2 that do not decode, 6 transcoded.
  assert local_report['transcoding'] == {'reused': 0, 'transcoded': 6, 'failed': 2}
  assert beam_report['transcoding'] == {
    'on': 'apache_beam',
    'reused': 0,
    'transcoded': 6,
    'failed': 2,
  }
  assert 'cache_dir' not in beam_report
  # The outcome files the workers wrote are gone.
  assert sorted(os.listdir(beam.data_path)) == sorted(os.listdir(local.data_path))
  assert 'on Apache Beam' in prepare_dataset.summary(beam)


def test_only_video_datasets_run_on_beam(tmp_path):
  os.makedirs(tmp_path / 'images' / 'train' / 'cat')
  with pytest.raises(ValueError, match='only the video datasets are prepared on Apache Beam'):
    prepare_dataset.prepare(
      'image_folder',
      str(tmp_path / 'images'),
      str(tmp_path / 'tfds'),
      config='pets',
      progress=False,
      beam_runner='DirectRunner',
    )
  assert image_folder.ImageFolder.name == 'image_folder'
