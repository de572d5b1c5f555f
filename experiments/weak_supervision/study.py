r"""The weak-supervision miniature study: transfer after pretraining on each label space of
the `tags` hashtags, against a random initialisation, over seeds.

  python experiments/weak_supervision/study.py --workdir workdirs/tags_study --seeds 0,1,2

Runs, for each seed: pretraining on the verb, noun, verb-noun and raw hashtag spaces
(experiments/weak_supervision/synthetic.py), each fine-tuned on 10 % of the labelled
`events` videos (experiments/transfer/synthetic_finetune.py), and the same fine-tuning
from a random initialisation. One `python -m vidjax.main` process per run
(`vidjax/study.py`: resumable, writes WORKDIR/study.json and prints the table of
docs/results.md).

Hardware: 2 CPU cores; about 28 minutes a seed.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/weak_supervision/synthetic.py'
FINETUNE = 'experiments/transfer/synthetic_finetune.py'
SPACES = ('verb', 'noun', 'verb_noun', 'hashtag')

RUNS = (
  *(
    study.Run(
      f'pretrain_{space}', experiment=EXPERIMENT, arguments=f'space={space}', in_table=False
    )
    for space in SPACES
  ),
  *(
    study.Run(
      f'finetune_{space}', depends=study.init_from_run(f'pretrain_{space}'), experiment=FINETUNE
    )
    for space in SPACES
  ),
  study.Run('finetune_scratch', experiment=FINETUNE),
)
METRICS = {'action top-1 after fine-tuning': 'eval/val/video_top1_2x1'}

if __name__ == '__main__':
  study.main(__doc__.split('\n\n')[0], experiment=EXPERIMENT, runs=RUNS, metrics=METRICS)
