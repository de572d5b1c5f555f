"""The shared heads: every model's num_classes=0 backbone, feature maps, the multi-head."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from vidjax import configs
from vidjax.models import heads

# name -> (tiny kwargs without num_classes, the classifier's variables, input shape)
BACKBONES = {
  'video_resnet': (dict(depth=10, width=4, block='r2plus1d'), 'fc', (2, 4, 32, 32, 3)),
  'csn': (dict(depth=14, width=8), 'blocks_5_proj', (2, 8, 32, 32, 3)),
  'slowfast': (dict(depth=14, width=16, beta_inv=8), 'blocks_6_proj', (2, 8, 32, 32, 3)),
  'x3d': (
    dict(variant='xs', width=4, depth_factor=0.5, head_features=32),
    'blocks_5_proj',
    (2, 4, 32, 32, 3),
  ),
  'corrnet': (dict(depth=10, width=8, corr_groups=2, corr_window=3), 'fc', (2, 4, 32, 32, 3)),
  's3d': (dict(width_multiplier=0.125), 'Conv2d_0c_1x1', (2, 8, 32, 32, 3)),
  'c3d': (dict(width=8, fc_width=32), 'fc8', (2, 16, 112, 112, 3)),
  'vivit': (dict(variant='tiny', tubelet=(2, 8)), 'output_projection', (2, 4, 32, 32, 3)),
}


def _shapes(name, num_classes):
  kwargs, _, shape = BACKBONES[name]
  model = configs.load_module('models', name).Model(num_classes=num_classes, **kwargs)
  x = jax.ShapeDtypeStruct(shape, jnp.float32)
  variables = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), x)
  outputs = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, x)
  return variables, outputs


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_num_classes_zero_is_the_backbone_alone(name):
  _, classifier, _ = BACKBONES[name]
  with_head, (logits, aux) = _shapes(name, 7)
  backbone, (output, backbone_aux) = _shapes(name, 0)
  assert logits.shape == (2, 7) and logits.dtype == jnp.float32
  assert output.shape == aux['features'].shape == backbone_aux['features'].shape
  head_names = set(with_head['params']) - set(backbone['params'])
  assert head_names == {classifier}  # the head is the only difference, under its own name
  np.testing.assert_equal(
    traverse_util.flatten_dict(jax.tree.map(lambda s: s.shape, backbone['params'])),
    {
      k: v
      for k, v in traverse_util.flatten_dict(
        jax.tree.map(lambda s: s.shape, with_head['params'])
      ).items()
      if k[0] != classifier
    },
  )


# Models with heads of their own (a convolution in I3D's checkpoint layout, per-frame or
# per-step classifiers averaged in probability space): num_classes=0 gives the backbone.
OWN_HEADS = {
  'i3d': (dict(width_multiplier=1 / 16), 'Logits/Conv3d_0c_1x1', (2, 8, 32, 32, 3)),
  'fusion': (dict(variant='late_pool', width=8, fc_width=32), 'fc8', (2, 4, 32, 32, 3)),
  'fusion_multires': (dict(variant='multires', width=8, fc_width=32), 'fc8', (2, 4, 32, 32, 3)),
  'lrcn': (dict(width=12, fc_width=32, hidden=16), 'fc8', (2, 4, 32, 32, 3)),
  'single_frame': (dict(depth=10, width=8), 'fc', (2, 4, 32, 32, 3)),
}


@pytest.mark.parametrize('name', sorted(OWN_HEADS))
def test_num_classes_zero_on_models_with_heads_of_their_own(name):
  kwargs, classifier, shape = OWN_HEADS[name]
  module = configs.load_module('models', name.partition('_multires')[0])
  x = jax.ShapeDtypeStruct(shape, jnp.float32)
  for num_classes in (0, 7):
    model = module.Model(num_classes=num_classes, **kwargs)
    variables = jax.eval_shape(lambda x, m=model: m.init(jax.random.key(0), x, train=False), x)
    output, aux = jax.eval_shape(lambda v, x, m=model: m.apply(v, x, train=False), variables, x)
    if num_classes:
      assert output.shape == (2, 7) and classifier in variables['params']
    else:
      assert output.shape == aux['features'].shape and output.shape[0] == 2
      assert classifier not in variables['params']


def test_two_stream_without_classes_gives_both_streams_features():
  model = configs.load_module('models', 'two_stream').Model(num_classes=0, depth=10, width=8)
  x = {
    'video': jax.ShapeDtypeStruct((2, 2, 32, 32, 3), jnp.float32),
    'flow': jax.ShapeDtypeStruct((2, 6, 32, 32, 2), jnp.float32),
  }
  variables = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), x)
  output, aux = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, x)
  assert output.shape == aux['features'].shape == (2, 16 * 8)


@pytest.mark.parametrize('name', ['video_resnet', 'csn'])
def test_resnet_family_backbones_give_their_stage_maps(name):
  _, (_, aux) = _shapes(name, 0)
  maps = aux['feature_maps']
  assert len(maps) == 4
  channels = [m.shape[-1] for m in maps]
  assert channels == sorted(channels) and maps[-1].shape[-1] == aux['features'].shape[-1]
  assert maps[1].shape[2] == maps[0].shape[2] // 2  # each later stage halves the size


def test_multi_head_gives_one_logit_set_per_name_on_any_leading_shape():
  head = heads.MultiHead(num_classes={'video': 5, 'audio': 3})
  features = jnp.ones((2, 4, 16))  # e.g. 4 actors' RoI features per clip
  variables = head.init(jax.random.key(0), features, train=False)
  logits = head.apply(variables, features, train=False)
  assert {k: v.shape for k, v in logits.items()} == {'video': (2, 4, 5), 'audio': (2, 4, 3)}
  np.testing.assert_allclose(
    logits['audio'],
    features @ variables['params']['audio']['kernel'] + variables['params']['audio']['bias'],
    rtol=1e-6,
  )
