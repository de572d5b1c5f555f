"""The audio tower of VMZ's audio-visual networks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax.models import audio_resnet

LOG_MEL = jax.ShapeDtypeStruct((2, 100, 40), jnp.float32)  # VMZ's 100 frames x 40 mel bins


def _shapes(**kwargs):
  model = audio_resnet.Model(**kwargs)
  variables = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), LOG_MEL)
  outputs = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, LOG_MEL)
  return variables, outputs


@pytest.mark.parametrize('depth, width', [(18, 512), (50, 2048)])
def test_five_halvings_leave_vmz_4x2_map_for_its_max_pool(depth, width):
  """100 x 40 -> 4 x 2 after the entry block and four stages: VMZ's MaxPool [4, 2] is the
  global max that the model takes."""
  _, (features, aux) = _shapes(num_classes=0, depth=depth)
  assert aux['feature_map'].shape == (2, 4, 2, width)
  assert features.shape == (2, width)


def test_entry_and_blocks_are_vmz_s():
  variables, (logits, _) = _shapes(num_classes=7, depth=18)
  params = variables['params']
  assert params['conv1']['kernel'].shape == (3, 3, 1, 16) and 'bias' in params['conv1']
  entry = params['Block_0']
  assert entry['Conv_0']['kernel'].shape == (3, 3, 16, 32) and 'bias' not in entry['Conv_0']
  assert entry['Conv_2']['kernel'].shape == (1, 1, 16, 32)  # the projection shortcut
  assert 'Conv_2' not in params['Block_1']  # 32 -> 32, stride 1: identity shortcut
  assert logits.shape == (2, 7)
  stats = variables['batch_stats']['Block_0']['BatchNorm_0']
  assert stats['mean'].shape == (32,)


def test_the_max_pool_is_over_time_and_frequency():
  model = audio_resnet.Model(num_classes=0, depth=10, width=4)
  x = jax.random.normal(jax.random.key(1), (1, 100, 40))
  variables = model.init(jax.random.key(0), x, train=False)
  features, aux = model.apply(variables, x, train=False)
  np.testing.assert_allclose(features, aux['feature_map'].max(axis=(1, 2)))


def test_unknown_depth_is_named():
  with pytest.raises(ValueError, match='depth=19'):
    audio_resnet.Model(num_classes=3, depth=19)
