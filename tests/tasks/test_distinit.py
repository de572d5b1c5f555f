"""DistInit: the distillation loss, the teacher's frames, and end to end: the teacher is a
frozen constant, never trained nor checkpointed; the inflation baseline loads it in 3D."""

import os
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import traverse_util

from vidjax import configs, train
from vidjax.convert import inflate
from vidjax.tasks import base, distinit

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _flat_state(step_dir):
  state = ocp.StandardCheckpointer().restore(os.path.join(step_dir, 'state'))
  return {
    collection: traverse_util.flatten_dict(jax.device_get(state[collection]), sep='/')
    for collection in ('params', 'batch_stats')
  }


def test_distillation_loss_is_the_scaled_kl_divergence():
  rng = np.random.default_rng(0)
  student = rng.normal(size=(5, 7)).astype(np.float32)
  targets = jax.nn.softmax(rng.normal(size=(5, 7)).astype(np.float32))
  for temperature in (1.0, 4.0):
    q = np.asarray(jax.nn.softmax(student / temperature))
    expected = temperature**2 * np.sum(targets * (np.log(targets) - np.log(q)), axis=-1)
    np.testing.assert_allclose(
      distinit.distillation_loss(student, targets, temperature), expected, rtol=1e-5
    )
  # Zero where the student's tempered softmax is the target; one-hot targets are finite.
  logits = jnp.log(targets) * 2.0
  np.testing.assert_allclose(distinit.distillation_loss(logits, targets, 2.0), 0.0, atol=1e-5)
  one_hot = jax.nn.one_hot(jnp.arange(5), 7)
  assert np.all(np.isfinite(distinit.distillation_loss(student, one_hot, 1.0)))


def test_soft_labels_average_the_frames_tempered_softmaxes():
  frame_logits = jnp.asarray([[[2.0, 0.0], [0.0, 2.0], [4.0, 0.0]]])
  expected = np.mean(jax.nn.softmax(frame_logits / 2.0, axis=-1), axis=1)
  np.testing.assert_allclose(distinit.soft_labels(frame_logits, 2.0), expected, rtol=1e-6)


def _task(**kwargs):
  model = dict(num_classes=3, depth=10, width=8)
  return distinit.Task(teacher_checkpoint='unused', teacher_model=model, **kwargs)


def _ctx(train_mode, step=0):
  rngs = {'teacher': jax.random.fold_in(jax.random.key(0), step)} if train_mode else {}
  pp = ml_collections.ConfigDict(dict(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))
  return base.Context(step, rngs, train_mode, {}, {}, pp)


def test_the_teacher_sees_the_chosen_frames_resized_and_renormalised():
  # Frame t of clip b is filled with 10 b + t, so the chosen frames can be read back.
  video = jnp.arange(2)[:, None] * 10.0 + jnp.arange(8)[None, :]
  video = jnp.broadcast_to(video[:, :, None, None, None], (2, 8, 4, 4, 3))
  chosen = _task(teacher_frames=3)._teacher_frames(video, _ctx(True))
  assert chosen.shape == (2, 3, 4, 4, 3)
  for b in range(2):
    frames = np.asarray(chosen[b, :, 0, 0, 0]) - 10 * b
    assert len(set(frames)) == 3 and np.all(np.diff(frames) > 0) and frames.max() < 8
  evenly = _task(teacher_frames=3)._teacher_frames(video, _ctx(False))
  np.testing.assert_array_equal(evenly[1, :, 0, 0, 0], [10, 14, 17])
  everything = _task()._teacher_frames(video, _ctx(True))
  np.testing.assert_array_equal(everything, video)
  task = _task(teacher_size=8, teacher_mean=(0.0, 0.0, 0.0), teacher_std=(1.0, 1.0, 1.0))
  resized = task._teacher_frames(jnp.zeros((1, 2, 4, 4, 3)), _ctx(True))
  # Normalised 0 is the pixel value 0.5 of the input, which is 0.5 for the teacher.
  np.testing.assert_allclose(resized, np.full((1, 2, 8, 8, 3), 0.5))
  with pytest.raises(ValueError, match='teacher_frames=9'):
    _task(teacher_frames=9)._teacher_frames(video, _ctx(True))


def test_a_missing_teacher_is_a_clear_error():
  with pytest.raises(ValueError, match='teacher_checkpoint is empty'):
    distinit.Task(teacher_checkpoint='', teacher_model=dict(num_classes=3))


@pytest.fixture(scope='module')
def teacher(distinit_teacher):
  """The teacher.py:smoke run's last checkpoint and its variables."""
  return distinit_teacher, _flat_state(distinit_teacher)


