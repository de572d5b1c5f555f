"""Orbax checkpoints: async saves, automatic resume, the data iterator's state, preemption.

A checkpoint holds two items: 'state' (the whole TrainState: step, params, batch stats,
optimiser state) and 'data' (the grain iterator's state as JSON). Resume precedence:
1. the latest complete checkpoint in `<workdir>/checkpoints` (a killed run resumes);
2. otherwise `config.init_from` (parameters only, e.g. a converted PyTorch model);
3. otherwise a fresh initialisation.
Orbax writes each checkpoint into a temporary directory and renames it when complete, so
a run killed mid-save resumes from the previous checkpoint.
"""

from __future__ import annotations

import os
import signal
import threading

import orbax.checkpoint as ocp
from absl import logging


class Checkpointer:
  """Saves and restores (train state, data iterator state) pairs in `directory`."""

  def __init__(self, directory: str, *, max_to_keep: int, async_save: bool = True):
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
    """Starts an asynchronous save; returns while the files are still being written."""
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
    return restored['state'], restored['data']

  def wait(self) -> None:
    """Blocks until pending asynchronous saves are on disk."""
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.close()


def restore_params(path: str, abstract_params):
  """Reads the parameters of a vidjax checkpoint (or a converted model) for init_from.

  `path` is a checkpoint step directory (`.../checkpoints/1000`) or a params directory
  written by tools/convert_checkpoint.py.
  """
  path = os.path.abspath(os.path.expanduser(path))
  state_dir = os.path.join(path, 'state')
  if not os.path.isdir(state_dir):
    raise FileNotFoundError(
      f'config.init_from={path!r} has no "state" item; point it at a checkpoint step '
      'directory such as WORKDIR/checkpoints/1000.'
    )
  restored = ocp.StandardCheckpointer().restore(state_dir)
  if 'params' not in restored:
    raise ValueError(f'config.init_from={path!r}: the checkpoint holds no "params".')
  return restored['params']


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
