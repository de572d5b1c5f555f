"""`Crop`: one host crop (and flip), applied alike to frames, masks, boxes and keypoints.

The training crop of a clip is drawn once (`loaders.clip.train_crop`) and every spatial
thing of the example goes through the same `Crop`, so instance masks, actor boxes and
pose keypoints stay aligned with the pixels. Coordinates are pixels of the source frame:
boxes (y1, x1, y2, x2), keypoints (y, x), with pixel centres at half-integers, so a box
that covers pixels 0..w-1 is (0, 0, h, w).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image


@dataclasses.dataclass(frozen=True)
class Crop:
  """The source box (top, left, height, width), in pixels and possibly fractional,
  resampled to size x size, then flipped left-right when `flip`."""

  top: float
  left: float
  height: float
  width: float
  size: int
  flip: bool = False

  @property
  def _is_slice(self) -> bool:
    """Whether the crop is a plain slice (integer corner, no rescaling)."""
    return (
      self.height == self.width == self.size
      and float(self.top).is_integer()
      and float(self.left).is_integer()
    )

  def frames(self, frames: np.ndarray) -> np.ndarray:
    """uint8 [..., H, W, C] -> [..., size, size, C] (bilinear where it rescales)."""
    if self._is_slice:
      top, left = int(self.top), int(self.left)
      out = frames[..., top : top + self.size, left : left + self.size, :]
    else:
      flat = frames.reshape(-1, *frames.shape[-3:])
      region = (self.left, self.top, self.left + self.width, self.top + self.height)
      size = (self.size, self.size)
      out = np.stack(
        [np.asarray(Image.fromarray(f).resize(size, Image.BILINEAR, box=region)) for f in flat]
      ).reshape(*frames.shape[:-3], self.size, self.size, frames.shape[-1])
    return np.ascontiguousarray(out[..., ::-1, :] if self.flip else out)

  def masks(self, masks: np.ndarray) -> np.ndarray:
    """Label maps [..., H, W] (instance ids) -> [..., size, size], nearest neighbour: each
    output pixel takes the label under its centre."""
    centres = (np.arange(self.size) + 0.5) / self.size
    rows = np.floor(self.top + centres * self.height).astype(np.int64)
    cols = np.floor(self.left + centres * self.width).astype(np.int64)
    rows = np.clip(rows, 0, masks.shape[-2] - 1)
    cols = np.clip(cols, 0, masks.shape[-1] - 1)
    out = masks[..., rows[:, None], cols[None, :]]
    return np.ascontiguousarray(out[..., ::-1] if self.flip else out)

  def keypoints(self, points: np.ndarray) -> np.ndarray:
    """(y, x) float [..., 2] -> the same points in output pixels (outside the crop they
    fall outside [0, size]; callers mark them invisible)."""
    y = (points[..., 0] - self.top) * (self.size / self.height)
    x = (points[..., 1] - self.left) * (self.size / self.width)
    if self.flip:
      x = self.size - x
    return np.stack([y, x], axis=-1)

  def boxes(self, boxes: np.ndarray) -> np.ndarray:
    """(y1, x1, y2, x2) float [..., 4] -> output pixels, clipped to the crop; a flip swaps
    the x edges so that x1 <= x2 still holds."""
    corners = self.keypoints(boxes.reshape(*boxes.shape[:-1], 2, 2))
    corners = np.clip(corners, 0.0, float(self.size))
    y1, x1, y2, x2 = corners[..., 0, 0], corners[..., 0, 1], corners[..., 1, 0], corners[..., 1, 1]
    if self.flip:
      x1, x2 = x2, x1
    return np.stack([y1, x1, y2, x2], axis=-1)


# The pixel level (0..255) at or below which an edge row or column counts as black border:
# above the noise that compression leaves in black bars, below the content of a dark scene.
BLACK_LEVEL = 24


def crop_black_borders(frames: np.ndarray, black_level: int = BLACK_LEVEL) -> np.ndarray:
  """Cuts black borders (letterboxing, pillarboxing) off uint8 frames [..., H, W, 3].

  A border is the rows (columns) at the frame's edges in which no pixel of any of the
  frames is brighter than `black_level`; every frame loses the same ones. Frames that are
  dark throughout, or whose content would be under half of a side, come back whole: a dark
  scene is not a border.
  """
  bright = (frames > black_level).any(axis=-1).reshape(-1, *frames.shape[-3:-1]).any(axis=0)
  rows, cols = np.flatnonzero(bright.any(axis=1)), np.flatnonzero(bright.any(axis=0))
  if rows.size == 0:
    return frames
  top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
  height, width = bright.shape
  if 2 * (bottom - top) < height or 2 * (right - left) < width:
    return frames
  return frames[..., top:bottom, left:right, :]
