"""AVTS: the contrastive loss, the three pair kinds and the curriculum, the distances the
evaluator scores, and the video tower's transfer into a classifier."""

import os
import types

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax import checkpoint, configs, train
from vidjax.evaluators import linear_probe, synchronisation
from vidjax.models import video_resnet
from vidjax.tasks import avts, base

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_contrastive_loss_on_hand_computed_distances():
  d = jnp.array([0.3, 0.3, 1.2, 0.0])
  in_sync = jnp.array([True, False, False, True])
  np.testing.assert_allclose(avts.contrastive_loss(d, in_sync, 0.99), [0.09, 0.69**2, 0.0, 0.0])


def test_curriculum_brings_hard_negatives_in_at_its_step():
  task = avts.Task(positive_fraction=0.5, hard_fraction=0.25, curriculum_steps=100)
  shiftable = jnp.ones((20000,), bool)
  rng = jax.random.PRNGKey(0)
  before = np.asarray(task.pair_kinds(rng, jnp.int32(99), shiftable))
  after = np.asarray(task.pair_kinds(rng, jnp.int32(100), shiftable))
  assert not (before == avts.HARD).any()
  np.testing.assert_allclose(np.mean(before == avts.POSITIVE), 0.5, atol=0.02)
  np.testing.assert_allclose(np.mean(after == avts.HARD), 0.5 * 0.25, atol=0.01)
  np.testing.assert_array_equal(before == avts.POSITIVE, after == avts.POSITIVE)
  # A video too short to shift never gives a hard negative; the same rng, the same pairs.
  unshiftable = np.asarray(task.pair_kinds(rng, jnp.int32(100), ~shiftable))
  assert not (unshiftable == avts.HARD).any()
  np.testing.assert_array_equal(after, task.pair_kinds(rng, jnp.int32(100), shiftable))


class _Identity(nn.Module):
  """Embeds a clip as [its value, 0] and a sound as [its value, 0]: distances say which
  sound a clip was paired with."""

  input_keys = ('audio', 'video')

  @nn.compact
  def __call__(self, inputs, *, train):
    del train
    self.param('unused', nn.initializers.zeros, ())
    video = inputs['video'].reshape(len(inputs['video']), -1)[:, :1]
    audio = inputs['audio'].reshape(len(inputs['audio']), -1)[:, :1]
    pad = lambda x: jnp.concatenate([x, jnp.zeros_like(x)], axis=1)  # noqa: E731
    aux = {'embedding/video': pad(video), 'embedding/audio': pad(audio)}
    aux.update({'features/video': video, 'features/audio': audio})
    return aux['embedding/video'], aux


def _batch(size=8):
  ids = jnp.arange(size, dtype=jnp.float32)
  return {
    'video': jnp.broadcast_to(ids[:, None, None, None, None], (size, 2, 4, 4, 3)),
    'audio': jnp.broadcast_to(ids[:, None, None], (size, 5, 3)),
    'audio_shifted': jnp.broadcast_to(100 + ids[:, None, None], (size, 5, 3)),
    'has_audio': jnp.ones((size,), bool),
    'has_shifted_audio': jnp.ones((size,), bool),
  }


def _ctx(step, train=True):
  rngs = {'pairs': jax.random.PRNGKey(3), 'dropout': jax.random.PRNGKey(4)}
  return base.Context(jnp.int32(step), rngs, train, {}, {}, None)


def test_each_pair_kind_pairs_the_clip_with_the_right_sound():
  """Positives with their own sound (distance 0), easy negatives with the previous
  example's (another video: distance 1), hard ones with the shifted sound (100)."""
  task = avts.Task(positive_fraction=0.4, hard_fraction=0.5, curriculum_steps=0)
  model = _Identity()
  batch = _batch(64)
  variables = model.init(jax.random.PRNGKey(0), batch, train=False)
  _, (_, metrics) = task.loss_and_metrics(model, variables, batch, _ctx(5))
  assert metrics['distance/positive'] < 1e-5
  np.testing.assert_allclose(metrics['distance/easy'], 1.0, rtol=1e-5)
  np.testing.assert_allclose(metrics['distance/hard'], 100.0, rtol=1e-5)
  assert all(metrics[f'fraction/{kind}'] > 0 for kind in avts.KINDS)
  # Loss: 0 for positives; every negative is beyond the margin (distances 1, 63 or 100).
  assert float(metrics['loss']) == pytest.approx(0.0, abs=1e-9)
  assert float(metrics['sync_accuracy']) == 1.0
  predictions = task.predict(model, variables, batch, _ctx(0, train=False))
  np.testing.assert_allclose(predictions['aux/distance/positive'], 0.0, atol=1e-5)
  np.testing.assert_allclose(predictions['aux/distance/easy'], [63, *[1] * 63], rtol=1e-5)
  np.testing.assert_allclose(predictions['aux/distance/hard'], 100.0, rtol=1e-5)


