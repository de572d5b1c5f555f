r"""The temporal alignment miniature study: TCC on the embedded phased videos, over seeds.

  python experiments/tcc/study.py --workdir workdirs/tcc_study --seeds 0,1,2 \
      --config_arg steps=500,lr=1e-3

Runs, for each seed: temporal cycle-consistency (experiments/tcc/synthetic.py) with the
whole embedder trained from scratch, and the same embedder untrained (`steps=0`: the
random-embedder baseline); then the paper's setting: the per-frame trunk a pretrained
image network (the shape classifier of experiments/distinit/teacher.py, trained first,
in ImageNet's place) of which only the BatchNorm layers train (`trunk=`), with TCC and
untrained (`steps=0`: the pretrained features' baseline). Each is scored by the
`alignment` evaluator on the first 30 validation videos: Kendall's tau of nearest-neighbour
alignments, phase classification (fitted on 60 training videos; chance 25 %) and phase
progression. One `python -m vidjax.main` process per run (`vidjax/study.py`: resumable,
writes WORKDIR/study.json and prints the table of docs/results.md).

Hardware: 2 CPU cores; about 15 minutes a seed for the pretrained-trunk runs (the image
network 6, TCC 8) and 10 for the others.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/tcc/synthetic.py'
TEACHER = 'experiments/distinit/teacher.py'
RUNS = (
  study.Run('tcc', experiment=EXPERIMENT),
  study.Run('random_embedder', experiment=EXPERIMENT, arguments='steps=0'),
  study.Run('image_network', experiment=TEACHER, in_table=False, takes_config_arg=False),
  study.Run(
    'tcc_pretrained_trunk',
    experiment=EXPERIMENT,
    depends=study.init_from_run('image_network', 'trunk'),
  ),
  study.Run(
    'pretrained_trunk_untrained',
    experiment=EXPERIMENT,
    depends=study.init_from_run('image_network', 'trunk'),
    arguments='steps=0',
  ),
)
METRICS = {
  "Kendall's tau": 'eval/alignment/kendalls_tau',
  'phase accuracy': 'eval/alignment/phase_accuracy',
  'phase progression': 'eval/alignment/phase_progression',
  'cycle accuracy': 'eval/cycle/accuracy',
}

if __name__ == '__main__':
  study.main(
    __doc__.split('\n\n')[0],
    experiment=EXPERIMENT,
    runs=RUNS,
    metrics=METRICS,
    config_arg_help='more arguments for every TCC run (steps=N, lr=X)',
  )
