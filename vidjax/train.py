"""The one trainer. Every experiment family plugs in through its config: model, task,
evaluators, input. Sections: mesh, input, state, step, checkpoints, evals, loop.
"""

from __future__ import annotations

import json
import os
import zlib
from typing import Any, NamedTuple

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import logging

from vidjax import (
  checkpoint,
  configs,
  logs,
  model_size,
  models,
  optim,
  parallel,
  precise_bn,
  run_info,
)
from vidjax.data import multigrid, pipeline
from vidjax.tasks import base

# ----------------------------------------------------------------------------- state


@flax.struct.dataclass
class TrainState:
  """Everything that changes during training, all of it checkpointed. No random state:
  see `_rngs`. `task_state` is the task's own (`Task.init_state`, `Task.update_state`)."""

  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any
  task_state: Any

  @property
  def variables(self) -> dict:
    return {'params': self.params, 'batch_stats': self.batch_stats}


def _rngs(seed: int, step: jax.Array, *names: str) -> dict[str, jax.Array]:
  """Named random streams for `step`: a function of (seed, name, step) only, so a resumed
  run draws exactly the numbers an uninterrupted one would."""
  base = jax.random.fold_in(jax.random.key(seed), step)
  return {name: jax.random.fold_in(base, zlib.crc32(name.encode())) for name in names}


# On the CPU, XLA's optimised compile of the initialisers (threefry and the inverse error
# function for every parameter) was most of a small run's start-up: 14 s of the
# quickstart's, 2 s without LLVM's optimisations and the MLIR fusion emitters. `init` runs
# once, so it is compiled the fast way there.
_INIT_OPTIONS = {'cpu': {'xla_backend_optimization_level': 0, 'xla_cpu_use_fusion_emitters': False}}


def _build(config: ml_collections.ConfigDict, mesh):
  """Model, task, optimiser and a jitted initialiser whose output is replicated."""
  configs.validate(config)
  model = configs.load_module('models', config.model_name).Model(**config.model)
  task = configs.load_module('tasks', config.task).Task(**config.task_kwargs)
  mix = config.input.pp.mix
  if (mix.mixup_alpha > 0 or mix.cutmix_alpha > 0) and not task.reads_mixed_labels:
    # Mixing blends the videos; a task that ignores the partner labels would silently
    # train on wrong targets.
    raise ValueError(
      f'config.input.pp.mix is on, but task {config.task!r} does not read mixed labels; '
      'set config.input.pp.mix.mixup_alpha and cutmix_alpha to 0.'
    )
  schedule = multigrid.learning_rate(config) if config.multigrid.long_cycle else None
  tx, schedule = optim.make_optimizer(config.optim, config.total_steps, schedule)
  shapes = pipeline.input_shapes(config.input)
  example = models.model_inputs(
    model, {key: jnp.zeros((1, *shape), jnp.float32) for key, shape in shapes.items()}
  )

  def init() -> TrainState:
    variables = model.init(_rngs(config.seed, 0, 'params', 'dropout'), example, train=False)
    params = variables['params']
    return TrainState(
      step=jnp.zeros((), jnp.int32),
      params=params,
      batch_stats=variables.get('batch_stats', {}),
      opt_state=tx.init(params),
      task_state=task.init_state(),
    )

  init = jax.jit(
    init,
    out_shardings=parallel.replicated(mesh),
    compiler_options=_INIT_OPTIONS.get(jax.default_backend()),
  )
  return model, task, tx, schedule, init, example


def _make_train_input(config: ml_collections.ConfigDict, seed: int):
  """This host's training stream (several sources give {name: batch}) and the global
  number of examples per step."""
  sources = pipeline.source_configs(config.input)
  args = (seed,)
  hosts = (jax.process_index(), jax.process_count())
  if not sources:
    batch_size = config.input.batch_size
    per_host = parallel.check_batch_size(batch_size, 'input.batch_size')
    return pipeline.make_train_input(config.input, *args, per_host, *hosts), batch_size
  per_host = {
    name: parallel.check_batch_size(source.batch_size, f'input.sources.{name}.batch_size')
    for name, source in sources.items()
  }
  batch_size = sum(source.batch_size for source in sources.values())
  return pipeline.make_sources_input(config.input, *args, per_host, *hosts), batch_size


def _preprocessing(input_config: ml_collections.ConfigDict):
  """The pp of the training input: config.input.pp, or {source name: its pp}."""
  sources = pipeline.source_configs(input_config)
  return {name: source.pp for name, source in sources.items()} if sources else input_config.pp


