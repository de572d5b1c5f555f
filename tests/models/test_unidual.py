"""UniDual R(2+1)D: two modality paths through shared spatial weights."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from vidjax.models import unidual, video_resnet

NUM_CLASSES = dict(video=5, image=3)
VIDEO = jax.random.normal(jax.random.key(1), (2, 4, 32, 32, 3))
IMAGE = jax.random.normal(jax.random.key(2), (3, 32, 32, 3))


def _names(tree) -> set[str]:
  return {'/'.join(k) for k in traverse_util.flatten_dict(tree)}


@pytest.fixture(scope='module')
def model_and_variables():
  model = unidual.Model(num_classes=NUM_CLASSES, depth=10, width=4)
  return model, model.init(jax.random.key(0), {'video': VIDEO}, train=False)


def test_every_path_is_built_whichever_input_initialises_it(model_and_variables):
  model, from_video = model_and_variables
  from_image = model.init(jax.random.key(0), {'image': IMAGE}, train=False)
  assert _names(from_video) == _names(from_image)
  names = _names(from_video['params'])
  assert {'fc/kernel', 'fc_image/kernel', 'stem/pointwise/kernel', 'stem/temporal/kernel'} <= names
  logits, aux = model.apply(from_video, {'video': VIDEO, 'image': IMAGE}, train=False)
  assert logits['video'].shape == (2, 5) and logits['image'].shape == (3, 3)
  assert aux['features']['image'].shape == (3, 32)
  assert len(aux['feature_maps']['video']) == 4


def test_the_video_path_is_r2plus1d(model_and_variables):
  """R(2+1)D's variables load into the video path by name, and give R(2+1)D's logits."""
  model, variables = model_and_variables
  r2plus1d = video_resnet.Model(num_classes=5, depth=10, width=4, block='r2plus1d')
  reference = r2plus1d.init(jax.random.key(7), VIDEO, train=False)
  flat = traverse_util.flatten_dict(jax.tree.map(np.asarray, variables))
  for key, value in traverse_util.flatten_dict(reference).items():
    assert flat[key].shape == value.shape, key
    flat[key] = value
  loaded = traverse_util.unflatten_dict(flat)
  expected, _ = r2plus1d.apply(reference, VIDEO, train=False)
  got, _ = model.apply(loaded, {'video': VIDEO}, train=False)
  np.testing.assert_allclose(got['video'], expected, rtol=1e-5, atol=1e-5)


def _gradient_norms(model, variables, modality, x):
  def loss(params):
    logits, _ = model.apply({**variables, 'params': params}, {modality: x}, train=False)
    return jnp.sum(logits[modality] ** 2)

  # One compiled program: op-by-op differentiation of the whole network is slower.
  grads = traverse_util.flatten_dict(jax.jit(jax.grad(loss))(variables['params']))
  return {'/'.join(k): float(jnp.abs(g).sum()) for k, g in grads.items()}


@pytest.mark.parametrize('modality', ['video', 'image'])
def test_gradients_reach_the_shared_weights_and_only_the_branch_used(model_and_variables, modality):
  model, variables = model_and_variables
  x = VIDEO if modality == 'video' else IMAGE
  norms = _gradient_norms(model, variables, modality, x)
  shared = [n for n in norms if '/spatial/' in n or 'downsample_conv' in n]
  image_own = [n for n in norms if 'pointwise' in n or '_image' in n]
  # Everything else (temporal convs, the video's norms, its head 'fc') is the video's own.
  video_own = [n for n in norms if n not in shared and n not in image_own]
  used, unused = (video_own, image_own) if modality == 'video' else (image_own, video_own)
  assert all(norms[n] > 0 for n in shared + used), [n for n in shared + used if not norms[n]]
  assert all(norms[n] == 0 for n in unused), [n for n in unused if norms[n]]


def test_one_shared_trunk_runs_images_as_single_frame_clips():
  """dual_stages=() and share_norm: traditional multi-task learning, everything shared but
  the heads; an image's features are those of a one-frame clip of it."""
  model = unidual.Model(num_classes=NUM_CLASSES, depth=10, width=4, dual_stages=(), share_norm=True)
  variables = model.init(jax.random.key(0), {'image': IMAGE}, train=False)
  names = _names(variables['params'])
  assert not [n for n in names if 'pointwise' in n or '_image' in n.replace('fc_image', '')]
  _, aux = model.apply(variables, {'video': IMAGE[:, None], 'image': IMAGE}, train=False)
  np.testing.assert_allclose(aux['features']['image'], aux['features']['video'], rtol=1e-6)


