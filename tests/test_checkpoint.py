"""init_from: params and batch stats of a checkpoint or a converted model."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from vidjax import checkpoint, configs, model_size, train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _variables(head_classes: int, fill: float) -> dict:
  return {
    'params': {
      'conv': {'kernel': np.full((3, 3, 3, 4), fill, np.float32)},
      'head': {'kernel': np.full((4, head_classes), fill, np.float32)},
    },
    'batch_stats': {'bn': {'mean': np.full((4,), fill, np.float32)}},
  }


def test_restore_variables_keeps_dont_load_fresh(tmp_path):
  checkpoint.save_variables(str(tmp_path / 'converted'), _variables(head_classes=400, fill=1.0))
  fresh = _variables(head_classes=101, fill=0.0)
  restored = checkpoint.restore_variables(
    str(tmp_path / 'converted'), fresh, dont_load=('head/.*',)
  )
  np.testing.assert_array_equal(restored['params']['conv']['kernel'], 1.0)
  np.testing.assert_array_equal(restored['batch_stats']['bn']['mean'], 1.0)
  assert restored['params']['head']['kernel'].shape == (4, 101)
  np.testing.assert_array_equal(restored['params']['head']['kernel'], 0.0)


def test_restore_variables_names_every_variable_left_fresh(tmp_path):
  """A shape mismatch or a missing variable is an error, never a silent fresh value."""
  checkpoint.save_variables(str(tmp_path / 'converted'), _variables(head_classes=400, fill=1.0))
  fresh = _variables(head_classes=101, fill=0.0)
  fresh['params']['extra'] = {'bias': np.zeros(3, np.float32)}
  with pytest.raises(ValueError) as error:
    checkpoint.restore_variables(str(tmp_path / 'converted'), fresh)
  message = str(error.value)
  assert '2 variables of the model cannot be loaded' in message
  assert 'params/head/kernel: shape (4, 101) in the model, (4, 400) in the checkpoint' in message
  assert 'params/extra/bias: not in the checkpoint' in message
  assert 'config.init_from.dont_load' in message


def test_restore_variables_renames(tmp_path):
  stored = _variables(head_classes=10, fill=1.0)
  stored['params']['classifier'] = stored['params'].pop('head')
  checkpoint.save_variables(str(tmp_path / 'renamed'), stored)
  restored = checkpoint.restore_variables(
    str(tmp_path / 'renamed'), _variables(10, 0.0), rename=((r'head/(.*)', r'classifier/\1'),)
  )
  np.testing.assert_array_equal(restored['params']['head']['kernel'], 1.0)


def test_restore_variables_inflates_2d_kernels_into_3d_ones(tmp_path):
  stored = _variables(head_classes=10, fill=1.0)
  stored['params']['conv']['kernel'] = np.arange(108, dtype=np.float32).reshape(3, 3, 3, 4)
  checkpoint.save_variables(str(tmp_path / 'image'), stored)
  fresh = _variables(head_classes=10, fill=0.0)
  fresh['params']['conv']['kernel'] = np.zeros((4, 3, 3, 3, 4), np.float32)
  with pytest.raises(ValueError, match=r'shape \(4, 3, 3, 3, 4\) in the model, \(3, 3, 3, 4\)'):
    checkpoint.restore_variables(str(tmp_path / 'image'), fresh)
  restored = checkpoint.restore_variables(str(tmp_path / 'image'), fresh, inflate='mean')
  kernel = restored['params']['conv']['kernel']
  np.testing.assert_allclose(kernel, np.stack([stored['params']['conv']['kernel'] / 4] * 4))
  np.testing.assert_array_equal(restored['params']['head']['kernel'], 1.0)
  centre = checkpoint.restore_variables(str(tmp_path / 'image'), fresh, inflate='centre')
  np.testing.assert_array_equal(
    centre['params']['conv']['kernel'][2], stored['params']['conv']['kernel']
  )
  np.testing.assert_array_equal(centre['params']['conv']['kernel'][[0, 1, 3]], 0.0)
  with pytest.raises(ValueError, match="inflate='max'"):
    checkpoint.restore_variables(str(tmp_path / 'image'), fresh, inflate='max')


def test_restore_variables_of_another_architecture_is_an_error(tmp_path):
  checkpoint.save_variables(str(tmp_path / 'other'), {'params': {'x': np.ones(3, np.float32)}})
  with pytest.raises(ValueError, match='no weight of the checkpoint fits'):
    checkpoint.restore_variables(str(tmp_path / 'other'), _variables(10, 0.0))


def test_restore_variables_names_a_wrong_directory(tmp_path):
  with pytest.raises(FileNotFoundError, match='config.init_from.path=.*checkpoints/1000'):
    checkpoint.restore_variables(str(tmp_path), _variables(10, 0.0))


@pytest.mark.slow
def test_training_starts_from_init_from(synthetic_data_dir, tmp_path):
  """A converted-model directory with another classifier size: the trainer loads every
  other weight and trains a fresh head (the fine-tuning path of ucf101_finetune.py)."""
  config = configs.load_config_file(os.path.join(REPO, 'experiments/quickstart.py:smoke'))
  config.input.data_dir = synthetic_data_dir
  config.total_steps, config.evals = 1, {}
  model = configs.load_module('models', config.model_name).Model(
    **dict(config.model, num_classes=400)
  )
  video = jax.ShapeDtypeStruct((1, 4, 28, 28, 3), jnp.float32)
  abstract = model_size.abstract_variables(model, video)
  pretrained = jax.tree.map(lambda x: np.full(x.shape, 0.5, x.dtype), abstract)
  checkpoint.save_variables(str(tmp_path / 'converted'), pretrained)
  config.init_from.path = str(tmp_path / 'converted')
  config.init_from.dont_load = ('fc/.*',)
  config.optim.schedule.base_lr = 0.0  # the step leaves the loaded weights as they are
  config.optim.weight_decay = 0.0
  train.train_and_evaluate(config, str(tmp_path / 'workdir'))
  state = ocp.StandardCheckpointer().restore(str(tmp_path / 'workdir/checkpoints/1/state'))
  stem = jax.tree.leaves(state['params']['stem'])
  assert all(np.all(np.asarray(leaf) == 0.5) for leaf in stem)
  head = state['params']['fc']['kernel']
  assert head.shape[-1] == 10 and not np.all(np.asarray(head) == 0.5)
