"""RoIAlign (He et al., Mask R-CNN) as `torchvision.ops.roi_align` computes it, in JAX.

Each region's output bin averages `grid_h x grid_w` bilinear samples of the feature map,
at the centres of a regular grid in the bin; with `sampling_ratio <= 0` (ACAR-Net's and
SlowFast's setting, -1) the grid adapts to the region: ceil(region size / output size).
A sample more than one pixel outside the map is 0; one within a pixel of the border is
clamped to it (torchvision's `bilinear_interpolate`). Two conventions:

- `aligned=False` (torchvision's default, ACAR-Net's): a box (x1, y1, x2, y2) covers pixel
  coordinates x1..x2 as given, and a region smaller than one pixel is widened to one;
- `aligned=True` (Detectron2's): the box is shifted by half a pixel, so that pixel i's
  centre is at i + 0.5, and small regions keep their size.

Bilinear sampling is separable and the zero-outside rule is a product of a row and a
column test, so each bin is a weighted sum of rows times a weighted sum of columns: the
whole operation is two small weight matrices per region and one einsum, with static shapes
for any number of regions (padded actors included) and exact gradients. The adaptive grid
is capped at `max_grid` samples a side (default: enough for regions up to twice the map),
past which larger regions are averaged over fewer samples than torchvision's.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def _axis_weights(start, bin_size, grid, size: int, pooled: int, max_grid: int) -> jax.Array:
  """[K, pooled, size]: per region and output bin, the summed bilinear weights of the
  bin's samples along one axis on each pixel row (or column) of the map."""
  steps = jnp.arange(max_grid, dtype=jnp.float32)
  bins = jnp.arange(pooled, dtype=jnp.float32)
  # Sample coordinates [K, pooled, max_grid].
  coords = (
    start[:, None, None]
    + bins[None, :, None] * bin_size[:, None, None]
    + (steps[None, None, :] + 0.5) * (bin_size / grid)[:, None, None]
  )
  used = steps[None, None, :] < grid[:, None, None]
  inside = (coords >= -1.0) & (coords <= size)
  coords = jnp.maximum(coords, 0.0)
  low = jnp.floor(coords)
  at_end = low >= size - 1
  low = jnp.where(at_end, size - 1, low)
  fraction = jnp.where(at_end, 0.0, coords - low)
  high = jnp.where(at_end, low, low + 1)
  weight = jnp.where(used & inside, 1.0, 0.0)
  rows = jnp.arange(size, dtype=jnp.float32)
  onto = (rows == low[..., None]) * (1.0 - fraction)[..., None]
  onto = onto + (rows == high[..., None]) * fraction[..., None]
  return jnp.sum(onto * weight[..., None], axis=2)


def roi_align(
  features: jax.Array,
  boxes: jax.Array,
  batch_index: jax.Array,
  output_size: tuple[int, int] = (7, 7),
  *,
  spatial_scale: float = 1.0,
  sampling_ratio: int = -1,
  aligned: bool = False,
  max_grid: int | None = None,
) -> jax.Array:
  """Features of regions: [K, out_h, out_w, C].

  Args:
    features: [B, H, W, C] feature maps.
    boxes: [K, 4] (x1, y1, x2, y2) in the coordinates that `spatial_scale` maps onto the
      feature map's pixels (torchvision's `rois[:, 1:]`).
    batch_index: [K] the map each box reads (torchvision's `rois[:, 0]`).
    output_size: (out_h, out_w).
    spatial_scale, sampling_ratio, aligned: as torchvision's.
    max_grid: the most samples a bin takes a side with the adaptive grid.
  """
  _, height, width, _ = features.shape
  out_h, out_w = output_size
  boxes = jnp.asarray(boxes, jnp.float32) * spatial_scale
  offset = 0.5 if aligned else 0.0
  x1, y1, x2, y2 = (boxes[:, i] - offset for i in range(4))
  roi_w, roi_h = x2 - x1, y2 - y1
  if not aligned:
    roi_w, roi_h = jnp.maximum(roi_w, 1.0), jnp.maximum(roi_h, 1.0)
  bin_h, bin_w = roi_h / out_h, roi_w / out_w
  if sampling_ratio > 0:
    grid_h = grid_w = jnp.full(boxes.shape[:1], float(sampling_ratio))
    cap = sampling_ratio
  else:
    cap = max_grid or max(math.ceil(2 * height / out_h), math.ceil(2 * width / out_w), 1)
    grid_h = jnp.clip(jnp.ceil(bin_h), 1, cap)
    grid_w = jnp.clip(jnp.ceil(bin_w), 1, cap)
  rows = _axis_weights(y1, bin_h, grid_h, height, out_h, cap)  # [K, out_h, H]
  cols = _axis_weights(x1, bin_w, grid_w, width, out_w, cap)  # [K, out_w, W]
  count = jnp.maximum(grid_h * grid_w, 1.0)
  maps = features[batch_index].astype(jnp.float32)  # [K, H, W, C]
  pooled = jnp.einsum('kph,khwc,kqw->kpqc', rows, maps, cols)
  return (pooled / count[:, None, None, None]).astype(features.dtype)
