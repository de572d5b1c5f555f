r"""The SCSampler miniature study: the heavy classifier on the sampler's top clip against
all clips, an evenly spaced clip, a random clip and the oracle clip, over seeds.

  python experiments/scsampler/study.py --workdir workdirs/scsampler_study --seeds 0,1,2

Runs, for each seed: the heavy classifier, the quickstart's R(2+1)D-10 trained on the
trimmed `default` videos (experiments/quickstart.py), then the sampler trained on the
`untrimmed` videos and evaluated with that classifier (experiments/scsampler/synthetic.py),
on the clips (`scsampler`) or on their sound (`scsampler_audio`) as a clip classifier, and
on the clips by the paper's saliency-ranking objective, alone (`scsampler_ranking`) or
with the clip classification (`scsampler_combined`; tasks/scsampler.py).
One `python -m vidjax.main` process per run (`vidjax/study.py`: resumable, writes
WORKDIR/study.json and prints the table of docs/results.md).

Hardware: 2 CPU cores; about 10 minutes a seed.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

CLASSIFIER = 'experiments/quickstart.py'
EXPERIMENT = 'experiments/scsampler/synthetic.py'

RUNS = (
  study.Run('classifier', experiment=CLASSIFIER, in_table=False),
  study.Run(
    'scsampler', depends=study.init_from_run('classifier', 'classifier'), experiment=EXPERIMENT
  ),
  study.Run(
    'scsampler_audio',
    depends=study.init_from_run('classifier', 'classifier', more='sampler=audio'),
    experiment=EXPERIMENT,
  ),
  # The paper's saliency-ranking objective, alone and with the clip classification.
  study.Run(
    'scsampler_ranking',
    depends=study.init_from_run('classifier', 'classifier', more='loss=ranking'),
    experiment=EXPERIMENT,
  ),
  study.Run(
    'scsampler_combined',
    depends=study.init_from_run('classifier', 'classifier', more='loss=combined'),
    experiment=EXPERIMENT,
  ),
)
METRICS = {
  'classifier, all 4 clips': 'eval/scsampler/all_clips_top1',
  '1 uniform clip': 'eval/scsampler/uniform_top1',
  '1 random clip': 'eval/scsampler/random_top1',
  "SCSampler's top clip": 'eval/scsampler/scsampler_top1',
  'oracle clip': 'eval/scsampler/oracle_top1',
  'sampler alone, 4 clips': 'eval/scsampler/sampler_top1',
  'GFLOPs/video all': 'eval/scsampler/gflops_per_video_all_clips',
  'GFLOPs/video SCSampler': 'eval/scsampler/gflops_per_video_scsampler',
}

if __name__ == '__main__':
  study.main(__doc__.split('\n\n')[0], experiment=EXPERIMENT, runs=RUNS, metrics=METRICS)
