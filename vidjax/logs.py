"""Where a run reports: TensorBoard events, `metrics.jsonl` and a console progress line.

Every logging event is one JSON object in `<workdir>/metrics.jsonl`: {"step": ..., plus
flat names such as "train/loss" or "eval/val/video_top1_4x1"}. On resume, entries after
the restored step are dropped, so the file reads as one uninterrupted run.
"""

from __future__ import annotations

import json
import logging as std_logging
import os
import time
from collections.abc import Callable

import jax
from absl import logging

from vidjax import tensorboard


class MetricWriter:
  """Writes scalars from process 0 only; other hosts' calls are no-ops."""

  def __init__(self, workdir: str, *, resume_step: int | None):
    """`resume_step`: the step training restarts from (later entries are dropped), or
    None to append without dropping anything (evaluation-only runs)."""
    self._active = jax.process_index() == 0
    self._path = os.path.join(workdir, 'metrics.jsonl')
    if not self._active:
      return
    if resume_step is not None:
      _truncate_after(self._path, resume_step)
    self._tensorboard = tensorboard.SummaryWriter(os.path.join(workdir, 'tensorboard'))

  def write(self, step: int, scalars: dict[str, float]) -> None:
    if not self._active:
      return
    with open(self._path, 'a') as f:
      f.write(json.dumps({'step': step, **scalars}) + '\n')
    self._tensorboard.add_scalars(step, scalars)
    self._tensorboard.flush()

  def close(self) -> None:
    if self._active:
      self._tensorboard.close()


class _LibraryInfoFilter(std_logging.Filter):
  """Drops the INFO chatter of orbax, tfds and grain (one line per file written or read)
  so the progress line stays readable; their warnings and errors still show."""

  _LIBRARIES = ('/orbax/', '/tensorflow_datasets/', '/grain/')

  def filter(self, record: std_logging.LogRecord) -> bool:
    return record.levelno >= std_logging.WARNING or not any(
      lib in record.pathname for lib in self._LIBRARIES
    )


def quiet_library_logs() -> None:
  """Installs `_LibraryInfoFilter` on absl's logger (idempotent)."""
  logger = std_logging.getLogger('absl')
  if not any(isinstance(f, _LibraryInfoFilter) for f in logger.filters):
    logger.addFilter(_LibraryInfoFilter())


def _truncate_after(path: str, step: int) -> None:
  if not os.path.exists(path):
    return
  with open(path) as f:
    kept = [line for line in f if line.strip() and json.loads(line)['step'] <= step]
  with open(path, 'w') as f:
    f.writelines(kept)


def read_metrics(workdir: str) -> list[dict]:
  """All entries of `<workdir>/metrics.jsonl`, in order."""
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f if line.strip()]


def last_values(workdir: str, up_to_step: int) -> dict[str, float]:
  """The last value logged of every metric at or before `up_to_step` ({} without a log):
  what a resumed run had measured before it stopped."""
  path = os.path.join(workdir, 'metrics.jsonl')
  if not os.path.exists(path):
    return {}
  values = {}
  for entry in read_metrics(workdir):
    if entry['step'] <= up_to_step:
      values.update({key: value for key, value in entry.items() if key != 'step'})
  return values


class Progress:
  """Console progress: step, steps/s, clips/s and ETA since the last report.

  `examples_before(step)` is the number of clips in the global batches of the steps
  before `step` (step x batch size, unless the batch size changes, as under multigrid).
  """

  def __init__(self, total_steps: int, examples_before: Callable[[int], int], start_step: int):
    self._total = total_steps
    self._examples_before = examples_before
    self._last_step = start_step
    self._last_time = time.perf_counter()

  def report(self, step: int, scalars: dict[str, float]) -> dict[str, float]:
    now = time.perf_counter()
    elapsed = max(now - self._last_time, 1e-9)
    steps_per_sec = (step - self._last_step) / elapsed
    clips = self._examples_before(step) - self._examples_before(self._last_step)
    clips_per_sec = clips / elapsed
    self._last_step, self._last_time = step, now
    eta = (self._total - step) / max(steps_per_sec, 1e-9)
    shown = ', '.join(f'{k.split("/")[-1]} {v:.4g}' for k, v in scalars.items())
    logging.info(
      '[%d/%d] %s | %.2f steps/s, %.1f clips/s, ETA %s',
      step,
      self._total,
      shown,
      steps_per_sec,
      clips_per_sec,
      _hms(eta),
    )
    return {'perf/steps_per_sec': steps_per_sec, 'perf/clips_per_sec': clips_per_sec}


def _hms(seconds: float) -> str:
  seconds = int(seconds)
  return f'{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'
