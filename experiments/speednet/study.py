r"""The SpeedNet miniature study: pretraining and its transfer, over seeds.

  python experiments/speednet/study.py --workdir workdirs/speednet_study --seeds 0,1,2

Runs, for each seed: SpeedNet pretraining on the `speed` training videos without labels
(experiments/speednet/synthetic.py: its speed accuracy on held-out videos and linear
probes of its features on 10 % of the `events` labels, at initialisation and at the end);
then the network fine-tuned on 10 % of the `events` labels from the pretrained network and
from a random initialisation (experiments/transfer/synthetic_finetune.py). One
`python -m vidjax.main` process per run (`vidjax/study.py`: resumable, writes
WORKDIR/study.json and prints the table of docs/results.md).

Hardware: 2 CPU cores; about 25 minutes a seed, sharing the cores with other runs.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/speednet/synthetic.py'
FINETUNE = 'experiments/transfer/synthetic_finetune.py'


RUNS = (
  study.Run('pretrain', experiment=EXPERIMENT),
  study.Run('finetune_pretrained', depends=study.init_from_run('pretrain'), experiment=FINETUNE),
  study.Run('finetune_scratch', experiment=FINETUNE),
)
METRICS = {
  'speed accuracy': 'eval/speed/accuracy',
  'probe': 'eval/probe/top1',
  'fine-tuned top-1': 'eval/val/video_top1_2x1',
}

if __name__ == '__main__':
  study.main(__doc__.split('\n\n')[0], experiment=EXPERIMENT, runs=RUNS, metrics=METRICS)
