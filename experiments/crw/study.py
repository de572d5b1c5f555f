r"""The correspondence miniature study: mask propagation on the embedded videos, over seeds.

  python experiments/crw/study.py --workdir workdirs/correspondence_study --seeds 0,1,2

Runs, for each seed: the contrastive random walk (experiments/crw/synthetic.py) and
colourisation tracking (experiments/colorization/synthetic.py), trained without labels,
and both networks untrained (`steps=0`: the random-initialised baselines). Each is scored
by propagating the first frame's masks through the first 30 embedded validation videos
with its features (videowalk's protocol) and the official DAVIS J&F
(`evaluators/label_propagation.py`); the column 'copy' is the baseline that repeats the
first frame's masks (the same for every run). One `python -m vidjax.main` process per run
(`vidjax/study.py`: resumable, writes WORKDIR/study.json and prints the table of
docs/results.md). The papers' ordering: CRW > colourisation > the baselines.

Hardware: 2 CPU cores.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

CRW = 'experiments/crw/synthetic.py'
COLORIZATION = 'experiments/colorization/synthetic.py'

RUNS = (
  study.Run('crw', experiment=CRW),
  study.Run('colorization', experiment=COLORIZATION),
  study.Run('random_crw_network', experiment=CRW, arguments='steps=0'),
  study.Run('random_colorizer', experiment=COLORIZATION, arguments='steps=0'),
)
METRICS = {
  'J&F': 'eval/davis/J&F-Mean',
  'J': 'eval/davis/J-Mean',
  'F': 'eval/davis/F-Mean',
  'copy J&F': 'eval/davis/copy/J&F-Mean',
}

if __name__ == '__main__':
  study.main(
    __doc__.split('\n\n')[0],
    experiment=CRW,
    runs=RUNS,
    metrics=METRICS,
    config_arg_help='more arguments for every run (both experiments take steps=N)',
  )
