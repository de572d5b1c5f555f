r"""The AVA miniature study: experiments/ava/synthetic.py's heads over seeds.

  python experiments/ava/study.py --workdir workdirs/ava_study --seeds 0,1,2

Runs, for each seed, the model with the linear head, with ACAR's head, and with ACAR's head
reading an actor-context feature bank (ACFB): the banks of the training and validation
keyframes are the same seed's ACAR model's (tools/extract_feature_bank.py, the
detector's boxes), extracted once into the seed's directory. One `python -m vidjax.main`
process per run (`vidjax/study.py`: resumable, writes WORKDIR/study.json and prints the
table of docs/results.md): frame-mAP of the validation keyframes with the ground-truth
boxes and with the detector's. `--variants acar,acfb` runs those only. The `*_long`
variants (`--variants linear_long,acar_long,acfb_long,acfb_long_8s`) are the same heads
on `interactions_long`, where actors hide for 3 of the videos' 8 seconds (long-term
context), ACFB with the 2-second window and reading the whole video.

Hardware: 2 CPU cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vidjax import study  # noqa: E402

EXPERIMENT = 'experiments/ava/synthetic.py'
BANK_SPLITS = {'bank': 'train', 'eval_bank': 'validation'}
LONG = 'data=interactions_long'


def _banks(acar_variant: str, data_arg: str = '') -> Callable[[str], str]:
  """ACFB's arguments: the banks of the seed's `acar_variant` model (trained with
  `data_arg`), extracted unless they exist."""

  def depends(seed_dir: str) -> str:
    config = f'{EXPERIMENT}:{data_arg}' if data_arg else EXPERIMENT
    prefix = 'bank_long' if data_arg else 'bank'
    paths = {}
    for argument, split in BANK_SPLITS.items():
      paths[argument] = os.path.join(seed_dir, f'{prefix}_{split}.npz')
      if not os.path.exists(paths[argument]):
        tool = [sys.executable, 'tools/extract_feature_bank.py', f'--config={config}']
        flags = [f'--workdir={os.path.join(seed_dir, acar_variant)}', f'--split={split}']
        print('$', ' '.join([*tool, *flags, f'--output={paths[argument]}']), flush=True)
        subprocess.run([*tool, *flags, f'--output={paths[argument]}'], check=True, cwd=study.REPO)
    return ','.join(f'{argument}={path}' for argument, path in paths.items())

  depends.needs = (acar_variant,)
  return depends


def _long(head: str, name: str = '', arguments: str = '', **kwargs) -> study.Run:
  """The `head` variant on `interactions_long` (the experiment given, so that the run's
  name is not its `variant=`)."""
  arguments = ','.join(a for a in (f'variant={head}', LONG, arguments) if a)
  return study.Run(name or f'{head}_long', experiment=EXPERIMENT, arguments=arguments, **kwargs)


RUNS = (
  study.Run('linear'),
  study.Run('acar'),
  study.Run('acfb', depends=_banks('acar')),
  _long('linear'),
  _long('acar'),
  _long('acfb', depends=_banks('acar_long', LONG)),
  # The bank read over the whole video (LFB reads 60 s): the 2-second window of a keyframe
  # in the middle of an actor's 3 hidden seconds holds only clips that half hide it.
  _long('acfb', 'acfb_long_8s', 'window=8', depends=_banks('acar_long', LONG)),
)
METRICS = {
  'frame-mAP, true boxes': 'eval/gt/mAP',
  'frame-mAP, detected boxes': 'eval/detected/mAP',
}

if __name__ == '__main__':
  study.main(__doc__.split('\n\n')[0], experiment=EXPERIMENT, runs=RUNS, metrics=METRICS)
