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
  assert set(metrics) == {'walk_2/xent', 'walk_2/accuracy'}
  assert metrics['walk_2/accuracy'] == 1.0


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
    np.testing.assert_allclose(metrics[f'walk_{k}/xent'], xent, rtol=1e-4)
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


def test_random_resized_boxes_follow_torchvisions_rule():
  boxes = crw.random_resized_boxes(jax.random.key(0), (4000,), 100, 200, (0.8, 0.95), (0.7, 1.3))
  y, x, h, w = np.asarray(boxes).T
  area = h * w / (100 * 200)
  assert np.all((y >= 0) & (x >= 0) & (y + h <= 100) & (x + w <= 200))
  fitted = h < 100  # a 100 x 200 frame: a fitting draw is below the full height
  assert np.all(area[fitted] > 0.78) and np.all(area[fitted] < 0.97)
  assert np.all((w / h)[fitted] > 0.69) and np.all((w / h)[fitted] < 1.31)
  # Aspect 2 is outside (0.7, 1.3): when no draw fits, the centre crop of aspect 1.3.
  np.testing.assert_allclose(
    crw.random_resized_boxes(jax.random.key(1), (1,), 100, 200, (1.5, 1.6), (0.7, 1.3))[0],
    [0, 35, 100, 130],
  )


def test_the_patch_grid_at_evaluation_is_the_windows_of_the_frame():
  task = crw.Task(image_size=64, patch_size=32, patch_stride=16)
  boxes = task.patch_boxes(None, (1,), 128, 128)  # frames twice image_size
  assert boxes.shape == (1, 9, 4)
  np.testing.assert_allclose(boxes[0, 0], [0, 0, 64, 64])
  np.testing.assert_allclose(boxes[0, 4], [32, 32, 64, 64])
  np.testing.assert_allclose(boxes[0, 8], [64, 64, 64, 64])


def test_training_patches_and_a_step_of_the_loss():
  from vidjax.models import crw as crw_model
  from vidjax.tasks.base import Context

  task = crw.Task(image_size=64, patch_size=32, patch_stride=16)
  video = np.random.default_rng(0).integers(0, 255, (2, 3, 48, 56, 3), np.uint8)
  rngs = {name: jax.random.key(i) for i, name in enumerate(('augment', 'mix', 'dropout', 'walk'))}
  ctx = Context(jnp.int32(0), rngs, True, {}, {}, None)
  batch = task.preprocess({'video': jnp.asarray(video)}, ctx)
  assert batch['video'].shape == (2, 3, 9, 32, 32, 3)
  eval_batch = task.preprocess({'video': jnp.asarray(video)}, ctx._replace(train=False, rngs={}))
  assert eval_batch['video'].shape == (2, 3, 9, 32, 32, 3)
  model = crw_model.Model(depth=10, width=8, embed_dim=16, lowering='native')
  variables = model.init(jax.random.key(0), batch, train=False)
  loss, (state, metrics) = task.loss_and_metrics(model, variables, batch, ctx)
  assert np.isfinite(loss) and 'batch_stats' in state
  assert set(metrics) == {'loss', 'walk_2/xent', 'walk_2/accuracy'}
