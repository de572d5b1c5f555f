import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_testing import random_variables

from vidjax import models
from vidjax.models import single_frame

TINY = dict(num_classes=5, depth=10, width=8)


@pytest.fixture(scope='module')
def tiny():
  """The tiny model, its variables, a clip and the jitted eval-mode apply."""
  model = single_frame.Model(**TINY)
  x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 3, 32, 32, 3), np.float32))
  apply = jax.jit(lambda v, x: model.apply(v, x, train=False))
  return model, random_variables(model, x), x, apply


def test_shapes_and_probability_averaging(tiny):
  _, variables, x, apply = tiny
  logits, aux = apply(variables, x)
  assert logits.shape == (2, 5) and aux['frame_logits'].shape == (2, 3, 5)
  assert aux['features'].shape == (2, 64)
  expected = jnp.log(jax.nn.softmax(aux['frame_logits']).mean(axis=1))
  np.testing.assert_allclose(logits, expected, atol=1e-5)
  np.testing.assert_allclose(jnp.exp(logits).sum(-1), 1.0, atol=1e-5)


def test_an_image_batch_is_classified_as_one_frame_clips(tiny):
  """The `image` loader's batches (models.model_inputs gives {'image': [B, H, W, 3]})."""
  model, variables, x, apply = tiny
  images = x[:, 0]
  logits, _ = apply(variables, models.model_inputs(model, {'image': images, 'label': 0}))
  expected, _ = apply(variables, x[:, :1])
  np.testing.assert_allclose(logits, expected, atol=1e-6)
  from_video, _ = apply(variables, models.model_inputs(model, {'video': x}))
  np.testing.assert_allclose(from_video, apply(variables, x)[0], atol=1e-6)


def test_frames_are_independent(tiny):
  _, variables, x, apply = tiny
  _, aux = apply(variables, x)
  _, aux_reversed = apply(variables, x[:, ::-1])
  np.testing.assert_allclose(aux['frame_logits'][:, ::-1], aux_reversed['frame_logits'], atol=1e-5)


def test_native_and_cpu_lowerings_agree(tiny):
  model, variables, x, apply = tiny
  native = jax.jit(lambda v, x: model.clone(lowering='native').apply(v, x, train=False))
  np.testing.assert_allclose(apply(variables, x)[0], native(variables, x)[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(('depth', 'count'), [(18, 11_689_512), (50, 25_557_032)])
def test_parameter_counts_match_torchvision(depth, count):
  """torchvision's resnet18 and resnet50 (1,000 classes)."""
  model = single_frame.Model(num_classes=1000, depth=depth, width=64)
  shapes = jax.eval_shape(
    lambda: model.init(jax.random.key(0), jnp.zeros((1, 1, 224, 224, 3)), train=False)
  )
  assert sum(x.size for x in jax.tree.leaves(shapes['params'])) == count


def test_unknown_depth_is_named():
  with pytest.raises(ValueError, match=r'depth=20.*\(10, 18, 34, 14, 50, 152\)'):
    single_frame.Model(num_classes=5, depth=20)
