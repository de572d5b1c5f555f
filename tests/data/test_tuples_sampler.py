"""The `tuples` sampler (Shuffle & Learn): three frames in temporal order or not."""

import numpy as np
import pytest
from data_testing import one_record_dataset

from vidjax import configs
from vidjax.data import decode, encode, pipeline, samplers
from vidjax.data.loaders import clip
from vidjax.data.samplers import tuples


def _in_order(frames, window_frames):
  """What a tuple is, from its frames and the five ordered ones it came from."""
  a, b, c, d, e = window_frames
  return tuple(frames) in ((b, c, d), (d, c, b))


def test_training_tuples_follow_the_rule_at_the_ratio():
  meta = samplers.VideoMeta(num_frames=40, fps=8.0)
  sampler = tuples.Sampler(num_frames=3, window=12, negative_fraction=0.75)
  rng = np.random.default_rng(0)
  counts = dict.fromkeys(('forward', 'backward', 'a', 'e'), 0)
  for _ in range(2000):
    sample = sampler.train(rng, meta)
    frames, window = tuple(sample.frames), sample.fields['window_frames']
    assert np.all(np.diff(window) > 0) and window[-1] - window[0] < 12 and window[-1] < 40
    a, b, c, d, e = window
    kinds = {(b, c, d): 'forward', (d, c, b): 'backward', (b, a, d): 'a', (b, e, d): 'e'}
    counts[kinds[frames]] += 1
    assert sample.fields['in_order'] == _in_order(frames, window)
  # 1:3 in order to shuffled, each half of its kind: 250, 250, 750, 750 expected.
  assert all(200 < counts[k] < 300 for k in ('forward', 'backward'))
  assert all(680 < counts[k] < 820 for k in ('a', 'e'))


def test_test_views_are_balanced_pairs():
  sample = tuples.Sampler(num_frames=3, window=9).eval(
    samplers.VideoMeta(num_frames=40, fps=8.0), num_views=4
  )
  assert sample.fields['in_order'].tolist() == [1, 0, 1, 0]
  np.testing.assert_array_equal(sample.fields['window_frames'][0], [0, 2, 4, 6, 8])
  np.testing.assert_array_equal(sample.frames[:2], [[2, 4, 6], [2, 0, 6]])
  np.testing.assert_array_equal(sample.frames[2:], [[33, 35, 37], [33, 39, 37]])


def test_bad_settings_are_named():
  with pytest.raises(ValueError, match='num_frames=4'):
    tuples.Sampler(num_frames=4)
  with pytest.raises(ValueError, match='window=4'):
    tuples.Sampler(num_frames=3, window=4)
  with pytest.raises(ValueError, match='negative_fraction'):
    tuples.Sampler(num_frames=3, negative_fraction=1.0)
  with pytest.raises(ValueError, match='even'):
    tuples.Sampler(num_frames=3).eval(samplers.VideoMeta(num_frames=40, fps=8.0), num_views=3)


def test_the_loader_decodes_the_tuples_frames(synthetic_data_dir):
  config = configs.base_config().input
  config.update(dataset='vidjax_synthetic/tiny', data_dir=synthetic_data_dir)
  config.sampling.update(mode='tuples', num_frames=3, window=8)
  config.pp.update(crop_size=32, flip=False)  # the whole 32 x 32 frame: pixels comparable
  train_input = pipeline.make_train_input(config, 0, 2, 0, 1)
  loader, source = train_input.loader, train_input.dataset.source
  example = loader.train_example(5, np.random.default_rng(1))
  assert example['video'].shape == (3, 32, 32, 3)
  everything = decode.decode_frames(source[5]['video'], range(int(source[5]['num_frames'])))
  errors = np.abs(example['video'][:, None].astype(int) - everything[None].astype(int))
  found = errors.mean((2, 3, 4)).argmin(axis=1)
  assert errors.mean((2, 3, 4)).min(axis=1).max() == 0
  assert bool(example['in_order']) == _in_order(found, example['window_frames'])


def test_min_motion_draws_tuples_of_still_moments_again(synthetic_data_dir):
  """A video whose first half is still and second half moves: without min_motion about a
  third of the tuples are three identical frames; with it a tuple is kept still only when
  all MAX_DRAWS draws were (about 1 % of them)."""
  config = configs.base_config().input
  config.update(dataset='vidjax_synthetic/tiny', data_dir=synthetic_data_dir)
  config.sampling.update(mode='tuples', num_frames=3, window=8)
  config.pp.update(crop_size=32, flip=False)
  frames = np.full((32, 32, 32, 3), 128, np.uint8)
  frames[16:] = 0
  for t in range(16, 32):
    frames[t, 8:16, (t - 16) : (t - 16) + 8] = 255  # a square moving 1 pixel a frame
  dataset = pipeline.open_dataset(config.dataset, 'train', config.data_dir)
  record = dict(dataset.source[0], video=encode.encode_video(frames, 8.0), num_frames=32)

  source = one_record_dataset(dataset, record)

  def still_tuples(min_motion):
    config.sampling.min_motion = min_motion
    loader = clip.Loader(source, config)
    rng = np.random.default_rng(0)
    examples = [loader.train_example(0, rng)['video'].astype(int) for _ in range(60)]
    return sum(np.abs(np.diff(video, axis=0)).mean() < 1.0 for video in examples)

  still, drawn_again = still_tuples(0.0), still_tuples(2.0)
  assert still >= 8 and drawn_again <= 2, (still, drawn_again)
  with pytest.raises(ValueError, match='min_motion'):
    tuples.Sampler(num_frames=3, min_motion=-1.0)
