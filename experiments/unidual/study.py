r"""The UniDual miniature study: every variant of experiments/unidual/synthetic.py over seeds.

  python experiments/unidual/study.py --workdir workdirs/unidual_study --seeds 0,1,2

Runs, for each seed, the separate models (image_only, video_only), joint UniDual, the
shared trunk (traditional multi-task learning), and pretrain-then-fine-tune in both orders
(each started from that seed's separate run of the other task), one `python -m
vidjax.main` process per run (`vidjax/study.py`: resumable, writes WORKDIR/study.json and
prints the table of docs/results.md).

Hardware: 2 CPU cores: 1-2.5 min per run, 32 min for 3 seeds (18 runs).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/unidual/synthetic.py'


RUNS = (
  study.Run('image_only'),
  study.Run('video_only'),
  study.Run('joint'),
  study.Run('shared'),
  study.Run('image_then_video', depends=study.init_from_run('image_only')),
  study.Run('video_then_image', depends=study.init_from_run('video_only')),
)
METRICS = {'video@1': 'eval/video/video_top1_2x1', 'image top-1': 'eval/image/clip_top1'}

if __name__ == '__main__':
  study.main(
    __doc__.split('\n\n')[0],
    experiment=EXPERIMENT,
    runs=RUNS,
    metrics=METRICS,
    config_arg_help=(
      "more of the experiment's arguments, e.g. video_labels=shape (the related tasks)"
    ),
  )
