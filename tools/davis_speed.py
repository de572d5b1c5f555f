"""`tools/benchmark.py --mode=davis`: tools/davis_eval.py against the official evaluation.

Both evaluate the same generated DAVIS-sized folder (854 x 480 masks, `SEQUENCES`
sequences of `FRAMES` frames with 1-4 moving objects, results that are perturbed copies)
in the same run; the official code is the unchanged copy in tests/tools/davis2017 (so this
mode needs the repository's test tree and the [test] extra). Wall-clock seconds of each,
best of `rounds`, and the ratios: the official evaluation in this process against
`evaluators.davis.evaluate_folder` in this process on one core, and against the whole
`python tools/davis_eval.py` command (start-up included) with a process per core.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import timing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEQUENCES = 6
FRAMES = 50


def davis_benchmark(rounds: int) -> dict:
  sys.path.insert(0, os.path.join(REPO, 'tests', 'tools'))
  from davis2017.evaluation import DAVISEvaluation  # the official code, unchanged
  from davis_masks import write_davis_folder

  from vidjax.evaluators import davis

  sequences = {f'seq{i}': (FRAMES, 1 + i % 4, 480, 854) for i in range(SEQUENCES)}
  with tempfile.TemporaryDirectory() as directory:
    root = pathlib.Path(directory)
    results = write_davis_folder(root, sequences)

    def official():
      metrics = DAVISEvaluation(str(root), 'semi-supervised', 'val').evaluate(results)
      return (np.mean(metrics['J']['M']) + np.mean(metrics['F']['M'])) / 2

    figures = {}
    tool = os.path.join(REPO, 'tools', 'davis_eval.py')
    command = [sys.executable, tool, '--davis_root', str(root), '--results_dir', results]
    command += ['--json', str(root / 'davis.json')]
    timings = {
      'official_s': timing.best_seconds(lambda: figures.update(official=official()), rounds)[0],
      'vidjax_1_process_s': timing.best_seconds(
        lambda: figures.update(vidjax=davis.evaluate_folder(str(root), results, processes=1)),
        rounds,
      )[0],
      'davis_eval_command_s': timing.best_seconds(
        lambda: subprocess.run(command, check=True, capture_output=True), rounds
      )[0],
    }
  return {
    'mode': 'davis',
    'sequences': SEQUENCES,
    'frames': FRAMES,
    'size': '854x480',
    'processes': os.cpu_count(),
    **{k: round(v, 3) for k, v in timings.items()},
    'speedup_1_process': round(timings['official_s'] / timings['vidjax_1_process_s'], 2),
    'speedup_command': round(timings['official_s'] / timings['davis_eval_command_s'], 2),
    'j_and_f_official': float(figures['official']),
    'j_and_f_vidjax': figures['vidjax']['J&F-Mean'],
  }
