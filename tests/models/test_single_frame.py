import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax.models import single_frame


def _tiny():
  return single_frame.Model(num_classes=5, depth=10, width=8)


def test_shapes_and_probability_averaging():
  model = _tiny()
  x = jax.random.normal(jax.random.key(0), (2, 3, 32, 32, 3))
  variables = model.init(jax.random.key(1), x, train=False)
  logits, aux = model.apply(variables, x, train=False)
  assert logits.shape == (2, 5) and aux['frame_logits'].shape == (2, 3, 5)
  assert aux['features'].shape == (2, 64)
  expected = jnp.log(jax.nn.softmax(aux['frame_logits']).mean(axis=1))
  np.testing.assert_allclose(logits, expected, atol=1e-5)
  np.testing.assert_allclose(jnp.exp(logits).sum(-1), 1.0, atol=1e-5)


def test_frames_are_independent():
  model = _tiny()
  x = jax.random.normal(jax.random.key(0), (1, 3, 32, 32, 3))
  variables = model.init(jax.random.key(1), x, train=False)
  _, aux = model.apply(variables, x, train=False)
  _, single = model.apply(variables, x[:, 1:2], train=False)
  np.testing.assert_allclose(aux['frame_logits'][:, 1], single['frame_logits'][:, 0], atol=1e-5)


def test_resnet18_parameter_count_matches_torchvision():
  model = single_frame.Model(num_classes=1000, depth=18, width=64)
  shapes = jax.eval_shape(
    lambda: model.init(jax.random.key(0), jnp.zeros((1, 1, 224, 224, 3)), train=False)
  )
  assert sum(x.size for x in jax.tree.leaves(shapes['params'])) == 11_689_512


def test_unknown_depth_is_named():
  with pytest.raises(ValueError, match='depth=50'):
    single_frame.Model(num_classes=5, depth=50)
