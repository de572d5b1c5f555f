"""Orbax checkpoints: async saves, automatic resume, the data iterator's state, preemption.

A checkpoint holds two items: 'state' (the whole TrainState: step, params, batch stats,
optimiser state) and 'data' (the grain iterator's state as JSON). Resume precedence:
1. the latest complete checkpoint in `<workdir>/checkpoints` (a killed run resumes);
2. otherwise `config.init_from.path` (params and batch stats, e.g. a converted PyTorch
   model), with `dont_load` and `rename` (see `restore_variables`);
3. otherwise a fresh initialisation.
Orbax writes each checkpoint into a temporary directory and renames it when complete, so
a run killed mid-save resumes from the previous checkpoint.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import threading

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from flax import traverse_util

from vidjax import parallel
from vidjax.convert import inflate as inflation


@functools.cache
def _save_replicated_arrays_whole_on_cpu() -> None:
  """Off GPUs, orbax saves a replicated array in parallel slices, one per device. Each
  slice is a jit(slice) program compiled per (array shape, device), so on a CPU with 8
  simulated devices a process's first save compiled ~8 programs per parameter (12 s for
  20 arrays; 25 s for a small audio-visual model). The devices of a CPU share the host's
  memory, so one device writing each array whole loses nothing and compiles nothing."""
  if jax.default_backend() != 'cpu':
    return
  default = ocp.type_handlers.get_type_handler(jax.Array)
  verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.ERROR)  # orbax warns of every override; this one is meant
  try:
    ocp.type_handlers.register_type_handler(
      jax.Array,
      ocp.type_handlers.ArrayHandler(
        use_replica_parallel=False,
        # Keeps orbax's per-array metadata (what the default handler writes).
        array_metadata_store=getattr(default, '_array_metadata_store', None),
      ),
      override=True,
    )
  finally:
    logging.set_verbosity(verbosity)


class Checkpointer:
  """Saves and restores (train state, data iterator state) pairs in `directory`."""

  def __init__(self, directory: str, *, max_to_keep: int, async_save: bool = True):
    _save_replicated_arrays_whole_on_cpu()
    self.directory = os.path.abspath(directory)
    self._manager = ocp.CheckpointManager(
      self.directory,
      options=ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, enable_async_checkpointing=async_save, create=True
      ),
      item_names=('state', 'data'),
    )

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state, data_state: dict, *, force: bool = False) -> None:
    """Starts an asynchronous save; returns while the files are still being written.

    Every process calls it. Each host's data iterator has its own state: with several
    processes all of them are stored, as {'processes': [state of process 0, ...]}.
    """
    if jax.process_count() > 1:
      data_state = {'processes': parallel.allgather_json(data_state)}
    self._manager.save(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state)
      ),
      force=force,
    )

  def restore(self, step: int, abstract_state) -> tuple[object, dict]:
    """Restores the state at `step` onto the shardings of `abstract_state`."""
    restored = self._manager.restore(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()
      ),
    )
    data_state = restored['data']
    if 'processes' in data_state:
      states = data_state['processes']
      if len(states) != jax.process_count():
        raise ValueError(
          f'{self.directory}/{step} was written by {len(states)} processes; this run has '
          f'{jax.process_count()}. Resume with as many processes, or start a new workdir '
          '(config.init_from.path can start from this checkpoint).'
        )
      data_state = states[jax.process_index()]
    return restored['state'], data_state

  def wait(self) -> None:
    """Blocks until pending asynchronous saves are on disk."""
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.close()


def save_variables(directory: str, variables: dict) -> None:
  """Writes model variables ({'params', 'batch_stats'}) where `config.init_from` reads them.

  Used by tools/convert_checkpoint.py; the layout ('state' item) is that of a training
  checkpoint step, so both kinds of directory are valid `init_from` values.
  """
  directory = os.path.abspath(os.path.expanduser(directory))
  _save_replicated_arrays_whole_on_cpu()
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(os.path.join(directory, 'state'), variables, force=True)
  checkpointer.wait_until_finished()


def _state_dir(path: str, flag: str) -> str:
  state_dir = os.path.join(os.path.abspath(os.path.expanduser(path)), 'state')
  if not os.path.isdir(state_dir):
    raise FileNotFoundError(
      f'{flag}={path!r} has no "state" item; point it at a checkpoint step directory such as '
      'WORKDIR/checkpoints/1000 or at the output of tools/convert_checkpoint.py.'
    )
  return state_dir


def read_variables(path: str, abstract_variables: dict, *, flag: str = 'checkpoint') -> dict:
  """Reads the collections of `abstract_variables` from the checkpoint step directory `path`.

  Only those entries are read (not the optimiser state), onto the first local device, so
  that a checkpoint saved on any number of devices can be read on one.
  """
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  target = jax.tree.map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device), abstract_variables
  )
  return ocp.PyTreeCheckpointer().restore(
    _state_dir(path, flag),
    args=ocp.args.PyTreeRestore(
      item=target,
      restore_args=ocp.checkpoint_utils.construct_restore_args(target),
      partial_restore=True,
    ),
  )


def restore_variables(
  path: str,
  variables: dict,
  *,
  dont_load=(),
  rename=(),
  inflate: str = '',
  flag: str = 'config.init_from.path',
) -> dict:
  """Params and batch stats of a checkpoint (or a converted model) for `config.init_from`.

  Args:
    path: a checkpoint step directory (`.../checkpoints/1000`) or a directory written by
      tools/convert_checkpoint.py.
    variables: the freshly initialised model's {'params', 'batch_stats'}.
    dont_load: regexes (re.fullmatch) of '/'-joined variable names, without the
      collection ('fc/kernel', 'stem/bn/mean'), that keep their fresh values: typically
      the classifier when fine-tuning on another label set.
    rename: ((regex, replacement), ...): a variable whose name fully matches a regex is
      read from the checkpoint under `re.sub(regex, replacement, name)` (the first match
      decides), for checkpoints whose modules are named differently.
    inflate: '' (shapes must match) or a method of `vidjax.convert.inflate.METHODS`: a 2D
      kernel of the checkpoint [k, k, C_in, C_out] fills the model's 3D kernel
      [t, k, k, C_in, C_out] (I3D's inflation, e.g. a video network from an image one).
    flag: the setting that named `path`, for the error messages.

  Returns:
    `variables` with every entry not named by `dont_load` read from the checkpoint.

  Raises:
    ValueError: a variable that no `dont_load` pattern names is missing from the
      checkpoint or has another shape there (the message lists them all), or nothing of
      the checkpoint fits (another architecture).
  """
  if inflate and inflate not in inflation.METHODS:
    raise ValueError(f'inflate={inflate!r}; allowed values: {("", *inflation.METHODS)}.')
  metadata = ocp.PyTreeCheckpointer().metadata(_state_dir(path, flag))
  stored = metadata.item_metadata
  stored = dict(getattr(stored, 'tree', stored))
  stored_shapes = traverse_util.flatten_dict(
    {key: jax.tree.map(lambda x: tuple(x.shape), stored[key]) for key in variables if key in stored}
  )
  fresh = traverse_util.flatten_dict(variables)
  to_read, problems = {}, []
  for key, value in fresh.items():
    collection, name = key[0], '/'.join(key[1:])
    if any(re.fullmatch(pattern, name) for pattern in dont_load):
      continue
    stored_name = _renamed(name, rename)
    stored_key = (collection, *stored_name.split('/'))
    if stored_key not in stored_shapes:
      problems.append(f'{collection}/{name}: not in the checkpoint (as {stored_name})')
    elif stored_shapes[stored_key] != np.shape(value) and not (
      inflate and stored_shapes[stored_key] == np.shape(value)[1:]
    ):
      problems.append(
        f'{collection}/{name}: shape {np.shape(value)} in the model, '
        f'{stored_shapes[stored_key]} in the checkpoint'
      )
    else:
      shape = stored_shapes[stored_key]
      to_read[stored_key] = (key, jax.ShapeDtypeStruct(shape, value.dtype), np.shape(value))
  if not to_read:
    raise ValueError(
      f'{flag}={path!r}: no weight of the checkpoint fits this model; it was '
      'written for another architecture or variant (check config.model).'
    )
  if problems:
    raise ValueError(
      f'{flag}={path!r}: {len(problems)} variables of the model cannot be '
      'loaded:\n  ' + '\n  '.join(problems) + '\nName those meant to stay fresh in '
      "config.init_from.dont_load (regexes, e.g. ('fc/.*',) for a new classifier), or map "
      'their names with config.init_from.rename.'
    )
  restored = traverse_util.flatten_dict(
    read_variables(
      path,
      traverse_util.unflatten_dict({k: v[1] for k, v in to_read.items()}),
      flag=flag,
    )
  )
  loaded = {}
  for stored_key, value in restored.items():
    key, _, shape = to_read[stored_key]
    loaded[key] = (
      value if np.shape(value) == shape else inflation.inflate_leaf(value, shape, inflate)
    )
  for key in fresh.keys() - loaded.keys():
    logging.info('init_from %s: %s keeps its fresh initialisation (dont_load).', path, key)
  return traverse_util.unflatten_dict({**fresh, **loaded})


def _renamed(name: str, rename) -> str:
  for pattern, replacement in rename:
    if re.fullmatch(pattern, name):
      return re.sub(pattern, replacement, name)
  return name


class PreemptionWatcher:
  """Turns SIGTERM (preemption, scancel, Ctrl-C-like stops) into a flag the loop polls.

  The loop then saves a checkpoint and exits cleanly, instead of losing the work done
  since the last periodic save.
  """

  def __init__(self):
    self._event = threading.Event()
    self._previous = None
    if threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGTERM, self._handle)

  def _handle(self, signum, frame):
    logging.warning('SIGTERM received: saving a checkpoint and stopping.')
    self._event.set()

  @property
  def stop_requested(self) -> bool:
    return self._event.is_set()

  def close(self) -> None:
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
