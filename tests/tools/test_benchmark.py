"""tools/data_speed.py (`tools/benchmark.py --mode=data`): the measurements run and report
what they claim (no timing asserts). Model mode: test_model_speed.py."""

import os
import sys

import numpy as np

from vidjax import configs
from vidjax.data import decode, pipeline, sampling

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'tools'))
import data_speed  # noqa: E402


def test_data_benchmark_reports_both_loaders(synthetic_data_dir):
  input_config = configs.base_config().input
  input_config.dataset = 'vidjax_synthetic/tiny'
  input_config.data_dir = synthetic_data_dir
  input_config.sampling.num_frames = 4
  input_config.pp.crop_size = 28
  results = data_speed.data_benchmark(input_config, num_clips=10)
  assert results['videos'] == 64 and results['clip']['num_frames'] == 4
  for key in ('vidjax_cpu_ms_per_clip', 'naive_cpu_ms_per_clip', 'pipeline_clips_per_s'):
    assert results[key] > 0
  assert np.isclose(
    results['naive_over_vidjax_cpu'],
    results['naive_cpu_ms_per_clip'] / results['vidjax_cpu_ms_per_clip'],
    rtol=0.01,
  )
  # Every synthetic video has a soundtrack, so every clip was measured with its audio.
  assert results['clips_with_audio'] == 10 and results['vidjax_with_audio_cpu_ms_per_clip'] > 0
  assert np.isclose(
    results['audio_share_of_clip_cost'],
    results['vidjax_with_audio_cpu_ms_per_clip'] / results['vidjax_cpu_ms_per_clip'] - 1,
    rtol=0.02,
  )


def test_naive_clip_equals_the_same_frames_of_a_full_decode(synthetic_data_dir):
  input_config = configs.base_config().input
  input_config.dataset = 'vidjax_synthetic/tiny'
  input_config.data_dir = synthetic_data_dir
  input_config.sampling.num_frames = 4
  input_config.pp.update(crop_size=28)
  record = pipeline.open_dataset('vidjax_synthetic/tiny', 'train', synthetic_data_dir).source[3]
  clip = data_speed.naive_clip(record, np.random.default_rng(1), input_config)
  rng = np.random.default_rng(1)
  indices = sampling.random_clip(rng, int(record['num_frames']), 4, 2, 'loop')
  frames = decode.decode_frames(record['video'], indices)
  y, x = sampling.random_crop(rng, frames.shape[1], frames.shape[2], 28)
  expected = frames[:, y : y + 28, x : x + 28]
  if rng.random() < 0.5:
    expected = expected[:, :, ::-1]
  np.testing.assert_array_equal(clip, expected)
