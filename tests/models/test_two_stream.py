import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_testing import random_variables

from vidjax import models
from vidjax.models import two_stream

# The tiny variant: ResNet-10 streams of width 8.
TINY = dict(num_classes=5, depth=10, width=8)
FRAMES, STACK = 2, 3


@pytest.fixture(scope='module')
def tiny():
  """The tiny model, its variables, inputs and the jitted eval-mode apply."""
  model = two_stream.Model(**TINY)
  rng = np.random.default_rng(0)
  x = {
    'video': jnp.asarray(rng.standard_normal((2, FRAMES, 32, 32, 3), np.float32)),
    'flow': jnp.asarray(rng.uniform(-1, 1, (2, FRAMES * STACK, 32, 32, 2)).astype(np.float32)),
  }
  apply = jax.jit(lambda v, x: model.apply(v, x, train=False))
  return model, random_variables(model, x), x, apply


def test_shapes_aux_keys_and_softmax_average_fusion(tiny):
  _, variables, x, apply = tiny
  logits, aux = apply(variables, x)
  assert set(aux) == {'rgb_logits', 'flow_logits', 'frame_logits', 'features'}
  assert logits.shape == aux['rgb_logits'].shape == aux['flow_logits'].shape == (2, 5)
  assert aux['frame_logits'].shape == (2, 2 * FRAMES, 5)
  assert aux['features'].shape == (2, 2 * 8 * 8)
  fused = (jnp.exp(aux['rgb_logits']) + jnp.exp(aux['flow_logits'])) / 2
  np.testing.assert_allclose(jnp.exp(logits), fused, atol=1e-6)
  np.testing.assert_allclose(jnp.exp(logits).sum(-1), 1.0, atol=1e-5)
  # Each stream averages its probabilities over the sampled positions.
  rgb_frames = aux['frame_logits'][:, :FRAMES]
  expected = jnp.log(jax.nn.softmax(rgb_frames).mean(axis=1))
  np.testing.assert_allclose(aux['rgb_logits'], expected, atol=1e-5)


def test_temporal_stream_takes_2l_flow_channels(tiny):
  _, variables, _, _ = tiny
  stream = variables['params']
  assert stream['flow_stream']['resnet']['conv1']['kernel'].shape[2] == 2 * STACK
  assert stream['rgb_stream']['resnet']['conv1']['kernel'].shape[2] == 3


def test_streams_see_only_their_modality_and_position(tiny):
  _, variables, x, apply = tiny
  _, aux = apply(variables, x)
  # Changing the RGB frames leaves the temporal stream unchanged, and vice versa.
  _, other_video = apply(variables, dict(x, video=x['video'][::-1]))
  np.testing.assert_allclose(other_video['flow_logits'], aux['flow_logits'], atol=1e-5)
  _, other_flow = apply(variables, dict(x, flow=x['flow'][::-1]))
  np.testing.assert_allclose(other_flow['rgb_logits'], aux['rgb_logits'], atol=1e-5)
  # Reversing the positions (each keeping its own L fields) reverses the per-position logits.
  flow_by_position = x['flow'].reshape(2, FRAMES, STACK, 32, 32, 2)[:, ::-1]
  reversed_x = {
    'video': x['video'][:, ::-1],
    'flow': flow_by_position.reshape(2, FRAMES * STACK, 32, 32, 2),
  }
  _, reversed_aux = apply(variables, reversed_x)
  for stream in (slice(0, FRAMES), slice(FRAMES, 2 * FRAMES)):
    np.testing.assert_allclose(
      reversed_aux['frame_logits'][:, stream][:, ::-1], aux['frame_logits'][:, stream], atol=1e-5
    )


def test_mean_flow_subtraction_removes_camera_translation(tiny):
  _, variables, x, apply = tiny
  pan = jnp.array([0.3, -0.2])  # the same displacement added everywhere
  logits, _ = apply(variables, x)
  panned, _ = apply(variables, dict(x, flow=x['flow'] + pan))
  np.testing.assert_allclose(panned, logits, atol=1e-5)


def test_model_inputs_come_from_the_batch_keys_it_names():
  model = two_stream.Model(**TINY)
  batch = {'video': 1, 'flow': 2, 'label': 3}
  assert models.model_inputs(model, batch) == {'video': 1, 'flow': 2}
  with pytest.raises(KeyError, match='flow'):
    models.model_inputs(model, {'video': 1, 'label': 3})


def test_flow_without_whole_stacks_is_an_error(tiny):
  model, variables, x, _ = tiny
  with pytest.raises(ValueError, match='config.input.flow.stack'):
    model.apply(variables, dict(x, flow=x['flow'][:, :-1]), train=False)
