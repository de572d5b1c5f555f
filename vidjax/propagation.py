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
