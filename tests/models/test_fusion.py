"""Karpathy et al. fusion networks: shapes per variant and where each one merges time."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vidjax.models import fusion

TINY = dict(num_classes=5, width=8, fc_width=32, dropout_rate=0.0)

# Tiny models: XLA's compile time dominates and its optimisation passes cost ~3x more than
# they save here.
FAST_COMPILE = {'xla_backend_optimization_level': 0}


def _variables(model: nn.Module, x: jax.Array, seed: int = 0):
  """Random variables drawn in numpy: skips compiling the initialisers (seconds on CPU)."""
  shapes = jax.eval_shape(functools.partial(model.init, train=False), jax.random.key(0), x)
  rng = np.random.default_rng(seed)

  def draw(s):
    if len(s.shape) == 1:
      return jnp.asarray(rng.normal(0, 0.1, s.shape), s.dtype)
    return jnp.asarray(rng.normal(0, 1, s.shape) / np.sqrt(np.prod(s.shape[:-1])), s.dtype)

  return jax.tree.map(draw, shapes)


def _shapes(model: nn.Module, x_shape: tuple[int, ...], **apply_kwargs):
  """Variables and outputs of `model` as shapes only (no compilation, no allocation)."""
  x = jax.ShapeDtypeStruct(x_shape, jnp.float32)
  variables = jax.eval_shape(functools.partial(model.init, train=False), jax.random.key(0), x)
  out = jax.eval_shape(functools.partial(model.apply, train=False, **apply_kwargs), variables, x)
  return variables, out


def _frames_used(model: nn.Module, t: int) -> tuple[jax.Array, dict, np.ndarray]:
  """Runs a tiny clip and its T copies with one frame changed each, in one batch.

  Returns:
    logits [1 + T, K], aux, and used [T]: whether changing frame t changes the logits.
  """
  x = jax.random.normal(jax.random.key(1), (1, t, 32, 32, 3))
  bump = jnp.eye(t)[:, None, :, None, None, None] * 3.0  # [T, 1, T, 1, 1, 1]
  batch = jnp.concatenate([x, (x + bump).reshape(t, t, 32, 32, 3)])
  logits, aux = jax.jit(functools.partial(model.apply, train=False), compiler_options=FAST_COMPILE)(
    _variables(model, x), batch
  )
  used = np.abs(np.asarray(logits[1:] - logits[:1])).max(axis=-1) > 1e-6
  return logits, aux, used


@pytest.mark.parametrize(
  'variant, frames, expected',
  [
    # Late fusion: exactly two frames, 15 apart.
    ('late', 16, [0, 15]),
    ('late_pool', 6, [0, 1, 2, 3, 4, 5]),
    # Early and slow fusion read the centre `fusion_frames` (10) frames.
    ('early', 12, list(range(1, 11))),
    ('slow', 12, list(range(1, 11))),
  ],
)
def test_tiny_shapes_and_frames_used(variant, frames, expected):
  model = fusion.Model(variant=variant, **TINY)
  logits, aux, used = _frames_used(model, frames)
  assert logits.shape == (1 + frames, 5) and logits.dtype == jnp.float32
  assert aux['features'].shape == (1 + frames, 32)
  assert np.all(np.isfinite(logits))
  np.testing.assert_array_equal(np.flatnonzero(used), expected)


def test_unknown_variant():
  with pytest.raises(ValueError, match=r"variant='mid'.*'late'"):
    fusion.Model(num_classes=5, variant='mid')


def test_early_fusion_first_kernel_spans_t_frames():
  variables, _ = _shapes(fusion.Model(num_classes=487, variant='early'), (1, 14, 170, 170, 3))
  # Time as channels: an 11 x 11 kernel over T * 3 = 30 input channels.
  assert variables['params']['tower']['conv1']['kernel'].shape == (11, 11, 30, 96)


def test_slow_fusion_temporal_extent_and_stride():
  model = fusion.Model(num_classes=487, variant='slow')
  variables, (_, state) = _shapes(
    model, (1, 10, 170, 170, 3), capture_intermediates=True, mutable=['intermediates']
  )
  params, inter = variables['params']['tower'], state['intermediates']['tower']
  assert params['conv1']['kernel'].shape == (4, 11, 11, 3, 96)
  assert params['conv2']['kernel'].shape[:3] == (2, 5, 5)
  assert params['conv3']['kernel'].shape[:3] == (2, 3, 3)
  # 10 frames -> 4 (extent 4, stride 2) -> 2 -> 1: the top sees all 10 frames.
  frames = [inter[f'conv{i}']['__call__'][0].shape[1] for i in range(1, 6)]
  assert frames == [4, 2, 1, 1, 1]


def test_late_fusion_uses_two_frames_15_apart():
  assert fusion.late_fusion_frames(16, 15) == (0, 15)
  assert fusion.late_fusion_frames(20, 15) == (2, 17)
  assert fusion.Model(num_classes=5, variant='late').frame_gap == 15


def test_multires_streams_see_half_resolution():
  seen = {}

  def record(next_fun, args, kwargs, context):
    if isinstance(context.module, fusion.Tower):
      seen[context.module.name] = args[0].shape
    return next_fun(*args, **kwargs)

  model = fusion.Model(num_classes=487, variant='multires')
  with nn.intercept_methods(record):
    variables, (logits, aux) = _shapes(model, (2, 3, 178, 178, 3))
  assert seen == {'context': (6, 89, 89, 3), 'fovea': (6, 89, 89, 3)}
  # Last pool removed: both streams end at 7 x 7 x 256, as in the paper.
  assert variables['params']['fc6']['kernel'].shape == (2 * 7 * 7 * 256, 4096)
  assert logits.shape == (2, 487) and aux['features'].shape == (2, 4096)


def test_multires_fovea_is_centre_crop():
  model = fusion.Model(variant='multires', **TINY)
  x = jax.random.normal(jax.random.key(1), (1, 1, 32, 32, 3))
  # Zero the context stream: the output then depends only on the fovea's pixels.
  variables = jax.tree_util.tree_map_with_path(
    lambda p, v: v * 0 if 'context' in jax.tree_util.keystr(p) else v, _variables(model, x)
  )
  inside = x.at[:, :, 8:24, 8:24].add(1.0)
  outside = x.at[:, :, :8].add(1.0).at[:, :, 24:].add(1.0).at[:, :, :, :8].add(1.0)
  logits, aux = jax.jit(functools.partial(model.apply, train=False), compiler_options=FAST_COMPILE)(
    variables, jnp.concatenate([x, inside, outside])
  )
  assert logits.shape == (3, 5) and aux['features'].shape == (3, 32)
  assert np.abs(logits[1] - logits[0]).max() > 1e-4
  np.testing.assert_allclose(logits[2], logits[0], atol=1e-6)


def test_training_step_decreases_loss():
  model = fusion.Model(variant='early', **TINY)
  x = jax.random.normal(jax.random.key(1), (4, 10, 32, 32, 3))
  labels = jnp.arange(4)
  params = _variables(model, x)['params']
  tx = optax.adam(3e-3)

  def loss_fn(params):
    logits, _ = model.apply({'params': params}, x, train=True, rngs={'dropout': jax.random.key(0)})
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

  @functools.partial(jax.jit, compiler_options=FAST_COMPILE)
  def step(params, opt_state):
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  opt_state = tx.init(params)
  losses = []
  for _ in range(5):
    params, opt_state, loss = step(params, opt_state)
    losses.append(float(loss))
  assert np.all(np.isfinite(losses))
  assert losses[-1] < 0.9 * losses[0], losses
