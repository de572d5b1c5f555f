"""The `avts` sampler: a clip, its own audio, and the same video's audio shifted in time."""

import numpy as np
import pytest

from vidjax import configs
from vidjax.data import audio, pipeline, samplers
from vidjax.data.samplers import avts


def _sampler(**overrides):
  kwargs = dict(num_frames=4, stride=2, policy='loop', min_shift_s=0.5)
  kwargs.update(overrides)
  return avts.Sampler(**kwargs)


@pytest.mark.parametrize('seed', range(20))
def test_the_shifted_span_is_inside_the_video_and_at_least_the_minimum_away(seed):
  meta = samplers.VideoMeta(num_frames=40, fps=8.0)  # 5 s; a clip spans 7 frames
  sample = _sampler().train(np.random.default_rng(seed), meta)
  aligned, shifted = sample.audio_frames['audio'], sample.audio_frames['audio_shifted']
  np.testing.assert_array_equal(aligned, sample.frames)
  shift = int(shifted[0] - aligned[0])
  np.testing.assert_array_equal(shifted, aligned + shift)  # the same span, moved
  assert abs(shift) >= 4  # 0.5 s at 8 fps
  assert shifted.min() >= 0 and shifted.max() < 40
  assert sample.fields['has_shifted_audio']
  assert sample.fields['audio_shift_s'] == np.float32(shift / 8.0)


def test_shifts_go_both_ways_and_cover_the_allowed_range():
  meta = samplers.VideoMeta(num_frames=40, fps=8.0)
  sampler = _sampler()
  shifts = set()
  for seed in range(300):
    sample = sampler.train(np.random.default_rng(seed), meta)
    shifts.add(int(sample.audio_frames['audio_shifted'][0] - sample.frames[0]))
  # Clip starts 0..33; the shifted span starts anywhere there but within 3 frames.
  assert min(shifts) < -25 and max(shifts) > 25 and not shifts & set(range(-3, 4))
  allowed = sampler._shift_range(10, meta)
  assert sorted(allowed) == [s - 10 for s in range(34) if abs(s - 10) >= 4]


def test_a_video_too_short_to_shift_says_so():
  meta = samplers.VideoMeta(num_frames=9, fps=8.0)  # a 7-frame clip cannot move 4 frames
  sample = _sampler().train(np.random.default_rng(0), meta)
  assert not sample.fields['has_shifted_audio'] and sample.fields['audio_shift_s'] == 0
  np.testing.assert_array_equal(sample.audio_frames['audio_shifted'], sample.frames)


def test_test_time_shift_is_the_minimum_later_else_earlier():
  meta = samplers.VideoMeta(num_frames=16, fps=8.0)
  sample = _sampler().eval(meta, num_views=3)  # starts 0, 4 (rounded from 4.5), 9
  starts = sample.frames[:, 0]
  shifted = sample.audio_frames['audio_shifted'][:, 0]
  assert starts.tolist() == [0, 4, 9]
  assert (shifted - starts).tolist() == [4, 4, -4]  # 9 + 4 would end past frame 15
  assert sample.fields['audio_shift_s'].tolist() == [0.5, 0.5, -0.5]
  assert sample.fields['has_shifted_audio'].all()


def test_bad_minimum_shift_is_named():
  with pytest.raises(ValueError, match='min_shift_s'):
    _sampler(min_shift_s=0.0)


@pytest.fixture
def input_config(synthetic_data_dir):
  config = configs.base_config().input
  config.update(dataset='vidjax_synthetic/tiny', data_dir=synthetic_data_dir)
  config.sampling.update(mode='avts', num_frames=4, stride=2, min_shift_s=0.5)
  config.pp.crop_size = 28
  config.audio.update(enabled=True, spectrogram_frames=64)
  return config


def test_the_loader_computes_both_audios_from_one_decode(input_config):
  train_input = pipeline.make_train_input(input_config, 0, 2, 0, 1)
  loader, source = train_input.loader, train_input.dataset.source
  meta = samplers.VideoMeta(int(source[3]['num_frames']), float(source[3]['fps']))
  sample = samplers.build(input_config.sampling).train(np.random.default_rng(7), meta)
  example = loader.train_example(3, np.random.default_rng(7))
  for key in ('audio', 'audio_shifted'):
    expected, _ = audio.clip_audio(source[3], sample.audio_frames[key], input_config.audio)
    np.testing.assert_allclose(example[key], expected, atol=1e-4)
  assert not np.allclose(example['audio'], example['audio_shifted'])
  assert example['has_audio'] and example['has_shifted_audio']
  batch = next(train_input.iterator)
  assert batch['audio_shifted'].shape == batch['audio'].shape == (2, 64, 80)


def test_evaluation_examples_and_padding_have_the_same_keys_and_shapes(input_config):
  loader = pipeline.make_eval_input(input_config, 'validation', 2, 2, 3, 0, 1).loader
  example, empty = loader.eval_example(0, 2, 3), loader.empty_example(6)
  assert sorted(example) == sorted(empty)
  for key, value in example.items():
    assert np.shape(value) == np.shape(empty[key]), key
  assert example['audio_shifted'].shape == (6, 64, 80)
  assert example['audio_shift_s'].shape == (6,)
