"""mAP: the AP definition against hand-computed cases, and the evaluator end to end."""

import os

import numpy as np
from evaluator_testing import MeanColour, initial_state

from vidjax import configs, parallel
from vidjax.evaluators import mean_ap
from vidjax.tasks import classification

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_average_precision_is_the_mean_precision_at_each_positive():
  scores = np.array([0.9, 0.8, 0.7, 0.6])
  assert mean_ap.average_precision(scores, np.array([True, False, True, False])) == (1 + 2 / 3) / 2
  assert mean_ap.average_precision(scores, np.array([False, False, False, True])) == 1 / 4
  assert mean_ap.average_precision(scores, np.array([True, True, False, False])) == 1.0


def test_mean_over_classes_with_a_positive():
  scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.4]])
  labels = np.array([[1, 0, 0], [0, 1, 0]])  # class 2 has no positive: left out
  value, num_classes = mean_ap.mean_average_precision(scores, labels)
  assert (value, num_classes) == (1.0, 2)


def test_evaluator_scores_every_video_of_the_split(synthetic_data_dir):
  config = configs.load_config_file(os.path.join(REPO, 'experiments/quickstart.py:smoke'))
  config.input.data_dir = synthetic_data_dir
  eval_config = configs.base_config().evals  # an empty ConfigDict to fill
  eval_config.map = dict(
    type='mean_ap', split='validation', batch_size=8, every_steps=1, num_clips=1, num_crops=1
  )
  eval_config.map.update(mean_ap.DEFAULTS)
  model = MeanColour()
  state = initial_state(model)
  task = classification.Task(**config.task_kwargs)
  evaluator = mean_ap.Evaluator(
    'map', eval_config.map, config, model, task, parallel.make_mesh(config.mesh)
  )
  metrics = evaluator.run(state, {})
  assert metrics['num_examples'] == 32 and 0 < metrics['mAP'] <= 100
  assert metrics['classes_with_positives'] == len(
    {int(evaluator._input.dataset.source[i]['label']) for i in range(32)}
  )
