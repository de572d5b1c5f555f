r"""The clip-budget miniature study: 240 training clips of the `untrimmed` videos spent as
240 videos x 1 clip, 120 x 2, 60 x 4 or 30 x 8, against 240 videos with a clip drawn
anywhere every time, over seeds.

  python experiments/weak_supervision/clip_budget_study.py \
      --workdir workdirs/budget_study --seeds 0,1,2

One `python -m vidjax.main` process per run of experiments/weak_supervision/clip_budget.py
(`vidjax/study.py`: resumable, writes WORKDIR/study.json and prints the table of
docs/results.md).

Hardware: 2 CPU cores; about 15 minutes a seed.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/weak_supervision/clip_budget.py'
SPLITS = ((240, 1), (120, 2), (60, 4), (30, 8), (240, 0))

RUNS = tuple(
  study.Run(
    f'videos{videos}_clips{clips}',
    experiment=EXPERIMENT,
    arguments=f'videos={videos},clips={clips}',
  )
  for videos, clips in SPLITS
)
METRICS = {'video top-1 (4 clips)': 'eval/val/video_top1_4x1'}

if __name__ == '__main__':
  study.main(__doc__.split('\n\n')[0], experiment=EXPERIMENT, runs=RUNS, metrics=METRICS)
