"""Label propagation (vidjax/propagation.py) against a NumPy restatement of videowalk's
test.py: front-padding, context_index_bank, MaskedAttention, top-k and the soft feedback."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from vidjax import propagation


def videowalk_propagation(features, first_labels, context, radius, topk, temperature):
  """test.py's loop in NumPy: features [T, C, h, w] (normalised), labels [h, w, K]."""
  num_frames, _, height, width = features.shape
  # data/vos.py: `context` copies of frame 0 in front; only their labels are given.
  padded = np.concatenate([np.repeat(features[:1], context, axis=0), features])
  labels = np.zeros((len(padded), height, width, first_labels.shape[-1]), np.float32)
  labels[:context] = first_labels
  # utils/test_utils.context_index_bank(context, long_mem=[0], N=num_frames)
  long_term = np.zeros((num_frames, 1), np.int64)
  short_term = np.arange(context)[None] + np.arange(num_frames)[:, None]
  key_indices = np.concatenate([long_term, short_term], axis=1)
  # utils.MaskedAttention(radius).mask: grid distance < radius; 0 kept, -1e10 dropped.
  gx, gy = np.meshgrid(np.arange(height), np.arange(width), indexing='ij')
  distance = np.sqrt(
    (gx[None, None] - gx[:, :, None, None]) ** 2 + (gy[None, None] - gy[:, :, None, None]) ** 2
  )
  mask = np.where(distance < radius, 0.0, -1e10).reshape(height * width, height * width)
  keys = padded[key_indices].reshape(num_frames, context + 1, -1, height * width)
  queries = padded[context:].reshape(num_frames, -1, height * width)
  for t in range(num_frames):
    affinity = np.einsum('kcn,cq->knq', keys[t], queries[t])  # [context frames, key, query]
    affinity[1:] += mask
    affinity = affinity.reshape(-1, height * width) / temperature
    order = np.argsort(-affinity, axis=0, kind='stable')[:topk]
    weights = np.take_along_axis(affinity, order, axis=0)
    weights = np.exp(weights - weights.max(axis=0))
    weights /= weights.sum(axis=0)
    context_labels = labels[key_indices[t]].reshape(-1, labels.shape[-1])
    predicted = np.einsum('kq,kql->ql', weights, context_labels[order])
    labels[t + context] = labels[0] if t == 0 else predicted.reshape(height, width, -1)
  return labels[context:]


@pytest.mark.parametrize(
  'num_frames, context, radius, topk', [(7, 3, 2.5, 4), (12, 20, 12.0, 10), (5, 2, 1.0, 3)]
)
def test_propagation_equals_videowalk(num_frames, context, radius, topk):
  rng = np.random.default_rng(0)
  height, width, channels, num_labels = 5, 7, 16, 3
  features = rng.normal(size=(num_frames, height, width, channels)).astype(np.float32)
  features /= np.linalg.norm(features, axis=-1, keepdims=True)
  first = rng.dirichlet(np.ones(num_labels), (height, width)).astype(np.float32)
  protocol = propagation.Protocol(context=context, radius=radius, topk=topk, temperature=0.05)
  ours = propagation.propagate(jnp.asarray(features), jnp.asarray(first), protocol, chunk=8)
  reference = videowalk_propagation(
    features.transpose(0, 3, 1, 2), first, context, radius, topk, 0.05
  )
  np.testing.assert_allclose(np.asarray(ours), reference, atol=1e-5)
  # Every prediction is a convex combination of labels: each node's labels sum to 1.
  np.testing.assert_allclose(np.asarray(ours).sum(-1), 1.0, atol=1e-5)


def test_the_radius_mask_and_top_k_choose_the_nodes():
  """A 1 x 5 map, one previous frame of context, the single best node (top-1).

  Frame 0: node 4 is (1, 0, 0) with label 1, the others (0, 0, 1) with label 0.
  Frame 1: node 0 is (0.6, 0.8, 0): its best match is node 4 of the first frame (0.6),
  which the radius never restricts, so it takes label 1.
  Frame 2: node 4 is (0, 1, 0): its best match is node 0 of frame 1 (0.8), 4 cells away.
  Within the radius it takes that node's label 1; with a radius of 2 cells that node is
  masked, every other node scores 0 and the first of them, node 0 of the first frame
  (label 0), is chosen.
  """
  features = np.zeros((3, 1, 5, 3), np.float32)
  features[..., 2] = 1.0
  features[0, 0, 4] = [1.0, 0.0, 0.0]
  features[1, 0, 0] = [0.6, 0.8, 0.0]
  features[2, 0, 4] = [0.0, 1.0, 0.0]
  first = np.zeros((1, 5, 2), np.float32)
  first[..., 0] = 1.0
  first[0, 4] = [0.0, 1.0]

  def propagated(radius):
    protocol = propagation.Protocol(context=1, radius=radius, topk=1, temperature=0.05)
    return np.asarray(propagation.propagate(jnp.asarray(features), jnp.asarray(first), protocol))

  wide, narrow = propagated(9.0), propagated(2.0)
  assert wide[1, 0, 0].tolist() == narrow[1, 0, 0].tolist() == [0.0, 1.0]
  assert wide[2, 0, 4].tolist() == [0.0, 1.0]
  assert narrow[2, 0, 4].tolist() == [1.0, 0.0]
  for labels in (wide, narrow):
    reference = videowalk_propagation(
      features.transpose(0, 3, 1, 2), first, 1, 9.0 if labels is wide else 2.0, 1, 0.05
    )
    np.testing.assert_allclose(labels, reference)


def test_soft_labels_and_hard_mask_round_trip():
  mask = np.zeros((48, 80), np.uint8)
  mask[8:40, 16:48] = 2
  mask[30:46, 50:78] = 5
  soft, ids = propagation.soft_labels(mask, (math.ceil(48 / 8), math.ceil(80 / 8)))
  assert soft.shape == (6, 10, 3) and ids.tolist() == [0, 2, 5]
  np.testing.assert_allclose(soft.sum(-1), 1.0, atol=1e-6)
  back = propagation.hard_mask(soft, ids, (48, 80))
  assert back.dtype == np.uint8 and set(np.unique(back)) == {0, 2, 5}
  assert np.mean(back == mask) > 0.9


def test_void_pixels_of_the_first_mask_propagate_as_background():
  first = np.zeros((16, 16), np.uint8)
  first[:8, :8], first[8:, 8:] = 1, propagation.VOID
  features = np.random.default_rng(0).normal(size=(3, 2, 2, 8)).astype(np.float32)
  masks = propagation.propagate_masks(features, first)
  assert masks.shape == (3, 16, 16) and set(np.unique(masks)) <= {0, 1}
  np.testing.assert_array_equal(masks[0], np.where(first == propagation.VOID, 0, first))
  # A still video keeps the first labels, as resized to the map and back.
  still = np.repeat(features[:1], 3, axis=0)
  labels, ids = propagation.soft_labels(masks[0], (2, 2))
  expected = propagation.hard_mask(labels, ids, (16, 16))
  np.testing.assert_array_equal(propagation.propagate_masks(still, first)[2], expected)


def test_batched_pads_the_last_batch_and_keeps_the_order():
  shapes = []

  def apply(batch):
    shapes.append(batch.shape)
    return batch * 2

  out = propagation.batched(apply, np.arange(7.0)[:, None], batch_size=3)
  np.testing.assert_array_equal(out[:, 0], np.arange(7.0) * 2)
  assert shapes == [(3, 1)] * 3
