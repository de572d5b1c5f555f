"""Optical flow for the temporal stream of two-stream networks, computed in the input pipeline.

The two-stream papers (Simonyan & Zisserman 2014 and their successors) used TV-L1 flow,
precomputed and stored as JPEGs: each component clipped to [-bound, bound] pixels and mapped
linearly to [0, 255]. vidjax computes flow on the fly with OpenCV's DIS (dense inverse
search), an order of magnitude faster than TV-L1 on a CPU, and keeps the same uint8
encoding, so that host-to-device transfers stay as small as the RGB frames'.

Frames. A clip of T frames sampled at stride s has T positions i; with `stack` = L, flow
field j of position i goes from frame i + j to frame i + j + 1 (j = 0..L-1), so the loader
decodes frames i..i+L for every position (L + 1 frames; with the two-stream paper's single
field per position, the pair i, i+1). Frames past the end of the video repeat the last
one (zero flow), whatever the clip policy: wrapping to the first frame would be a jump
that is not motion.

Layout. Flow is uint8 [T * L, H, W, 2] (x then y, in image coordinates: x to the right,
y down), position-major: fields 0..L-1 belong to the first sampled frame. A model that
stacks the L fields of a position as 2L channels reshapes to [T, L, H, W, 2]. On the
device `dequantize` maps the uint8 codes to float in units of `bound` ([-1, 1]).

Geometry. Flow is computed on the frames after every spatial transform of the RGB clip
(resize, crop, flip), so that it always shows the same pixels: a horizontal flip mirrors
the field and negates its x component, as it must.
"""

from __future__ import annotations

import cv2
import jax
import jax.numpy as jnp
import numpy as np

PRESETS = {
  'ultrafast': cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
  'fast': cv2.DISOPTICAL_FLOW_PRESET_FAST,
  'medium': cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def frame_indices(indices: np.ndarray, video_length: int, stack: int) -> np.ndarray:
  """The frames a clip with flow decodes: each sampled frame and the `stack` after it.

  Args:
    indices: sampled frame indices, int [..., T].
    video_length: number of frames of the video.
    stack: flow fields per sampled frame (L).

  Returns:
    int64 [..., T, stack + 1]; indices past the last frame repeat it.
  """
  if stack < 1:
    raise ValueError(f'config.input.flow.stack={stack}: the flow fields per frame, at least 1.')
  following = np.asarray(indices)[..., None] + np.arange(stack + 1)
  return np.minimum(following, video_length - 1)


def compute(frames: np.ndarray, preset: str) -> np.ndarray:
  """Dense optical flow between consecutive frames (DIS on grayscale).

  Args:
    frames: uint8 RGB [..., N + 1, H, W, 3], consecutive frames along axis -4.
    preset: a key of `PRESETS` (accuracy vs speed of DIS).

  Returns:
    float32 [..., N, H, W, 2]: displacement (x, y) in pixels from frame n to frame n + 1.
  """
  if preset not in PRESETS:
    raise ValueError(f'config.input.flow.preset={preset!r}; allowed values: {tuple(PRESETS)}.')
  # The input pipeline parallelises over videos; OpenCV's own thread pool on top of that
  # would only oversubscribe the host (as codec threads would, see decode.py).
  cv2.setNumThreads(1)
  dis = cv2.DISOpticalFlow_create(PRESETS[preset])
  *batch_shape, length, height, width, _ = frames.shape
  sequences = frames.reshape(-1, length, height, width, 3)
  flow = np.empty((len(sequences), length - 1, height, width, 2), np.float32)
  for s, sequence in enumerate(sequences):
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in sequence]
    for n in range(length - 1):
      flow[s, n] = dis.calc(gray[n], gray[n + 1], None)
  return flow.reshape(*batch_shape, length - 1, height, width, 2)


def quantize(flow: np.ndarray, bound: float) -> np.ndarray:
  """Float flow in pixels -> uint8, [-bound, bound] mapped linearly to [0, 255] (clipped)."""
  scaled = (np.clip(flow, -bound, bound) + bound) * (255.0 / (2.0 * bound))
  return np.round(scaled).astype(np.uint8)


def dequantize(codes: jax.Array) -> jax.Array:
  """uint8 flow codes -> float32 in units of the quantisation bound, in [-1, 1].

  Works under `jit`; the inverse of `quantize` up to the rounding step of 2 * bound / 255.
  """
  return codes.astype(jnp.float32) * (2.0 / 255.0) - 1.0
