"""The person-crop loader: the affine crop puts a joint's pixel where its keypoint goes,
training and evaluation examples have the documented fields, and flips exchange the
left and right joints."""

import io
import types

import cv2
import numpy as np
import pytest
from PIL import Image

from vidjax import configs
from vidjax.data.loaders import person_crops


def test_the_crop_moves_pixels_and_keypoints_alike():
  frame = np.zeros((96, 128, 3), np.uint8)
  frame[40, 60] = 255  # a joint at (x, y) = (60, 40)
  for rotation in (0.0, 30.0):
    matrix = person_crops.crop_transform(
      np.array([64.0, 48.0]), np.array([60.0, 80.0]), rotation, (64, 48)
    )
    warped = cv2.warpAffine(frame, matrix, (48, 64), flags=cv2.INTER_LINEAR)
    y, x = np.unravel_index(np.argmax(warped[..., 0]), warped.shape[:2])
    np.testing.assert_allclose(
      person_crops.warp_points(matrix, np.array([[60.0, 40.0]]))[0], (x, y), atol=1.0
    )
  # The box's centre is the crop's; its height fills the crop's height.
  matrix = person_crops.crop_transform(
    np.array([64.0, 48.0]), np.array([60.0, 80.0]), 0.0, (64, 48)
  )
  np.testing.assert_allclose(
    person_crops.warp_points(matrix, np.array([[64.0, 48.0], [64.0, 88.0]])), [[24, 32], [24, 64]]
  )


def _jpeg(frame):
  buffer = io.BytesIO()
  Image.fromarray(frame).save(buffer, 'jpeg', quality=95)
  return buffer.getvalue()


def _record(num_frames=6):
  rng = np.random.default_rng(0)
  frames = [(rng.uniform(size=(96, 128, 3)) * 255).astype(np.uint8)] * num_frames  # a still
  keypoints = np.zeros((2, num_frames, 3, 2), np.float32)  # (y, x); joints 1 and 2 a pair
  keypoints[0, :] = [[30, 72], [50, 50], [50, 78]]  # the head right of centre
  keypoints[1, :] = [[60, 20], [70, 10], [70, 30]]
  visible = np.ones((2, num_frames, 3), bool)
  visible[1] = False  # person 1 is never labelled
  labelled = np.zeros(num_frames, bool)
  labelled[[1, 4]] = True
  return {
    'video_id': b'v',
    'frames': np.array([_jpeg(f) for f in frames], dtype=object),
    'num_frames': num_frames,
    'keypoints': keypoints,
    'keypoint_visible': visible,
    'labelled_frames': labelled,
  }


def _loader(flip: bool):
  config = configs.base_config().input
  config.sampling = dict(mode='posewarper', num_frames=2, max_delta=2)
  config.person_crop.update(size=(64, 48), num_keypoints=3, flip_pairs=((1, 2),))
  config.person_crop.update(scale_factor=0.0, rotation_prob=0.0, half_body_prob=0.0)
  config.pp.flip = flip
  return person_crops.Loader(types.SimpleNamespace(source=[_record()]), config)


def test_training_and_evaluation_examples():
  assert person_crops.people(_record()) == [(1, 0), (4, 0)]
  example = _loader(flip=False).train_example(0, np.random.default_rng(0))
  assert example['video'].shape == (2, 64, 48, 3) and example['video'].dtype == np.uint8
  assert example['keypoints'].shape == (1, 3, 2) and example['keypoint_visible'].all()
  # The head above the two joints of the pair, left of centre the first.
  (head, first, second) = example['keypoints'][0]
  assert head[0] < first[0] and first[1] < second[1]
  views = _loader(flip=False).eval_example(0, num_clips=3, num_crops=1)
  assert views['video'].shape == (3, 2, 64, 48, 3) and views['mask'] and not views['decode_failed']
  with pytest.raises(ValueError, match='num_crops=1'):
    _loader(flip=False).eval_example(0, num_clips=1, num_crops=2)


def test_a_flip_mirrors_the_crop_and_exchanges_the_pair():
  plain = _loader(flip=False).eval_example(0, num_clips=1, num_crops=1)
  loader = _loader(flip=True)
  flipped = None
  for seed in range(10):  # a training draw that flips (p = 0.5)
    example = loader.train_example(0, np.random.default_rng(seed))
    if example['keypoints'][0, 0, 1] < 24:  # the head left of the crop's centre
      flipped = example
      break
  assert flipped is not None
  mirrored = 47 - plain['keypoints'][0, 0, :, 1]
  # The head mirrored; after the exchange, joint 1 is the mirror image of joint 2.
  np.testing.assert_allclose(flipped['keypoints'][0, :, 1], mirrored[[0, 2, 1]], atol=1e-3)
  np.testing.assert_array_equal(flipped['video'][0], plain['video'][0, 0][:, ::-1])


def test_a_sampling_without_max_delta_is_named():
  config = configs.base_config().input
  config.sampling = dict(mode='posewarper', num_frames=2)
  with pytest.raises(ValueError, match="sampling needs 'max_delta'"):
    person_crops.Loader(types.SimpleNamespace(source=[]), config)
