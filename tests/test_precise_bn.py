"""Precise BatchNorm statistics: exact per-batch values, their average, and the trainer."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vidjax import configs, parallel, precise_bn, train


class _Net(nn.Module):
  """BatchNorm on the input (its statistics are the data's), a dense layer, a BatchNorm
  with another momentum, and one that keeps its running averages in training."""

  @nn.compact
  def __call__(self, x, train: bool):
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9, name='input_norm')(x)
    x = nn.Dense(3)(x)
    x = nn.BatchNorm(use_running_average=not train, momentum=0.99, name='hidden_norm')(x)
    return nn.BatchNorm(use_running_average=True, name='frozen_norm')(x)


def _data(num_batches=3, batch_size=16):
  rng = np.random.default_rng(0)
  scales = np.array([1.0, 3.0, 0.5, 2.0], np.float32)
  return [
    jnp.asarray(rng.normal(2.0, scales, size=(batch_size, 4)).astype(np.float32))
    for _ in range(num_batches)
  ]


def _stats_after(variables, x):
  _, state = _Net().apply(variables, x, train=True, mutable=['batch_stats'])
  return state['batch_stats']


def test_one_batch_gives_its_exact_mean_and_variance_whatever_the_momentum():
  x = _data(num_batches=1)[0]
  variables = _Net().init(jax.random.key(0), x, train=False)
  variables = jax.tree.map(lambda v: v + 5.0, variables)  # statistics far from the batch's

  def updated(old_stats):
    return _stats_after({'params': variables['params'], 'batch_stats': old_stats}, x)

  values, was_updated = precise_bn.batch_statistics(updated, variables['batch_stats'])
  np.testing.assert_allclose(values['input_norm']['mean'], x.mean(0), rtol=1e-5)
  np.testing.assert_allclose(values['input_norm']['var'], x.var(0), rtol=1e-5)
  params = variables['params']
  normalised = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
  normalised = normalised * params['input_norm']['scale'] + params['input_norm']['bias']
  hidden = nn.Dense(3).apply({'params': params['Dense_0']}, normalised)
  np.testing.assert_allclose(values['hidden_norm']['mean'], hidden.mean(0), rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(values['hidden_norm']['var'], hidden.var(0), rtol=1e-3)
  assert np.all(was_updated['input_norm']['mean']) and np.all(was_updated['hidden_norm']['var'])
  assert not np.any(was_updated['frozen_norm']['mean'])


class _Task:
  """The slice of the task contract precise BN uses."""

  def preprocess(self, batch, ctx):
    return batch

  def loss_and_metrics(self, model, variables, batch, ctx):
    _, state = model.apply(variables, batch['x'], train=True, mutable=['batch_stats'])
    return 0.0, (state, {})


def test_the_state_gets_the_average_of_the_batches_statistics(monkeypatch):
  batches = _data()
  variables = _Net().init(jax.random.key(0), batches[0], train=False)
  state = train.TrainState(
    step=jnp.zeros((), jnp.int32),
    params=variables['params'],
    batch_stats=variables['batch_stats'],
    opt_state=(),
    task_state=(),
  )
  mesh = parallel.make_mesh(configs.base_config().mesh)
  step = precise_bn.make_statistics_step(_Net(), _Task(), mesh, lambda state, constants: None)
  result = precise_bn.precise_state(
    state, iter({'x': np.asarray(x)} for x in batches), len(batches), step, (), mesh
  )
  stats = result.batch_stats
  np.testing.assert_allclose(
    stats['input_norm']['mean'], np.mean([x.mean(0) for x in batches], axis=0), rtol=1e-5
  )
  # fvcore's variance: the mean of the per-batch variances.
  np.testing.assert_allclose(
    stats['input_norm']['var'], np.mean([x.var(0) for x in batches], axis=0), rtol=1e-5
  )
  for key in ('mean', 'var'):
    np.testing.assert_array_equal(
      stats['frozen_norm'][key], variables['batch_stats']['frozen_norm'][key]
    )
