"""Shuffle & Learn: is a tuple of frames in temporal order? (Misra et al., ECCV 2016)

The `tuples` sampler gives every example three frames, video [B, 3, h, w, 3], and
'in_order' [B] (1: (b, c, d) forward or backward; 0: (b, a, d) or (b, e, d)); the siamese
network (`models/tuple_order.py`) gives one logit, trained with the binary cross-entropy.
`predict` scores each view ('aux/order/accuracy', 'aux/order/loss'), which the `pretext`
evaluator averages.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from vidjax.tasks import base, clip_pairs


class Task(base.Task):
  """Binary temporal-order verification of frame tuples."""

  batch_keys = ('video', 'in_order')

  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    (outputs, _), model_state = self.apply(model, variables, batch, ctx)
    in_order = batch['in_order'].reshape(-1)
    scores = clip_pairs.binary_scores(clip_pairs.single_logit(outputs), in_order)
    metrics = {'loss': scores['loss'].mean(), 'accuracy': scores['accuracy'].mean()}
    for value, kind in enumerate(('shuffled', 'in_order')):
      chosen = in_order == value
      metrics[f'accuracy/{kind}'] = jnp.sum(scores['accuracy'] * chosen) / jnp.maximum(
        chosen.sum(), 1
      )
    return metrics['loss'], (model_state, metrics)

  def predict(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> dict[str, jax.Array]:
    """Per view: 'aux/order_logit' and, where the batch has 'in_order' ([B, V], flattened
    to the views), 'aux/order/accuracy' and 'aux/order/loss'; plus the model's outputs."""
    predictions = super().predict(model, variables, batch, ctx)
    logits = clip_pairs.single_logit(predictions['logits'])
    predictions['aux/order_logit'] = logits
    if 'in_order' in batch:
      scores = clip_pairs.binary_scores(logits, batch['in_order'].reshape(-1))
      predictions.update({f'aux/order/{key}': value for key, value in scores.items()})
    return predictions
