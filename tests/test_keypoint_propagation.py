"""Keypoints propagated as videowalk propagates JHMDB's joints, and their PCK."""

import numpy as np
import pytest

from vidjax import propagation
from vidjax.evaluators import pck


def test_a_joint_becomes_a_gaussian_peaking_at_its_cell():
  points = np.array([[24.0, 16.0], [40.0, 40.0]])  # (x, y) pixels, stride 8
  labels = propagation.keypoint_labels(points, (8, 8), stride=8)
  assert labels.shape == (8, 8, 3)
  # Joint 0 at cell (x 3, y 2): the 4 x 4 patch pasted at int(3 - 1.5), int(2 - 1.5).
  assert labels[2, 3, 1] == 1.0 and labels[5, 5, 2] == 1.0
  np.testing.assert_allclose(labels[1, 3, 1], np.exp(-2.0))  # one cell away, sigma 0.5
  assert labels[0:4, 1:5, 1].astype(bool).all() and labels[..., 1].astype(bool).sum() == 16
  # The background is 1 exactly where no joint's patch reaches.
  np.testing.assert_array_equal(labels[..., 0], labels[..., 1:].sum(-1) == 0)


def test_labels_give_back_their_keypoints():
  points = np.array([[24.0, 16.0], [40.0, 48.0], [16.0, 56.0]])
  labels = propagation.keypoint_labels(points, (8, 8), stride=8)
  recovered = propagation.keypoints_from_labels(labels, stride=8)
  # The 3 strongest cells: the peak and two at exp(-2), a fifth of a cell off the joint.
  np.testing.assert_allclose(recovered, points - 0.85, atol=0.01)
  lost = labels.copy()
  lost[..., 2] = 0
  assert (propagation.keypoints_from_labels(lost, stride=8)[1] == -1).all()


def test_a_joint_within_one_and_a_half_cells_of_the_top_or_left_edge_shifts_as_videowalks():
  # int() truncates towards zero: the patch of a joint at cell 1 starts at int(-0.5) = 0,
  # so its peak lands on cell 2 (pose-hg-train's drawing, which videowalk uses).
  labels = propagation.keypoint_labels(np.array([[8.0, 32.0]]), (8, 8), stride=8)
  assert labels[4, 2, 1] == 1.0 and labels[4, 1, 1] < 1.0


def test_joints_follow_a_moving_pattern_through_propagation():
  # Features that identify each cell of a texture which moves one cell right per frame
  # (wrapping around, so that every cell has its match in the previous frame).
  texture = np.random.default_rng(0).normal(size=(8, 8, 16)).astype(np.float32)
  features = np.stack([np.roll(texture, t, axis=1) for t in range(3)])  # [3, 8, 8, 16]
  points = np.array([[16.0, 16.0], [24.0, 40.0]])  # cells (2, 2) and (3, 5)
  labels = propagation.keypoint_labels(points, (8, 8), stride=8)
  given = propagation.keypoints_from_labels(labels, stride=8)
  predicted = np.asarray(propagation.propagate(features, labels))
  for t in (1, 2):
    keypoints = propagation.keypoints_from_labels(predicted[t], stride=8)
    np.testing.assert_allclose(keypoints, given + [8.0 * t, 0.0], atol=1.0)


def test_pck_by_hand():
  truth = np.zeros((2, 3, 2))
  truth[1] = [[0, 0], [30, 40], [10, 10]]  # box diagonal 50: human size 30
  predicted = truth.copy()
  predicted[1, 0] = [2.0, 0.0]  # 2 / 30 = 0.067
  predicted[1, 1] = [30.0, 49.0]  # 9 / 30 = 0.3
  predicted[1, 2] = -1  # lost: left out, and out of the box
  truth_box = np.zeros((2, 3, 2))
  truth_box[1] = truth[1]
  scores = pck.pck([(predicted, truth)], thresholds=(0.1, 0.3))
  # Joint 2 is lost: the box is that of joints 0 and 1 (diagonal 50), joints 0 and 1 scored.
  assert scores == {0.1: pytest.approx(50.0), 0.3: pytest.approx(100.0)}
  with pytest.raises(ValueError, match=r'\[frames, joints, 2\]'):
    pck.pck([(predicted[..., :1], truth)])