def _log_model_size(model, variables, example) -> dict[str, float]:
  """Parameter count and FLOPs of one clip; `example` is a model input with batch size 1."""
  num_params = model_size.count_params(variables['params'])
  gflops = model_size.flops(model, variables, example) / 1e9
  logging.info(
    'Model: %.3f M parameters, %.3f GFLOPs per clip of shape %s (XLA cost analysis).',
    num_params / 1e6,
    gflops,
    jax.tree.map(lambda x: tuple(x.shape[1:]), example),
  )
  return {'model/params_millions': num_params / 1e6, 'model/gflops_per_clip': gflops}


# ----------------------------------------------------------------------------- step


def _train_context(config, task):
  """(state, constants) -> the `tasks.base.Context` of the train step at `state.step`."""
  rng_names = ('augment', 'mix', 'dropout', *task.rng_names)

  def context(state: TrainState, constants) -> base.Context:
    return base.Context(
      step=state.step,
      rngs=_rngs(config.seed, state.step, *rng_names),
      train=True,
      state=state.task_state,
      constants=constants,
      pp=_preprocessing(config.input),
    )

  return context


def _make_train_step(config, model, task, tx, schedule, mesh):
  param_groups = config.optim.param_groups
  context = _train_context(config, task)

  def train_step(state: TrainState, batch: dict[str, jax.Array], constants):
    ctx = context(state, constants)
    batch = task.preprocess(batch, ctx)

    def loss_fn(params):
      variables = {'params': params, 'batch_stats': state.batch_stats}
      return task.loss_and_metrics(model, variables, batch, ctx)

    (_, (model_state, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    batch_stats = model_state.get('batch_stats', state.batch_stats)
    if param_groups:  # the statistics of frozen layers stay as they are
      frozen = optim.frozen_mask(param_groups, batch_stats)
      batch_stats = jax.tree.map(
        lambda is_frozen, old, new: old if is_frozen else new,
        frozen,
        state.batch_stats,
        batch_stats,
      )
    new_state = state.replace(
      step=state.step + 1,
      params=optax.apply_updates(state.params, updates),
      batch_stats=batch_stats,
      opt_state=opt_state,
    )
    metrics = dict(metrics, grad_norm=optax.tree_utils.tree_norm(grads), lr=schedule(state.step))
    return new_state, metrics

  replicated = parallel.replicated(mesh)
  return jax.jit(
    train_step,
    in_shardings=(replicated, parallel.batch_sharded(mesh), replicated),
    out_shardings=(replicated, replicated),
    donate_argnums=0,
  )


def _init_from(init_from: ml_collections.ConfigDict, state: TrainState, mesh) -> TrainState:
  """`state` with the params and batch stats that config.init_from names."""
  variables = checkpoint.restore_variables(
    init_from.path,
    jax.device_get(state.variables),
    dont_load=init_from.dont_load,
    rename=init_from.rename,
    inflate=init_from.inflate,
  )
  variables = jax.device_put(variables, parallel.replicated(mesh))
  return state.replace(params=variables['params'], batch_stats=variables['batch_stats'])


def _check_finite(first_step: int, losses: np.ndarray) -> None:
  bad = np.flatnonzero(~np.isfinite(losses))
  if bad.size:
    step = first_step + int(bad[0])
    raise FloatingPointError(
      f'The training loss became {losses[bad[0]]} at step {step}. Lower '
      '--config.optim.schedule.base_lr, set --config.optim.grad_clip_norm, or check the '
      'input; the last checkpoint before it is in WORKDIR/checkpoints.'
    )


# ----------------------------------------------------------------------------- evals


def _make_evaluators(config, model, task, mesh) -> dict:
  return {
    name: configs.load_module('evaluators', cfg.type).Evaluator(
      name, cfg, config, model, task, mesh
    )
    for name, cfg in config.evals.items()
  }


def _write_eval_files(workdir: str, name: str, step: int, files: dict[str, str]) -> None:
  """An evaluation's files (e.g. AVA's detections CSV) in workdir/eval/<name>/<step>/."""
  if not files or jax.process_index() != 0:
    return
  directory = os.path.join(workdir, 'eval', name, str(step))
  os.makedirs(directory, exist_ok=True)
  for filename, text in files.items():
    with open(os.path.join(directory, filename), 'w') as f:
      f.write(text)


def _due(evaluator, step: int, total_steps: int) -> bool:
  if step == 0:
    return evaluator.at_start
  return step % evaluator.every_steps == 0 or step == total_steps


def _run_evals(
  evaluators, state, constants, step: int, total_steps: int, workdir: str, *, force: bool
) -> dict:
  """The due evaluations, their files written; with `config.optim.ema_decay`, each also of
  the parameters' moving average, under eval/<name>/ema/."""
  results = {}
  ema = optim.ema_params(state.opt_state)
  for name, evaluator in evaluators.items():
    if force or _due(evaluator, step, total_steps):
      metrics = evaluator.run(state, constants)
      _write_eval_files(workdir, name, step, evaluator.files())
      results.update({f'eval/{name}/{k}': v for k, v in metrics.items()})
      logging.info('Eval %s at step %d: %s', name, step, metrics)
      if ema is not None:
        averaged = evaluator.run(state.replace(params=ema), constants)
        _write_eval_files(workdir, f'{name}/ema', step, evaluator.files())
        results.update({f'eval/{name}/ema/{k}': v for k, v in averaged.items()})
        logging.info('Eval %s (moving average) at step %d: %s', name, step, averaged)
  return results


class _Run(NamedTuple):
  """What the evaluations of a training run write to: its workdir, metrics writer, last
  values (for results.json) and mesh."""

  workdir: str
  writer: logs.MetricWriter
  last: dict
  mesh: Any


def _evaluate(
  evaluators, task, state: TrainState, constants, step: int, total_steps: int, run
) -> TrainState:
  """The evaluations due at `step`, logged (and recorded in `run.last`), then
  `Task.update_state` from their results on the host, back onto the mesh."""
  eval_results = _run_evals(
    evaluators, state, constants, step, total_steps, run.workdir, force=False
  )
  if not eval_results:
    return state
  run.writer.write(step, eval_results)
  run.last.update(eval_results)
  task_state = task.update_state(jax.device_get(state.task_state), step, eval_results)
  return state.replace(task_state=jax.device_put(task_state, parallel.replicated(run.mesh)))


# ----------------------------------------------------------------------------- loop


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, float]:
  """Trains `config` in `workdir`, resuming from its latest checkpoint if there is one.

  Returns:
    The last logged value of every metric (train and eval).
  """
  workdir = os.path.abspath(os.path.expanduser(workdir))
  os.makedirs(workdir, exist_ok=True)
  mesh = parallel.make_mesh(config.mesh)
  if jax.process_index() == 0:
    resolved = json.loads(config.to_json_best_effort())
    resolved['run_environment'] = run_info.describe()
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      json.dump(resolved, f, indent=2, sort_keys=True)
  logs.quiet_library_logs()
  logging.info('Config:\n%s', config.to_json_best_effort(indent=2, sort_keys=True))
  logging.info(
    '%d devices on %d hosts: %s', jax.device_count(), jax.process_count(), jax.devices()[0].platform
  )

  # input
  if multigrid.enabled(config):
    train_input = multigrid.make_train_input(
      config, config.seed, jax.process_index(), jax.process_count()
    )
    examples_before = train_input.examples_before
  else:
    train_input, batch_size = _make_train_input(config, config.seed)

    def examples_before(step: int) -> int:
      return step * batch_size

  model, task, tx, schedule, init, example = _build(config, mesh)

  # state and checkpoints
  checkpointer = checkpoint.Checkpointer(
    os.path.join(workdir, 'checkpoints'), max_to_keep=config.keep_checkpoints
  )
  abstract_state = jax.eval_shape(init)
  abstract_state = jax.tree.map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=parallel.replicated(mesh)),
    abstract_state,
  )
  start_step = checkpointer.latest_step()
  if start_step is not None:
    state, data_state = checkpointer.restore(start_step, abstract_state)
    train_input.iterator.set_state(data_state)
    logging.info('Resumed from %s at step %d.', checkpointer.directory, start_step)
  else:
    start_step = 0
    state = init()
    if config.init_from.path:
      state = _init_from(config.init_from, state, mesh)
      logging.info('Initialised the model from %s.', config.init_from.path)

  # A fresh start drops the log of an earlier attempt that never reached a checkpoint.
  writer = logs.MetricWriter(workdir, resume_step=start_step if start_step else -1)
  # `last`: the last value of every metric, for results.json. A resumed run (and a
  # finished run started again, which trains no step) keeps what it measured before.
  if start_step == 0:
    last = _log_model_size(model, state.variables, example)
    writer.write(0, last)
  else:
    last = logs.last_values(workdir, start_step)
  train_step = _make_train_step(config, model, task, tx, schedule, mesh)
  evaluators = _make_evaluators(config, model, task, mesh)
  constants = jax.device_put(task.constants(), parallel.replicated(mesh))
  progress = logs.Progress(config.total_steps, examples_before, start_step)
  run = _Run(workdir=workdir, writer=writer, last=last, mesh=mesh)
  with_precise_bn = None
  if config.precise_bn.num_batches:
    with_precise_bn = precise_bn.Updater(
      config.precise_bn.num_batches,
      precise_bn.make_statistics_step(model, task, mesh, _train_context(config, task)),
      # A stream of its own for every evaluation, a function of (seed, step) only.
      lambda step: _make_train_input(config, zlib.crc32(f'{config.seed} {step}'.encode()))[0],
      mesh,
    )
  preemption = checkpoint.PreemptionWatcher()
  pending, pending_from = [], start_step + 1
  step = start_step
  try:
    if step == 0:  # the evaluations with at_start
      state = _evaluate(evaluators, task, state, constants, 0, config.total_steps, run)
    while step < config.total_steps:
      batch = parallel.to_global(next(train_input.iterator), mesh)
      state, metrics = train_step(state, batch, constants)
      pending.append(metrics)
      step += 1
      stop = preemption.stop_requested or _any_host(preemption.stop_requested)
      if step % config.log_every == 0 or step == config.total_steps or stop:
        fetched = jax.device_get(pending)
        _check_finite(pending_from, np.array([m['loss'] for m in fetched]))
        scalars = {f'train/{k}': float(np.mean([m[k] for m in fetched])) for k in fetched[0]}
        scalars['train/lr'] = float(fetched[-1]['lr'])
        scalars['data/decode_failures'] = train_input.decode_failures
        scalars['data/rejected_samples_kept'] = train_input.rejected_samples_kept
        shown = {k: scalars[k] for k in ('train/loss', 'train/top1', 'train/lr') if k in scalars}
        scalars.update(progress.report(step, shown))
        writer.write(step, scalars)
        last.update(scalars)
        pending, pending_from = [], step + 1
      # Evaluations, then the task's update from their results, then the checkpoint: a
      # checkpoint always holds the task state that the results of its step produced
      # (and the precise statistics the evaluations used).
      if with_precise_bn and any(_due(e, step, config.total_steps) for e in evaluators.values()):
        state = with_precise_bn(state, constants)
      state = _evaluate(evaluators, task, state, constants, step, config.total_steps, run)
      if step % config.ckpt_every == 0 or step == config.total_steps or stop:
        checkpointer.save(step, state, train_input.iterator.get_state(), force=stop)
      if stop:
        logging.warning('Stopped at step %d after a checkpoint; rerun to resume.', step)
        break
  finally:
    checkpointer.wait()
    checkpointer.close()
    writer.close()
    preemption.close()
  if step == config.total_steps:
    task_state = jax.tree.map(lambda x: np.asarray(x).tolist(), jax.device_get(state.task_state))
    _write_results(workdir, 'results.json', step, {**last, 'task_state': task_state}, evaluators)
  return last


