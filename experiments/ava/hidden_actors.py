r"""Frame-mAP of the hidden actors and of the others, in the AVA study's `*_long` runs.

  python experiments/ava/hidden_actors.py --workdir workdirs/ava_study --seeds 0,1,2

`vidjax_synthetic/interactions_long` hides half its actors for 3 of a video's 8 seconds
(docs/ava.md). This splits each `*_long` run's last evaluation with the ground-truth boxes
(WORKDIR/seed<N>/<variant>/eval/gt/<step>/: the groundtruth.csv and detections.csv that
ActivityNet's script reads) into the actors hidden at their keyframe (`object_visible` of
the dataset's rendered sources is false: faded below the visibility threshold) and the
others, and scores each part with the official frame-mAP (`vidjax.evaluators.ava`): a
keyframe's detections belong to the actor whose true box they were scored in. It prints
the table of docs/results.md, mean ± standard deviation over the seeds.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402
from vidjax.data.builders import synthetic  # noqa: E402
from vidjax.evaluators import ava  # noqa: E402

CONFIG = 'interactions_long'
VARIANTS = ('linear_long', 'acar_long', 'acfb_long', 'acfb_long_8s')
PARTS = ('hidden actors', 'visible actors')


def hidden_persons(data_dir: str) -> tuple[dict[tuple[str, int], set[int]], int]:
  """{(video id, timestamp): the indices, among the keyframe's actors, of those hidden}
  of the validation videos, and the number of actors at their keyframes."""
  config = synthetic.VidjaxSynthetic.builder_configs[CONFIG]
  root = os.path.join(synthetic.sources_dir(data_dir, CONFIG), 'validation')
  hidden, num_actors = {}, 0
  for name in sorted(os.listdir(root)):
    if not name.endswith('.npz'):
      continue
    with np.load(os.path.join(root, name)) as source:
      visible = source['object_visible'][source['is_actor']]  # [A, T]
      for frame in source['keyframes']:
        timestamp = round(float(frame) / config.fps)
        hidden[name[: -len('.npz')], timestamp] = set(np.flatnonzero(~visible[:, frame]).tolist())
        num_actors += len(visible)
  return hidden, num_actors


def _split_rows(eval_dir: str, hidden: dict) -> dict[str, tuple[list, list]]:
  """{part: (ground-truth rows, detection rows)} of one evaluation."""
  with open(os.path.join(eval_dir, 'groundtruth.csv')) as f:
    truth = list(csv.reader(f))
  with open(os.path.join(eval_dir, 'detections.csv')) as f:
    detections = list(csv.reader(f))
  # Evaluated in the true boxes, a detection's box is its actor's, written alike.
  person_of = {(row[0], int(row[1]), *row[2:6]): int(row[7]) for row in truth}
  parts = {part: ([], []) for part in PARTS}
  for rows, column in ((truth, 0), (detections, 1)):
    for row in rows:
      key = (row[0], int(row[1]))
      person = person_of[(*key, *row[2:6])]
      part = PARTS[0] if person in hidden[key] else PARTS[1]
      parts[part][column].append(row)
  return parts


def frame_maps(eval_dir: str, hidden: dict) -> dict[str, float]:
  """{part: frame-mAP (%)} of one evaluation's hidden and visible actors."""
  labelmap = os.path.join(eval_dir, 'labelmap.pbtxt')
  results = {}
  with tempfile.TemporaryDirectory() as scratch:
    for part, (truth, detections) in _split_rows(eval_dir, hidden).items():
      paths = [os.path.join(scratch, name) for name in ('truth.csv', 'detections.csv')]
      for path, rows in zip(paths, (truth, detections), strict=True):
        with open(path, 'w', newline='') as f:
          csv.writer(f).writerows(rows)
      results[part] = 100.0 * ava.evaluate(labelmap, *paths)['mAP']
  return results


def last_evaluation(run_dir: str) -> str:
  directory = os.path.join(run_dir, 'eval', 'gt')
  return os.path.join(directory, str(max(int(step) for step in os.listdir(directory))))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--workdir', required=True, help='The AVA study directory.')
  parser.add_argument('--seeds', default='0,1,2')
  parser.add_argument(
    '--data_dir',
    default=os.path.expanduser('~/tensorflow_datasets'),
    help='tfds data_dir holding vidjax_synthetic/interactions_long and its sources.',
  )
  args = parser.parse_args()
  hidden, num_actors = hidden_persons(args.data_dir)
  summary = {}
  for variant in VARIANTS:
    values = {part: [] for part in PARTS}
    for seed in (int(s) for s in args.seeds.split(',')):
      run_dir = os.path.join(args.workdir, f'seed{seed}', variant)
      if not os.path.isdir(os.path.join(run_dir, 'eval', 'gt')):
        continue
      for part, value in frame_maps(last_evaluation(run_dir), hidden).items():
        values[part].append(value)
    if values[PARTS[0]]:
      summary[variant] = {
        part: dict(
          mean=statistics.mean(v),
          std=statistics.stdev(v) if len(v) > 1 else 0.0,
          values=v,
        )
        for part, v in values.items()
      }
  hidden_count = sum(len(persons) for persons in hidden.values())
  print(f'{hidden_count} of {num_actors} actors hidden, at {len(hidden)} validation keyframes.')
  print(study.table({'summary': summary}, PARTS))


if __name__ == '__main__':
  main()
