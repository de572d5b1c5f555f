"""Precise BatchNorm statistics (`config.precise_bn`), as PySlowFast computes them before
each evaluation (`calculate_and_update_precise_bn`, after fvcore's `update_bn_stats`).

The running averages that training keeps are dominated by the last few hundred steps'
batches, computed with weights that have moved since. Before an evaluation, the model in
training mode reads `num_batches` fresh training batches with the current weights; each
BatchNorm layer's mean and variance become the average of those batches' statistics
(the variance as fvcore takes it: the mean of the per-batch variances, without the spread
of the batch means). Layers that no batch updates (frozen groups, layers that run with
running averages in training) keep their statistics.

The batches come from a training stream of their own, seeded by (seed, step), so the
training stream is untouched and a resumed run computes the same statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
from absl import logging

from vidjax import parallel


def batch_statistics(updated: Callable[[Any], Any], like: Any) -> tuple[Any, Any]:
  """The statistics one batch alone gives every BatchNorm layer, and which layers it updated.

  Args:
    updated: old batch_stats -> the batch_stats after one training-mode forward pass, in
      which a layer's value is momentum * old + (1 - momentum) * this batch's value.
    like: batch_stats with the tree structure, shapes and dtypes to use.

  Returns:
    (the batch's values, a boolean tree: True where the pass updated the value).
  """
  # One forward pass at old = 0 gives (1 - momentum) * value; the derivative with respect
  # to old gives the momentum, whatever each layer's is. The tangent flows only through
  # the update of the averages (training mode normalises with the batch's statistics), so
  # forward mode costs almost nothing beyond the pass.
  zeros = jax.tree.map(jnp.zeros_like, like)
  ones = jax.tree.map(jnp.ones_like, like)
  scaled, momentum = jax.jvp(updated, (zeros,), (ones,))
  was_updated = jax.tree.map(lambda m: m < 1, momentum)
  values = jax.tree.map(
    lambda v, m, u: jnp.where(u, v / jnp.where(u, 1 - m, 1), 0), scaled, momentum, was_updated
  )
  return values, was_updated


def make_statistics_step(model, task, mesh, context: Callable) -> Callable:
  """A jitted (state, batch, constants) -> (the batch's statistics, the updated mask).

  `context(state, constants)` is the training step's `tasks.base.Context`, so the batch
  goes through the task's own preprocessing and forward pass, augmentation included.
  """

  def statistics(state, batch, constants):
    ctx = context(state, constants)
    batch = task.preprocess(batch, ctx)

    def updated(old_stats):
      variables = {'params': state.params, 'batch_stats': old_stats}
      _, (model_state, _) = task.loss_and_metrics(model, variables, batch, ctx)
      return model_state.get('batch_stats', old_stats)

    return batch_statistics(updated, state.batch_stats)

  replicated = parallel.replicated(mesh)
  return jax.jit(
    statistics,
    in_shardings=(replicated, parallel.batch_sharded(mesh), replicated),
    out_shardings=replicated,
  )


def precise_state(state, batches: Iterator, num_batches: int, statistics_step, constants, mesh):
  """`state` with the BatchNorm statistics averaged over `num_batches` of `batches` (host
  batches, put on the mesh here); unchanged for a model without BatchNorm."""
  if not jax.tree.leaves(state.batch_stats):
    return state
  total, updated = None, None
  for _ in range(num_batches):
    batch = parallel.to_global(next(batches), mesh)
    values, updated = statistics_step(state, batch, constants)
    total = values if total is None else jax.tree.map(jnp.add, total, values)
  batch_stats = jax.tree.map(
    lambda t, u, old: jnp.where(u, t / num_batches, old), total, updated, state.batch_stats
  )
  return state.replace(batch_stats=batch_stats)


class Updater:
  """state -> state with precise statistics from `num_batches` of `make_input(step)`'s
  iterator (a training stream of its own for each step)."""

  def __init__(self, num_batches: int, statistics_step, make_input: Callable, mesh):
    self._num_batches = num_batches
    self._statistics_step = statistics_step
    self._make_input = make_input
    self._mesh = mesh

  def __call__(self, state, constants):
    step = int(state.step)
    logging.info(
      'Precise BatchNorm statistics at step %d from %d training batches.', step, self._num_batches
    )
    batches = self._make_input(step).iterator
    return precise_state(
      state, batches, self._num_batches, self._statistics_step, constants, self._mesh
    )
