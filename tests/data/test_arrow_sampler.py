"""The `arrow` sampler (Arrow of Time): a clip and the same frames reversed."""

import numpy as np
import pytest

from vidjax import configs
from vidjax.data import decode, pipeline, samplers
from vidjax.data.samplers import arrow


@pytest.mark.parametrize('seed', range(10))
def test_a_training_pair_is_a_clip_and_its_reverse(seed):
  meta = samplers.VideoMeta(num_frames=32, fps=8.0)
  sample = arrow.Sampler(num_frames=8, stride=2, policy='pad').train(
    np.random.default_rng(seed), meta
  )
  frames = sample.frames
  assert frames.shape == (2, 8) and sample.fields['reversed'].tolist() == [0, 1]
  np.testing.assert_array_equal(np.diff(frames[0]), np.full(7, 2))  # forward, stride 2
  np.testing.assert_array_equal(frames[1], frames[0, ::-1])
  assert frames.max() < 32


def test_test_views_are_forward_and_reversed_pairs_at_spread_starts():
  sample = arrow.Sampler(num_frames=8, stride=1, policy='pad').eval(
    samplers.VideoMeta(num_frames=32, fps=8.0), num_views=4
  )
  assert sample.fields['reversed'].tolist() == [0, 1, 0, 1]
  np.testing.assert_array_equal(sample.frames[0], np.arange(8))
  np.testing.assert_array_equal(sample.frames[1], np.arange(8)[::-1])
  np.testing.assert_array_equal(sample.frames[2], 24 + np.arange(8))
  np.testing.assert_array_equal(sample.frames[3], (24 + np.arange(8))[::-1])


def test_bad_settings_are_named():
  with pytest.raises(ValueError, match='num_frames=1'):
    arrow.Sampler(num_frames=1, stride=1, policy='pad')
  with pytest.raises(ValueError, match='even'):
    arrow.Sampler(num_frames=4, stride=1, policy='pad').eval(
      samplers.VideoMeta(num_frames=32, fps=8.0), num_views=3
    )


def test_the_loader_decodes_the_reversed_clip_as_the_forward_one_backward(synthetic_data_dir):
  config = configs.base_config().input
  config.update(dataset='vidjax_synthetic/tiny', data_dir=synthetic_data_dir)
  config.sampling.update(mode='arrow', num_frames=4, stride=1, policy='pad')
  config.pp.update(crop_size=32, flip=False)  # the whole 32 x 32 frame: pixels comparable
  train_input = pipeline.make_train_input(config, 0, 2, 0, 1)
  loader, source = train_input.loader, train_input.dataset.source
  example = loader.train_example(5, np.random.default_rng(3))
  video = example['video']
  assert video.shape == (2, 4, 32, 32, 3) and example['reversed'].tolist() == [0, 1]
  np.testing.assert_array_equal(video[1], video[0, ::-1])
  everything = decode.decode_frames(source[5]['video'], range(int(source[5]['num_frames'])))
  errors = np.abs(video[0][:, None].astype(int) - everything[None].astype(int)).mean((2, 3, 4))
  assert errors.min(axis=1).max() == 0
  np.testing.assert_array_equal(np.diff(errors.argmin(axis=1)), [1, 1, 1])
