"""Keypoints of the embedded scenes' objects (the `keypoints` config: PoseWarper).

Every object carries the same `KEYPOINTS` fixed to its body, in its own coordinates (the
frame in which its shape is drawn, `synthetic_scenes._draw`): its centre and four points
0.8 of its size above, right of, below and left of it, so they move, turn and scale with
the object as a person's joints move with the person. A keypoint is visible where the
object is (`object_visible`), the point lies in the frame and no object in front covers
it. A video's keypoints are all stored; `labelled_frames` marks the sparse frames a
method may train on (one in `keypoint_label_every`, placed so that every other frame is
at most `keypoint_label_every // 2` frames from a labelled one), as PoseTrack annotates
every fourth frame of its validation videos.
"""

from __future__ import annotations

import numpy as np

KEYPOINT_NAMES = ('centre', 'top', 'right', 'bottom', 'left')
# (u, v) in object coordinates: u to the object's right, v down, 1 = its size.
KEYPOINTS = np.array([(0.0, 0.0), (0.0, -0.8), (0.8, 0.0), (0.0, 0.8), (-0.8, 0.0)], np.float32)


def object_keypoints(tracks: dict[str, np.ndarray], num_keypoints: int) -> np.ndarray:
  """(y, x) pixels [N, T, K] x 2 of the first `num_keypoints` KEYPOINTS of every object at
  every frame, from the objects' tracks ({'x', 'y', 'angle', 'scale'}: [N, T] each)."""
  u, v = KEYPOINTS[:num_keypoints, 0], KEYPOINTS[:num_keypoints, 1]
  cos, sin = np.cos(tracks['angle'])[..., None], np.sin(tracks['angle'])[..., None]
  scale = tracks['scale'][..., None]
  # The inverse of _draw's map from pixels to object coordinates.
  x = tracks['x'][..., None] + scale * (cos * u - sin * v)
  y = tracks['y'][..., None] + scale * (sin * u + cos * v)
  return np.stack([y, x], axis=-1).astype(np.float32)


def keypoint_visibility(
  keypoints: np.ndarray, object_visible: np.ndarray, masks: np.ndarray
) -> np.ndarray:
  """bool [N, T, K]: the object is visible, the point is in the frame and the mask under
  it is background or this object (not an object drawn in front)."""
  num_frames, height, width = masks.shape
  rows = np.floor(keypoints[..., 0]).astype(np.int64)
  cols = np.floor(keypoints[..., 1]).astype(np.int64)
  inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
  frame = np.arange(num_frames)[None, :, None]
  under = masks[frame, np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)]
  own = np.arange(1, len(keypoints) + 1)[:, None, None]
  return object_visible[..., None] & inside & ((under == 0) | (under == own))


def labelled_frames(num_frames: int, every: int) -> np.ndarray:
  """bool [T]: one frame in `every`, each unlabelled frame at most every // 2 from one."""
  return np.arange(num_frames) % every == (every - 1) // 2


def annotations(config, tracks: dict[str, np.ndarray], object_visible: np.ndarray, masks):
  """A video's 'keypoints', 'keypoint_visible' and 'labelled_frames' (see the module
  docstring), from its config, object tracks, visibility [N, T] and masks [T, H, W]."""
  keypoints = object_keypoints(tracks, config.keypoints_per_object)
  return {
    'keypoints': keypoints,
    'keypoint_visible': keypoint_visibility(keypoints, object_visible, masks),
    'labelled_frames': labelled_frames(config.num_frames, config.keypoint_label_every),
  }