@pytest.mark.slow
def test_the_teacher_is_neither_trained_nor_checkpointed(
  synthetic_images_data_dir, teacher, tmp_path
):
  step_dir, teacher_variables = teacher
  config = configs.load_config_file(
    os.path.join(REPO, f'experiments/distinit/synthetic.py:smoke,teacher={step_dir}')
  )
  config.input.data_dir = synthetic_images_data_dir
  config.evals = {}
  task = distinit.Task(**config.task_kwargs)
  constants = traverse_util.flatten_dict(jax.device_get(task.constants()['teacher']), sep='/')
  for collection, flat in teacher_variables.items():
    for name, value in flat.items():
      np.testing.assert_array_equal(constants[f'{collection}/{name}'], value)

  results = train.train_and_evaluate(config, str(tmp_path))
  assert np.isfinite(results['train/loss']) and 'train/agreement' in results
  student = _flat_state(os.path.join(tmp_path, 'checkpoints', str(config.total_steps)))
  # The checkpoint holds the student's variables only: an R3D, whose stem is 3D ...
  assert student['params']['stem/conv/kernel'].ndim == 5
  assert not any(name.startswith('resnet/') for name in student['params'])
  saved = ocp.PyTreeCheckpointer().metadata(
    os.path.join(tmp_path, 'checkpoints', str(config.total_steps), 'state')
  )
  assert set(dict(getattr(saved.item_metadata, 'tree', saved.item_metadata))) <= {
    'step',
    'params',
    'batch_stats',
    'opt_state',
    'task_state',
  }
  # ... and the teacher's own checkpoint is as it was.
  after = _flat_state(step_dir)
  for collection, flat in teacher_variables.items():
    for name, value in flat.items():
      np.testing.assert_array_equal(after[collection][name], value)


@pytest.mark.slow
def test_the_inflation_baseline_starts_from_the_inflated_teacher(
  synthetic_images_data_dir, teacher, tmp_path
):
  step_dir, teacher_variables = teacher
  config = configs.load_config_file(
    os.path.join(
      REPO,
      f'experiments/transfer/synthetic_finetune.py:smoke,backbone=r3d,inflate,init_from={step_dir}',
    )
  )
  config.input.data_dir = synthetic_images_data_dir
  config.total_steps = 1
  config.evals = {}
  config.optim.schedule = dict(name='constant', base_lr=0.0, warmup_steps=0)
  config.optim.weight_decay = 0.0
  train.train_and_evaluate(config, str(tmp_path))
  student = _flat_state(os.path.join(tmp_path, 'checkpoints', '1'))
  for name in ('stem/conv/kernel', 'layer2_0/conv1/kernel', 'layer4_0/downsample_conv/kernel'):
    kernel_3d = student['params'][name]
    source = next(
      re.sub(pattern, replacement, name)
      for pattern, replacement in inflate.RESNET2D_TO_VIDEO_RESNET
      if re.fullmatch(pattern, name)
    )
    kernel_2d = teacher_variables['params'][source]
    np.testing.assert_allclose(
      kernel_3d, inflate.inflate_leaf(kernel_2d, kernel_3d.shape), rtol=1e-6
    )
  np.testing.assert_array_equal(
    student['params']['stem/bn/scale'], teacher_variables['params']['resnet/bn1/scale']
  )


def test_real_data_transfer_configs_inflate_the_imagenet_resnet():
  config = configs.load_config_file(
    os.path.join(REPO, 'experiments/transfer/finetune.py:network=r3d-18,inflate,init_from=/r18')
  )
  assert config.model_name == 'video_resnet' and config.model.block == 'r3d'
  assert config.model.stem_pool and config.input.pp.crop_size == 112
  assert config.init_from.inflate == 'mean'
  assert tuple(map(tuple, config.init_from.rename)) == inflate.RESNET2D_TO_VIDEO_RESNET
  with pytest.raises(ValueError, match='network=r3d-18'):
    configs.load_config_file(os.path.join(REPO, 'experiments/transfer/finetune.py:inflate'))
  student = configs.load_config_file(
    os.path.join(REPO, 'experiments/distinit/kinetics400.py:teacher=/r50')
  )
  # The student is the network that finetune.py's 'r3d-18' fine-tunes and inflates.
  finetune = configs.load_config_file(
    os.path.join(REPO, 'experiments/transfer/finetune.py:network=r3d-18')
  )
  assert {k: v for k, v in student.model.items() if k != 'num_classes'} == {
    k: v for k, v in finetune.model.items() if k not in ('num_classes', 'dropout_rate')
  }
