r"""The Gradient Blending miniature study: experiments/gblend/synthetic.py over seeds.

  python experiments/gblend/study.py --workdir workdirs/gblend_study --seeds 0,1,2

Runs, for each seed: RGB only, audio only, naive joint RGB + audio (the fused head's loss
alone), offline G-Blend (a one-window estimating run, then training with the weights it
recorded) and online G-Blend, one `python -m vidjax.main` process per run
(`vidjax/study.py`: resumable, writes WORKDIR/study.json with every run's final weights
and prints the table of docs/results.md).

Hardware: 2 CPU cores.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/gblend/synthetic.py'
RUNS = (
  study.Run('rgb'),
  study.Run('audio'),
  study.Run('naive'),
  study.Run('estimate', in_table=False),
  study.Run(
    'offline', depends=lambda seed_dir: f'weights_from={seed_dir}/estimate', needs=('estimate',)
  ),
  study.Run('online'),
)
METRICS = {
  'top-1 (2 clips)': 'eval/val/video_top1_2x1',
  'video head': 'eval/val_heads/top1/video',
  'audio head': 'eval/val_heads/top1/audio',
}

if __name__ == '__main__':
  study.main(__doc__.split('\n\n')[0], experiment=EXPERIMENT, runs=RUNS, metrics=METRICS)
