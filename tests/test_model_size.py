"""Parameter and MAC counts against the published numbers (nothing is computed)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

from vidjax import model_size
from vidjax.models import video_resnet


@pytest.mark.parametrize(
  ('block', 'published_gmacs', 'published_params'),
  # torchvision's model cards (16x112x112): R(2+1)D-18 40.52 GMACs (the 40.6), R3D-18
  # 40.70; 31,505,325 and 33,371,472 parameters.
  [('r2plus1d', 40.52, 31_505_325), ('r3d', 40.70, 33_371_472)],
)
def test_video_resnet_18_macs_and_params_match_published(block, published_gmacs, published_params):
  model = video_resnet.Model(num_classes=400, depth=18, block=block)
  video = jax.ShapeDtypeStruct((1, 16, 112, 112, 3), jnp.float32)
  variables = model_size.abstract_variables(model, video)
  assert model_size.count_params(variables['params']) == published_params
  gmacs = model_size.layer_macs(model, variables, video) / 1e9
  assert gmacs == pytest.approx(published_gmacs, rel=0.005)
  # XLA's count leaves out the taps on zero padding (most of them in the 7x7 maps of the
  # last stage), hence a few percent below.
  xla_gmacs = model_size.flops(model, variables, video) / 2e9
  assert 0.85 * published_gmacs < xla_gmacs < published_gmacs


def test_layer_macs_of_a_dense_layer_and_a_grouped_conv():
  class Tiny(nn.Module):
    @nn.compact
    def __call__(self, x, *, train):
      x = nn.Conv(8, (3, 3), padding='SAME', feature_group_count=4)(x)  # 8x8 out positions
      return nn.Dense(5)(x.reshape(x.shape[0], -1)), {}

  x = jax.ShapeDtypeStruct((2, 8, 8, 4), jnp.float32)
  model = Tiny()
  variables = model_size.abstract_variables(model, x)
  conv = 2 * 8 * 8 * 8 * (3 * 3 * 1)  # positions x out channels x taps x in per group
  dense = 2 * 5 * (8 * 8 * 8)
  assert model_size.layer_macs(model, variables, x) == conv + dense
