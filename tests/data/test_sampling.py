import numpy as np
import pytest

from vidjax import configs
from vidjax.data import sampling


def test_random_clip_stays_inside_and_uses_stride():
  rng = np.random.default_rng(0)
  for _ in range(100):
    idx = sampling.random_clip(rng, 40, 8, 2, 'loop')
    assert idx.min() >= 0 and idx.max() < 40
    assert np.all(np.diff(idx) == 2)


@pytest.mark.parametrize(('policy', 'expected'), [('loop', [3, 4, 0]), ('pad', [3, 4, 4])])
def test_policy_beyond_the_end(policy, expected):
  rng = np.random.default_rng(0)
  idx = sampling.random_clip(rng, 5, 6, 1, policy)
  np.testing.assert_array_equal(idx[-3:], expected)
  np.testing.assert_array_equal(idx[:5], [0, 1, 2, 3, 4])


def test_uniform_clips_cover_video():
  clips = sampling.uniform_clips(100, 8, 2, 3, 'loop')
  assert clips.shape == (3, 8)
  assert clips[0, 0] == 0 and clips[-1, -1] == 99
  single = sampling.uniform_clips(100, 8, 2, 1, 'loop')
  assert single[0, 0] == (100 - 15) // 2


def test_three_crops_along_long_side():
  assert sampling.multi_crops(64, 100, 64, 3) == [(0, 0), (0, 18), (0, 36)]
  assert sampling.multi_crops(100, 64, 64, 3) == [(0, 0), (18, 0), (36, 0)]
  assert sampling.multi_crops(64, 64, 56, 1) == [(4, 4)]


def test_crop_larger_than_frame_names_the_key():
  with pytest.raises(ValueError, match='config.input.pp.crop_size'):
    sampling.random_crop(np.random.default_rng(0), 32, 32, 40)


def _sampling_config(**overrides):
  config = configs.base_config().input.sampling
  config.update(overrides)
  return config


def test_default_mode_is_the_stride_sampler():
  config = _sampling_config()
  assert config.mode == 'stride'
  expected = sampling.random_clip(np.random.default_rng(3), 40, 8, 2, 'loop')
  actual = sampling.train_indices(np.random.default_rng(3), config, 40, 25.0)
  np.testing.assert_array_equal(actual, expected)
  np.testing.assert_array_equal(
    sampling.eval_indices(config, 40, 25.0, 3), sampling.uniform_clips(40, 8, 2, 3, 'loop')
  )


def test_fps_mode_samples_at_the_target_rate():
  # 30 fps sampled at 12 fps: a stride of 2.5 frames, round(start + 2.5 k).
  config = _sampling_config(mode='fps', target_fps=12.0, num_frames=5)
  rng = np.random.default_rng(0)
  for _ in range(50):
    idx = sampling.train_indices(rng, config, 100, 30.0)
    np.testing.assert_array_equal(idx - idx[0], [0, 3, 5, 8, 10])
    assert idx[0] >= 0 and idx[-1] < 100
  # The same clip duration in seconds at any native rate.
  for fps in (24.0, 30.0, 60.0):
    clips = sampling.eval_indices(config, 1000, fps, 1)
    assert (clips[0, -1] - clips[0, 0]) / fps == pytest.approx(4 / 12.0, abs=0.5 / fps)


def test_fps_mode_faster_than_the_video_repeats_frames():
  config = _sampling_config(mode='fps', target_fps=20.0, num_frames=4, policy='pad')
  clips = sampling.eval_indices(config, 3, 10.0, 1)
  np.testing.assert_array_equal(clips, [[0, 1, 1, 2]])


def test_fps_mode_needs_positive_rates():
  config = _sampling_config(mode='fps')
  with pytest.raises(ValueError, match='"fps"'):
    sampling.train_indices(np.random.default_rng(0), config, 10, 0.0)
  config.target_fps = 0.0
  with pytest.raises(ValueError, match='config.input.sampling.target_fps'):
    sampling.eval_indices(config, 10, 30.0, 1)


def test_unknown_mode_names_the_key():
  with pytest.raises(ValueError, match='config.input.sampling.mode'):
    sampling.train_indices(np.random.default_rng(0), _sampling_config(mode='dense'), 10, 8.0)


def test_segment_clip_takes_one_frame_per_segment():
  # 41 frames in 4 segments of 10: [0, 10], [10, 20], [20, 30], [30, 40] (PySlowFast bounds).
  rng = np.random.default_rng(0)
  draws = np.stack([sampling.segment_clip(rng, 41, 4) for _ in range(400)])
  np.testing.assert_array_equal(draws.min(0), [0, 10, 20, 30])
  np.testing.assert_array_equal(draws.max(0), [10, 20, 30, 40])
  assert np.all(np.diff(draws, axis=1) >= 0)


def test_segment_views_centre_and_offsets():
  np.testing.assert_array_equal(sampling.segment_views(41, 4, 1), [[5, 15, 25, 35]])
  views = sampling.segment_views(41, 4, 2)
  np.testing.assert_array_equal(views, [[2, 12, 22, 32], [7, 17, 27, 37]])
  config = _sampling_config(mode='segments', num_frames=4)
  np.testing.assert_array_equal(sampling.eval_indices(config, 41, 8.0, 2), views)


@pytest.mark.parametrize('video_length', [1, 3, 8, 100])
def test_segments_stay_inside_short_and_long_videos(video_length):
  rng = np.random.default_rng(0)
  config = _sampling_config(mode='segments', num_frames=8)
  train = sampling.train_indices(rng, config, video_length, 8.0)
  views = sampling.eval_indices(config, video_length, 8.0, 3)
  assert train.shape == (8,) and views.shape == (3, 8)
  for idx in (train, views):
    assert idx.min() >= 0 and idx.max() < video_length
  # The clip spans the whole video.
  assert views[:, 0].max() <= video_length // 8 and views[:, -1].min() >= video_length * 7 // 8 - 1
