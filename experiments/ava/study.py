r"""The AVA miniature study: experiments/ava/synthetic.py's linear and ACAR heads over seeds.

  python experiments/ava/study.py --workdir workdirs/ava_study --seeds 0,1,2

Runs, for each seed, the model with the linear head and with ACAR's head, one `python -m
vidjax.main` process per run (`vidjax/study.py`: resumable, writes WORKDIR/study.json and
prints the table of docs/results.md): frame-mAP of the validation keyframes with the
ground-truth boxes and with the detector's.

Hardware: 2 CPU cores.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/ava/synthetic.py'
RUNS = (study.Run('linear'), study.Run('acar'))
METRICS = {
  'frame-mAP, true boxes': 'eval/gt/mAP',
  'frame-mAP, detected boxes': 'eval/detected/mAP',
}

if __name__ == '__main__':
  study.main(__doc__.split('\n\n')[0], experiment=EXPERIMENT, runs=RUNS, metrics=METRICS)
