"""The optimiser and learning-rate schedule, from `config.optim`.

config.optim:
  name: 'sgd' (with `momentum`, `nesterov`) or 'adamw' (with `b1`, `b2`, `eps`).
  weight_decay: decoupled for AdamW, L2-into-gradient for SGD (as PyTorch SGD), applied
    to kernels only: never to norm scales/offsets or biases (ndim <= 1).
  grad_clip_norm: global-norm clipping threshold, 0 disables it.
  schedule: name 'cosine' | 'step' | 'constant', `base_lr`, `warmup_steps` (linear from 0),
    for 'step': `boundaries` (fractions of total_steps) and `decay_factor`.
  param_groups: ((regex, {'lr_mult': m}) | (regex, 'frozen'), ...), matched in order
    against each parameter's '/'-joined name ('stem/spatial/kernel', 'fc/bias') with
    `re.fullmatch`; the first match decides. A multiplier scales the learning rate of the
    group (weight decay included, as in PyTorch parameter groups); a frozen group gets no
    update and no optimiser state, and its BatchNorm statistics stay as they are too.
    Parameters that no pattern matches train as usual. A pattern that matches nothing is
    an error (a typo would otherwise train the whole network silently).
  accumulation_steps: k > 1 accumulates the gradients of k consecutive train steps (their
    mean) and updates the parameters once every k steps (`optax.MultiSteps`): the update
    of a k times larger batch, for models without batch statistics exactly (BatchNorm
    still normalises each step's batch alone). Clipping applies to the mean; the schedule
    stays in train steps (an update uses its value at the window's first step); the
    accumulator is optimiser state, so a run stopped inside a window resumes exactly.
  ema_decay: d > 0 keeps an exponential moving average of the parameters, ema = d * ema +
    (1 - d) * params after every update (every k-th step with accumulation), in the
    optimiser state (checkpointed with it); the trainer evaluates it beside the
    parameters (`ema_params`). BatchNorm statistics are the trained model's.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import traverse_util


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


FROZEN = 'frozen'
_DEFAULT_GROUP = 'default'


def _check_groups(param_groups) -> None:
  for index, group in enumerate(param_groups):
    rule = group[1] if len(group) == 2 else None
    if not (rule == FROZEN or (hasattr(rule, 'keys') and set(rule.keys()) == {'lr_mult'})):
      raise ValueError(
        f'config.optim.param_groups[{index}]={group!r}: write (regex, {{"lr_mult": m}}) or '
        f'(regex, "{FROZEN}").'
      )


def group_labels(param_groups, params) -> Any:
  """The group of every parameter: the index (as a string) of the first pattern of
  `param_groups` that its '/'-joined name fully matches, else 'default'.

  Raises:
    ValueError: a malformed group, or a pattern that matches no parameter.
  """
  _check_groups(param_groups)
  names = traverse_util.flatten_dict(params, sep='/')
  labels, used = {}, set()
  for name in names:
    labels[name] = _DEFAULT_GROUP
    for index, (pattern, _) in enumerate(param_groups):
      if re.fullmatch(pattern, name):
        labels[name] = str(index)
        used.add(index)
        break
  for index, group in enumerate(param_groups):
    if index not in used:
      raise ValueError(
        f'config.optim.param_groups[{index}]: pattern {group[0]!r} matches no parameter; '
        f'parameter names look like {sorted(names)[:4]} (re.fullmatch).'
      )
  return traverse_util.unflatten_dict(labels, sep='/')


def frozen_mask(param_groups, tree) -> Any:
  """True for the leaves of `tree` (params or batch stats) in a frozen group."""
  frozen = [pattern for pattern, rule in param_groups if rule == FROZEN]
  names = traverse_util.flatten_dict(tree, sep='/')
  return traverse_util.unflatten_dict(
    {name: any(re.fullmatch(p, name) for p in frozen) for name in names}, sep='/'
  )


def make_optimizer(
  config: ml_collections.ConfigDict, total_steps: int, schedule: optax.Schedule | None = None
) -> tuple[optax.GradientTransformation, optax.Schedule]:
  """Builds the optax chain of config.optim; returns it and its learning-rate schedule
  (the default group's; a group's multiplier scales it). `schedule` replaces the one of
  config.optim.schedule (multigrid's long cycle scales it)."""
  if schedule is None:
    schedule = make_schedule(_require(config, 'schedule', 'optim'), total_steps)
  param_groups = _require(config, 'param_groups', 'optim')
  clip = _require(config, 'grad_clip_norm', 'optim')
  accumulation = _require(config, 'accumulation_steps', 'optim')
  if accumulation < 1:
    raise ValueError(f'config.optim.accumulation_steps={accumulation}: at least 1.')
  # The update rules count updates; the schedule is in train steps.
  per_update = schedule if accumulation == 1 else lambda count: schedule(count * accumulation)
  chain = [optax.clip_by_global_norm(clip)] if clip > 0 else []
  if not param_groups:
    chain.append(_update_rule(config, per_update))
  else:
    _check_groups(param_groups)
    transforms = {_DEFAULT_GROUP: _update_rule(config, per_update)}
    for index, (_, rule) in enumerate(param_groups):
      if rule == FROZEN:
        transforms[str(index)] = optax.set_to_zero()
      else:
        multiplier = dict(rule)['lr_mult']
        transforms[str(index)] = _update_rule(
          config, lambda count, m=multiplier: m * per_update(count)
        )
    chain.append(optax.multi_transform(transforms, lambda p: group_labels(param_groups, p)))
  tx = optax.chain(*chain)
  ema_decay = _require(config, 'ema_decay', 'optim')
  if not 0 <= ema_decay < 1:
    raise ValueError(f'config.optim.ema_decay={ema_decay}: in [0, 1) (0: no average).')
  if ema_decay:
    tx = _with_ema(tx, ema_decay)
  if accumulation > 1:
    tx = optax.MultiSteps(tx, every_k_schedule=accumulation)
  return tx, schedule


class EmaState(NamedTuple):
  inner: Any
  ema: Any


def _with_ema(tx: optax.GradientTransformation, decay: float) -> optax.GradientTransformation:
  """`tx`, with the moving average of the parameters it produces in its state."""

  def init(params):
    return EmaState(tx.init(params), jax.tree.map(jnp.array, params))  # copies

  def update(updates, state, params):
    updates, inner = tx.update(updates, state.inner, params)
    new = optax.apply_updates(params, updates)
    ema = jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, state.ema, new)
    return updates, EmaState(inner, ema)

  return optax.GradientTransformation(init, update)


def ema_params(opt_state) -> Any | None:
  """The moving average of the parameters that `ema_decay` keeps in `opt_state`, or None."""
  found = []

  def visit(node):
    if isinstance(node, EmaState):
      found.append(node.ema)
      return True
    return False

  jax.tree.map(lambda _: None, opt_state, is_leaf=visit)
  return found[0] if found else None


def _update_rule(
  config: ml_collections.ConfigDict, schedule: optax.Schedule
) -> optax.GradientTransformation:
  """Weight decay and the SGD / AdamW update of config.optim at `schedule`."""
  name = _require(config, 'name', 'optim')
  weight_decay = _require(config, 'weight_decay', 'optim')
  chain = []
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
  return optax.chain(*chain)