def test_dual_stages_choose_where_the_paths_split():
  model = unidual.Model(num_classes=NUM_CLASSES, depth=10, width=4, dual_stages=(3, 4))
  names = _names(model.init(jax.random.key(0), {'image': IMAGE}, train=False)['params'])
  pointwise = sorted(n.split('/')[0] for n in names if 'pointwise' in n)
  assert pointwise == ['layer3_0', 'layer3_0', 'layer4_0', 'layer4_0']


@pytest.mark.slow
def test_bottleneck_depths_build():
  model = unidual.Model(num_classes=NUM_CLASSES, depth=14, width=4, midplanes_rule='conv')
  # Shapes and names only: traced, not run.
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), {'image': IMAGE}, train=False))
  logits, _ = jax.eval_shape(
    lambda v: model.apply(v, {'video': VIDEO, 'image': IMAGE}, train=False), variables
  )
  assert logits['image'].shape == (3, 3)
  assert 'layer1_0/conv2/pointwise/kernel' in _names(variables['params'])


@pytest.mark.parametrize(
  'kwargs, match',
  [
    (dict(num_classes={'audio': 3}), 'keys among'),
    (dict(num_classes=NUM_CLASSES, depth=19), 'depth=19'),
    (dict(num_classes=NUM_CLASSES, dual_stages=(5,)), 'stages are 0'),
  ],
)
def test_bad_settings_are_named(kwargs, match):
  with pytest.raises(ValueError, match=match):
    unidual.Model(**kwargs)


# depth -> (total, the video path's, the image path's own), docs/unidual.md's table.
PARAMETER_COUNTS = {
  18: (34_869_211, 31_505_325, 3_363_886),
  152: (127_884_483, 118_226_785, 9_657_698),
}


@pytest.mark.parametrize('depth', sorted(PARAMETER_COUNTS))
def test_parameter_counts(depth):
  """The video path has plain R(2+1)D's parameters exactly (torchvision's R(2+1)D-18,
  VMZ's R(2+1)D-152); the image path adds its 1x1 convolutions, norms and head."""
  vmz = dict(midplanes_rule='conv', stem_pool=True, bn_epsilon=1e-3) if depth == 152 else {}
  model = unidual.Model(num_classes=dict(video=400, image=1000), depth=depth, **vmz)
  x = jax.ShapeDtypeStruct((1, 4, 112, 112, 3), jnp.float32)
  params = jax.eval_shape(lambda x: model.init(jax.random.key(0), {'video': x}, train=False), x)
  sizes = {
    n: int(np.prod(a.shape))
    for n, a in traverse_util.flatten_dict(params['params'], sep='/').items()
  }
  image_own = sum(size for name, size in sizes.items() if 'pointwise' in name or '_image' in name)
  total = sum(sizes.values())
  assert (total, total - image_own, image_own) == PARAMETER_COUNTS[depth]


def test_an_input_without_a_head_is_named():
  model = unidual.Model(num_classes=dict(video=5), depth=10, width=4)
  with pytest.raises(ValueError, match=r"inputs \['image'\]; this model has heads for \['video'\]"):
    model.init(jax.random.key(0), {'image': IMAGE}, train=False)
