"""Gradient Blending (Wang, Tran & Feiszli, arXiv 1905.12681): a weighted sum of every head's loss.

The model (`models/multimodal.py`) has one head per modality and a fused head, each in
aux['logits/<head>']. The loss is

  sum over heads k of  w_k * cross-entropy of head k,

with w in the task state (checkpointed; a resumed run continues with the same weights).
The weights are fixed (`weights`: VMZ's published presets or your own; uniform by
default), or estimated from the overfitting-to-generalisation ratio (OGR) of each head
over a window of training, from the `head_losses` evaluations of two splits that run at
the same steps: V, held out of training (e.g. 'train[90%:]'), and T, a part of what is
trained on (e.g. 'train[:10%]' when training reads 'train[:90%]'). For a window from the
evaluation at step N to the next one at N + n:

  G_k = L^V_N - L^V_{N+n}                              (generalisation)
  O_k = (L^V_{N+n} - L^T_{N+n}) - (L^V_N - L^T_N)      (overfitting: the gap's growth)
  w_k proportional to G_k / O_k^2, normalised to sum to 1.

Degenerate windows, by this rule (each logged when it fires):
  G_k <= 0: the head did not generalise better in the window; w_k = 0.
  O_k below the floor (the gap did not grow, or shrank): O_k is taken as the floor,
    max(`min_overfitting`, `relative_min_overfitting` x the window's largest O). A head
    that improves without overfitting gets a large weight, as the formula intends, but a
    bounded one: at most (1 / relative_min_overfitting)^2 = 16 times (at the default 0.25)
    the weight per unit of G of the head that overfits most. With the absolute floor
    alone (1e-4, MultiBench's; `relative_min_overfitting=0`) such a head took all the
    weight in the miniature (G/O^2 about 10^8) and the fused head was no longer trained
    (docs/results.md).
  every w_k = 0: the weights are kept as they were.

estimate:
  'none'     fixed weights.
  'offline'  one estimate, from the first window, then fixed (the paper's offline
             G-Blend: a short run from the start; `experiments/gblend/` trains with the
             weights it records).
  'online'   re-estimated at every window from the current model (the paper's online
             G-Blend, a window being its super-epoch).

Train metrics: 'loss' (the weighted sum), 'loss/<head>', 'top1/<head>', and the state:
'gblend/weight/<head>', 'gblend/G/<head>', 'gblend/O/<head>' (of the last estimate), so
metrics.jsonl and TensorBoard show every estimate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging
from flax import linen as nn

from vidjax.tasks import base

ESTIMATES = ('none', 'offline', 'online')

# VMZ's published weights (c2/tutorials/gradient_blending.md) for its settings, as fixed
# weights of the heads (audio, video, fused); `task_kwargs.weights=PRESETS[name]`.
PRESETS = {
  'k400_r3d_50': dict(audio=0.014, video=0.630, fused=0.356),
  'k400_ip_csn_152': dict(audio=0.009, video=0.485, fused=0.506),
  'k400_ip_csn_152_ig65m': dict(audio=0.070, video=0.485, fused=0.445),
  'audioset_r2plus1d_101': dict(audio=0.239, video=0.384, fused=0.377),
  'epic_noun': dict(audio=0.175, video=0.460, fused=0.364),
  'epic_verb': dict(audio=0.524, video=0.247, fused=0.229),
}


def ogr_weights(
  previous: np.ndarray,
  current: np.ndarray,
  min_overfitting: float,
  relative_min_overfitting: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
  """Gradient Blending's weights from two measurements of every head's losses.

  Args:
    previous: [2, H]: the validation (V) and train (T) loss of each head at step N.
    current: the same at step N + n.
    min_overfitting: the absolute floor of O_k.
    relative_min_overfitting: the floor as a fraction of the largest O_k of the window.

  Returns:
    (w [H] normalised, or all zero when no head generalised; G [H]; O [H] as measured;
    the degenerate cases that fired, as text).
  """
  (valid_before, train_before), (valid_after, train_after) = previous, current
  generalisation = valid_before - valid_after
  overfitting = (valid_after - train_after) - (valid_before - train_before)
  notes = []
  floor = max(min_overfitting, relative_min_overfitting * float(overfitting.max()))
  floored = np.maximum(overfitting, floor)
  for k in np.flatnonzero(overfitting < floor):
    notes.append(f'head {k}: O={overfitting[k]:.3g} < {floor:.3g}, taken as the floor')
  ratio = np.where(generalisation > 0, generalisation / floored**2, 0.0)
  for k in np.flatnonzero(generalisation <= 0):
    notes.append(f'head {k}: G={generalisation[k]:.3g} <= 0, weight 0')
  total = ratio.sum()
  weights = ratio / total if total > 0 else np.zeros_like(ratio)
  return weights, generalisation, overfitting, notes


class Task(base.Task):
  """The weighted per-head cross-entropy of a multi-head model, its weights as state."""

  batch_keys = ('label',)  # and the model's inputs (its towers' modalities)

  def __init__(
    self,
    *,
    heads: Sequence[str],
    weights: Mapping[str, float] | None = None,
    estimate: str = 'none',
    validation_eval: str = 'gblend_v',
    train_eval: str = 'gblend_t',
    min_overfitting: float = 1e-4,
    relative_min_overfitting: float = 0.25,
  ):
    """Args:
    heads: the heads, as named in aux['logits/<head>'] (e.g. ('audio', 'video', 'fused')).
    weights: {head: w}, the fixed or initial weights (normalised); uniform by default.
    estimate: 'none', 'offline' or 'online' (see the module docstring).
    validation_eval, train_eval: the names of the two `head_losses` evaluations (V, T).
    min_overfitting, relative_min_overfitting: the floor of O_k, absolute and as a
      fraction of the window's largest O_k (see the module docstring).
    """
    if estimate not in ESTIMATES:
      raise ValueError(f'config.task_kwargs.estimate={estimate!r}; choose one of {ESTIMATES}.')
    self.heads = tuple(heads)
    weights = dict(weights or {head: 1.0 for head in self.heads})
    if sorted(weights) != sorted(self.heads) or min(weights.values()) < 0:
      raise ValueError(
        f'config.task_kwargs.weights={weights}: give a weight >= 0 for each of the heads '
        f'{self.heads}.'
      )
    total = sum(weights.values())
    self.initial_weights = np.array([weights[h] / total for h in self.heads], np.float32)
    self.estimate = estimate
    self.validation_eval, self.train_eval = validation_eval, train_eval
    self.min_overfitting = min_overfitting
    self.relative_min_overfitting = relative_min_overfitting

  def init_state(self) -> dict[str, Any]:
    num_heads = len(self.heads)
    return {
      'weights': jnp.asarray(self.initial_weights),
      # The [V, T] losses of every head at the last evaluation, and whether there was one.
      'last_losses': jnp.zeros((2, num_heads), jnp.float32),
      'has_last_losses': jnp.zeros((), jnp.bool_),
      'num_estimates': jnp.zeros((), jnp.int32),
      'generalisation': jnp.zeros((num_heads,), jnp.float32),
      'overfitting': jnp.zeros((num_heads,), jnp.float32),
    }

  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    (_, aux), model_state = self.apply(model, variables, batch, ctx)
    missing = [h for h in self.heads if f'logits/{h}' not in aux]
    if missing:
      raise ValueError(
        f'config.task_kwargs.heads names {missing}; the model has heads '
        f'{sorted(k[len("logits/") :] for k in aux if k.startswith("logits/"))}.'
      )
    weights = ctx.state['weights']
    total, metrics = 0.0, {}
    for k, head in enumerate(self.heads):
      logits = aux[f'logits/{head}']
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch['label']).mean()
      total = total + weights[k] * loss
      metrics[f'loss/{head}'] = loss
      metrics[f'top1/{head}'] = (logits.argmax(-1) == batch['label']).mean()
      metrics[f'gblend/weight/{head}'] = weights[k]
      metrics[f'gblend/G/{head}'] = ctx.state['generalisation'][k]
      metrics[f'gblend/O/{head}'] = ctx.state['overfitting'][k]
    metrics['loss'] = total
    return total, (model_state, metrics)

  def update_state(self, state: Any, step: int, eval_results: dict[str, float]) -> Any:
    """After the evaluations of a step: record the heads' V and T losses and, with
    `estimate`, the new weights from the window since the last evaluation."""
    if self.estimate == 'none':
      return state
    keys = {
      name: [f'eval/{name}/loss/{head}' for head in self.heads]
      for name in (self.validation_eval, self.train_eval)
    }
    present = [all(key in eval_results for key in names) for names in keys.values()]
    if not any(present):
      return state
    if not all(present):
      raise ValueError(
        f'Gradient Blending needs the evaluations {list(keys)} at the same steps (equal '
        f'every_steps, type head_losses); at step {step} only some ran.'
      )
    current = np.array([[eval_results[key] for key in names] for names in keys.values()])
    state = dict(state)
    frozen = self.estimate == 'offline' and int(state['num_estimates']) > 0
    if bool(state['has_last_losses']) and not frozen:
      weights, generalisation, overfitting, notes = ogr_weights(
        np.asarray(state['last_losses']),
        current,
        self.min_overfitting,
        self.relative_min_overfitting,
      )
      for note in notes:
        logging.info('Gradient Blending at step %d: %s (heads %s).', step, note, self.heads)
      if weights.sum() == 0:
        logging.warning(
          'Gradient Blending at step %d: no head generalised better in the window; the '
          'weights stay %s.',
          step,
          np.asarray(state['weights']).round(3).tolist(),
        )
      else:
        state['weights'] = jnp.asarray(weights, jnp.float32)
      logging.info(
        'Gradient Blending estimate at step %d: heads %s, G %s, O %s, weights %s.',
        step,
        self.heads,
        generalisation.round(4).tolist(),
        overfitting.round(4).tolist(),
        np.asarray(state['weights']).round(3).tolist(),
      )
      state['generalisation'] = jnp.asarray(generalisation, jnp.float32)
      state['overfitting'] = jnp.asarray(overfitting, jnp.float32)
      state['num_estimates'] = state['num_estimates'] + 1
    state['last_losses'] = jnp.asarray(current, jnp.float32)
    state['has_last_losses'] = jnp.ones((), jnp.bool_)
    return state
