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

Hardware: 2 CPU cores; about 25 minutes a seed beside other jobs.
"""

from __future__ import annotations

import os
import sys

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPOSITORY)

import numpy as np  # noqa: E402

from vidjax import configs, study  # noqa: E402
from vidjax.data import samplers, sampling  # noqa: E402
from vidjax.data.builders import synthetic_configs  # noqa: E402

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


def action_shares() -> dict[str, tuple[float, float | None]]:
  """Each variant's share of action frames in the clips it trains on, averaged over the
  places the `untrimmed` action can take: what a budget's clips show, apart from how many
  videos they cover. Per variant: (the share of its training clips, the share the same
  number of the evaluation's views would have: evenly spaced from the first start to the
  last, None for a clip anywhere)."""
  (data,) = [c for c in synthetic_configs.CONFIGS if c.name == 'untrimmed']
  meta = samplers.VideoMeta(num_frames=data.num_frames, fps=data.fps)
  starts = np.arange(data.num_frames - data.action_frames + 1)[:, None, None]

  def share(frames: np.ndarray) -> float:
    return float(((frames >= starts) & (frames < starts + data.action_frames)).mean())

  experiment = os.path.join(REPOSITORY, EXPERIMENT)
  shares = {}
  for run in RUNS:
    clips = configs.load_config_file(f'{experiment}:{run.arguments}').input.sampling
    sampler = samplers.build(clips)
    if isinstance(sampler, samplers.FixedClips):
      shares[run.variant] = (
        share(sampler.fixed_clips(meta).frames),
        share(sampler.eval(meta, clips.clips_per_video).frames),
      )
    else:  # a clip anywhere: every possible start once
      num_starts = data.num_frames - sampling.clip_span(clips.num_frames, clips.stride) + 1
      shares[run.variant] = (share(sampler.eval(meta, num_starts).frames), None)
  return shares


if __name__ == '__main__':
  study.main(__doc__.split('\n\n')[0], experiment=EXPERIMENT, runs=RUNS, metrics=METRICS)
  print('Share of action frames in the training clips (and in as many evaluation views):')
  for variant, (trained, views) in action_shares().items():
    print(f'  {variant}: {trained:.1%}' + (f' ({views:.1%})' if views is not None else ''))
