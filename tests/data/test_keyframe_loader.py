"""The keyframe loader: the window around a keyframe at a video's start and end, ACAR's box
jitter and its clamps, boxes through crops and flips, and the evaluation views."""

import types

import numpy as np
import pytest

from vidjax import configs
from vidjax.data import encode
from vidjax.data.loaders import keyframe

NAMES = ('stand', 'move_left', 'move_right', 'meet')


def test_the_window_is_centred_on_the_keyframe_and_clamped_to_the_video():
  # ACAR's TemporalCenterCrop(64, step 2): 32 frames from 32 before the keyframe.
  np.testing.assert_array_equal(keyframe.window(100, 300, 32, 2), np.arange(68, 132, 2))
  np.testing.assert_array_equal(keyframe.window(1, 20, 4, 1), [0, 0, 1, 2])
  np.testing.assert_array_equal(keyframe.window(18, 20, 4, 2), [14, 16, 18, 19])


def test_the_box_jitter_keeps_the_official_clamps():
  boxes = np.array([[0.0, 0.5, 0.2, 1.0], [0.4, 0.0, 1.0, 0.3]], np.float32)
  for seed in range(20):
    moved = keyframe.jitter_boxes(np.random.default_rng(seed), boxes, 0.075)
    size = np.tile(np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], -1), 2)
    assert np.all(np.abs(moved - boxes) <= 0.075 * size + 1e-6)
    assert np.all(moved[:, [0, 2]] >= 0) and np.all(moved[:, [1, 3]] <= 1)
  # Unlike x1, y1 may go below 0 and x2 above 1, as in the official code.
  moved = [keyframe.jitter_boxes(np.random.default_rng(s), boxes, 0.075) for s in range(50)]
  assert min(m[1, 1] for m in moved) < 0 and max(m[1, 2] for m in moved) > 1


def _record(num_frames=12, key=6):
  frames = np.zeros((num_frames, 32, 48, 3), np.uint8)
  for t in range(num_frames):
    frames[t, :, :, 0] = 20 * t  # the frame index, readable in the red channel
  frames[:, :, :, 2] = 5 * np.arange(48)  # brighter to the right: shows a flip
  frames[:, 8:16, 20:28, 1] = 255  # an actor, inside every 32 x 32 crop
  return {
    'video': encode.encode_video(frames, 8.0),
    'video_id': b'v',
    'num_frames': num_frames,
    'fps': 8.0,
    'keyframe': key,
    'timestamp': 1,
    'boxes': np.array([[20 / 48, 8 / 32, 28 / 48, 16 / 32]], np.float32),  # x1, y1, x2, y2
    'label': np.array([[False, True, False, True]]),
    'detection_boxes': np.array([[0.1, 0.2, 0.3, 0.5], [0.6, 0.6, 0.9, 0.9]], np.float32),
    'detection_scores': np.array([0.9, 0.2], np.float32),
  }


def _loader(record, **keyframe_config):
  config = configs.base_config().input
  config.sampling.update(num_frames=4, stride=1)
  config.pp.update(crop_size=32, flip=True, flip_label_swaps=(('move_left', 'move_right'),))
  config.keyframe.update(max_actors=3, box_jitter=0.0, **keyframe_config)
  dataset = types.SimpleNamespace(source=[record], label_names=NAMES)
  return keyframe.Loader(dataset, config)


def test_training_examples_move_boxes_and_labels_with_the_crop_and_flip():
  loader = _loader(_record())
  seen = set()
  for seed in range(8):
    example = loader.train_example(0, np.random.default_rng(seed))
    assert example['video'].shape == (4, 32, 32, 3)
    assert example['boxes'].shape == (3, 4) and example['box_mask'].tolist() == [1, 0, 0]
    # The box frames the green square, wherever the crop put it.
    x1, y1, x2, y2 = np.round(example['boxes'][0] * 32).astype(int)
    green = example['video'][0, :, :, 1] > 128
    assert green[y1:y2, x1:x2].mean() > 0.9 and green.sum() == pytest.approx(64, abs=8)
    blue = example['video'][0, 0, :, 2].astype(int)
    flipped = blue[0] > blue[-1]
    seen.add(flipped)
    # move_left becomes move_right under a flip; meet stays.
    expected = [0, 0, 1, 1] if flipped else [0, 1, 0, 1]
    np.testing.assert_array_equal(example['label'][0], expected)
    assert not example['label'][1:].any()
  assert seen == {False, True}


def test_evaluation_views_are_the_whole_frame_and_its_mirror():
  record = _record(num_frames=12, key=1)
  views = _loader(record).eval_example(0, num_clips=1, num_crops=2)
  assert views['video'].shape == (2, 4, 32, 32, 3) and views['mask']
  # The window starts before the first frame: the first frame repeats.
  np.testing.assert_allclose(views['video'][0, :, 0, 20, 0], [0, 0, 20, 40], atol=6)
  np.testing.assert_allclose(views['boxes'][0, 0], record['boxes'][0], atol=1e-6)
  np.testing.assert_allclose(
    views['boxes'][1, 0, [0, 2]], 1 - record['boxes'][0, [2, 0]], atol=1e-6
  )
  np.testing.assert_allclose(views['gt_boxes'][0], record['boxes'][0])
  assert views['gt_labels'][0].tolist() == [False, True, False, True]
  detected = _loader(record, boxes='detections', detection_threshold=0.5).eval_example(0, 1, 1)
  assert detected['box_mask'][0].tolist() == [True, False, False]
  np.testing.assert_allclose(detected['boxes'][0, 0], record['detection_boxes'][0], atol=1e-6)


def test_more_boxes_than_actor_slots_is_an_error_naming_the_key():
  record = _record()
  record['boxes'] = np.tile(record['boxes'], (4, 1))
  record['label'] = np.tile(record['label'], (4, 1))
  with pytest.raises(ValueError, match='max_actors=3'):
    _loader(record).eval_example(0, 1, 1)
