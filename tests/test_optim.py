import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from vidjax import configs, optim


def _optim_config(**overrides):
  config = configs.base_config().optim
  config.update(overrides)
  return config


def test_warmup_then_cosine():
  schedule = optim.make_schedule(
    ml_collections.ConfigDict(dict(name='cosine', base_lr=1.0, warmup_steps=10)), 110
  )
  assert float(schedule(0)) == 0.0
  np.testing.assert_allclose(float(schedule(5)), 0.5)
  np.testing.assert_allclose(float(schedule(10)), 1.0)
  np.testing.assert_allclose(float(schedule(60)), 0.5, atol=1e-6)
  np.testing.assert_allclose(float(schedule(110)), 0.0, atol=1e-6)


def test_step_schedule_boundaries_are_fractions_of_training():
  schedule = optim.make_schedule(
    ml_collections.ConfigDict(
      dict(name='step', base_lr=1.0, warmup_steps=0, boundaries=(0.5, 0.75), decay_factor=0.1)
    ),
    100,
  )
  np.testing.assert_allclose(
    [float(schedule(s)) for s in (49, 50, 74, 75)], [1.0, 0.1, 0.1, 0.01], rtol=1e-6
  )


def test_no_weight_decay_on_norms_and_biases():
  params = {
    'conv': {'kernel': jnp.ones((3, 3, 2, 2)), 'bias': jnp.ones(2)},
    'bn': {'scale': jnp.ones(2)},
  }
  tx, _ = optim.make_optimizer(
    _optim_config(
      weight_decay=0.5,
      schedule=dict(name='constant', base_lr=1.0, warmup_steps=0),
      momentum=0.0,
      nesterov=False,
    ),
    10,
  )
  zero_grads = jax.tree.map(jnp.zeros_like, params)
  updates, _ = tx.update(zero_grads, tx.init(params), params)
  np.testing.assert_allclose(updates['conv']['kernel'], -0.5)
  np.testing.assert_allclose(updates['conv']['bias'], 0.0)
  np.testing.assert_allclose(updates['bn']['scale'], 0.0)


def test_adamw_and_clipping():
  config = _optim_config(
    name='adamw', b1=0.9, b2=0.999, eps=1e-8, grad_clip_norm=1.0, weight_decay=0.0
  )
  tx, _ = optim.make_optimizer(config, 10)
  params = {'w': jnp.ones((2, 2))}
  updates, _ = tx.update({'w': jnp.full((2, 2), 100.0)}, tx.init(params), params)
  assert np.all(np.isfinite(updates['w']))


def test_unknown_optimizer_and_missing_key_are_named():
  with pytest.raises(ValueError, match="config.optim.name='lamb'"):
    optim.make_optimizer(_optim_config(name='lamb'), 10)
  with pytest.raises(ValueError, match="config.optim needs the key 'b1'"):
    optim.make_optimizer(_optim_config(name='adamw'), 10)


def _params():
  return {
    'backbone': {'conv': {'kernel': jnp.ones((3, 3)), 'bias': jnp.ones((3,))}},
    'fc': {'kernel': jnp.ones((3, 2))},
  }


def _one_update(param_groups):
  config = _optim_config(param_groups=param_groups, weight_decay=1e-2)
  tx, _ = optim.make_optimizer(config, 100)
  params = _params()
  grads = jax.tree.map(lambda p: jnp.full_like(p, 0.5), params)
  updates, _ = tx.update(grads, tx.init(params), params)
  return updates


def test_param_groups_scale_the_learning_rate_and_freeze():
  base = _one_update(())
  scaled = _one_update(((r'backbone/.*', {'lr_mult': 0.1}),))
  frozen = _one_update(((r'backbone/.*', 'frozen'),))
  for leaf_base, leaf_scaled in zip(
    jax.tree.leaves(base['backbone']), jax.tree.leaves(scaled['backbone']), strict=True
  ):
    np.testing.assert_allclose(leaf_scaled, 0.1 * leaf_base, rtol=1e-6)
    assert np.all(np.asarray(leaf_base) != 0)
  np.testing.assert_array_equal(scaled['fc']['kernel'], base['fc']['kernel'])
  assert all(np.all(np.asarray(leaf) == 0) for leaf in jax.tree.leaves(frozen['backbone']))
  np.testing.assert_array_equal(frozen['fc']['kernel'], base['fc']['kernel'])


