import numpy as np
import pytest

from vidjax import configs
from vidjax.data import samplers, sampling


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


def _train(rng, config, video_length, fps):
  return samplers.build(config).train(rng, samplers.VideoMeta(video_length, fps)).frames


def _eval(config, video_length, fps, num_views):
  return samplers.build(config).eval(samplers.VideoMeta(video_length, fps), num_views).frames


def _sampling_config(**overrides):
  config = configs.base_config().input.sampling
  config.update(overrides)
  return config


def test_default_mode_is_the_stride_sampler():
  config = _sampling_config()
  assert config.mode == 'stride'
  expected = sampling.random_clip(np.random.default_rng(3), 40, 8, 2, 'loop')
  actual = _train(np.random.default_rng(3), config, 40, 25.0)
  np.testing.assert_array_equal(actual, expected)
  np.testing.assert_array_equal(
    _eval(config, 40, 25.0, 3), sampling.uniform_clips(40, 8, 2, 3, 'loop')
  )


def test_fps_mode_samples_at_the_target_rate():
  # 30 fps sampled at 12 fps: a stride of 2.5 frames, round(start + 2.5 k).
  config = _sampling_config(mode='fps', target_fps=12.0, num_frames=5)
  rng = np.random.default_rng(0)
  for _ in range(50):
    idx = _train(rng, config, 100, 30.0)
    np.testing.assert_array_equal(idx - idx[0], [0, 3, 5, 8, 10])
    assert idx[0] >= 0 and idx[-1] < 100
  # The same clip duration in seconds at any native rate.
  for fps in (24.0, 30.0, 60.0):
    clips = _eval(config, 1000, fps, 1)
    assert (clips[0, -1] - clips[0, 0]) / fps == pytest.approx(4 / 12.0, abs=0.5 / fps)


def test_fps_mode_faster_than_the_video_repeats_frames():
  config = _sampling_config(mode='fps', target_fps=20.0, num_frames=4, policy='pad')
  clips = _eval(config, 3, 10.0, 1)
  np.testing.assert_array_equal(clips, [[0, 1, 1, 2]])


def test_fps_mode_needs_positive_rates():
  config = _sampling_config(mode='fps')
  with pytest.raises(ValueError, match='"fps"'):
    _train(np.random.default_rng(0), config, 10, 0.0)
  config.target_fps = 0.0
  with pytest.raises(ValueError, match='config.input.sampling.target_fps'):
    _eval(config, 10, 30.0, 1)


def test_unknown_mode_names_the_key():
  with pytest.raises(ValueError, match='config.input.sampling.mode'):
    _train(np.random.default_rng(0), _sampling_config(mode='dense'), 10, 8.0)


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
  np.testing.assert_array_equal(_eval(config, 41, 8.0, 2), views)


@pytest.mark.parametrize('video_length', [1, 3, 8, 100])
def test_segments_stay_inside_short_and_long_videos(video_length):
  rng = np.random.default_rng(0)
  config = _sampling_config(mode='segments', num_frames=8)
  train = _train(rng, config, video_length, 8.0)
  views = _eval(config, video_length, 8.0, 3)
  assert train.shape == (8,) and views.shape == (3, 8)
  for idx in (train, views):
    assert idx.min() >= 0 and idx.max() < video_length
  # The clip spans the whole video.
  assert views[:, 0].max() <= video_length // 8 and views[:, -1].min() >= video_length * 7 // 8 - 1


def test_sampler_fields_are_merged_into_the_example(synthetic_data_dir, monkeypatch):
  """What a sampler decides (here a playback speed) reaches the example beside its frames."""
  from vidjax.data import pipeline

  class EveryOtherFrame:
    def train(self, rng, meta):
      speed = int(rng.integers(1, 3))
      return samplers.Sample(np.arange(4) * speed, {'speed': np.int32(speed)})

    def eval(self, meta, num_views):
      views = np.tile(np.arange(4) * 2, (num_views, 1))
      return samplers.Sample(views, {'speed': np.full(num_views, 2, np.int32)})

  monkeypatch.setattr(samplers, 'build', lambda sampling: EveryOtherFrame())
  input_config = configs.base_config().input
  input_config.update(dataset='vidjax_synthetic/tiny', data_dir=synthetic_data_dir)
  input_config.sampling.num_frames = 4
  input_config.pp.crop_size = 28
  batch = next(pipeline.make_train_input(input_config, 0, 8, 0, 1).iterator)
  assert batch['video'].shape == (8, 4, 28, 28, 3) and set(batch['speed']) <= {1, 2}
  example = pipeline.make_eval_input(input_config, 'validation', 2, 3, 1, 0, 1).loader.eval_example(
    0, 3, 1
  )
  assert example['speed'].tolist() == [2, 2, 2] and example['video'].shape == (3, 4, 28, 28, 3)


def test_an_unknown_sampler_lists_the_known_ones():
  with pytest.raises(
    ValueError,
    match=r"mode='dense'; known names: \['arrow', 'avts', 'fps', 'posewarper', 'segments', "
    r"'speed', 'stride', 'tcc', 'tuples', 'two_clips'\]",
  ):
    samplers.build(_sampling_config(mode='dense'))


def test_clips_per_video_fixes_the_training_clips_to_the_centres_of_equal_stretches():
  config = configs.base_config().input.sampling
  config.update(num_frames=4, stride=2, clips_per_video=3)
  sampler = samplers.build(config)
  meta = samplers.VideoMeta(num_frames=64, fps=8.0)
  drawn = {tuple(sampler.train(np.random.default_rng(seed), meta).frames) for seed in range(60)}
  # Clips of span 7, starts 0..57: the centres of three equal stretches of the starts.
  assert sorted(clip[0] for clip in drawn) == [10, 28, 48]
  assert all(np.array_equal(np.diff(clip), [2, 2, 2]) for clip in drawn)
  config.clips_per_video = 1
  (only,) = {
    tuple(samplers.build(config).train(np.random.default_rng(s), meta).frames) for s in range(5)
  }
  assert only == tuple(sampler.eval(meta, 1).frames[0])  # the centred test-time clip
  config.clips_per_video = 0
  assert not isinstance(samplers.build(config), samplers.FixedClips)


def test_clips_per_video_needs_one_clip_views():
  config = configs.base_config().input.sampling
  config.update(mode='speed', clips_per_video=2)
  with pytest.raises(
    ValueError, match="clips_per_video=2 fixes one-clip views, which mode='speed'"
  ):
    samplers.build(config)
