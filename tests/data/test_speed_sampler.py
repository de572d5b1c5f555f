"""The `speed` sampler (SpeedNet): the same moment at normal speed and sped up."""

import numpy as np
import pytest

from vidjax import configs
from vidjax.data import decode, pipeline, samplers, sampling
from vidjax.data.samplers import speed


def _sampler(**overrides):
  kwargs = dict(num_frames=8, stride=1, policy='pad', speedup=2.0, skip_jitter=0.25)
  kwargs.update(overrides)
  return speed.Sampler(**kwargs)


@pytest.mark.parametrize('seed', range(20))
def test_a_training_pair_starts_together_and_steps_at_its_skip_factors(seed):
  meta = samplers.VideoMeta(num_frames=48, fps=8.0)
  sample = _sampler().train(np.random.default_rng(seed), meta)
  frames, fields = sample.frames, sample.fields
  assert frames.shape == (2, 8) and fields['sped_up'].tolist() == [0, 1]
  assert frames[0, 0] == frames[1, 0]  # the same moment
  normal, fast = fields['skip_factor']
  assert 0.75 <= normal <= 1.25 and 1.5 <= fast <= 2.5
  for row, skip in zip(frames, (normal, fast), strict=True):
    np.testing.assert_array_equal(row, row[0] + sampling.clip_offsets(8, skip))
  assert frames.max() < 48  # the faster clip fits: no padded frames


def test_the_skip_factors_cover_their_ranges_and_mix_steps():
  meta = samplers.VideoMeta(num_frames=48, fps=8.0)
  sampler = _sampler()
  samples = [sampler.train(np.random.default_rng(seed), meta) for seed in range(200)]
  skips = np.stack([s.fields['skip_factor'] for s in samples])
  assert skips[:, 0].min() < 0.8 and skips[:, 0].max() > 1.2
  assert skips[:, 1].min() < 1.6 and skips[:, 1].max() > 2.4
  # Neither kind of clip has regular steps only: normal clips repeat or skip the odd
  # frame, sped-up clips step 1, 2 or 3 frames.
  steps = [set(np.diff(s.frames[i]).tolist()) for s in samples for i in (0, 1)]
  assert set().union(*steps[0::2]) == {0, 1, 2}
  assert set().union(*steps[1::2]) == {1, 2, 3}


def test_test_views_are_pairs_without_jitter_at_spread_starts():
  meta = samplers.VideoMeta(num_frames=48, fps=8.0)
  sample = _sampler().eval(meta, num_views=4)
  frames = sample.frames
  assert frames.shape == (4, 8)
  assert sample.fields['sped_up'].tolist() == [0, 1, 0, 1]
  assert sample.fields['skip_factor'].tolist() == [1.0, 2.0, 1.0, 2.0]
  np.testing.assert_array_equal(frames[0], np.arange(8))
  np.testing.assert_array_equal(frames[1], 2 * np.arange(8))
  last_start = 48 - 15  # the sped-up clip spans 15 frames
  np.testing.assert_array_equal(frames[3], last_start + 2 * np.arange(8))
  assert frames[2, 0] == frames[3, 0]


def test_bad_settings_are_named():
  with pytest.raises(ValueError, match='speedup'):
    _sampler(speedup=1.0)
  with pytest.raises(ValueError, match='skip_jitter'):
    _sampler(skip_jitter=1.0)
  with pytest.raises(ValueError, match='even'):
    _sampler().eval(samplers.VideoMeta(num_frames=48, fps=8.0), num_views=3)


def test_the_loader_decodes_both_clips_of_a_pair_with_one_crop(synthetic_data_dir):
  """Each decoded frame of the pair is the source frame the skip factors name."""
  config = configs.base_config().input
  config.update(dataset='vidjax_synthetic/tiny', data_dir=synthetic_data_dir)
  config.sampling.update(mode='speed', num_frames=4, stride=1, policy='pad')
  config.pp.update(crop_size=32, flip=False)  # the whole 32 x 32 frame: pixels comparable
  train_input = pipeline.make_train_input(config, 0, 2, 0, 1)
  loader, source = train_input.loader, train_input.dataset.source
  example = loader.train_example(5, np.random.default_rng(3))
  assert example['video'].shape == (2, 4, 32, 32, 3)
  everything = decode.decode_frames(source[5]['video'], range(int(source[5]['num_frames'])))
  for clip, skip in zip(example['video'], example['skip_factor'], strict=True):
    errors = np.abs(clip[:, None].astype(int) - everything[None].astype(int)).mean((2, 3, 4))
    found = errors.argmin(axis=1)
    assert errors.min(axis=1).max() == 0
    np.testing.assert_array_equal(found, found[0] + sampling.clip_offsets(4, skip))