def test_param_groups_first_match_decides_and_masks_match_batch_stats():
  labels = optim.group_labels(((r'fc/.*', 'frozen'), (r'.*', {'lr_mult': 2.0})), _params())
  assert labels == {'backbone': {'conv': {'kernel': '1', 'bias': '1'}}, 'fc': {'kernel': '0'}}
  stats = {'backbone': {'bn': {'mean': jnp.zeros(3)}}, 'fc_bn': {'mean': jnp.zeros(2)}}
  mask = optim.frozen_mask(((r'backbone/.*', 'frozen'),), stats)
  assert mask == {'backbone': {'bn': {'mean': True}}, 'fc_bn': {'mean': False}}


@pytest.mark.parametrize(
  'groups, message',
  [
    (((r'head/.*', 'frozen'),), "pattern 'head/.*' matches no parameter"),
    (((r'fc/.*', 'freeze'),), 'write \\(regex, '),
    (((r'fc/.*', {'lr': 0.1}),), 'write \\(regex, '),
  ],
)
def test_param_groups_errors_name_the_group(groups, message):
  with pytest.raises(ValueError, match=r'config.optim.param_groups\[0\].*' + message):
    _one_update(groups)


@pytest.mark.parametrize('name', ['sgd', 'adamw'])
def test_accumulation_equals_the_larger_batch(name):
  """k = 2 steps on gradients g1 then g2 give the parameters that one step on their mean
  gives (clipping and weight decay on); the first step of a window changes nothing. The
  schedule stays in train steps: 16 steps with a warm-up of 4, accumulated by 2, update as
  8 plain updates with a warm-up of 2."""
  settings = dict(name=name, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2, grad_clip_norm=0.5)

  def optimizer(total, warmup, accumulation):
    schedule = dict(name='cosine', base_lr=0.1, warmup_steps=warmup)
    config = _optim_config(**settings, schedule=schedule, accumulation_steps=accumulation)
    return optim.make_optimizer(config, total)[0]

  plain, accumulated = optimizer(8, 2, 1), optimizer(16, 4, 2)
  rng = np.random.default_rng(0)
  params = {'kernel': jnp.asarray(rng.normal(size=(3, 2)), jnp.float32)}
  p_plain, p_acc = params, params
  s_plain, s_acc = plain.init(params), accumulated.init(params)
  for _ in range(4):
    grads = [{'kernel': jnp.asarray(rng.normal(size=(3, 2)), jnp.float32)} for _ in range(2)]
    for k, g in enumerate(grads):
      updates, s_acc = accumulated.update(g, s_acc, p_acc)
      p_acc = jax.tree.map(jnp.add, p_acc, updates)
      if k == 0:
        np.testing.assert_array_equal(updates['kernel'], 0.0)
    mean = jax.tree.map(lambda a, b: (a + b) / 2, *grads)
    updates, s_plain = plain.update(mean, s_plain, p_plain)
    p_plain = jax.tree.map(jnp.add, p_plain, updates)
  np.testing.assert_allclose(p_acc['kernel'], p_plain['kernel'], rtol=1e-6, atol=1e-7)
  assert not np.allclose(p_plain['kernel'], params['kernel'])
  with pytest.raises(ValueError, match='accumulation_steps=0'):
    optim.make_optimizer(_optim_config(accumulation_steps=0), 10)


def test_ema_averages_the_parameters_after_each_update():
  config = _optim_config(schedule=dict(name='constant', base_lr=0.1, warmup_steps=0))
  plain, _ = optim.make_optimizer(config, 10)
  config.ema_decay = 0.5
  tx, _ = optim.make_optimizer(config, 10)
  params = {'kernel': jnp.ones((2, 2))}
  state, plain_state, expected = tx.init(params), plain.init(params), params['kernel']
  assert optim.ema_params(plain_state) is None
  current = params
  for step in range(3):
    grads = {'kernel': jnp.full((2, 2), float(step + 1))}
    updates, state = tx.update(grads, state, current)
    plain_updates, plain_state = plain.update(grads, plain_state, current)
    np.testing.assert_array_equal(updates['kernel'], plain_updates['kernel'])  # untouched
    current = jax.tree.map(jnp.add, current, updates)
    expected = 0.5 * expected + 0.5 * current['kernel']
  np.testing.assert_allclose(optim.ema_params(state)['kernel'], expected, rtol=1e-6)
  with pytest.raises(ValueError, match='ema_decay=1.0'):
    optim.make_optimizer(_optim_config(ema_decay=1.0), 10)
