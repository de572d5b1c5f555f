"""Label propagation by feature affinity: the protocol of videowalk's test.py.

Jabri, Owens & Efros, "Space-Time Correspondence as a Contrastive Random Walk" (NeurIPS
2020), code ajabri/videowalk (`test.py`, `utils/test_utils.py`, `data/vos.py`). Given the
features of every frame of a video and the labels of its first frame, each later frame's
labels are a weighted sum of the labels of its most similar nodes in a context:

- Features are L2-normalised per position; nodes are the positions of the feature map.
- The context of frame t is the first frame plus the `context` frames before t (20). The
  official code front-pads the video with `context` copies of the first frame, so early
  frames see the first frame many times over (as nodes with the first frame's labels).
- Affinity of a query node and a context node: their dot product, with -1e10 added where
  their grid distance is `radius` (12) cells or more, except for the first frame's nodes
  (the long-term memory is never restricted), then divided by `temperature` (0.05).
- Each query node keeps its `topk` (10) most similar context nodes over the whole context
  jointly, softmax over those, and its label is the weighted sum of their labels.
- Labels are soft: a frame's prediction, not its argmax, is the next frames' context.
- The first frame's labels are its one-hot masks resized bilinearly to the feature map;
  predictions are resized bilinearly to the image and the argmax is the mask.

`propagate` is the JAX implementation (a scan over frames, queries in chunks so that the
dense affinities of a chunk fit in memory); `tests/test_propagation.py` checks it against
a NumPy restatement of test.py's loop, front-padding included.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import cv2
import jax
import jax.numpy as jnp
import numpy as np

MASKED = -1e10  # what test.py adds to the affinity of a context node out of radius
VOID = 255  # DAVIS's label of pixels left out of the evaluation


@dataclasses.dataclass(frozen=True)
class Protocol:
  """videowalk's README command for DAVIS: --topk 10 --videoLen 20 --radius 12
  --temperature 0.05 --cropSize -1 (native 480p)."""

  context: int = 20
  radius: float = 12.0
  topk: int = 10
  temperature: float = 0.05


def radius_mask(height: int, width: int, radius: float) -> np.ndarray:
  """bool [h * w (context node), h * w (query node)]: grid distance < radius."""
  ys, xs = np.divmod(np.arange(height * width), width)
  distance = np.hypot(ys[:, None] - ys[None], xs[:, None] - xs[None])
  return distance < radius


def _chunk_predictions(
  queries: jax.Array,
  keys: jax.Array,
  key_labels: jax.Array,
  local: jax.Array,
  protocol: Protocol,
) -> jax.Array:
  """Labels [Q, K] of queries [Q, C] from keys [(1 + context) * n, C] (the first frame's
  n nodes, then the context frames') with labels [.., K]; `local` [Q, n] is 0 within the
  radius and MASKED outside, added to the context frames' affinities only."""
  affinity = (queries @ keys.T).reshape(len(queries), 1 + protocol.context, -1)
  affinity = affinity.at[:, 1:].add(local[:, None])
  affinity = affinity.reshape(len(queries), -1) / protocol.temperature
  weights, indices = jax.lax.top_k(affinity, protocol.topk)
  weights = jax.nn.softmax(weights, axis=-1)
  return jnp.einsum('qk,qkl->ql', weights, key_labels[indices])


@functools.partial(jax.jit, static_argnames=('protocol', 'chunk'))
def propagate(
  features: jax.Array, first_labels: jax.Array, protocol: Protocol = Protocol(), chunk: int = 512
) -> jax.Array:
  """Soft labels of every frame from the first frame's.

  Args:
    features: [T, h, w, C] per-frame features (normalised here).
    first_labels: [h, w, K] soft labels of frame 0 (e.g. `soft_labels`).
    protocol: the propagation's constants.
    chunk: query nodes whose affinities are computed at once (memory, not results).

  Returns:
    float32 [T, h, w, K]; frame 0 is `first_labels`.
  """
  num_frames, height, width, channels = features.shape
  nodes, num_labels = height * width, first_labels.shape[-1]
  features = features.astype(jnp.float32)
  features = features / jnp.maximum(jnp.linalg.norm(features, axis=-1, keepdims=True), 1e-12)
  features = features.reshape(num_frames, nodes, channels)
  first = first_labels.astype(jnp.float32).reshape(nodes, num_labels)
  # Query nodes padded to whole chunks; the padding is computed and dropped.
  num_chunks = math.ceil(nodes / chunk)
  padded = num_chunks * chunk
  local = jnp.where(radius_mask(height, width, protocol.radius), 0.0, MASKED).T  # [query, key]
  # One frame's radius mask, [query, key]: the context frames share it, so the bias of the
  # whole context (21 frames at 480p: 3.6 GB) is never materialised.
  local = jnp.pad(local, ((0, padded - nodes), (0, 0)))

  def step(ring, frame_features):
    ring_features, ring_labels = ring
    keys = jnp.concatenate([features[0], ring_features.reshape(-1, channels)])
    key_labels = jnp.concatenate([first, ring_labels.reshape(-1, num_labels)])
    queries = jnp.pad(frame_features, ((0, padded - nodes), (0, 0)))
    predicted = jax.lax.map(
      lambda args: _chunk_predictions(args[0], keys, key_labels, args[1], protocol),
      (queries.reshape(num_chunks, chunk, channels), local.reshape(num_chunks, chunk, nodes)),
    ).reshape(padded, num_labels)[:nodes]
    ring = (
      jnp.concatenate([ring_features[1:], frame_features[None]]),
      jnp.concatenate([ring_labels[1:], predicted[None]]),
    )
    return ring, predicted

  # The front-padding: the context starts as `context` copies of frame 0; frame 0 itself
  # then enters it with its given labels.
  ring = (
    jnp.concatenate([jnp.repeat(features[:1], protocol.context - 1, axis=0), features[:1]]),
    jnp.repeat(first[None], protocol.context, axis=0),
  )
  _, predicted = jax.lax.scan(step, ring, features[1:])
  labels = jnp.concatenate([first[None], predicted])
  return labels.reshape(num_frames, height, width, num_labels)


def soft_labels(mask: np.ndarray, feature_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
  """(float32 [h, w, K] one-hot labels resized bilinearly to the feature map, the ids
  [K] they stand for): K = the ids present in `mask` (uint8 [H, W]), background first."""
  ids = np.unique(mask)
  one_hot = (mask[..., None] == ids).astype(np.float32)
  height, width = feature_size
  resized = cv2.resize(one_hot, (width, height), interpolation=cv2.INTER_LINEAR)
  return resized.reshape(height, width, len(ids)), ids


def hard_mask(labels: np.ndarray, ids: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
  """uint8 [H, W] mask from soft labels [h, w, K]: resized bilinearly to the image, argmax."""
  height, width = image_size
  resized = cv2.resize(
    np.asarray(labels, np.float32), (width, height), interpolation=cv2.INTER_LINEAR
  )
  return ids[np.argmax(resized.reshape(height, width, -1), axis=-1)].astype(np.uint8)


LABEL_MULTIPLE = 4  # label channels are padded to a multiple of this: fewer compilations


def propagate_masks(
  features: jax.Array, first_mask: np.ndarray, protocol: Protocol = Protocol()
) -> np.ndarray:
  """uint8 masks [T, H, W] of every frame from the first one's labels [H, W] (frame 0 is
  `first_mask`; its void pixels, 255, are propagated as background, which the official
  evaluation counts them as), through features [T, h, w, C]."""
  first = np.where(first_mask == VOID, 0, first_mask).astype(np.uint8)
  first_labels, ids = soft_labels(first, features.shape[1:3])
  # Padded label channels stay zero, so they never win the argmax.
  first_labels = np.pad(first_labels, ((0, 0), (0, 0), (0, -len(ids) % LABEL_MULTIPLE)))
  predicted = np.asarray(propagate(jnp.asarray(features), jnp.asarray(first_labels), protocol))
  masks = [hard_mask(frame[..., : len(ids)], ids, first.shape) for frame in predicted[1:]]
  return np.stack([first, *masks])


def batched(apply, frames: np.ndarray, batch_size: int) -> np.ndarray:
  """apply(frames [batch_size, ...]) over frames [T, ...] in batches of one size (the last
  padded with its last frame: one compiled shape), concatenated: [T, ...]."""
  size = min(batch_size, len(frames))
  outputs = []
  for start in range(0, len(frames), size):
    batch = frames[start : start + size]
    padded = np.concatenate([batch, np.repeat(batch[-1:], size - len(batch), axis=0)])
    outputs.append(np.asarray(apply(padded))[: len(batch)])
  return np.concatenate(outputs)


# Keypoints, as videowalk propagates JHMDB's joints (`data/jhmdb.py`, `test_utils.process_pose`):
# each joint is a label channel holding a small Gaussian on the feature map, the background
# channel is 1 where no joint's Gaussian reaches; after propagation a joint is the weighted
# mean of its channel's 3 strongest cells.
KEYPOINT_SIGMA = 0.5
KEYPOINT_TOPK = 3


def _draw_gaussian(channel: np.ndarray, point: np.ndarray, sigma: float) -> None:
  """videowalk's draw_labelmap_np (from pose-hg-train): a (6 sigma + 1)-wide Gaussian of
  peak 1 pasted with its corner at int(point - 3 sigma), in place; nothing when it misses.
  int() truncates towards zero, so a joint within 3 sigma of the top or left edge has its
  peak one cell further in, as in the official evaluation."""
  upper_left = [int(point[0] - 3 * sigma), int(point[1] - 3 * sigma)]
  bottom_right = [int(point[0] + 3 * sigma + 1), int(point[1] + 3 * sigma + 1)]
  height, width = channel.shape
  if (
    upper_left[0] >= width or upper_left[1] >= height or bottom_right[0] < 0 or bottom_right[1] < 0
  ):
    return
  size = 6 * sigma + 1
  x = np.arange(0, size, 1, float)
  y = x[:, None]
  centre = size // 2
  gaussian = np.exp(-((x - centre) ** 2 + (y - centre) ** 2) / (2 * sigma**2))
  g_x = max(0, -upper_left[0]), min(bottom_right[0], width) - upper_left[0]
  g_y = max(0, -upper_left[1]), min(bottom_right[1], height) - upper_left[1]
  image_x = max(0, upper_left[0]), min(bottom_right[0], width)
  image_y = max(0, upper_left[1]), min(bottom_right[1], height)
  channel[image_y[0] : image_y[1], image_x[0] : image_x[1]] = gaussian[
    g_y[0] : g_y[1], g_x[0] : g_x[1]
  ]


def keypoint_labels(
  points: np.ndarray, feature_size: tuple[int, int], stride: float, sigma: float = KEYPOINT_SIGMA
) -> np.ndarray:
  """Soft labels float32 [h, w, 1 + K] of K keypoints (x, y) [K, 2] in image pixels
  (0-based): channel 0 the background (1 where no joint's Gaussian reaches), channel
  1 + k a Gaussian at joint k / stride on the feature map."""
  height, width = feature_size
  labels = np.zeros((height, width, len(points)), np.float64)
  for k, point in enumerate(np.asarray(points, np.float64) / stride):
    _draw_gaussian(labels[..., k], point, sigma)
  background = (labels.sum(-1) == 0)[..., None]
  return np.concatenate([background, labels], axis=-1).astype(np.float32)


def keypoints_from_labels(
  labels: np.ndarray, stride: float, topk: int = KEYPOINT_TOPK
) -> np.ndarray:
  """Keypoints float32 [K, 2] (x, y, image pixels) of soft labels [h, w, 1 + K]: each
  joint's `topk` strongest cells averaged with their weights, times the stride; (-1, -1)
  for a joint whose channel is zero everywhere (lost)."""
  joints = np.asarray(labels, np.float64)[..., 1:]
  width = joints.shape[1]
  flat = joints.reshape(-1, joints.shape[-1])
  topk = min(len(flat), topk)
  cells = np.argsort(-flat, axis=0, kind='stable')[:topk]
  weights = np.take_along_axis(flat, cells, axis=0)
  weights = weights / np.where(weights.sum(0) == 0, 1, weights.sum(0))
  coordinates = np.stack([((cells % width) * weights).sum(0), ((cells // width) * weights).sum(0)])
  coordinates[:, flat.sum(0) == 0] = -1
  return np.where(coordinates < 0, -1.0, coordinates * stride).T.astype(np.float32)
