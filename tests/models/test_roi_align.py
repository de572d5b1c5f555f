"""RoIAlign against a loop-by-loop NumPy restatement of torchvision's CPU kernel
(`roi_align_kernel.cpp`: the adaptive grid, the one-pixel border rule, both alignments),
on boxes inside, across and beyond the feature map's border."""

import jax
import numpy as np
import pytest

from tests.models import roi_align_reference
from vidjax.models.roi_align import roi_align


@pytest.mark.parametrize('aligned', [False, True])
@pytest.mark.parametrize('sampling_ratio', [-1, 2])
def test_matches_torchvisions_kernel(aligned, sampling_ratio):
  rng = np.random.default_rng(0)
  features = rng.normal(size=(2, 9, 11, 3)).astype(np.float32)
  # (x1, y1, x2, y2) in a 36 x 44 image (spatial scale 1/4): inside, touching the border,
  # beyond it (ACAR's jitter lets x2 pass 1), tiny, and the whole image.
  boxes = np.array(
    [
      [4.0, 6.0, 30.0, 20.0],
      [0.0, 0.0, 44.0, 36.0],
      [30.0, 20.0, 52.0, 40.0],
      [10.0, 10.0, 10.5, 10.2],
      [-6.0, -3.0, 8.0, 9.0],
    ],
    np.float32,
  )
  batch_index = np.array([0, 1, 1, 0, 1])
  got = jax.jit(
    lambda f, b, i: roi_align(
      f, b, i, (3, 4), spatial_scale=0.25, sampling_ratio=sampling_ratio, aligned=aligned
    )
  )(features, boxes, batch_index)
  expected = roi_align_reference.roi_align(
    features, boxes, batch_index, (3, 4), 0.25, sampling_ratio, aligned
  )
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_gradients_flow_to_the_features_of_the_boxes_alone():
  features = np.ones((2, 8, 8, 1), np.float32)
  grad = jax.grad(lambda f: roi_align(f, np.array([[0.0, 0.0, 4.0, 4.0]]), np.array([1])).sum())(
    features
  )
  assert grad[0].sum() == 0 and grad[1].sum() == pytest.approx(49.0, rel=1e-5)
