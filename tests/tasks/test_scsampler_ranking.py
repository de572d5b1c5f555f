"""SCSampler's saliency-ranking task: the hinge on hand-computed pairs, the `two_clips`
sampler, the model's outputs, and end to end with the `scsampler` evaluator ranking clips
by the task's saliency."""

import os

import jax.numpy as jnp
import numpy as np
import pytest

from vidjax import configs, logs, train
from vidjax.data import samplers
from vidjax.data.samplers import two_clips
from vidjax.tasks import scsampler

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENT = os.path.join(REPO, 'experiments/scsampler/synthetic.py')


def test_the_hinge_orders_each_pair_by_the_classifiers_confidence():
  saliency = jnp.asarray([[2.0, 0.5], [0.0, 0.3], [1.0, 1.0], [4.0, -1.0]])
  confidence = jnp.asarray([[0.9, 0.1], [0.9, 0.1], [0.2, 0.7], [0.5, 0.5]])
  loss, ordered, counted = scsampler.ranking_loss(saliency, confidence, margin=1.0)
  # Pair 0: right by 1.5 > margin, no loss; pair 1: wrong by 0.3, loss 1.3; pair 2: the
  # second clip should score higher, tied scores cost the margin; pair 3: a tie in
  # confidence does not count.
  np.testing.assert_allclose(loss, [0.0, 1.3, 1.0, 0.0], rtol=1e-6)
  assert ordered.tolist() == [True, False, False, False]
  assert counted.tolist() == [True, True, True, False]
  half, _, _ = scsampler.ranking_loss(saliency, confidence, margin=0.5)
  np.testing.assert_allclose(half, [0.0, 0.8, 0.5, 0.0], rtol=1e-6)


@pytest.mark.parametrize('seed', range(5))
def test_two_clips_are_two_strided_clips_of_the_video(seed):
  sampler = two_clips.Sampler(num_frames=8, stride=2, policy='loop')
  frames = sampler.train(np.random.default_rng(seed), samplers.VideoMeta(64, 8.0)).frames
  assert frames.shape == (2, 8) and frames.max() < 64
  np.testing.assert_array_equal(np.diff(frames, axis=1), np.full((2, 7), 2))
  views = sampler.eval(samplers.VideoMeta(64, 8.0), num_views=4).frames
  np.testing.assert_array_equal(views[:, 0], [0, 16, 33, 49])


def test_the_starts_are_drawn_independently():
  sampler = two_clips.Sampler(num_frames=8, stride=2, policy='loop')
  rng = np.random.default_rng(0)
  starts = [sampler.train(rng, samplers.VideoMeta(64, 8.0)).frames[:, 0] for _ in range(50)]
  assert sum(a != b for a, b in starts) > 40


def _task(loss='combined', **kwargs):
  spec = os.path.join(REPO, 'experiments/quickstart.py:smoke')
  return scsampler.Task(classifier_config=spec, classifier_checkpoint='unused', loss=loss, **kwargs)


def test_outputs_are_the_saliency_and_the_class_logits():
  outputs = jnp.arange(22.0).reshape(2, 11)
  saliency, logits = _task('combined')._outputs(outputs)
  np.testing.assert_array_equal(saliency, [10.0, 21.0])
  np.testing.assert_array_equal(logits, outputs[:, :10])
  saliency, logits = _task('ranking')._outputs(outputs[:, :1])
  np.testing.assert_array_equal(saliency, [0.0, 11.0])
  assert logits is None
  with pytest.raises(ValueError, match='num_classes=11'):
    _task('combined')._outputs(outputs[:, :10])
  with pytest.raises(ValueError, match='num_classes=1'):
    _task('ranking')._outputs(outputs)


def test_the_sampler_sees_the_clips_resized():
  batch = {'video': jnp.ones((3, 4, 16, 16, 3)), 'label': jnp.zeros(3, jnp.int32)}
  assert _task(sampler_size=8).sampler_clips(batch)['video'].shape == (3, 4, 8, 8, 3)
  assert _task(sampler_size=16).sampler_clips(batch)['video'] is batch['video']
  assert _task().sampler_clips(batch)['video'] is batch['video']


def test_bad_settings_are_named():
  with pytest.raises(ValueError, match='classifier_checkpoint'):
    scsampler.Task(classifier_config='experiments/quickstart.py', classifier_checkpoint='')
  with pytest.raises(ValueError, match="loss='hinge'"):
    _task('hinge')
  with pytest.raises(ValueError, match='margin'):
    _task(margin=0.0)
  with pytest.raises(ValueError, match="loss='rank'"):
    configs.load_config_file(EXPERIMENT + ':smoke,loss=rank')


@pytest.mark.slow
@pytest.mark.parametrize('loss', ['ranking', 'combined'])
def test_a_ranked_sampler_trains_and_is_evaluated(
  loss, scsampler_classifier, synthetic_data_dir, tmp_path
):
  config = configs.load_config_file(
    f'{EXPERIMENT}:smoke,loss={loss},classifier={scsampler_classifier}'
  )
  config.input.data_dir = synthetic_data_dir
  assert config.task == 'scsampler' and config.input.sampling.mode == 'two_clips'
  results = train.train_and_evaluate(config, str(tmp_path))
  entries = [e for e in logs.read_metrics(str(tmp_path)) if 'train/ranking_loss' in e]
  assert entries and all(np.isfinite(e['train/loss']) for e in entries)
  assert all(0 <= e['train/ranking_accuracy'] <= 1 for e in entries)
  assert ('train/top1' in entries[0]) == (loss == 'combined')
  assert results['eval/scsampler/num_examples'] == 32
  assert ('eval/scsampler/sampler_top1' in results) == (loss == 'combined')
  # The sampler's cost is counted at its own input size, below the classifier's.
  assert (
    results['eval/scsampler/gflops_per_video_scsampler']
    < results['eval/scsampler/gflops_per_video_all_clips']
  )
  again = train.evaluate(config, str(tmp_path))
  for key, value in again.items():
    np.testing.assert_allclose(value, results[key], rtol=1e-5)
