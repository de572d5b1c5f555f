"""The `sequence` loader: whole videos and their DAVIS labels, for evaluation only."""

import dataclasses

import ml_collections
import numpy as np
import pytest

from vidjax.data import davis, pipeline
from vidjax.data.builders import synthetic, synthetic_scenes
from vidjax.data.loaders import sequence


@pytest.fixture
def dataset(synthetic_data_dir):
  return pipeline.open_dataset('vidjax_synthetic/tiny', 'validation', synthetic_data_dir)


def test_a_video_record_gives_every_frame_and_the_first_frames_objects(dataset):
  example = sequence.Loader(dataset, ml_collections.ConfigDict()).eval_example(0)
  index = int(str(example['video_id']).rsplit('_', 1)[1])
  config = {c.name: c for c in synthetic.VidjaxSynthetic.BUILDER_CONFIGS}['tiny']
  rendered = synthetic_scenes.render_video(config, 'validation', index)
  assert example['frames'].shape == rendered['frames'].shape
  # The mp4 is lossy; the masks are not, and become DAVIS labels as the export writes them.
  assert np.abs(example['frames'].astype(int) - rendered['frames']).mean() < 8
  np.testing.assert_array_equal(example['labels'], davis.first_frame_objects(rendered['masks']))
  assert example['mask'] and not example['decode_failed'] and example['index'] == 0


def test_an_undecodable_video_is_masked_and_training_is_refused(dataset):
  broken = dict(dataset.source[0], video=b'not a video')
  loader = sequence.Loader(
    dataclasses.replace(dataset, source=[broken]), ml_collections.ConfigDict()
  )
  example = loader.eval_example(0)
  assert example['decode_failed'] and not example['mask'] and loader.decode_failures == 1
  with pytest.raises(ValueError, match="loader='sequence' reads whole videos for evaluation"):
    loader.train_example(0, np.random.default_rng(0))
  with pytest.raises(ValueError, match='num_clips=1'):
    loader.eval_example(0, num_clips=2)
