"""The contrastive random walk's loss (vidjax/tasks/crw.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax.tasks import crw


def test_the_loss_of_a_hand_checked_two_node_graph():
  """Two nodes, three frames, embeddings e0 = (1, 0) and e1 = (0, 1) in every frame.

  A_t = I, so with tau = 1 every transition matrix is softmax(I) = [[a, b], [b, a]] with
  a = e / (e + 1), b = 1 / (e + 1). The only palindrome (out to frame 2) is P0 P1 Q1 Q0
  = M^4, whose diagonal is (1 + (a - b)^4) / 2: the loss is -log of that.
  """
  basis = jnp.eye(2)
  embeddings = jnp.broadcast_to(basis, (1, 3, 2, 2))
  loss, metrics = crw.walk_loss(embeddings, None, temperature=1.0, edge_dropout=0.0)
  a, b = np.e / (np.e + 1), 1 / (np.e + 1)
  expected = -np.log((1 + (a - b) ** 4) / 2)
  np.testing.assert_allclose(loss, expected, rtol=1e-6)
  assert set(metrics) == {'walk_xent/2', 'walk_accuracy/2'}
  assert metrics['walk_accuracy/2'] == 1.0


def numpy_walks(embeddings, temperature):
  """videowalk's model.py without dropout, in NumPy: the palindromes' cross-entropies."""
  affinity = np.einsum('btnd,btmd->btnm', embeddings[:, :-1], embeddings[:, 1:])

  def softmax(x):
    x = np.exp(x - x.max(-1, keepdims=True))
    return x / x.sum(-1, keepdims=True)

  forward = [softmax(affinity[:, i] / temperature) for i in range(affinity.shape[1])]
  backward = [
    softmax(affinity[:, i].transpose(0, 2, 1) / temperature) for i in range(affinity.shape[1])
  ]
  xents = []
  for i in range(1, len(forward)):
    g = forward[: i + 1] + backward[: i + 1][::-1]
    walk = g[0]
    for step in g[1:]:
      walk = walk @ step
    log_probabilities = np.log(walk + 1e-20)
    xents.append(-np.mean(np.diagonal(log_probabilities, axis1=1, axis2=2)))
  return xents


def test_the_palindromes_equal_videowalks():
  rng = np.random.default_rng(0)
  embeddings = rng.normal(size=(2, 5, 6, 8))
  embeddings /= np.linalg.norm(embeddings, axis=-1, keepdims=True)
  loss, metrics = crw.walk_loss(jnp.asarray(embeddings), None, temperature=0.07, edge_dropout=0.1)
  expected = numpy_walks(embeddings, 0.07)
  assert len(expected) == 3  # out to frames 2, 3 and 4 of 5
  for k, xent in zip((2, 3, 4), expected, strict=True):
    np.testing.assert_allclose(metrics[f'walk_xent/{k}'], xent, rtol=1e-4)
  np.testing.assert_allclose(loss, np.mean(expected), rtol=1e-4)


def test_edge_dropout_drops_p_forward_and_compounds_backward():
  """Forward matrices lose a fraction p of their edges; the backward ones, which read the
  affinity the forward ones masked, lose 1 - (1 - p)^2."""
  embeddings = jnp.ones((4, 3, 64, 4)) / 2.0  # every affinity 1: a kept edge has weight > 0
  forward, backward = crw.transition_matrices(
    embeddings, jax.random.key(0), temperature=1.0, edge_dropout=0.3
  )
  forward_dropped = float(jnp.mean(forward == 0))
  backward_dropped = float(jnp.mean(backward == 0))
  assert forward_dropped == pytest.approx(0.3, abs=0.01)
  assert backward_dropped == pytest.approx(1 - 0.7**2, abs=0.01)
  # Every edge the forward step dropped is dropped in the backward step too.
  assert not jnp.any((forward == 0) & (jnp.swapaxes(backward, -1, -2) > 0))
  np.testing.assert_allclose(forward.sum(-1), 1.0, rtol=1e-6)
  np.testing.assert_allclose(backward.sum(-1), 1.0, rtol=1e-6)


def test_clips_of_two_frames_are_refused():
  with pytest.raises(ValueError, match='3 or more'):
    crw.walk_loss(jnp.ones((1, 2, 4, 3)), None, temperature=0.07, edge_dropout=0.0)
