r"""The clip-budget miniature study: a budget of training clips of the `untrimmed` videos
spent as N videos x 1 clip, N/2 x 2, N/4 x 4 or N/8 x 8, against N videos with a clip drawn
anywhere every time, over seeds; budgets of N = 240 and N = 1,200 clips (the whole
training split).

  python experiments/weak_supervision/clip_budget_study.py \
      --workdir workdirs/budget_study --seeds 0,1,2
  # one budget:
  python experiments/weak_supervision/clip_budget_study.py --workdir workdirs/budget_study \
      --seeds 0,1,2 --variants \
      videos1200_clips1,videos600_clips2,videos300_clips4,videos150_clips8,videos1200_clips0

One `python -m vidjax.main` process per run of experiments/weak_supervision/clip_budget.py
(`vidjax/study.py`: resumable, writes WORKDIR/study.json and prints the table of
docs/results.md).

Hardware: 2 CPU cores; about 15 minutes a seed and budget.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/weak_supervision/clip_budget.py'
BUDGETS = (240, 1200)
SPLITS = tuple(
  (videos, clips)
  for budget in BUDGETS
  for videos, clips in (
    (budget, 1),
    (budget // 2, 2),
    (budget // 4, 4),
    (budget // 8, 8),
    (budget, 0),
  )
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
