r"""The clip-budget miniature study: a budget of N = 1,200 training clips of the `untrimmed`
videos (the whole training split at one clip a video) spent as N videos x 1 clip, N/2 x 2,
N/4 x 4 or N/8 x 8, against N videos with a clip drawn anywhere every time, over seeds.

  python experiments/weak_supervision/clip_budget_study.py \
      --workdir workdirs/budget_study --seeds 0,1,2
  # the SCSampler's small visual network instead of the classifier:
  python experiments/weak_supervision/clip_budget_study.py \
      --workdir workdirs/budget_study_small --seeds 0,1,2 --config_arg width=8,pixels=32

One `python -m vidjax.main` process per run of experiments/weak_supervision/clip_budget.py
(`vidjax/study.py`: resumable, writes WORKDIR/study.json and prints the table of
docs/results.md).

Hardware: 2 CPU cores; about 20 minutes a seed.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/weak_supervision/clip_budget.py'
BUDGET = 1200  # clips: the whole training split at one clip a video
SPLITS = (
  (BUDGET, 1),
  (BUDGET // 2, 2),
  (BUDGET // 4, 4),
  (BUDGET // 8, 8),
  (BUDGET, 0),
)

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
