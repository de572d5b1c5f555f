"""Shuffle & Learn's siamese network: a shared 2D trunk, the frames' features in order."""

import os
import re

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util
from model_testing import random_variables

from vidjax import configs
from vidjax.models import single_frame, tuple_order

TINY = dict(depth=10, width=8)


def test_the_order_matters_and_the_trunk_is_the_single_frame_models():
  model = tuple_order.Model(num_classes=1, **TINY)
  x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 3, 32, 32, 3), np.float32))
  variables = random_variables(model, x)
  apply = jax.jit(lambda v, x: model.apply(v, x, train=False))
  logits, aux = apply(variables, x)
  assert logits.shape == (2, 1) and aux['features'].shape == (2, 3 * 64)
  shuffled, shuffled_aux = apply(variables, x[:, ::-1])
  assert not np.allclose(logits, shuffled)  # the head reads the frames in order
  # The features are the frames' own, concatenated in the order given.
  np.testing.assert_allclose(
    aux['features'].reshape(2, 3, 64)[:, ::-1],
    shuffled_aux['features'].reshape(2, 3, 64),
    atol=1e-5,
  )
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


def test_the_transfer_configs_fine_tune_the_pretrained_network():
  repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  load = lambda spec: configs.load_config_file(os.path.join(repo, spec))  # noqa: E731
  # Real data: the paper's transfer, the pretrained trunk as a single-frame classifier.
  pretraining = load('experiments/shuffle_learn/ucf101.py')
  finetune = load('experiments/transfer/finetune.py:network=resnet18-frames,init_from=/sal')
  assert finetune.model_name == 'single_frame' and finetune.input.sampling.num_frames == 1
  assert (finetune.model.depth, finetune.model.width) == (
    pretraining.model.depth,
    pretraining.model.width,
  )
  assert tuple(finetune.init_from.dont_load) == (single_frame.CLASSIFIER,)
  # Miniature: the whole siamese network with an action output; only the order logit is new.
  miniature = load('experiments/shuffle_learn/synthetic_finetune.py:init_from=/sal')
  model = tuple_order.Model(**miniature.model)
  x = jnp.zeros((1, miniature.input.sampling.num_frames, 32, 32, 3))
  names = traverse_util.flatten_dict(
    jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))['params'], sep='/'
  )
  new = [
    name for name in names if any(re.fullmatch(p, name) for p in miniature.init_from.dont_load)
  ]
  assert sorted(new) == ['order/logits/bias', 'order/logits/kernel']
