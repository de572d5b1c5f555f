"""RoIAlign against a loop-by-loop NumPy restatement of torchvision's CPU kernel
(`roi_align_kernel.cpp`: the adaptive grid, the one-pixel border rule, both alignments),
on boxes inside, across and beyond the feature map's border."""

import math

import jax
import numpy as np
import pytest

from vidjax.models.roi_align import roi_align


def _bilinear(feature, y, x):
  height, width = feature.shape[:2]
  if y < -1.0 or y > height or x < -1.0 or x > width:
    return np.zeros(feature.shape[-1])
  y, x = max(y, 0.0), max(x, 0.0)
  y_low, x_low = int(y), int(x)
  if y_low >= height - 1:
    y_high = y_low = height - 1
    y = float(y_low)
  else:
    y_high = y_low + 1
  if x_low >= width - 1:
    x_high = x_low = width - 1
    x = float(x_low)
  else:
    x_high = x_low + 1
  ly, lx = y - y_low, x - x_low
  hy, hx = 1 - ly, 1 - lx
  return (
    hy * hx * feature[y_low, x_low]
    + hy * lx * feature[y_low, x_high]
    + ly * hx * feature[y_high, x_low]
    + ly * lx * feature[y_high, x_high]
  )


def _reference(features, boxes, batch_index, out, scale, sampling_ratio, aligned):
  result = np.zeros((len(boxes), *out, features.shape[-1]))
  offset = 0.5 if aligned else 0.0
  for k, (box, b) in enumerate(zip(boxes, batch_index, strict=True)):
    x1, y1, x2, y2 = box * scale - offset
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:
      roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
    bin_h, bin_w = roi_h / out[0], roi_w / out[1]
    grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / out[0])
    grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / out[1])
    count = max(grid_h * grid_w, 1)
    for ph in range(out[0]):
      for pw in range(out[1]):
        total = 0.0
        for iy in range(grid_h):
          y = y1 + ph * bin_h + (iy + 0.5) * bin_h / grid_h
          for ix in range(grid_w):
            x = x1 + pw * bin_w + (ix + 0.5) * bin_w / grid_w
            total = total + _bilinear(features[b], y, x)
        result[k, ph, pw] = total / count
  return result


@pytest.mark.parametrize('aligned', [False, True])
@pytest.mark.parametrize('sampling_ratio', [-1, 2])
def test_matches_torchvisions_kernel(aligned, sampling_ratio):
  rng = np.random.default_rng(0)
  features = rng.normal(size=(2, 9, 11, 3)).astype(np.float32)
  # (x1, y1, x2, y2) in a 36 x 44 image (spatial scale 1/4): inside, touching the border,
  # beyond it (ACAR's jitter lets x2 pass 1), tiny, and the whole image.
  boxes = np.array(
    [
      [4.0, 6.0, 30.0, 20.0],
      [0.0, 0.0, 44.0, 36.0],
      [30.0, 20.0, 52.0, 40.0],
      [10.0, 10.0, 10.5, 10.2],
      [-6.0, -3.0, 8.0, 9.0],
    ],
    np.float32,
  )
  batch_index = np.array([0, 1, 1, 0, 1])
  got = jax.jit(
    lambda f, b, i: roi_align(
      f, b, i, (3, 4), spatial_scale=0.25, sampling_ratio=sampling_ratio, aligned=aligned
    )
  )(features, boxes, batch_index)
  expected = _reference(features, boxes, batch_index, (3, 4), 0.25, sampling_ratio, aligned)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_gradients_flow_to_the_features_of_the_boxes_alone():
  features = np.ones((2, 8, 8, 1), np.float32)
  grad = jax.grad(lambda f: roi_align(f, np.array([[0.0, 0.0, 4.0, 4.0]]), np.array([1])).sum())(
    features
  )
  assert grad[0].sum() == 0 and grad[1].sum() == pytest.approx(49.0, rel=1e-5)
