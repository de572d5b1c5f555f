"""ViViT factorised encoder: shapes, factorisation, published parameter count."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_testing import random_variables

from vidjax.models import vivit

TINY = dict(num_classes=5, variant='tiny', tubelet=(2, 8))


def _params(model, shape):
  return jax.eval_shape(
    lambda: model.init(jax.random.key(0), jnp.zeros(shape, jnp.float32), train=False)
  )['params']


def test_tiny_forward_train_and_eval():
  model = vivit.Model(**TINY, dropout_rate=0.1, attention_dropout_rate=0.1)
  x = jax.random.normal(jax.random.key(0), (2, 8, 32, 32, 3))
  variables = random_variables(model, x)
  logits, aux = jax.jit(
    lambda v, x: model.apply(v, x, train=True, rngs={'dropout': jax.random.key(2)})
  )(variables, x)
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert aux['features'].shape == (2, 32)
  assert aux['frame_features'].shape == (2, 4, 32)  # 8 frames / t=2
  assert np.all(np.isfinite(aux['features']))
  logits_eval, _ = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, x)
  assert logits_eval.shape == (2, 5)


def test_factorisation():
  """Spatial attention never mixes temporal indices: changing frames 2-3 leaves the CLS
  output of temporal index 0 (frames 0-1) unchanged."""
  model = vivit.Model(**TINY)
  x = jax.random.normal(jax.random.key(0), (1, 8, 16, 16, 3))
  variables = random_variables(model, x)
  apply = jax.jit(lambda v, x: model.apply(v, x, train=False)[1]['frame_features'])
  a = apply(variables, x)
  b = apply(variables, x.at[:, 2:4].add(1.0))
  np.testing.assert_allclose(a[:, 0], b[:, 0], rtol=1e-5, atol=1e-5)
  assert not np.allclose(a[:, 1], b[:, 1])
  # Position embeddings: 4x4 patches + CLS in space, 4 indices + CLS in time.
  params = variables['params']
  assert params['SpatialTransformer']['posembed'].shape == (1, 2 * 2 + 1, 32)
  assert params['TemporalTransformer']['posembed'].shape == (1, 4 + 1, 32)


def test_published_parameter_count():
  # ViViT-B factorised encoder, 32x224x224, tubelet 2x16x16, K400: 115.1 M (Arnab et al.
  # 2021, Table 1); measured 115,062,928.
  params = _params(vivit.Model(num_classes=400, variant='B'), (1, 32, 224, 224, 3))
  n = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
  assert abs(n - 115.1e6) / 115.1e6 < 0.005, n


def test_bad_values_raise():
  with pytest.raises(ValueError, match='variant'):
    vivit.Model(num_classes=5, variant='H')
  model = vivit.Model(**TINY)
  with pytest.raises(ValueError, match='tubelet'):
    _params(model, (1, 7, 32, 32, 3))
