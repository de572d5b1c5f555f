"""Linear probe: a linear classifier on frozen features, fitted on one split, scored on another.

The standard test of what a self-supervised network learned: its features (`pred`, e.g.
'aux/features/audio' of AVTS's audio tower, or 'logits' of a backbone built with
num_classes=0) are extracted from every video of `fit_split` and of `split`, standardised
with the fit split's mean and deviation, and a multinomial logistic regression with an L2
penalty `l2` is fitted by full-batch L-BFGS (`fit_iterations` iterations) on the fit
split; its top-1 on `split` is the metric. Nothing of the network changes.

config.evals.<name>: type='linear_probe', split (scored), fit_split (e.g. 'train' or
'train[:10%]'), batch_size, every_steps, num_clips, num_crops, pred, input, l2,
fit_iterations. Metrics: 'top1' (percent, on `split`), 'fit_top1' (on `fit_split`) and
'num_fit_examples'.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from vidjax.evaluators import common

DEFAULTS = dict(
  common.SPLIT_DEFAULTS,
  fit_split='train',
  num_clips=1,
  num_crops=1,
  l2=1e-3,
  fit_iterations=200,
)
KEYS = ('type', 'split', 'batch_size', 'every_steps', *DEFAULTS)


class _Features(common.SplitEvaluator):
  """Features and labels of every video of a split, kept from the last run."""

  gathered: dict[str, np.ndarray]

  def sums(self, output, batch):
    del output, batch
    return {}

  def per_example(self, output, batch):
    return {'features': output.reshape(len(output), -1), 'label': batch['label']}

  def metrics(self, totals, gathered, count):
    del totals, count
    self.gathered = gathered
    return {}


@functools.partial(jax.jit, static_argnames=('num_classes', 'iterations'))
def fit_logistic_regression(
  features: jax.Array, labels: jax.Array, *, num_classes: int, l2: float, iterations: int
) -> tuple[jax.Array, jax.Array]:
  """(weights [D, K], bias [K]) minimising the mean cross-entropy + l2 * |weights|^2."""

  def objective(params):
    logits = features @ params[0] + params[1]
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss + l2 * jnp.sum(params[0] ** 2)

  optimiser = optax.lbfgs()
  value_and_grad = optax.value_and_grad_from_state(objective)
  params = (jnp.zeros((features.shape[1], num_classes)), jnp.zeros((num_classes,)))

  def step(carry, _):
    params, state = carry
    value, grad = value_and_grad(params, state=state)
    updates, state = optimiser.update(
      grad, state, params, value=value, grad=grad, value_fn=objective
    )
    return (optax.apply_updates(params, updates), state), None

  (params, _), _ = jax.lax.scan(step, (params, optimiser.init(params)), length=iterations)
  return params


class Evaluator(_Features):
  """Top-1 of a linear classifier fitted on `fit_split`'s frozen features."""

  def __init__(self, name, eval_config, config, model, task, mesh):
    super().__init__(name, eval_config, config, model, task, mesh)
    fit_config = ml_collections.ConfigDict(eval_config.to_dict())
    fit_config.split = eval_config.fit_split
    self._fit = _Features(f'{name}.fit_split', fit_config, config, model, task, mesh)
    self.l2, self.fit_iterations = eval_config.l2, eval_config.fit_iterations

  def run(self, state, constants):
    self._fit.run(state, constants)
    return super().run(state, constants)

  def metrics(self, totals, gathered, count):
    del totals, count
    fit = self._fit.gathered
    mean, std = fit['features'].mean(axis=0), fit['features'].std(axis=0) + 1e-6
    standardise = lambda x: jnp.asarray((x - mean) / std, jnp.float32)  # noqa: E731
    num_classes = int(max(fit['label'].max(), gathered['label'].max())) + 1
    weights, bias = fit_logistic_regression(
      standardise(fit['features']),
      jnp.asarray(fit['label']),
      num_classes=num_classes,
      l2=self.l2,
      iterations=self.fit_iterations,
    )
    top1 = lambda x, y: 100.0 * float(np.mean(np.argmax(standardise(x) @ weights + bias, -1) == y))  # noqa: E731
    return {
      'top1': top1(gathered['features'], gathered['label']),
      'fit_top1': top1(fit['features'], fit['label']),
      'num_fit_examples': len(fit['label']),
    }
