"""The head_losses evaluator (Gradient Blending's V and T): every head's loss and top-1."""

import os

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest
from evaluator_testing import initial_state

from vidjax import configs, parallel
from vidjax.evaluators import head_losses
from vidjax.tasks import classification

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TwoHeads(nn.Module):
  """A learnt head on the mean colour, and a head of constant zero logits."""

  @nn.compact
  def __call__(self, video, *, train):
    features = video.mean(axis=(1, 2, 3))
    learnt = nn.Dense(10)(features)
    aux = {'logits/learnt': learnt, 'logits/zero': jnp.zeros_like(learnt)}
    return learnt, aux


def test_every_head_is_scored_over_the_split(synthetic_data_dir):
  config = configs.load_config_file(os.path.join(REPO, 'experiments/quickstart.py:smoke'))
  config.input.data_dir = synthetic_data_dir
  evals = configs.base_config().evals
  evals.heads = dict(type='head_losses', split='validation', batch_size=8, every_steps=1)
  evals.heads.update({k: v for k, v in head_losses.DEFAULTS.items() if k not in evals.heads})
  model = TwoHeads()
  task = classification.Task(**config.task_kwargs)
  evaluator = head_losses.Evaluator(
    'heads', evals.heads, config, model, task, parallel.make_mesh(config.mesh)
  )
  metrics = evaluator.run(initial_state(model), {})
  labels = np.array([int(evaluator._input.dataset.source[i]['label']) for i in range(32)])
  assert metrics['num_examples'] == 32
  # Zero logits: the loss is log(10) for every video; argmax picks class 0.
  np.testing.assert_allclose(metrics['loss/zero'], np.log(10), rtol=1e-6)
  assert metrics['top1/zero'] == pytest.approx(100 * np.mean(labels == 0))
  assert metrics['loss/learnt'] > 0 and 0 <= metrics['top1/learnt'] <= 100
