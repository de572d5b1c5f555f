"""ACAR's loss on hand-computed values: the softmax over the movement classes, the sigmoid
over the rest, torch's clamped cross entropy; padded actors and empty clips change
nothing."""

import jax
import jax.numpy as jnp
import numpy as np

from vidjax.tasks import ava


def test_probabilities_are_a_softmax_then_sigmoids():
  logits = np.array([[1.0, 2.0, 0.0, -1.0]], np.float32)
  probabilities = np.asarray(ava.action_probabilities(jnp.asarray(logits), pose_classes=2))
  softmax = np.exp([1.0, 2.0]) / np.exp([1.0, 2.0]).sum()
  sigmoid = 1 / (1 + np.exp([-0.0, 1.0]))
  np.testing.assert_allclose(probabilities[0], [*softmax, *sigmoid], rtol=1e-6)
  plain = np.asarray(ava.action_probabilities(jnp.asarray(logits), pose_classes=0))
  np.testing.assert_allclose(plain[0], 1 / (1 + np.exp(-logits[0])), rtol=1e-6)


def test_the_loss_by_hand():
  # Clip 0: two actors; clip 1: one actor and a padded slot; clip 2: padding only.
  logits = np.zeros((3, 2, 3), np.float32)
  logits[0, 0] = [2.0, 0.0, 1.0]
  logits[0, 1] = [0.0, 0.0, -1.0]
  logits[1, 0] = [0.0, 3.0, 0.0]
  logits[1, 1] = [50.0, -50.0, 9.0]  # padded: ignored
  logits[2] = 7.0
  targets = np.zeros((3, 2, 3), np.float32)
  targets[0, 0] = [1, 0, 1]
  targets[0, 1] = [0, 1, 0]
  targets[1, 0] = [1, 0, 0]
  mask = np.array([[True, True], [True, False], [False, False]])

  def bce(p, y):
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))

  def actor(row, target):
    soft = np.exp(row[:2]) / np.exp(row[:2]).sum()
    p = np.array([*soft, 1 / (1 + np.exp(-row[2]))])
    return bce(p, target).mean()

  clip0 = (actor(logits[0, 0], targets[0, 0]) + actor(logits[0, 1], targets[0, 1])) / 2
  clip1 = actor(logits[1, 0], targets[1, 0])
  loss, clips = ava.clip_mean_loss(
    jnp.asarray(logits), jnp.asarray(targets), jnp.asarray(mask), pose_classes=2
  )
  np.testing.assert_allclose(float(loss), (clip0 + clip1) / 2, rtol=1e-5)
  assert int(clips) == 2


def test_certain_mistakes_cost_torchs_floor_not_infinity():
  logits = jnp.array([[[0.0, 200.0]]])
  targets = jnp.array([[[0.0, 0.0]]])
  loss, _ = ava.clip_mean_loss(logits, targets, jnp.array([[True]]), pose_classes=0)
  # sigmoid(200) is 1.0 in float32: log(1 - 1) floored at -100, as torch does.
  np.testing.assert_allclose(float(loss), (np.log(2) + 100) / 2, rtol=1e-5)


def test_the_gradient_is_torchs_and_finite_where_probabilities_saturate():
  p = jnp.array([0.0, 0.3, 1.0, 0.9])
  y = jnp.array([1.0, 1.0, 0.0, 0.0])
  grad = jax.grad(lambda p: ava.binary_cross_entropy(p, y).sum())(p)
  expected = (np.asarray(p) - np.asarray(y)) / np.maximum(p * (1 - p), 1e-12)
  np.testing.assert_allclose(grad, expected, rtol=1e-6)
  # Through the softmax and sigmoid of logits far out, the loss's gradient stays finite.
  logits = jnp.array([[[300.0, -300.0, 400.0]]])
  targets = jnp.array([[[0.0, 1.0, 0.0]]])
  loss_grad = jax.grad(
    lambda x: ava.clip_mean_loss(x, targets, jnp.array([[True]]), pose_classes=2)[0]
  )(logits)
  assert np.isfinite(loss_grad).all()


def test_several_sources_are_one_batch():
  def source(n, value):
    return {'video': jnp.full((n, 2), value), 'box_mask': jnp.ones((n, 3), bool)}

  kinetics = dict(source(2, 1.0), timestamp=jnp.zeros(2))  # a key of one source: dropped
  merged = ava.Task.merged({'kinetics': kinetics, 'ava': source(1, 0.0)})
  assert sorted(merged) == ['box_mask', 'video']
  np.testing.assert_array_equal(merged['video'][:, 0], [0.0, 1.0, 1.0])  # sources by name
  single = source(1, 0.0)
  assert ava.Task.merged(single) is single