def _write_results(workdir: str, filename: str, step: int, results: dict, evaluators) -> None:
  """Final metrics (and, after training, the final task state, e.g. Gradient Blending's
  weights) plus the manifest of every evaluated split, so that a number in a table can be
  traced to exactly the examples it was computed on."""
  if jax.process_index() != 0:
    return
  datasets = {name: evaluator.dataset_manifest for name, evaluator in evaluators.items()}
  # The videos each evaluator could not decode, left out of its metrics.
  failures = {name: evaluator.decode_failures for name, evaluator in evaluators.items()}
  with open(os.path.join(workdir, filename), 'w') as f:
    json.dump(
      {'step': step, **results, 'datasets': datasets, 'decode_failures': failures},
      f,
      indent=2,
      sort_keys=True,
    )


def _any_host(flag: bool) -> bool:
  """True if any host got SIGTERM (multi-host runs must all stop at the same step)."""
  if jax.process_count() == 1:
    return flag
  from jax.experimental import multihost_utils

  return bool(np.any(multihost_utils.process_allgather(np.array(flag))))


def evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, float]:
  """Runs every evaluator of `config` on the latest checkpoint in `workdir`.

  Falls back to `config.init_from.path` when the workdir has no checkpoint (e.g. a converted
  published model).
  """
  workdir = os.path.abspath(os.path.expanduser(workdir))
  logs.quiet_library_logs()
  mesh = parallel.make_mesh(config.mesh)
  model, task, _, _, init, _ = _build(config, mesh)
  abstract_state = jax.tree.map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=parallel.replicated(mesh)),
    jax.eval_shape(init),
  )
  checkpointer = checkpoint.Checkpointer(os.path.join(workdir, 'checkpoints'), max_to_keep=1)
  step = checkpointer.latest_step()
  if step is not None:
    state, _ = checkpointer.restore(step, abstract_state)
  elif config.init_from.path:
    state = init()
    state = _init_from(config.init_from, state, mesh)
    step = 0
  else:
    raise FileNotFoundError(
      f'No checkpoint in {checkpointer.directory} and no config.init_from.path: nothing to '
      'evaluate.'
    )
  checkpointer.close()
  evaluators = _make_evaluators(config, model, task, mesh)
  constants = jax.device_put(task.constants(), parallel.replicated(mesh))
  results = _run_evals(evaluators, state, constants, step, -1, workdir, force=True)
  os.makedirs(workdir, exist_ok=True)
  writer = logs.MetricWriter(workdir, resume_step=None)
  writer.write(step, results)
  writer.close()
  _write_results(workdir, 'eval_results.json', step, results, evaluators)
  return results
