r"""The PoseWarper miniature study: poses propagated from sparse labels, over seeds.

  python experiments/posewarper/study.py --workdir workdirs/posewarper_study --seeds 0,1,2

Runs, for each seed, the two stages of experiments/posewarper/synthetic.py: the pose
network trained on the labelled frames ('pose'; its warping module is untrained, the
identity, so its 'posewarper' column repeats the nearest labelled frame), then the warping
module on the frozen pose network ('warp'). Each is scored on the unlabelled frames of 100
validation videos (`evaluators/keypoint_propagation.py`): PCK@0.2 of the labelled frames'
poses propagated by the model, copied from the nearest labelled frame and moved by optical
flow, and of the pose network alone and with temporal aggregation. One
`python -m vidjax.main` process per run (`vidjax/study.py`: resumable, writes
WORKDIR/study.json and prints the table of docs/results.md). The paper's ordering (pose
propagation on PoseTrack17 val): PoseWarper > optical flow > copying.
Hardware: 2 CPU cores.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/posewarper/synthetic.py'
RUNS = (
  study.Run('pose', experiment=EXPERIMENT, arguments='stage=pose'),
  study.Run(
    'warp', depends=study.init_from_run('pose'), experiment=EXPERIMENT, arguments='stage=warp'
  ),
)
METRICS = {
  method.replace('_', ' '): f'eval/propagation/{method}/pck@0.2'
  for method in ('posewarper', 'flow', 'copy', 'single_frame', 'aggregated')
}

if __name__ == '__main__':
  study.main(
    __doc__.split('\n\n')[0],
    experiment=EXPERIMENT,
    runs=RUNS,
    metrics=METRICS,
    config_arg_help='more arguments for both runs (e.g. steps=N)',
  )