class _Matcher(_Identity):
  """_Identity with the sync classifier's output: a logit of 10 where the sound's value is
  its clip's (sound j paired with clip j mod B), else -10."""

  @nn.compact
  def __call__(self, inputs, *, train):
    video, aux = super().__call__(inputs, train=train)
    clips = jnp.tile(aux['features/video'], (len(aux['features/audio']) // len(video), 1))
    aux['sync_logit'] = jnp.where(clips[:, 0] == aux['features/audio'][:, 0], 10.0, -10.0)
    return video, aux


def test_the_classifier_objective_scores_pairs_by_minus_the_in_sync_logit():
  task = avts.Task(positive_fraction=0.4, hard_fraction=0.5, objective='classifier')
  assert task.decision_threshold == 0.0
  model = _Matcher()
  batch = _batch(64)
  variables = model.init(jax.random.PRNGKey(0), batch, train=False)
  loss, (_, metrics) = task.loss_and_metrics(model, variables, batch, _ctx(5))
  # The logistic loss of logits +-10 on the right side: log(1 + e^-10).
  np.testing.assert_allclose(loss, np.log1p(np.exp(-10.0)), rtol=1e-4)
  assert float(metrics['sync_accuracy']) == 1.0
  assert metrics['distance/positive'] == -10.0 and metrics['distance/hard'] == 10.0
  predictions = task.predict(model, variables, batch, _ctx(0, train=False))
  for kind, score in (('positive', -10.0), ('easy', 10.0), ('hard', 10.0)):
    np.testing.assert_array_equal(predictions[f'aux/distance/{kind}'], score)
  # The contrastive model has no classifier: a clear error, not a silent distance.
  with pytest.raises(ValueError, match='sync_classifier'):
    task.loss_and_metrics(_Identity(), variables, batch, _ctx(5))
  with pytest.raises(ValueError, match='objective'):
    avts.Task(objective='binary')


def test_the_sync_classifier_pairs_sound_j_with_clip_j_mod_batch():
  from vidjax.models import avts as avts_model

  model = avts_model.Model(
    towers=dict(
      video=dict(model_name='video_resnet', depth=10, block='mc3', width=4),
      audio=dict(model_name='audio_resnet', depth=10, width=4),
    ),
    embed_dim=8,
    sync_classifier=True,
  )
  rng = np.random.default_rng(0)
  video = jnp.asarray(rng.normal(size=(2, 2, 16, 16, 3)), jnp.float32)
  audio = jnp.asarray(rng.normal(size=(2, 20, 8)), jnp.float32)
  inputs = {'video': video, 'audio': jnp.concatenate([audio, audio[::-1]])}
  variables = model.init(jax.random.PRNGKey(0), inputs, train=False)
  _, aux = model.apply(variables, inputs, train=False)
  assert aux['sync_logit'].shape == (4,)
  # Pairs (clip 0, sound 0) and (clip 1, sound 1), then (clip 0, sound 1), (clip 1, sound 0):
  alone = lambda v, a: model.apply(variables, {'video': v, 'audio': a}, train=False)[1]  # noqa: E731
  np.testing.assert_allclose(
    aux['sync_logit'][2], alone(video[:1], audio[1:])['sync_logit'][0], rtol=1e-4, atol=1e-5
  )


def test_temporal_bins_keep_when_things_happen():
  from vidjax.models import avts as avts_model

  for spike, expected_bin in ((1, 0), (6, 3)):
    features = jnp.zeros((1, 8, 2)).at[0, spike, 0].set(1.0)
    bins = np.asarray(avts_model._time_bins(features, 4)).reshape(4, 2)
    assert np.argmax(bins[:, 0]) == expected_bin
    np.testing.assert_array_equal(bins[:, 1], 0.0)
  model = avts_model.Model(
    towers=dict(
      video=dict(model_name='video_resnet', depth=10, block='mc3', width=4),
      audio=dict(model_name='audio_resnet', depth=10, width=4),
    ),
    embed_dim=8,
    temporal_bins=4,
  )
  rng = np.random.default_rng(0)
  inputs = {
    'video': jnp.asarray(rng.normal(size=(2, 8, 16, 16, 3)), jnp.float32),
    'audio': jnp.asarray(rng.normal(size=(2, 64, 8)), jnp.float32),
  }
  variables = model.init(jax.random.PRNGKey(0), inputs, train=False)
  # Each tower's last stage has 8 x width = 32 channels, one set of weights per bin.
  assert variables['params']['embed_video']['kernel'].shape == (4 * 32, 8)
  assert variables['params']['embed_audio']['kernel'].shape == (4 * 32, 8)
  embedding, _ = model.apply(variables, inputs, train=False)
  reversed_in_time, _ = model.apply(
    variables, {'video': inputs['video'][:, ::-1], 'audio': inputs['audio']}, train=False
  )
  assert not np.allclose(embedding, reversed_in_time, atol=1e-3)


class _Angles(_Identity):
  """Embeds a clip or a sound of value x as the unit vector at angle 0.3 x."""

  @nn.compact
  def __call__(self, inputs, *, train):
    _, aux = super().__call__(inputs, train=train)
    for modality in ('video', 'audio'):
      angle = 0.3 * aux[f'features/{modality}']
      aux[f'embedding/{modality}'] = jnp.concatenate([jnp.cos(angle), jnp.sin(angle)], axis=1)
    return aux['embedding/video'], aux


def _nce_reference(clips, sounds, shifted, hard, has_audio, temperature):
  """Both directions' softmax cross-entropy, written out per clip in NumPy."""
  unit = lambda x: np.stack([np.cos(0.3 * x), np.sin(0.3 * x)], 1)  # noqa: E731
  v, a, s = unit(clips), unit(sounds), unit(shifted)
  total, count = 0.0, 0
  for i in np.flatnonzero(has_audio):
    logits = [v[i] @ a[j] for j in np.flatnonzero(has_audio)] + ([v[i] @ s[i]] if hard[i] else [])
    forward = -(v[i] @ a[i]) / temperature + np.log(np.sum(np.exp(np.array(logits) / temperature)))
    backward_logits = np.array([a[i] @ v[j] for j in range(len(v))]) / temperature
    backward = -backward_logits[i] + np.log(np.sum(np.exp(backward_logits)))
    total += (forward + backward) / 2
    count += 1
  return total / count


def test_the_nce_objective_on_hand_computed_cosines():
  """Every pair of the batch in one softmax: the loss equals a per-clip NumPy reference,
  with hard negatives only after the curriculum and sounds that do not exist left out."""
  task = avts.Task(objective='nce', hard_fraction=0.5, curriculum_steps=10, temperature=0.2)
  assert task.decision_threshold == pytest.approx(2**0.5)
  model = _Angles()
  batch = _batch(6)
  batch['audio_shifted'] = batch['audio'] + 0.5  # close to the clip: a hard negative
  batch['has_audio'] = batch['has_audio'].at[4].set(False)
  variables = model.init(jax.random.PRNGKey(0), batch, train=False)
  ids = np.arange(6.0)
  for step in (0, 10):
    ctx = _ctx(step)
    loss, (_, metrics) = task.loss_and_metrics(model, variables, batch, ctx)
    hard = np.asarray(
      (jax.random.uniform(ctx.rngs['pairs'], (6,)) < 0.5) & (step >= 10)
    ) & np.asarray(batch['has_audio'])
    assert (step == 0) == (not hard.any())
    expected = _nce_reference(ids, ids, ids + 0.5, hard, np.asarray(batch['has_audio']), 0.2)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    np.testing.assert_allclose(metrics['fraction/hard'], hard.sum() / 5, rtol=1e-6)
  assert metrics['distance/positive'] < 1e-5 and metrics['ranking/easy'] == 1.0
  # Evaluation scores distances, as the contrastive objective's.
  predictions = task.predict(model, variables, batch, _ctx(0, train=False))
  np.testing.assert_allclose(predictions['aux/distance/positive'], 0.0, atol=1e-5)
  np.testing.assert_allclose(predictions['aux/distance/hard'], 2 * np.sin(0.3 * 0.5 / 2), rtol=1e-4)


def test_pairs_without_sound_are_left_out_of_the_loss():
  task = avts.Task(positive_fraction=1.0)
  model = _Identity()
  batch = _batch()
  batch['audio'] = batch['audio'].at[0].set(50.0)  # a sound far from its clip ...
  batch['has_audio'] = batch['has_audio'].at[0].set(False)  # ... that does not exist
  variables = model.init(jax.random.PRNGKey(0), batch, train=False)
  loss, _ = task.loss_and_metrics(model, variables, batch, _ctx(0))
  assert float(loss) < 1e-9


def test_the_evaluator_scores_kinds_apart_at_the_threshold():
  evaluator = types.SimpleNamespace(threshold=0.5)
  output = {
    'positive': jnp.array([0.1, 0.7, 0.2, 0.3]),
    'easy': jnp.array([0.9, 0.9, 0.4, 0.8]),
    'hard': jnp.array([0.6, 0.2, 0.1, 0.9]),
  }
  batch = {
    'mask': jnp.array([True, True, True, False]),
    'has_audio': jnp.ones(4, bool),
    'has_shifted_audio': jnp.array([[True], [True], [False], [True]]),
  }
  sums = synchronisation.Evaluator.sums(evaluator, output, batch)
  metrics = synchronisation.Evaluator.metrics(
    evaluator, {k: float(v) for k, v in sums.items()}, {}, 3
  )
  # Positives 0, 1, 2: 2 of 3 below 0.5. Easy pairs need the previous example too: 1, 2.
  assert metrics['accuracy/positive'] == pytest.approx(200 / 3)
  assert metrics['accuracy/easy'] == 50.0 and metrics['ranking/easy'] == 100.0
  # Hard pairs 0 and 1 (2 cannot be shifted): 0.6 is beyond, 0.2 not.
  assert metrics['accuracy/hard'] == 50.0 and metrics['ranking/hard'] == 50.0
  assert metrics['sync_accuracy/hard'] == pytest.approx((200 / 3 + 50) / 2)


def test_logistic_regression_separates_separable_classes():
  rng = np.random.default_rng(0)
  centres = rng.normal(size=(3, 5)) * 4
  labels = rng.integers(0, 3, 300)
  features = centres[labels] + rng.normal(size=(300, 5))
  weights, bias = linear_probe.fit_logistic_regression(
    jnp.asarray(features, jnp.float32), jnp.asarray(labels), num_classes=3, l2=1e-3, iterations=50
  )
  assert np.mean(np.argmax(features @ weights + bias, -1) == labels) > 0.97


@pytest.mark.slow
def test_the_pretrained_video_tower_loads_into_the_classifier(synthetic_data_dir, tmp_path):
  pretrain = configs.load_config_file(os.path.join(REPO, 'experiments/avts/synthetic.py:smoke'))
  pretrain.input.data_dir = synthetic_data_dir
  # The smoke run's own steps, so its compiled training step is shared with the smoke test.
  pretrain.evals = {}
  train.train_and_evaluate(pretrain, str(tmp_path / 'pretrain'))
  step_dir = str(tmp_path / 'pretrain' / 'checkpoints' / str(pretrain.total_steps))
  finetune = configs.load_config_file(
    os.path.join(REPO, f'experiments/avts/synthetic_finetune.py:smoke,init_from={step_dir}')
  )
  model = video_resnet.Model(**finetune.model)
  fresh = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 4, 28, 28, 3)), train=False)
  loaded = checkpoint.restore_variables(
    step_dir,
    fresh,
    dont_load=finetune.init_from.dont_load,
    rename=finetune.init_from.rename,
  )
  stored = checkpoint.restore_variables(
    step_dir, {'params': {'video_tower': {k: v for k, v in fresh['params'].items() if k != 'fc'}}}
  )
  for a, b in zip(
    jax.tree.leaves({k: v for k, v in loaded['params'].items() if k != 'fc'}),
    jax.tree.leaves(stored['params']['video_tower']),
    strict=True,
  ):
    np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(loaded['params']['fc']['kernel'], fresh['params']['fc']['kernel'])
