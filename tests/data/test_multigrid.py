"""Multigrid: PySlowFast's schedule of shapes, a bounded set of them, and the stream."""

import numpy as np
import pytest

from vidjax import configs
from vidjax.data import multigrid


def _config(long_cycle=True, short_cycle=True, total_steps=120):
  config = configs.base_config()
  config.total_steps = total_steps
  config.input.batch_size = 8
  config.input.sampling.update(num_frames=8, stride=2)
  config.input.pp.update(crop_size=32, resize_short_side=40, scale_jitter=(40, 50))
  config.optim.schedule = dict(
    name='step', base_lr=0.1, warmup_steps=0, boundaries=(0.25, 0.5, 0.75), decay_factor=0.1
  )
  config.multigrid.update(long_cycle=long_cycle, short_cycle=short_cycle)
  return config


def _cost(shape):
  return shape.batch_size * shape.num_frames * shape.crop_size**2


def test_the_long_cycle_takes_turns_within_each_stage_and_ends_at_the_base_shape():
  shapes, of_step = multigrid.schedule(_config(short_cycle=False))
  steps = [shapes[i] for i in of_step]
  # (time, space) factors (0.25, 0.71), (0.5, 0.71), (0.5, 1), (1, 1) of 8 frames x 32 px,
  # the batch grown by PySlowFast's rounded factor.
  assert [(s.batch_size, s.num_frames, s.crop_size, s.max_stride) for s in shapes] == [
    (64, 2, 23, 8),
    (32, 4, 23, 4),
    (16, 4, 32, 4),
    (8, 8, 32, 2),
  ]
  for stage_start in (0, 30, 60):  # every stage but the last: equal turns
    stage = of_step[stage_start : stage_start + 30]
    assert list(np.bincount(stage, minlength=4)) in ([8, 7, 8, 7], [7, 8, 7, 8], [8, 8, 7, 7])
    assert list(stage) == sorted(stage)
  assert set(of_step[90:]) == {3}  # the last stage at the base shape
  base = _cost(shapes[3])
  assert all(abs(_cost(s) / base - 1) < 0.05 for s in steps)


def test_the_long_cycle_scales_the_rate_with_the_batch_and_moves_the_last_decay():
  config = _config(short_cycle=False)
  rate = multigrid.learning_rate(config)
  rates = [float(rate(step)) for step in range(120)]
  np.testing.assert_allclose(rates[:7], 0.8, rtol=1e-6)  # batch x 8
  np.testing.assert_allclose(rates[25:30], 0.1, rtol=1e-6)  # the base shape
  np.testing.assert_allclose(rates[30], 0.08, rtol=1e-6)  # stage 2, batch x 8
  # The last stage (steps 90-119) at the base shape: the third stage's rate, then the
  # last decay half-way through it.
  np.testing.assert_allclose(rates[90:105], 1e-3, rtol=1e-5)
  np.testing.assert_allclose(rates[105:], 1e-4, rtol=1e-5)


def test_the_short_cycle_alternates_two_small_crops_with_the_long_cycle_shape():
  shapes, of_step = multigrid.schedule(_config(long_cycle=False, total_steps=7))
  steps = [(shapes[i].batch_size, shapes[i].crop_size) for i in of_step]
  assert steps == [(32, 16), (16, 23), (8, 32), (32, 16), (16, 23), (8, 32), (32, 16)]


def test_both_cycles_compile_a_bounded_number_of_shapes_of_similar_cost():
  config = _config(total_steps=1000)
  shapes, _ = multigrid.schedule(config)
  assert len(shapes) <= 3 * len(config.multigrid.long_cycle_factors)
  costs = [_cost(s) for s in shapes]
  assert max(costs) / min(costs) < 1.3


def test_settings_multigrid_cannot_go_with_are_refused_by_name():
  config = _config()
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=0)
  with pytest.raises(ValueError, match="config.optim.schedule.name='cosine'"):
    multigrid.schedule(config)
  config = _config(long_cycle=False)
  config.input.loader = 'image'
  with pytest.raises(ValueError, match="config.input.loader='image'"):
    multigrid.schedule(config)


def test_the_stream_follows_the_schedule_and_resumes_at_a_step(synthetic_data_dir):
  config = _config(long_cycle=False, total_steps=5)
  config.input.update(dataset='vidjax_synthetic/tiny', data_dir=synthetic_data_dir, batch_size=2)
  config.input.sampling.num_frames = 2
  config.input.pp.update(crop_size=16, resize_short_side=0)
  train_input = multigrid.make_train_input(config, seed=3, process_index=0, process_count=1)
  batches = [next(train_input.iterator) for _ in range(4)]
  assert [b['video'].shape for b in batches] == [
    (8, 2, 8, 8, 3),
    (4, 2, 11, 11, 3),
    (2, 2, 16, 16, 3),
    (8, 2, 8, 8, 3),
  ]
  assert train_input.examples_before(4) == 22
  resumed = multigrid.make_train_input(config, seed=3, process_index=0, process_count=1)
  first = multigrid.make_train_input(config, seed=3, process_index=0, process_count=1)
  next(first.iterator)
  resumed.iterator.set_state(first.iterator.get_state())
  again = next(resumed.iterator)
  for key, value in batches[1].items():
    np.testing.assert_array_equal(again[key], value)
  # Host 1 of 2 reads the other half of each step's examples.
  other = multigrid.make_train_input(config, seed=3, process_index=1, process_count=2)
  assert next(other.iterator)['video'].shape[0] == 4
