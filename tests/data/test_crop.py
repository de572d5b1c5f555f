"""One Crop for frames, masks, boxes and keypoints: they stay aligned."""

import numpy as np
import pytest

from vidjax.data.crop import Crop, crop_black_borders


def _scene():
  """A 40x60 frame with a bright 10x20 rectangle at rows 12..21, cols 30..49, its mask,
  its box and its corner keypoints."""
  frame = np.zeros((40, 60, 3), np.uint8)
  frame[12:22, 30:50] = 255
  mask = np.zeros((40, 60), np.int32)
  mask[12:22, 30:50] = 7
  box = np.array([12.0, 30.0, 22.0, 50.0])
  corners = np.array([[12.0, 30.0], [22.0, 50.0]])
  return frame, mask, box, corners


@pytest.mark.parametrize('flip', [False, True])
def test_slice_crop_keeps_everything_aligned(flip):
  frame, mask, box, corners = _scene()
  crop = Crop(top=5, left=20, height=32, width=32, size=32, flip=flip)
  frames = crop.frames(frame[None])[0]
  masks = crop.masks(mask)
  y1, x1, y2, x2 = crop.boxes(box)
  assert frames.shape == (32, 32, 3) and masks.shape == (32, 32)
  # The pixels of the rectangle, its mask and its box are the same region after the crop.
  bright = frames[..., 0] == 255
  np.testing.assert_array_equal(bright, masks == 7)
  rows, cols = np.nonzero(bright)
  assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (y1, y2, x1, x2)
  points = crop.keypoints(corners)
  np.testing.assert_allclose(sorted(points[:, 1]), [x1, x2])
  np.testing.assert_allclose(points[:, 0], [y1, y2])
  assert (x1, x2) == ((32 - 30, 32 - 10) if flip else (10, 30))


@pytest.mark.parametrize('flip', [False, True])
def test_rescaling_crop_maps_boxes_keypoints_and_masks_by_the_same_scale(flip):
  frame, mask, box, corners = _scene()
  # The 20x30 box at (10, 25) resampled to 40x40: 2x vertically, 4/3x horizontally.
  crop = Crop(top=10, left=25, height=20, width=30, size=40, flip=flip)
  y1, x1, y2, x2 = crop.boxes(box)
  expect_x = ((30 - 25) * 4 / 3, (50 - 25) * 4 / 3)
  assert (y1, y2) == (4.0, 24.0)
  np.testing.assert_allclose(
    (x1, x2), (40 - expect_x[1], 40 - expect_x[0]) if flip else expect_x, rtol=1e-6
  )
  masks = crop.masks(mask)
  rows, cols = np.nonzero(masks == 7)
  assert (rows.min(), rows.max() + 1) == (4, 24)
  np.testing.assert_allclose((cols.min(), cols.max() + 1), (round(x1), round(x2)), atol=1)
  frames = crop.frames(frame[None])[0]
  inside = frames[int(y1) + 1 : int(y2) - 1, int(x1) + 1 : int(x2) - 1, 0]
  assert inside.min() == 255  # the rectangle's interior, bilinear-resampled, stays bright
  np.testing.assert_allclose(crop.keypoints(corners)[:, 0], [4.0, 24.0])


def test_boxes_outside_the_crop_are_clipped_to_it():
  crop = Crop(top=0, left=0, height=10, width=10, size=10)
  np.testing.assert_array_equal(crop.boxes(np.array([[-5.0, 2.0, 20.0, 8.0]])), [[0, 2, 10, 8]])


def test_black_borders_are_cut_and_dark_scenes_are_not():
  frames = np.full((2, 40, 60, 3), 10, np.uint8)  # borders with some noise
  frames[:, 5:35, 4:60] = 120
  frames[1, 20, 10] = 0  # a dark pixel inside the picture is no border
  assert crop_black_borders(frames).shape == (2, 30, 56, 3)
  dark = np.full((2, 40, 60, 3), 10, np.uint8)
  dark[:, 18:22, 28:32] = 200  # a small lit patch: a dark scene, not a border
  assert crop_black_borders(dark).shape == dark.shape
  assert crop_black_borders(np.zeros_like(dark)).shape == dark.shape
