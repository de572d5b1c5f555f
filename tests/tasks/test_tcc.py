"""Temporal cycle-consistency: the alignment losses, the sampler, the alignment metrics and
the pretrained trunk."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import traverse_util

from vidjax import configs, train
from vidjax.data import sampling
from vidjax.data.samplers import VideoMeta
from vidjax.data.samplers import tcc as tcc_sampler
from vidjax.evaluators import alignment
from vidjax.tasks import tcc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_similarity_is_scaled_by_dimension_and_temperature():
  a, b = jnp.array([[0.0, 0.0]]), jnp.array([[1.0, 1.0], [0.0, 2.0]])
  np.testing.assert_allclose(tcc.scaled_similarity(a, b, 'l2', 0.1), [[-10.0, -20.0]])
  np.testing.assert_allclose(tcc.scaled_similarity(b, b, 'cosine', 0.5), [[2.0, 2.0], [2.0, 4.0]])


def test_distinct_aligned_sequences_cycle_back_and_shuffled_ones_do_not():
  steps = np.linspace(0, 1, 6)
  video = np.stack([np.cos(3 * steps), np.sin(3 * steps)], axis=-1) * 3  # distinct points
  times = jnp.asarray(np.stack([steps, steps]))
  aligned = jnp.asarray(np.stack([video, video + 0.01]))
  loss, cycled = tcc.alignment_loss(aligned, times, temperature=0.01)
  assert cycled == 1.0
  shuffled = jnp.asarray(np.stack([video, video[::-1]]))
  loss_shuffled, _ = tcc.alignment_loss(shuffled, times, temperature=0.01)
  # The reversed video cycles back too (a bijection), so the regression loss stays low:
  # what cycle-consistency cannot see is an order reversal.
  assert np.isfinite(loss) and np.isfinite(loss_shuffled)
  blurred = jnp.asarray(np.stack([video, np.repeat(video[:1], 6, axis=0)]))
  loss_blurred, cycled_blurred = tcc.alignment_loss(blurred, times, temperature=0.01)
  assert cycled_blurred < 0.5 and loss_blurred > loss


@pytest.mark.parametrize('loss', tcc.LOSSES)
def test_every_loss_is_lowest_for_a_cycle_back_to_the_start(loss):
  times = jnp.linspace(0, 1, 5)
  sharp = jnp.eye(5) * 50.0
  wrong = jnp.roll(sharp, 1, axis=1)
  kwargs = dict(loss=loss, variance_lambda=0.001, label_smoothing=0.1)
  assert tcc.pair_loss(sharp, times, **kwargs) < tcc.pair_loss(wrong, times, **kwargs)


def test_regression_with_variance_by_hand():
  # beta = (0.5, 0.5) over times (0, 1): mu = 0.5, sigma^2 = 0.25.
  logits = jnp.zeros((2, 2))
  loss = tcc.pair_loss(
    logits,
    jnp.array([0.0, 1.0]),
    loss='regression_mse_var',
    variance_lambda=0.001,
    label_smoothing=0,
  )
  np.testing.assert_allclose(loss, 0.25 / 0.25 + 0.001 * np.log(0.25), rtol=1e-6)


def test_the_sampler_spreads_timesteps_with_their_context():
  sampler = tcc_sampler.Sampler(num_frames=4, num_context=2, context_stride=3)
  sample = sampler.train(np.random.default_rng(0), VideoMeta(32, 8.0))
  steps = sample.fields['steps']
  assert len(steps) == 4 and np.all(np.diff(steps) > 0) and sample.fields['num_video_frames'] == 32
  np.testing.assert_array_equal(sample.frames[1::2], steps)
  np.testing.assert_array_equal(sample.frames[0::2], np.maximum(steps - 3, 0))
  views = sampler.eval(VideoMeta(32, 8.0), 1)
  np.testing.assert_array_equal(views.fields['steps'][0], sampling.segment_views(32, 4, 1)[0])


def test_kendalls_tau_of_aligned_and_reversed_videos():
  video = np.arange(10.0)[:, None] * np.ones((1, 3))
  assert alignment.kendalls_tau([video, video + 0.1]) == pytest.approx(1.0)
  assert alignment.kendalls_tau([video, video[::-1]]) == pytest.approx(-1.0)


def test_progression_targets_count_from_each_transition():
  phases = np.array([0, 0, 1, 1, 1, 3, 3, 3])  # phase 2 is absent
  targets = alignment.progression_targets(phases, 4)
  np.testing.assert_allclose(targets[:, 0], (np.arange(8) - 1) / 8)  # last frame of phase 0
  np.testing.assert_allclose(targets[:, 2], (np.arange(8) - 5) / 8)  # first frame of phase 3
  np.testing.assert_allclose(targets[:, 1], (np.arange(8) - 4) / 8)
  assert alignment.r_squared(targets, targets) == pytest.approx(np.ones(3))


def test_phase_progression_is_high_for_embeddings_that_encode_progress():
  rng = np.random.default_rng(0)
  videos, phases = [], []
  for _ in range(6):
    length = 20
    phase = np.sort(rng.integers(0, 3, length))
    phase[:2], phase[-2:] = 0, 2
    # One dimension per transition counts frames from it; plus noise dimensions.
    targets = alignment.progression_targets(phase, 3)
    videos.append(np.concatenate([targets, 0.01 * rng.normal(size=(length, 4))], axis=1))
    phases.append(phase)
  score = alignment.phase_progression(videos[:4], phases[:4], videos[4:], phases[4:], 3)
  assert score > 0.95
  noise = [rng.normal(size=v.shape) for v in videos]
  assert alignment.phase_progression(noise[:4], phases[:4], noise[4:], phases[4:], 3) < 0.5


def _trunk(step_dir, prefix):
  state = ocp.StandardCheckpointer().restore(os.path.join(step_dir, 'state'))
  params = traverse_util.flatten_dict(jax.device_get(state['params'][prefix]), sep='/')
  return {name: value for name, value in params.items() if not name.startswith('layer4')}


@pytest.mark.slow
def test_on_a_pretrained_trunk_only_its_batchnorm_trains(
  distinit_teacher, synthetic_images_data_dir, tmp_path
):
  """`trunk=`: the image network's trunk is loaded, its kernels stay, its BatchNorm trains."""
  config = configs.load_config_file(
    os.path.join(REPO, 'experiments', 'tcc', 'synthetic.py') + f':smoke,trunk={distinit_teacher}'
  )
  config.input.data_dir = synthetic_images_data_dir
  config.evals = {}
  train.train_and_evaluate(config, str(tmp_path))
  trained = _trunk(tmp_path / 'checkpoints' / str(config.total_steps), 'ResNet2D_0')
  teacher = _trunk(distinit_teacher, 'resnet')
  assert set(trained) == set(teacher)
  kernels = [name for name in trained if name.endswith('kernel')]
  scales = [name for name in trained if name.endswith('scale')]
  assert kernels and scales
  for name in kernels:
    np.testing.assert_array_equal(trained[name], teacher[name])
  assert any(not np.allclose(trained[name], teacher[name]) for name in scales)
