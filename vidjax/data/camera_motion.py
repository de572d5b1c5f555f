"""Camera motion: how far the whole picture moves between frames.

The Arrow of Time removes camera motion before training, since cameras mostly zoom in and
pan forward, which tells the direction without the scene's physics. The camera's motion
between two frames is estimated as improved dense trajectories do (Wang & Schmid, ICCV
2013) and OpenCV's video stabiliser: a homography fitted with RANSAC to point
correspondences, so that the objects moving in front of the background are outliers and
the background's motion (pan, tilt, zoom, rotation) is the model. The correspondences are
corners tracked by pyramidal Lucas-Kanade, forward and back, on the frames downscaled to
`ESTIMATE_WIDTH` pixels: about 4 ms per pair of frames on one core, whatever the video's
resolution. (Dense flow, such as `flow.py`'s DIS, spreads an object's motion over the
textureless pixels around it, and the fit then takes the object for the camera.)

The measure of a pair is the mean displacement of the frame's four corners under the
homography, as a fraction of the frame's width: 0 for a still camera, 0.01 for a pan
that crosses the frame in 100 frames; a zoom moves the corners too. A region without
texture has no flow, and a camera moving over it is not seen, nor is it a cue.
"""

from __future__ import annotations

import cv2
import numpy as np

ESTIMATE_WIDTH = 160
# Shi-Tomasi corners tracked from frame to frame: at most MAX_CORNERS, CORNER_SPACING
# downscaled pixels apart, of at least CORNER_QUALITY times the strongest corner's response.
# The quality is low because one high-contrast object (a white sign) would otherwise
# leave the background's corners out, and with them the camera.
MAX_CORNERS = 150
CORNER_SPACING = 4
CORNER_QUALITY = 0.001
TRACK_WINDOW = (15, 15)  # Lucas-Kanade window, downscaled pixels, over a 4-level pyramid
BACK_TRACK_ERROR = 0.5  # downscaled pixels; a track that does not return is dropped
RANSAC_THRESHOLD = 1.0  # reprojection error, in downscaled pixels, of an inlier
# The fewest tracked corners a homography is fitted to; fewer (little texture) means no estimate.
MIN_POINTS = 16


def _grayscale_downscaled(frames: np.ndarray) -> list[np.ndarray]:
  height, width = frames.shape[1:3]
  scale = min(1.0, ESTIMATE_WIDTH / width)
  size = (max(1, round(width * scale)), max(1, round(height * scale)))
  gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
  return [cv2.resize(g, size, interpolation=cv2.INTER_AREA) if scale < 1 else g for g in gray]


def _correspondences(previous: np.ndarray, current: np.ndarray):
  """Corners of `previous` tracked into `current`: points [K, 2] in both, float32.

  Tracks are checked back from `current` to `previous` and kept when they return within
  BACK_TRACK_ERROR pixels, which drops the points that the motion hid or blurred.
  """
  corners = cv2.goodFeaturesToTrack(
    previous, maxCorners=MAX_CORNERS, qualityLevel=CORNER_QUALITY, minDistance=CORNER_SPACING
  )
  if corners is None:
    return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
  track = dict(winSize=TRACK_WINDOW, maxLevel=3)
  tracked, found, _ = cv2.calcOpticalFlowPyrLK(previous, current, corners, None, **track)
  back, found_back, _ = cv2.calcOpticalFlowPyrLK(current, previous, tracked, None, **track)
  error = np.linalg.norm((back - corners).reshape(-1, 2), axis=1)
  kept = found.ravel().astype(bool) & found_back.ravel().astype(bool) & (error < BACK_TRACK_ERROR)
  return corners.reshape(-1, 2)[kept], tracked.reshape(-1, 2)[kept]


def homographies(frames: np.ndarray) -> np.ndarray:
  """The camera's motion between consecutive frames, in downscaled pixel coordinates.

  Args:
    frames: uint8 RGB [N + 1, H, W, 3].

  Returns:
    float64 [N, 3, 3]: homography n maps points of frame n to frame n + 1 (of the frames
    downscaled to at most ESTIMATE_WIDTH wide); the identity where too few points could be
    tracked for an estimate (a frame without texture).
  """
  # The input pipeline parallelises over videos (see flow.py).
  cv2.setNumThreads(1)
  gray = _grayscale_downscaled(frames)
  result = np.tile(np.eye(3), (len(frames) - 1, 1, 1))
  for n in range(len(frames) - 1):
    points, moved = _correspondences(gray[n], gray[n + 1])
    if len(points) < MIN_POINTS:
      continue
    homography, _ = cv2.findHomography(points, moved, cv2.RANSAC, RANSAC_THRESHOLD)
    if homography is not None:
      result[n] = homography
  return result


def corner_displacement(frames: np.ndarray) -> np.ndarray:
  """Per consecutive pair, the camera's motion: the mean displacement of the frame's four
  corners under its homography, as a fraction of the frame's width.

  Args:
    frames: uint8 RGB [N + 1, H, W, 3].

  Returns:
    float64 [N], 0 for a still camera.
  """
  width = min(frames.shape[2], ESTIMATE_WIDTH)
  height = frames.shape[1] * width / frames.shape[2]
  corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], float)
  mapped = np.einsum('nij,kj->nki', homographies(frames), corners)
  mapped = mapped[..., :2] / mapped[..., 2:]
  return np.linalg.norm(mapped - corners[None, :, :2], axis=-1).mean(axis=1) / width
