"""Actor-context feature banks: the file and a keyframe's window."""

import numpy as np
import pytest

from vidjax.data import feature_bank


@pytest.fixture
def bank_path(tmp_path):
  """Video 'a' at seconds 1-4 and 'b' at second 1; 2 actor slots, 3 channels; each
  feature holds (video, second, view) in its channels."""
  entries = [('a', 1), ('a', 2), ('a', 3), ('a', 4), ('b', 1)]
  features = np.array(
    [[[[v == 'b', s, view]] * 2 for view in (0, 1)] for v, s in entries], np.float32
  )
  mask = np.array([[True, s % 2 == 0] for _, s in entries])
  path = str(tmp_path / 'bank.npz')
  feature_bank.write(path, [v for v, _ in entries], [s for _, s in entries], features, mask)
  return path


def test_the_window_reads_the_seconds_around_the_keyframe(bank_path):
  assert feature_bank.shape(bank_path) == (2, 3)
  bank = feature_bank.Bank(bank_path, window=1)
  assert bank.slots == 6
  features, mask = bank.read('a', 2, view=0)
  # Seconds 1, 2, 3 of video 'a', two slots each; the odd seconds' second actor is padding.
  np.testing.assert_array_equal(mask, [True, False, True, True, True, False])
  np.testing.assert_array_equal(features[mask][:, 1], [1, 2, 2, 3])
  assert not features[mask][:, 0].any()
  assert not features[~mask].any()


def test_a_window_past_the_video_reads_less_and_never_another_video(bank_path):
  bank = feature_bank.Bank(bank_path, window=1)
  features, mask = bank.read('a', 4, view=1)
  np.testing.assert_array_equal(mask, [True, False, True, True, False, False])
  np.testing.assert_array_equal(features[mask][:, 1:], [[3, 1], [4, 1], [4, 1]])
  features, mask = bank.read('b', 1, view=0)
  np.testing.assert_array_equal(mask, [False, False, True, False, False, False])
  assert features[2, 0] == 1
  assert not bank.read('c', 1, view=0)[1].any()


def test_bad_banks_are_named(tmp_path):
  path = str(tmp_path / 'not_a_bank.npz')
  np.savez(path, other=np.zeros(2))
  with pytest.raises(ValueError, match='not_a_bank.npz.* is not a feature bank'):
    feature_bank.shape(path)
  with pytest.raises(ValueError, match=r'must be \[K, 2, N, C\]'):
    feature_bank.write(path, ['a'], [1], np.zeros((1, 3, 2)), np.ones((1, 2), bool))
  with pytest.raises(ValueError, match='window=-1'):
    feature_bank.Bank(path, window=-1)


def test_a_bank_is_read_once_while_its_file_is_unchanged(bank_path):
  first = feature_bank.open_bank(bank_path, window=1)
  assert feature_bank.open_bank(bank_path, window=1) is first
  assert feature_bank.open_bank(bank_path, window=0) is not first
  entries = dict(np.load(bank_path))
  entries['features'] = entries['features'] + 1
  feature_bank.write(
    bank_path, list(entries['video_id']), entries['timestamp'], entries['features'], entries['mask']
  )
  assert feature_bank.open_bank(bank_path, window=1) is not first
