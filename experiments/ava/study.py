r"""The AVA miniature study: experiments/ava/synthetic.py's heads over seeds.

  python experiments/ava/study.py --workdir workdirs/ava_study --seeds 0,1,2

Runs, for each seed, the model with the linear head, with ACAR's head, and with ACAR's head
reading an actor-context feature bank (ACFB): the banks of the training and validation
keyframes are the same seed's ACAR model's (tools/extract_feature_bank.py, the
detector's boxes), extracted once into the seed's directory. One `python -m vidjax.main`
process per run (`vidjax/study.py`: resumable, writes WORKDIR/study.json and prints the
table of docs/results.md): frame-mAP of the validation keyframes with the ground-truth
boxes and with the detector's. `--variants acar,acfb` runs those only.

Hardware: 2 CPU cores.
"""

from __future__ import annotations

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/ava/synthetic.py'
BANK_SPLITS = {'bank': 'train', 'eval_bank': 'validation'}


def _banks(seed_dir: str) -> str:
  """ACFB's arguments: the banks of the seed's ACAR model, extracted unless they exist."""
  paths = {}
  for argument, split in BANK_SPLITS.items():
    paths[argument] = os.path.join(seed_dir, f'bank_{split}.npz')
    if not os.path.exists(paths[argument]):
      tool = [sys.executable, 'tools/extract_feature_bank.py', f'--config={EXPERIMENT}']
      flags = [f'--workdir={os.path.join(seed_dir, "acar")}', f'--split={split}']
      print('$', ' '.join([*tool, *flags, f'--output={paths[argument]}']), flush=True)
      subprocess.run([*tool, *flags, f'--output={paths[argument]}'], check=True, cwd=study.REPO)
  return ','.join(f'{argument}={path}' for argument, path in paths.items())


RUNS = (study.Run('linear'), study.Run('acar'), study.Run('acfb', depends=_banks, needs=('acar',)))
METRICS = {
  'frame-mAP, true boxes': 'eval/gt/mAP',
  'frame-mAP, detected boxes': 'eval/detected/mAP',
}

if __name__ == '__main__':
  study.main(__doc__.split('\n\n')[0], experiment=EXPERIMENT, runs=RUNS, metrics=METRICS)
