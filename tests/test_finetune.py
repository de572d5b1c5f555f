"""Fine-tuning controls end to end: a quickstart checkpoint (10 action classes) fine-tuned
on another label set, the shape classes of `vidjax_synthetic/tiny_shapes`, with a fresh
classifier (init_from with dont_load), a frozen backbone, and a learning-rate multiplier."""

import os

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import traverse_util

from vidjax import configs, train
from vidjax.data.builders import synthetic_scenes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKBONE = r'(?!fc/).*'  # every variable but the classifier


def _config(data_dir, total_steps):
  config = configs.load_config_file(os.path.join(REPO, 'experiments/quickstart.py:smoke'))
  config.input.data_dir = data_dir
  config.total_steps = total_steps
  config.evals = {}
  return config


def _state(workdir, step):
  path = os.path.join(workdir, 'checkpoints', str(step), 'state')
  state = ocp.StandardCheckpointer().restore(path)
  return {
    collection: traverse_util.flatten_dict(jax.device_get(state[collection]), sep='/')
    for collection in ('params', 'batch_stats')
  }


@pytest.fixture(scope='module')
def pretrained(synthetic_data_dir, tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('pretrained'))
  train.train_and_evaluate(_config(synthetic_data_dir, 2), workdir)
  return os.path.join(workdir, 'checkpoints', '2'), _state(workdir, 2)


def _finetune(data_dir, workdir, pretrained_path, param_groups, dont_load=('fc/.*',)):
  config = _config(data_dir, 1)
  config.input.dataset = 'vidjax_synthetic/tiny_shapes'
  config.input.pp.flip_label_swaps = ()  # flips do not change a shape
  config.model.num_classes = len(synthetic_scenes.SHAPE_NAMES)
  config.init_from.path = pretrained_path
  config.init_from.dont_load = dont_load
  config.optim.param_groups = param_groups
  config.optim.schedule = dict(name='constant', base_lr=0.1, warmup_steps=0)
  train.train_and_evaluate(config, str(workdir))
  return _state(str(workdir), 1)


def test_another_label_set_needs_the_classifier_named_in_dont_load(
  synthetic_shapes_data_dir, pretrained, tmp_path
):
  with pytest.raises(
    ValueError,
    match=r'params/fc/kernel: shape \(\d+, 8\) in the model, \(\d+, 10\) in the checkpoint',
  ):
    _finetune(synthetic_shapes_data_dir, tmp_path, pretrained[0], (), dont_load=())


def test_frozen_backbone_is_bitwise_unchanged(synthetic_shapes_data_dir, pretrained, tmp_path):
  path, before = pretrained
  after = _finetune(synthetic_shapes_data_dir, tmp_path, path, ((BACKBONE, 'frozen'),))
  for collection in ('params', 'batch_stats'):
    backbone = [name for name in before[collection] if not name.startswith('fc/')]
    assert backbone
    for name in backbone:
      np.testing.assert_array_equal(after[collection][name], before[collection][name])
  assert after['params']['fc/kernel'].shape[-1] == len(synthetic_scenes.SHAPE_NAMES)


@pytest.mark.slow
def test_learning_rate_multiplier_scales_the_backbone_updates(
  synthetic_shapes_data_dir, pretrained, tmp_path
):
  path, before = pretrained
  # From the same start and batch, one SGD step: the update is linear in the learning rate.
  plain = _finetune(synthetic_shapes_data_dir, tmp_path / 'plain', path, ())
  scaled = _finetune(
    synthetic_shapes_data_dir, tmp_path / 'scaled', path, ((BACKBONE, {'lr_mult': 0.1}),)
  )
  kernels = [n for n in before['params'] if n.endswith('kernel') and not n.startswith('fc/')]
  for name in kernels:
    plain_step = plain['params'][name] - before['params'][name]
    scaled_step = scaled['params'][name] - before['params'][name]
    np.testing.assert_allclose(scaled_step, 0.1 * plain_step, rtol=1e-3, atol=1e-7)
  # The two runs compile different programs, so float32 sums may differ in order (entries
  # near zero differ by up to 3e-8).
  np.testing.assert_allclose(
    scaled['params']['fc/kernel'], plain['params']['fc/kernel'], rtol=1e-5, atol=1e-7
  )
