"""The quickstart's smoke run with every augmentation switched on."""

import json
import os

import numpy as np
import pytest

from vidjax import configs, logs, train

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_smoke_training_with_every_augmentation(synthetic_data_dir, tmp_path):
  config = configs.load_config_file(os.path.join(REPO, 'experiments/quickstart.py') + ':smoke')
  config.input.data_dir = synthetic_data_dir
  config.evals = {}
  config.total_steps = config.log_every = config.ckpt_every = 2
  config.task_kwargs.label_smoothing = 0.1
  pp = config.input.pp
  pp.train_crop = 'random_resized'
  pp.repeated_augmentation = 2
  pp.grayscale_prob = 0.5
  pp.color_jitter.prob = 0.5
  pp.rand_augment.num_ops = 2
  pp.random_erasing.prob = 0.5
  pp.mix.update(mixup_alpha=0.8, cutmix_alpha=1.0)
  train.train_and_evaluate(config, str(tmp_path))
  losses = [e['train/loss'] for e in logs.read_metrics(str(tmp_path)) if 'train/loss' in e]
  assert len(losses) == 1
  assert np.all(np.isfinite(losses))
  saved = json.loads((tmp_path / 'config.json').read_text())['input']['pp']
  assert saved['train_crop'] == 'random_resized' and saved['mix']['cutmix_alpha'] == 1.0
