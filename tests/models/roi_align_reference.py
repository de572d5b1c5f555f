"""A loop-by-loop NumPy restatement of torchvision's RoIAlign CPU kernel
(`roi_align_kernel.cpp`), the reference of test_roi_align.py and test_acar.py."""

import math

import numpy as np


def bilinear(feature, y, x):
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


def roi_align(features, boxes, batch_index, out, scale, sampling_ratio, aligned):
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
            total = total + bilinear(features[b], y, x)
        result[k, ph, pw] = total / count
  return result
