import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from model_testing import random_variables

from vidjax.models import video_resnet

TINY = dict(num_classes=5, depth=10, width=8)


def _clip(shape=(2, 4, 32, 32, 3)):
  return jnp.asarray(np.random.default_rng(0).standard_normal(shape, np.float32))


def _apply(model, variables, x, train):
  """Jitted apply: one compilation instead of hundreds of eager per-op ones."""
  mutable = ['batch_stats'] if train else False
  return jax.jit(lambda v, x: model.apply(v, x, train=train, mutable=mutable))(variables, x)


@pytest.fixture(scope='module', params=['r3d', 'r2plus1d'])
def tiny(request):
  """A tiny model of each block type, its variables and its CPU-lowering outputs."""
  model = video_resnet.Model(**TINY, block=request.param, lowering='xla_cpu')
  x = _clip()
  variables = random_variables(model, x)
  return model, variables, x, _apply(model, variables, x, True), _apply(model, variables, x, False)


def test_shapes(tiny):
  *_, ((logits, aux), _), _ = tiny
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert aux['features'].shape == (2, 64)


@pytest.mark.parametrize('block', ['r3d', 'mc3', 'r2plus1d'])
def test_bottleneck_shapes(block):
  """Bottlenecks (numerics: tests/convert/test_torchvision_vmz.py) output 4x the width."""
  model = video_resnet.Model(**{**TINY, 'depth': 14}, block=block, stem_pool=True)
  x = _clip()
  logits, aux = jax.eval_shape(lambda: model.init_with_output(jax.random.key(0), x, train=False))[0]
  assert logits.shape == (2, 5)
  assert aux['features'].shape == (2, 32 * 8)


def test_batch_norm_uses_batch_statistics_in_train_mode_only(tiny):
  model, variables, x, ((train_logits, _), state), (eval_logits, _) = tiny
  changed = jax.tree.map(
    lambda a, b: bool(jnp.any(a != b)), state['batch_stats'], variables['batch_stats']
  )
  assert all(jax.tree.leaves(changed))
  # Batch statistics cancel a scaling of the input (every conv is linear); running averages
  # do not.
  (train_shifted, _), _ = _apply(model, variables, 3 * x, True)
  eval_shifted, _ = _apply(model, variables, 3 * x, False)
  np.testing.assert_allclose(train_shifted, train_logits, rtol=1e-3, atol=1e-3)
  assert not np.allclose(eval_shifted, eval_logits, rtol=1e-3, atol=1e-3)


def test_native_and_cpu_lowerings_agree(tiny):
  model, variables, x, ((cpu_logits, _), cpu_state), _ = tiny
  (logits, _), state = _apply(model.clone(lowering='native'), variables, x, True)
  np.testing.assert_allclose(cpu_logits, logits, rtol=1e-4, atol=1e-4)
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4),
    cpu_state['batch_stats'],
    state['batch_stats'],
  )


def _train_losses(model, variables, steps=5):
  """Losses of `steps` Adam steps on one batch; the parameters it ends with."""
  x, labels = _clip((4, 4, 32, 32, 3)), jnp.arange(4) % 5
  tx = optax.adam(1e-2)

  @jax.jit
  def step(params, batch_stats, opt_state):
    def loss_fn(params):
      (logits, _), state = model.apply(
        {'params': params, 'batch_stats': batch_stats}, x, train=True, mutable=['batch_stats']
      )
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
      return loss, state['batch_stats']

    (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), batch_stats, opt_state, loss

  params, batch_stats = variables['params'], variables['batch_stats']
  opt_state = tx.init(params)
  losses = []
  for _ in range(steps):
    params, batch_stats, opt_state, loss = step(params, batch_stats, opt_state)
    losses.append(float(loss))
  return np.array(losses), params


def test_a_few_steps_decrease_the_loss():
  model = video_resnet.Model(**TINY, block='r2plus1d')
  losses, _ = _train_losses(model, random_variables(model, _clip((4, 4, 32, 32, 3))))
  assert losses[-1] < 0.5 * losses[0], losses


def test_bfloat16_mixed_precision_trains_like_float32():
  """dtype='bfloat16' computes in bfloat16 on float32 parameters (the master weights the
  optimiser updates; bfloat16's exponent range needs no loss scaling): the first loss is
  float32's to bfloat16's precision, and 5 steps at Adam 1e-2 stay within a tenth of it."""
  model = video_resnet.Model(**TINY, block='r2plus1d')
  variables = random_variables(model, _clip((4, 4, 32, 32, 3)))
  losses, _ = _train_losses(model, variables)
  mixed, params = _train_losses(model.clone(dtype='bfloat16'), variables)
  assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params))
  np.testing.assert_allclose(mixed[0], losses[0], rtol=0.02)
  np.testing.assert_allclose(mixed, losses, atol=0.1 * losses[0])
  assert mixed[-1] < 0.5 * mixed[0]


def _shapes(model, frames=8, size=112):
  return jax.eval_shape(
    lambda: model.init(jax.random.key(0), jnp.zeros((1, frames, size, size, 3)), train=False)
  )


