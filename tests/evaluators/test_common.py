"""The evaluator contract: view averaging, top-k, masks, the exact count, a video that
fails to decode, and a host whose shard is empty."""

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from evaluator_testing import MeanColour, initial_state

from vidjax import configs, parallel
from vidjax.data import augment, pipeline
from vidjax.evaluators import common, multiview
from vidjax.tasks import classification

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _config(data_dir, **eval_overrides):
  config = configs.load_config_file(os.path.join(REPO, 'experiments/quickstart.py:smoke'))
  config.input.data_dir = data_dir
  config.evals.val.update(num_clips=2, num_crops=3, **eval_overrides)
  return config


def _evaluator(config):
  task = classification.Task(**config.task_kwargs)
  mesh = parallel.make_mesh(config.mesh)
  return multiview.Evaluator('val', config.evals.val, config, MeanColour(), task, mesh)


def test_views_are_averaged_and_every_video_counted_once(synthetic_data_dir):
  config = _config(synthetic_data_dir)
  model = MeanColour()
  state = initial_state(model)
  metrics = _evaluator(config).run(state, {})
  # The same numbers computed here, one video at a time, from the loader's views.
  eval_input = pipeline.make_eval_input(config.input, 'validation', 32, 2, 3, 0, 1)
  pp = config.input.pp
  correct1 = correct5 = 0
  losses = []
  for index in range(eval_input.num_examples):
    example = eval_input.loader.eval_example(index, 2, 3)
    views = augment.to_float(example['video'], pp.mean, pp.std)
    logits, _ = model.apply({'params': state.params}, views, train=False)
    logits = np.asarray(logits).mean(axis=0)
    ranked = np.argsort(-logits)
    correct1 += ranked[0] == example['label']
    correct5 += example['label'] in ranked[:5]
    losses.append(-jax.nn.log_softmax(logits)[example['label']])
  assert metrics['num_examples'] == eval_input.num_examples == 32
  assert metrics['decode_failures'] == 0
  np.testing.assert_allclose(metrics['video_top1_2x3'], 100 * correct1 / 32, atol=1e-4)
  np.testing.assert_allclose(metrics['video_top5_2x3'], 100 * correct5 / 32, atol=1e-4)
  np.testing.assert_allclose(metrics['loss'], np.mean(losses), rtol=1e-4)


def test_top_k_and_mask_in_the_sums():
  logits = jnp.array([[0.0, 3.0, 2.0, 1.0, -1.0, -2.0], [5.0, 0.0, 1.0, 2.0, 3.0, 4.0]] * 2)
  batch = {'label': jnp.array([2, 1, 1, 0]), 'mask': jnp.array([True, True, True, False])}
  sums = multiview.Evaluator.sums(None, logits, batch)
  # Row 0: label 2 is second (top-5, not top-1); row 1: label 1 is last (neither);
  # row 2: top-1; row 3 is masked (it would be a top-1 hit).
  assert int(sums['top1']) == 1 and int(sums['top5']) == 2
  expected_loss = sum(float(-jax.nn.log_softmax(logits[i])[batch['label'][i]]) for i in range(3))
  np.testing.assert_allclose(float(sums['loss']), expected_loss, rtol=1e-6)


def test_count_check_raises_on_missing_or_repeated_examples():
  counted = np.array([True, True, True, True, False])
  common.check_counted(np.array([2, 0, 1, 3, -1]), counted, 4, 'here')
  with pytest.raises(common.EvaluationCountError, match=r'1 were not evaluated \(e.g. \[3\]\)'):
    common.check_counted(np.array([2, 0, 1, 1, -1]), counted, 4, 'here')
  with pytest.raises(common.EvaluationCountError, match=r'1 more than once \(e.g. \[1\]\)'):
    common.check_counted(np.array([2, 0, 1, 1, 3]), np.ones(5, bool), 4, 'here')


class _CorruptVideo:
  """A data source whose record `bad` holds bytes no decoder can read."""

  def __init__(self, source, bad):
    self._source, self._bad = source, bad

  def __len__(self):
    return len(self._source)

  def __getitem__(self, index):
    record = self._source[index]
    if index == self._bad:
      record = dict(record, video=b'\x00\x00\x00\x18ftypmp42' + bytes(2000))
    return record


def test_a_failing_video_is_masked_and_reported_never_replaced(synthetic_data_dir, monkeypatch):
  opened = pipeline.open_dataset

  def open_with_a_corrupt_video(*args):
    dataset = opened(*args)
    return dataclasses.replace(dataset, source=_CorruptVideo(dataset.source, bad=5))

  monkeypatch.setattr(pipeline, 'open_dataset', open_with_a_corrupt_video)
  config = _config(synthetic_data_dir)
  evaluator = _evaluator(config)
  metrics = evaluator.run(initial_state(MeanColour()), {})
  assert metrics['num_examples'] == 31 and metrics['decode_failures'] == 1
  bad_id = evaluator._input.video_id(5)
  assert evaluator.decode_failures == [bad_id] and bad_id


def test_a_host_with_an_empty_shard_feeds_masked_batches(synthetic_data_dir):
  config = _config(synthetic_data_dir)
  # 32 validation videos over 40 hosts: host 35 has none, but must run as many steps.
  eval_input = pipeline.make_eval_input(config.input, 'validation', 2, 1, 1, 35, 40)
  batches = list(eval_input)
  assert len(batches) == eval_input.num_batches == 1
  assert batches[0]['video'].shape == (2, 1, 4, 28, 28, 3)
  assert not batches[0]['mask'].any() and (batches[0]['index'] == -1).all()
  # A host with a shard of one video pads its batch the same way.
  (batch,) = list(pipeline.make_eval_input(config.input, 'validation', 2, 1, 1, 31, 40))
  assert batch['mask'].tolist() == [True, False] and batch['index'].tolist() == [31, -1]


def test_pred_names_an_output_of_the_task(synthetic_data_dir):
  config = _config(synthetic_data_dir, pred='aux/nothing')
  with pytest.raises(KeyError, match=r"pred='aux/nothing'.*\['aux/features', 'logits'\]"):
    _evaluator(config).run(initial_state(MeanColour()), {})
