"""Audio reaches every evaluator: a model that reads only the log-mel is scored by each."""

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax import configs, parallel, train
from vidjax.tasks import classification

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TonePicker(nn.Module):
  """Logits from the mean log-mel over time: the synthetic tone names the class."""

  input_keys = ('audio',)

  @nn.compact
  def __call__(self, inputs, *, train):
    features = inputs['audio'].mean(axis=1)
    logits = nn.Dense(10)(features)
    return logits, {'features': features, 'logits/audio': logits}


EVALUATORS = {
  'classification': dict(),
  'multiview': dict(num_clips=2, num_crops=3),
  'mean_ap': dict(num_clips=2, num_crops=1),
  'head_losses': dict(num_clips=2),
  'linear_probe': dict(pred='aux/features', fit_split='validation'),
}


@pytest.mark.parametrize('evaluator_type', sorted(EVALUATORS))
def test_an_audio_model_is_scored_by_every_evaluator(evaluator_type, synthetic_data_dir):
  config = configs.load_config_file(os.path.join(REPO, 'experiments/quickstart.py:smoke'))
  config.input.data_dir = synthetic_data_dir
  config.input.audio.update(enabled=True, spectrogram_frames=32)
  module = configs.load_module('evaluators', evaluator_type)
  eval_config = configs.base_config().evals
  eval_config.probe = dict(
    type=evaluator_type,
    split='validation',
    batch_size=8,
    every_steps=1,
    **EVALUATORS[evaluator_type],
  )
  eval_config.probe.update({k: v for k, v in module.DEFAULTS.items() if k not in eval_config.probe})
  model = TonePicker()
  variables = model.init(jax.random.key(0), {'audio': jnp.zeros((1, 32, 80))}, train=False)
  state = train.TrainState(
    step=jnp.zeros((), jnp.int32),
    params=variables['params'],
    batch_stats={},
    opt_state={},
    task_state={},
  )
  task = classification.Task(**config.task_kwargs)
  mesh = parallel.make_mesh(config.mesh)
  evaluator = module.Evaluator('probe', eval_config.probe, config, model, task, mesh)
  metrics = evaluator.run(state, {})
  assert metrics['num_examples'] == 32
  assert all(np.isfinite(v) for v in metrics.values())
  if evaluator_type == 'linear_probe':
    # The mean log-mel holds the tone, which names the action in 80 % of the videos.
    assert metrics['top1'] > 50
