"""init_from: params and batch stats of a checkpoint or a converted model."""

import numpy as np
import pytest

from vidjax import checkpoint


def _variables(head_classes: int, fill: float) -> dict:
  return {
    'params': {
      'conv': {'kernel': np.full((3, 3, 3, 4), fill, np.float32)},
      'head': {'kernel': np.full((4, head_classes), fill, np.float32)},
    },
    'batch_stats': {'bn': {'mean': np.full((4,), fill, np.float32)}},
  }


def test_restore_variables_keeps_mismatched_head_fresh(tmp_path):
  checkpoint.save_variables(str(tmp_path / 'converted'), _variables(head_classes=400, fill=1.0))
  fresh = _variables(head_classes=101, fill=0.0)
  restored = checkpoint.restore_variables(str(tmp_path / 'converted'), fresh)
  np.testing.assert_array_equal(restored['params']['conv']['kernel'], 1.0)
  np.testing.assert_array_equal(restored['batch_stats']['bn']['mean'], 1.0)
  assert restored['params']['head']['kernel'].shape == (4, 101)
  np.testing.assert_array_equal(restored['params']['head']['kernel'], 0.0)


def test_restore_variables_of_another_architecture_is_an_error(tmp_path):
  checkpoint.save_variables(str(tmp_path / 'other'), {'params': {'x': np.ones(3, np.float32)}})
  with pytest.raises(ValueError, match='no weight of the checkpoint fits'):
    checkpoint.restore_variables(str(tmp_path / 'other'), _variables(10, 0.0))


def test_restore_variables_names_a_wrong_directory(tmp_path):
  with pytest.raises(FileNotFoundError, match='config.init_from=.*checkpoints/1000'):
    checkpoint.restore_variables(str(tmp_path), _variables(10, 0.0))
