"""Command line: train or evaluate an experiment config.

  python -m vidjax.main --config experiments/quickstart.py --workdir /tmp/quickstart
  python -m vidjax.main --config experiments/quickstart.py:smoke --workdir /tmp/smoke \\
      --config.total_steps=20
  python -m vidjax.main --config experiments/quickstart.py --workdir /tmp/quickstart \\
      --mode evaluate

Rerunning a command with the same workdir resumes from its latest checkpoint.
"""

from __future__ import annotations

import sys

from vidjax import host_memory

# Before JAX starts its threads; only with VIDJAX_KEEP_FREED_MEMORY=1 (see host_memory).
host_memory.keep_freed_memory(default=False)

from absl import app, flags, logging
from ml_collections import config_flags

from vidjax import configs, parallel, train

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Experiment file, optionally with an argument: path.py:smoke,x=y.'
)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints, logs, metrics.')
_MODE = flags.DEFINE_enum(
  'mode',
  'train',
  ['train', 'evaluate'],
  'train (resumes automatically) or evaluate (the latest checkpoint of --workdir, or '
  'config.init_from).',
)
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.INFO)
  parallel.maybe_initialize_distributed()
  config = configs.finalize(_CONFIG.value)
  if _MODE.value == 'train':
    train.train_and_evaluate(config, _WORKDIR.value)
  else:
    train.evaluate(config, _WORKDIR.value)


def run():
  """Entry point of the `vidjax-train` console script."""
  try:
    configs.check_overrides(sys.argv[1:])
  except ValueError as e:
    sys.exit(f'error: {e}')
  app.run(main)


if __name__ == '__main__':
  run()
