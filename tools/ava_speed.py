"""`tools/benchmark.py --mode=ava`: tools/ava_eval.py against the official AVA evaluation.

Both score the same generated files in the same run: a label map of 60 of the 80 class
ids, ground truth of `keyframes` keyframes (1-4 actors with 1-3 actions each, some of
classes outside the map), detections of every true box moved a little or a lot and of
false boxes, every class scored, so that most keyframes have more than the 50 detections
the evaluation keeps, plus detections on keyframes without ground truth, and excluded
keyframes. AVA's validation set has 57,408 keyframes (64 movies x 897).

The official code is not part of vidjax: `--official_ava DIR` names a checkout that holds
it, ActivityNet's `Evaluation/get_ava_performance.py` (with its `ava/` package) or
ACAR-Net's `calc_mAP.py` (with `ava_evaluation/`), whose `run_evaluation` reads the same
files. It uses NumPy aliases removed in NumPy 1.24 (`np.float`, `np.int`, `np.bool`),
which are restored for it here. Reported: the largest difference of any class's AP, and
the seconds of each (best of `rounds`, both in this process) with their ratio.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import tempfile

import numpy as np
import timing

from vidjax.evaluators import ava

CLASS_IDS = tuple(i for i in range(1, 81) if i % 4)  # 60 of 80, as the challenge's map
OFFICIAL_SCRIPTS = ('get_ava_performance.py', 'calc_mAP.py')


def write_files(directory: str, keyframes: int, seed: int = 0) -> dict[str, str]:
  """The label map, ground truth, detections and exclusions (paths) of `keyframes`
  generated keyframes (see the module docstring)."""
  rng = np.random.default_rng(seed)
  paths = {name: os.path.join(directory, name) for name in ('labelmap', 'gt', 'det', 'excl')}
  with open(paths['labelmap'], 'w') as f:
    f.writelines(f'item {{\n  name: "action {i}"\n  id: {i}\n}}\n' for i in CLASS_IDS)
  gt, det, excluded = [], [], []
  for k in range(keyframes):
    video, timestamp = f'video{k // 897:03d}', 902 + k % 897
    key = f'{video},{timestamp:04d}'
    actors = rng.integers(1, 5) if k % 10 else 0  # a tenth of the keyframes: no truth
    corners = rng.uniform(0, 0.6, (actors, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(0.1, 0.4, (actors, 2))], axis=1)
    for person, box in enumerate(boxes):
      for action in rng.choice(80, rng.integers(1, 4), replace=False) + 1:
        gt.append(f'{key},{",".join(f"{v:.3f}" for v in box)},{action},{person}\n')
    detected = boxes + rng.normal(0, rng.choice([0.01, 0.1]), boxes.shape)
    false = rng.uniform(0, 1, (rng.integers(0, 2), 4))
    detected = np.concatenate([detected, np.sort(false.reshape(-1, 2, 2), axis=1).reshape(-1, 4)])
    for box in np.clip(detected, 0, 1):
      coordinates = ','.join(f'{v:.3f}' for v in box)
      det.extend(f'{key},{coordinates},{c},{s:.4f}\n' for c, s in enumerate(rng.random(80), 1))
    if k % 97 == 0:
      excluded.append(f'{key}\n')
  for name, lines in (('gt', gt), ('det', det), ('excl', excluded)):
    with open(paths[name], 'w') as f:
      f.writelines(lines)
  return paths


def _official(directory: str):
  """The official `run_evaluation` of the checkout in `directory`."""
  for script in OFFICIAL_SCRIPTS:
    path = os.path.join(directory, script)
    if os.path.isfile(path):
      break
  else:
    raise FileNotFoundError(
      f'--official_ava={directory}: neither of {OFFICIAL_SCRIPTS} is there; point it at '
      "ActivityNet's Evaluation folder or at an ACAR-Net checkout."
    )
  for name, alias in (('float', float), ('int', int), ('bool', bool)):
    if not hasattr(np, name):
      setattr(np, name, alias)
  sys.path.insert(0, directory)
  spec = importlib.util.spec_from_file_location('official_ava', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.run_evaluation


def ava_benchmark(official_dir: str, keyframes: int, rounds: int) -> dict:
  run_official = _official(official_dir)
  logger = logging.getLogger('official_ava')
  logger.setLevel(logging.WARNING)
  with tempfile.TemporaryDirectory() as directory:
    paths = write_files(directory, keyframes)

    def official():
      with (
        open(paths['labelmap']) as labelmap,
        open(paths['gt']) as gt,
        open(paths['det']) as det,
        open(paths['excl']) as excl,
      ):
        try:
          return run_official(labelmap, gt, det, excl, logger)
        except TypeError:  # ActivityNet's takes no logger
          return run_official(labelmap, gt, det, excl)

    ours_seconds, ours = timing.best_seconds(
      lambda: ava.evaluate(paths['labelmap'], paths['gt'], paths['det'], paths['excl']), rounds
    )
    official_seconds, theirs = timing.best_seconds(official, rounds)
    with open(paths['det']) as f:
      num_detections = sum(1 for _ in f)
  prefix = 'PascalBoxes_PerformanceByCategory/AP@0.5IOU/'
  differences = [
    abs(ours['per_class_AP'][name[len(prefix) :]] - float(value))
    for name, value in theirs.items()
    if name.startswith(prefix) and not np.isnan(float(value))
  ]
  return {
    'mode': 'ava',
    'keyframes': keyframes,
    'detection_rows': num_detections,
    'classes_compared': len(differences),
    'max_class_ap_difference': max(differences),
    'map_difference': abs(ours['mAP'] - float(theirs['PascalBoxes_Precision/mAP@0.5IOU'])),
    'vidjax_seconds': round(ours_seconds, 2),
    'official_seconds': round(official_seconds, 2),
    'speedup': round(official_seconds / ours_seconds, 2),
    'rounds': rounds,
  }
