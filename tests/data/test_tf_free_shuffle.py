"""A split larger than tfds's in-memory shuffle buffer builds without TensorFlow, into
the records a build within the buffer writes (`vidjax.data.builders.tf_free_shuffle`)."""

import importlib.util

import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core import shuffle

from vidjax.data.builders import synthetic


def _records(data_dir: str) -> list[dict]:
  source = tfds.data_source(
    'vidjax_synthetic',
    data_dir=data_dir,
    split='train',
    builder_kwargs=dict(config='tiny', file_format='array_record'),
  )
  return [source[i] for i in range(len(source))]


@pytest.mark.skipif(
  importlib.util.find_spec('tensorflow') is not None,
  reason='with TensorFlow installed tfds spills through tf.io.gfile itself',
)
def test_a_split_over_the_buffer_spills_to_buckets_and_keeps_its_records(
  synthetic_data_dir, tmp_path, monkeypatch
):
  spilled = []
  add_to_bucket = shuffle.Shuffler._add_to_bucket

  def counting(self, hkey, data):
    spilled.append(hkey)
    add_to_bucket(self, hkey, data)

  monkeypatch.setattr(shuffle, 'MAX_MEM_BUFFER_SIZE', 10_000)
  monkeypatch.setattr(shuffle.Shuffler, '_add_to_bucket', counting)
  synthetic.ensure_built(str(tmp_path), 'tiny')
  assert len(spilled) >= 64  # every training example went through a bucket file
  built_on_disk, built_in_memory = _records(str(tmp_path)), _records(synthetic_data_dir)
  assert [r['video_id'] for r in built_on_disk] == [r['video_id'] for r in built_in_memory]
  assert all(a['video'] == b['video'] for a, b in zip(built_on_disk, built_in_memory, strict=True))
