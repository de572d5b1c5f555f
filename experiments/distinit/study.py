r"""The DistInit miniature study: distillation and its transfer against inflation and
random initialisation, over seeds.

  python experiments/distinit/study.py --workdir workdirs/distinit_study --seeds 0,1,2

Runs, for each seed: the image teacher (experiments/distinit/teacher.py); the video
student distilled from it on the `events` training videos without labels
(experiments/distinit/synthetic.py: its agreement with the teacher on held-out videos and
linear probes of its features on 10 % of the `events` labels, at initialisation and at the
end); then the same R3D-10 fine-tuned on 10 % of the `events` labels
(experiments/transfer/synthetic_finetune.py:backbone=r3d) from the distilled student, from
the teacher inflated to 3D (I3D's 'mean' inflation), and from a random initialisation.
One `python -m vidjax.main` process per run (`vidjax/study.py`: resumable, writes
WORKDIR/study.json and prints the table of docs/results.md).

Hardware: 2 CPU cores; 35-60 minutes a seed (seed 2: 60, sharing the cores with other runs).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

TEACHER = 'experiments/distinit/teacher.py'
EXPERIMENT = 'experiments/distinit/synthetic.py'
FINETUNE = 'experiments/transfer/synthetic_finetune.py'

RUNS = (
  study.Run('teacher', experiment=TEACHER),
  study.Run('distill', depends=study.init_from_run('teacher', 'teacher'), experiment=EXPERIMENT),
  study.Run(
    'finetune_distinit',
    depends=study.init_from_run('distill', more='backbone=r3d'),
    experiment=FINETUNE,
  ),
  study.Run(
    'finetune_inflated',
    depends=study.init_from_run('teacher', more='backbone=r3d,inflate'),
    experiment=FINETUNE,
  ),
  study.Run('finetune_scratch', depends=lambda _: 'backbone=r3d', experiment=FINETUNE),
)
METRICS = {
  'teacher top-1 (images)': 'eval/val/clip_top1',
  'agreement with the teacher': 'eval/distill/accuracy',
  'probe': 'eval/probe/top1',
  'fine-tuned top-1': 'eval/val/video_top1_2x1',
}

if __name__ == '__main__':
  study.main(__doc__.split('\n\n')[0], experiment=EXPERIMENT, runs=RUNS, metrics=METRICS)
