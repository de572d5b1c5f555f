"""PoseWarper: keypoint heatmaps, the sampler of labelled frames, the warping module's
identity start, the loss, and the propagation evaluator's baselines."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax import heatmaps
from vidjax.data import samplers
from vidjax.data.builders import synthetic_keypoints
from vidjax.data.loaders import clip
from vidjax.data.samplers import posewarper as posewarper_sampler
from vidjax.evaluators import keypoint_propagation
from vidjax.models import posewarper as posewarper_model
from vidjax.tasks import base, posewarper


def test_heatmaps_decode_to_their_keypoints_within_a_quarter_cell():
  points = jnp.array([[[10.3, 20.7], [3.0, 50.2], [40.9, 1.6]]])
  decoded = heatmaps.decode(heatmaps.gaussians(points, (32, 32), stride=2.0, sigma=1.0), 2.0)
  error = np.abs(np.asarray(decoded) - points)[0]
  # A quarter cell (0.5 px) inside; half a cell in a border cell, which is not refined.
  assert error[:2].max() <= 0.5 + 1e-5 and error[2].max() <= 1.0 + 1e-5
  # 0.6 times the diagonal of the visible points' box.
  size = heatmaps.object_size(points[0], jnp.array([True, True, False]))
  np.testing.assert_allclose(size, 0.6 * np.hypot(7.3, 29.5), rtol=1e-5)


def test_labelled_frames_leave_every_frame_within_half_the_spacing():
  labelled = synthetic_keypoints.labelled_frames(16, 4)
  assert np.flatnonzero(labelled).tolist() == [1, 5, 9, 13]
  nearest = keypoint_propagation.nearest_labelled(labelled)
  assert np.abs(nearest - np.arange(16)).max() == 2
  assert nearest[3] == 1 and nearest[7] == 5  # ties go to the earlier frame


def test_the_sampler_pairs_a_labelled_frame_with_one_at_most_two_away():
  sampler = posewarper_sampler.Sampler(max_delta=2)
  meta = samplers.VideoMeta(16, 8.0, synthetic_keypoints.labelled_frames(16, 4))
  rng = np.random.default_rng(0)
  draws = [sampler.train(rng, meta) for _ in range(400)]
  keyframes = np.array([int(d.fields['keyframe']) for d in draws])
  deltas = np.array([d.frames[1] - d.frames[0] for d in draws])
  assert set(keyframes) == {1, 5, 9, 13} and np.all(
    np.array([d.frames[0] for d in draws]) == keyframes
  )
  assert set(deltas) <= set(range(-2, 3)) and len(set(deltas)) == 5
  assert np.all(np.array([d.frames[1] for d in draws]) >= 0)
  views = sampler.eval(meta, 2)
  assert views.frames.tolist() == [[1, 3], [13, 15]]


def test_the_loader_carries_the_keyframes_keypoints_through_the_crop():
  record = {
    'keypoints': np.array([[[[10.0, 20.0]], [[12.0, 22.0]]]], np.float32),  # [N=1, T=2, K=1]
    'keypoint_visible': np.ones((1, 2, 1), bool),
  }
  sample = samplers.Sample(np.array([1, 0]), {'keyframe': np.int32(1)})
  crop = clip.Crop(top=4.0, left=8.0, height=16.0, width=16.0, size=32)
  example = clip.keypoints_of(record, sample, crop)
  np.testing.assert_allclose(example['keypoints'], [[[16.0, 28.0]]])
  assert example['keypoint_visible'].tolist() == [[True]]
  outside = clip.Crop(top=14.0, left=8.0, height=16.0, width=16.0, size=32)
  assert clip.keypoints_of(record, sample, outside)['keypoint_visible'].tolist() == [[False]]


def _model():
  return posewarper_model.Model(
    num_keypoints=3, heatmaps=dict(width=8, depth=1), channels=8, num_blocks=1, dilations=(3, 6)
  )


def test_the_untrained_warping_module_copies_the_supporting_heatmaps():
  model = _model()
  video = jnp.asarray(np.random.default_rng(0).uniform(size=(2, 2, 16, 16, 3)), jnp.float32)
  variables = model.init(jax.random.key(0), {'video': video}, train=False)
  warped, aux = model.apply(variables, {'video': video}, train=False)
  np.testing.assert_allclose(warped, aux['heatmaps'][:, 1], atol=1e-5)
  assert aux['heatmaps'].shape == (2, 2, 8, 8, 3)
  assert set(variables['params']) >= {'pose_net', 'offsets_d3', 'warp_d6', 'blocks_0'}


def test_the_loss_is_half_the_visibility_weighted_heatmap_error():
  model = _model()
  task = posewarper.Task(objective='pose', sigma=1.0, heatmap_stride=2)
  video = jnp.zeros((2, 2, 16, 16, 3))
  variables = model.init(jax.random.key(0), {'video': video}, train=False)
  batch = {
    'video': video,
    'keypoints': jnp.full((2, 1, 3, 2), 7.0),
    'keypoint_visible': jnp.array([[[True, True, False]], [[True, False, False]]]),
  }
  ctx = base.Context(jnp.int32(0), {}, False, {}, {}, None)
  loss, (_, metrics) = task.loss_and_metrics(model, variables, batch, ctx)
  (_, aux), _ = task.apply(model, variables, batch, ctx)
  target = heatmaps.gaussians(batch['keypoints'][:, 0], (8, 8), 2, 1.0)
  weight = batch['keypoint_visible'][:, 0, None, None, :]
  expected = 0.5 * np.mean((weight * (aux['heatmaps'][:, 0] - target)) ** 2)
  np.testing.assert_allclose(loss, expected, rtol=1e-5)
  assert 0.0 <= float(metrics['pck']) <= 100.0
  with pytest.raises(ValueError, match='objective'):
    posewarper.Task(objective='track')


def test_flow_moves_keypoints_with_a_translated_texture():
  rng = np.random.default_rng(0)
  texture = (rng.uniform(size=(40, 40, 3)) * 255).astype(np.uint8)
  texture = np.asarray(jax.image.resize(texture.astype(np.float32), (80, 80, 3), 'linear'))
  frames = np.stack([texture[10:58, 10:58], texture[13:61, 8:56]]).astype(np.uint8)  # (-3, +2)
  moved = keypoint_propagation.flow_keypoints(frames, 0, 1, np.array([[24.0, 24.0]]), 'medium')
  np.testing.assert_allclose(moved, [[21.0, 26.0]], atol=0.5)


def test_the_evaluator_on_the_tiny_keypoint_videos(synthetic_data_dir):
  """The untrained model: 'posewarper' warps the labelled frame's Gaussians unchanged, so
  it scores as 'copy' up to the heatmaps' quantisation; every method is scored."""
  from vidjax import configs, train

  config = configs.load_config_file('experiments/posewarper/synthetic.py:smoke')
  config.input.data_dir = synthetic_data_dir
  config.evals.propagation.num_videos = 4
  model = posewarper_model.Model(**config.model)
  task = posewarper.Task(**config.task_kwargs)
  evaluator = keypoint_propagation.Evaluator(
    'propagation', config.evals.propagation, config, model, task, None
  )
  variables = model.init(jax.random.key(0), {'video': jnp.zeros((1, 2, 32, 32, 3))}, train=False)
  state = train.TrainState(
    step=jnp.zeros((), jnp.int32),
    params=variables['params'],
    batch_stats=variables['batch_stats'],
    opt_state={},
    task_state={},
  )
  results = evaluator.run(state, None)
  assert results['num_examples'] == 4 and results['num_keypoints'] > 20
  for method in keypoint_propagation.METHODS:
    assert 0.0 <= results[f'{method}/pck@0.5'] <= 100.0
  assert abs(results['posewarper/pck@0.5'] - results['copy/pck@0.5']) < 10.0
  assert evaluator.dataset_manifest['split'] == 'validation'
