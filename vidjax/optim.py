"""The optimiser and learning-rate schedule, from `config.optim`.

config.optim:
  name: 'sgd' (with `momentum`, `nesterov`) or 'adamw' (with `b1`, `b2`, `eps`).
  weight_decay: decoupled for AdamW, L2-into-gradient for SGD (as PyTorch SGD), applied
    to kernels only: never to norm scales/offsets or biases (ndim <= 1).
  grad_clip_norm: global-norm clipping threshold, 0 disables it.
  schedule: name 'cosine' | 'step' | 'constant', `base_lr`, `warmup_steps` (linear from 0),
    for 'step': `boundaries` (fractions of total_steps) and `decay_factor`.
"""

from __future__ import annotations

import jax
import ml_collections
import optax


def _require(config: ml_collections.ConfigDict, key: str, where: str):
  if key not in config:
    raise ValueError(f'config.{where} needs the key {key!r} (see vidjax/optim.py).')
  return config[key]


def make_schedule(config: ml_collections.ConfigDict, total_steps: int) -> optax.Schedule:
  """Linear warm-up from 0, then cosine / step decay / constant."""
  name = _require(config, 'name', 'optim.schedule')
  base_lr = _require(config, 'base_lr', 'optim.schedule')
  warmup_steps = _require(config, 'warmup_steps', 'optim.schedule')
  decay_steps = max(total_steps - warmup_steps, 1)
  if name == 'cosine':
    main = optax.cosine_decay_schedule(base_lr, decay_steps)
  elif name == 'step':
    boundaries = _require(config, 'boundaries', 'optim.schedule')
    factor = _require(config, 'decay_factor', 'optim.schedule')
    main = optax.piecewise_constant_schedule(
      base_lr, {int(b * total_steps) - warmup_steps: factor for b in boundaries}
    )
  elif name == 'constant':
    main = optax.constant_schedule(base_lr)
  else:
    raise ValueError(f"config.optim.schedule.name={name!r}; choose 'cosine', 'step' or 'constant'.")
  if warmup_steps == 0:
    return main
  warmup = optax.linear_schedule(0.0, base_lr, warmup_steps)
  return optax.join_schedules([warmup, main], [warmup_steps])


def decay_mask(params):
  """True for kernels; norm scales/offsets and biases (ndim <= 1) are not decayed."""
  return jax.tree.map(lambda p: p.ndim > 1, params)


def make_optimizer(
  config: ml_collections.ConfigDict, total_steps: int
) -> tuple[optax.GradientTransformation, optax.Schedule]:
  """Builds the optax chain of config.optim; returns it and its learning-rate schedule."""
  schedule = make_schedule(_require(config, 'schedule', 'optim'), total_steps)
  name = _require(config, 'name', 'optim')
  weight_decay = _require(config, 'weight_decay', 'optim')
  clip = _require(config, 'grad_clip_norm', 'optim')
  chain = [optax.clip_by_global_norm(clip)] if clip > 0 else []
  if name == 'sgd':
    if weight_decay:
      chain.append(optax.add_decayed_weights(weight_decay, mask=decay_mask))
    chain.append(
      optax.sgd(
        schedule,
        momentum=_require(config, 'momentum', 'optim'),
        nesterov=_require(config, 'nesterov', 'optim'),
      )
    )
  elif name == 'adamw':
    chain.append(
      optax.adamw(
        schedule,
        b1=_require(config, 'b1', 'optim'),
        b2=_require(config, 'b2', 'optim'),
        eps=_require(config, 'eps', 'optim'),
        weight_decay=weight_decay,
        mask=decay_mask,
      )
    )
  else:
    raise ValueError(f"config.optim.name={name!r}; choose 'sgd' or 'adamw'.")
  return optax.chain(*chain), schedule
