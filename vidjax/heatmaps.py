"""Keypoints as heatmaps and back, as the top-down pose estimators (SimpleBaselines, HRNet,
PoseWarper) encode and decode them, on any backend.

Coordinates are (y, x) pixels of the frame with pixel centres at half-integers (as
`data/crop.py`): heatmap cell (i, j) at `stride` covers frame pixels [stride i,
stride (i + 1)) and is centred at stride (i + 1/2). A keypoint's target is a Gaussian of
peak 1 and std `sigma` cells centred at its position in cell units; decoding takes each
channel's highest cell and moves a quarter of a cell towards the higher neighbour on each
axis (the official `get_final_preds` refinement).
"""

from __future__ import annotations

import jax.numpy as jnp


def gaussians(
  points: jnp.ndarray, size: tuple[int, int], stride: float, sigma: float
) -> jnp.ndarray:
  """points [..., K, 2] (y, x pixels) -> heatmaps float32 [..., h, w, K]."""
  height, width = size
  centre = points / stride - 0.5  # in cell indices
  rows = jnp.arange(height, dtype=jnp.float32)[:, None, None]
  cols = jnp.arange(width, dtype=jnp.float32)[None, :, None]
  dy = rows - centre[..., None, None, :, 0]
  dx = cols - centre[..., None, None, :, 1]
  return jnp.exp(-(dy**2 + dx**2) / (2.0 * sigma**2)).astype(jnp.float32)


def decode(heatmaps: jnp.ndarray, stride: float) -> jnp.ndarray:
  """heatmaps [..., h, w, K] -> points float32 [..., K, 2] (y, x pixels)."""
  height, width = heatmaps.shape[-3:-1]
  channels = jnp.moveaxis(heatmaps, -1, -3)  # [..., K, h, w]
  flat = channels.reshape(*channels.shape[:-2], -1)
  best = jnp.argmax(flat, axis=-1)
  row, col = best // width, best % width

  def value(r, c):
    r, c = jnp.clip(r, 0, height - 1), jnp.clip(c, 0, width - 1)
    return jnp.take_along_axis(flat, (r * width + c)[..., None], axis=-1)[..., 0]

  # Towards the higher neighbour, where there is one on both sides (as the official code).
  interior_y = (row > 0) & (row < height - 1)
  interior_x = (col > 0) & (col < width - 1)
  shift_y = jnp.where(interior_y, 0.25 * jnp.sign(value(row + 1, col) - value(row - 1, col)), 0.0)
  shift_x = jnp.where(interior_x, 0.25 * jnp.sign(value(row, col + 1) - value(row, col - 1)), 0.0)
  cells = jnp.stack([row + shift_y, col + shift_x], axis=-1).astype(jnp.float32)
  return (cells + 0.5) * stride


def object_size(points: jnp.ndarray, visible: jnp.ndarray) -> jnp.ndarray:
  """The PCK normaliser of each instance: 0.6 times the diagonal of the box around its
  visible true keypoints (videowalk's JHMDB protocol). points [..., K, 2], visible
  [..., K] -> [...] (0 where fewer than two keypoints are visible)."""
  mask = jnp.asarray(visible)[..., None] > 0
  high = jnp.max(jnp.where(mask, points, -jnp.inf), axis=-2)
  low = jnp.min(jnp.where(mask, points, jnp.inf), axis=-2)
  extent = jnp.where(jnp.isfinite(high - low), high - low, 0.0)
  return jnp.where(mask[..., 0].sum(-1) >= 2, 0.6 * jnp.linalg.norm(extent, axis=-1), 0.0)
