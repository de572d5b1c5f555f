import numpy as np
import pytest

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
