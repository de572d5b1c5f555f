"""Shuffle & Learn's siamese network: a shared 2D trunk, the frames' features in order."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util
from model_testing import random_variables

from vidjax.models import single_frame, tuple_order

TINY = dict(depth=10, width=8)


def test_the_order_matters_and_the_trunk_is_the_single_frame_models():
  model = tuple_order.Model(num_classes=1, **TINY)
  x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 3, 32, 32, 3), np.float32))
  variables = random_variables(model, x)
  apply = jax.jit(lambda v, x: model.apply(v, x, train=False))
  logits, aux = apply(variables, x)
  assert logits.shape == (2, 1) and aux['features'].shape == (2, 64)
  shuffled, shuffled_aux = apply(variables, x[:, ::-1])
  assert not np.allclose(logits, shuffled)  # the head reads the frames in order
  np.testing.assert_allclose(aux['features'], shuffled_aux['features'], atol=1e-5)
  # The trunk's variables are a single-frame classifier's, by name and shape.
  frame_model = single_frame.Model(num_classes=10, **TINY)
  frame_variables = jax.eval_shape(lambda: frame_model.init(jax.random.key(0), x, train=False))
  trunk = {
    name: value.shape
    for name, value in traverse_util.flatten_dict(variables['params'], sep='/').items()
    if not name.startswith('order/')
  }
  frame_trunk = {
    name: value.shape
    for name, value in traverse_util.flatten_dict(frame_variables['params'], sep='/').items()
    if not name.startswith('fc/')
  }
  assert trunk == frame_trunk