@pytest.mark.parametrize(
  ('block', 'expected'), [('r3d', 33_371_472), ('mc3', 11_695_440), ('r2plus1d', 31_505_325)]
)
def test_18_layer_parameter_counts_match_torchvision(block, expected):
  shapes = _shapes(video_resnet.Model(num_classes=400, depth=18, block=block))
  assert sum(x.size for x in jax.tree.leaves(shapes['params'])) == expected


@pytest.mark.parametrize(
  ('n_in', 'n_out', 'expected'),
  [(64, 64, 144), (64, 128, 230), (128, 128, 288), (256, 512, 921), (512, 512, 1152)],
)
def test_midplanes_match_the_parameters_of_a_3d_conv(n_in, n_out, expected):
  m = video_resnet.midplanes(n_in, n_out)
  assert m == expected
  params_3d = 27 * n_in * n_out
  params_2plus1d = 9 * n_in * m + 3 * m * n_out
  assert params_2plus1d <= params_3d < 9 * n_in * (m + 1) + 3 * (m + 1) * n_out


@pytest.mark.parametrize(
  ('depth', 'rule', 'conv1_mid', 'conv2_mid'),
  [
    # Basic block 64 -> 128: torchvision shares M(64, 128) = 230; per conv, conv2 has
    # M(128, 128) = 288 (VMZ's R(2+1)D-34).
    (18, 'block', 230, 230),
    (18, 'conv', 230, 288),
    # Bottleneck 256 -> 128 wide: the middle conv is 128 -> 128 either way, but torchvision
    # sizes it from the block input, M(256, 128) = 329; per conv M(128, 128) = 288.
    (50, 'block', None, 329),
    (50, 'conv', None, 288),
  ],
)
def test_midplanes_rules(depth, rule, conv1_mid, conv2_mid):
  model = video_resnet.Model(num_classes=5, depth=depth, midplanes_rule=rule)
  block = _shapes(model, 4, 32)['params']['layer2_0']
  if conv1_mid is not None:
    assert block['conv1']['spatial']['kernel'].shape == (1, 3, 3, 64, conv1_mid)
  assert block['conv2']['spatial']['kernel'].shape[-1] == conv2_mid


@pytest.mark.parametrize(
  ('block', 'kinds'),
  [
    ('mc3', '3d 3d 2d 2d 2d'),
    ('rmc3', '2d 2d 3d 3d 3d'),
    ('mc5', '3d 3d 3d 3d 2d'),
    ('rmc2', '2d 3d 3d 3d 3d'),
  ],
)
def test_mixed_convolutions_switch_at_group_x(block, kinds):
  """MCx is 3D below the paper's conv{x} group and 2D from it on; rMCx the reverse. 2D stages
  (1x3x3 convs, shortcuts without temporal stride) keep the clip length."""
  model = video_resnet.Model(**TINY, block=block)
  _, variables = jax.eval_shape(
    lambda: model.init_with_output(
      jax.random.key(0),
      jnp.zeros((1, 8, 32, 32, 3)),
      train=False,
      capture_intermediates=lambda m, _: isinstance(m, video_resnet.BasicBlock),
    )
  )
  params = variables['params']
  temporal = ['3d' if params['stem']['conv']['kernel'].shape[0] == 3 else '2d']
  frames = 8
  for s in range(1, 5):
    block_params = params[f'layer{s}_0']
    kind = '3d' if block_params['conv1']['kernel'].shape[0] == 3 else '2d'
    temporal.append(kind)
    if s > 1 and kind == '3d':
      frames //= 2
    assert variables['intermediates'][f'layer{s}_0']['__call__'][0].shape[1] == frames
  assert ' '.join(temporal) == kinds


def test_unknown_values_are_named():
  with pytest.raises(ValueError, match=r'depth=42.*\(10, 18, 34, 14, 50, 152\)'):
    video_resnet.Model(num_classes=5, depth=42)
  with pytest.raises(ValueError, match=r"block='mc6'.*'r3d', 'r2plus1d', 'mc2'"):
    video_resnet.Model(num_classes=5, block='mc6')
  with pytest.raises(ValueError, match=r"midplanes_rule='paper'.*'block', 'conv'"):
    video_resnet.Model(num_classes=5, midplanes_rule='paper')


def test_remat_gives_the_same_loss_and_gradients():
  """Rematerialised blocks: the same variables, loss, gradients and BatchNorm updates."""
  x = _clip()
  plain = video_resnet.Model(**TINY, block='r2plus1d', lowering='native')
  variables = random_variables(plain, x)

  def loss_and_grads(model):
    def loss(params):
      logits, updates = model.apply(
        {**variables, 'params': params}, x, train=True, mutable=['batch_stats']
      )
      return jnp.mean(logits[0] ** 2), updates

    return jax.jit(jax.value_and_grad(loss, has_aux=True))(variables['params'])

  (loss, stats), grads = loss_and_grads(plain)
  (loss_remat, stats_remat), grads_remat = loss_and_grads(plain.clone(remat=True))
  np.testing.assert_allclose(loss_remat, loss, rtol=1e-6)
  # Recomputation regroups float32 sums: equal to rounding, relative to each tensor's scale.
  for got, want in zip(jax.tree.leaves(grads_remat), jax.tree.leaves(grads), strict=True):
    np.testing.assert_allclose(got, want, atol=1e-5 * float(np.abs(want).max()))
  for got, want in zip(jax.tree.leaves(stats_remat), jax.tree.leaves(stats), strict=True):
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
