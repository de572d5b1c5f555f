"""The contrastive random walk's network (vidjax/models/crw.py)."""

import jax
import numpy as np

from vidjax.models import crw
from vidjax.models.resnet import ResNet2D


def test_nodes_are_normalised_embeddings_and_frames_give_layer3_maps():
  model = crw.Model(depth=10, width=8, embed_dim=16, lowering='native')
  patches = np.random.default_rng(0).normal(size=(2, 3, 4, 32, 32, 3)).astype(np.float32)
  variables = model.init(jax.random.key(0), {'video': patches}, train=False)
  embeddings, aux = model.apply(variables, {'video': patches}, train=False)
  assert embeddings.shape == (2, 3, 4, 16)
  np.testing.assert_allclose(np.linalg.norm(embeddings, axis=-1), 1.0, rtol=1e-5)
  frames = np.random.default_rng(1).normal(size=(2, 40, 56, 3)).astype(np.float32)
  # Whole frames: a node per position of the 5 x 7 map.
  nodes, _ = model.apply(variables, frames[:, None], train=False)
  assert nodes.shape == (2, 1, 35, 16)
  features = model.apply(variables, frames, method=crw.Model.frame_features)
  # Output stride 8, layer3's channels (4 x width), the same trunk as the patches'.
  assert features.shape == (2, 5, 7, 32)
  trunk = ResNet2D(
    10,
    8,
    stage_strides=(1, 2, 1, 1),
    num_stages=3,
    pool=False,
    padding_mode='reflect',
    lowering='native',
  )
  expected = trunk.apply({k: v['resnet'] for k, v in variables.items()}, frames, train=False)
  np.testing.assert_allclose(features, expected, atol=1e-5)
