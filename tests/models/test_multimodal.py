"""Late fusion with a head per modality and VMZ's fused head."""

import jax
import jax.numpy as jnp
import pytest

from vidjax import models
from vidjax.models import multimodal

TOWERS = dict(
  video=dict(model_name='video_resnet', depth=10, width=4, block='r2plus1d'),
  audio=dict(model_name='audio_resnet', depth=10, width=4),
)
BATCH = {
  'video': jnp.zeros((2, 4, 32, 32, 3)),
  'audio': jnp.zeros((2, 100, 40)),
  'label': jnp.zeros((2,), jnp.int32),
}


def test_every_modality_has_a_head_and_the_fused_head_is_vmz_s_mlp():
  model = multimodal.Model(towers=TOWERS, num_classes=5)
  x = models.model_inputs(model, BATCH)
  assert sorted(x) == ['audio', 'video']
  variables = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), x)
  logits, aux = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, x)
  assert logits.shape == (2, 5)
  assert {k for k in aux if k.startswith('logits/')} == {
    'logits/video',
    'logits/audio',
    'logits/fused',
  }
  params = variables['params']
  width = aux['features'].shape[-1]  # the concatenation of both towers' features (32 + 32)
  assert width == aux['features/video'].shape[-1] + aux['features/audio'].shape[-1] == 64
  assert params['fused_fc1']['kernel'].shape == (64, 32)
  assert params['fused_fc2']['kernel'].shape == (32, 32)
  assert params['fc_audio']['kernel'].shape == (32, 5)
  assert {'video_tower', 'audio_tower'} <= set(params)


def test_a_linear_fused_head():
  model = multimodal.Model(towers=TOWERS, num_classes=5, fused_head='linear')
  x = models.model_inputs(model, BATCH)
  variables = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), x)
  assert variables['params']['fused_out']['kernel'].shape == (64, 5)
  assert 'fused_fc1' not in variables['params']


@pytest.mark.parametrize(
  'towers, match',
  [
    (dict(video=TOWERS['video']), 'two or more modalities'),
    (dict(video=TOWERS['video'], audio=dict(depth=10)), 'towers.audio needs model_name'),
  ],
)
def test_bad_towers_are_named(towers, match):
  with pytest.raises(ValueError, match=match):
    multimodal.Model(towers=towers, num_classes=5)


def test_an_unknown_tower_names_its_config_key():
  towers = dict(TOWERS, audio=dict(model_name='nope'))
  model = multimodal.Model(towers=towers, num_classes=5)
  with pytest.raises(ValueError, match=r'config.model.towers.audio.model_name'):
    model.init(jax.random.key(0), models.model_inputs(model, BATCH), train=False)
