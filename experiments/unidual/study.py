r"""The UniDual miniature study: every variant of experiments/unidual/synthetic.py over seeds.

  python experiments/unidual/study.py --workdir workdirs/unidual_study --seeds 0,1,2

Runs, for each seed, the separate models (image_only, video_only), joint UniDual, the
shared trunk (traditional multi-task learning), and pretrain-then-fine-tune in both orders
(each started from that seed's separate run of the other task), one `python -m
vidjax.main` process per run, exactly the commands it prints. A finished run (its
results.json exists) is not run again, so a killed study resumes where it stopped. It then
writes WORKDIR/study.json (every run's command and final metrics, and per variant the mean
and standard deviation over seeds) and prints the table of docs/results.md.

Hardware: 2 CPU cores: 1-2.5 min per run, 32 min for 3 seeds (18 runs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENT = 'experiments/unidual/synthetic.py'
# (variant, the variant whose checkpoint it starts from), in the order they must run.
RUNS = (
  ('image_only', None),
  ('video_only', None),
  ('joint', None),
  ('shared', None),
  ('image_then_video', 'image_only'),
  ('video_then_image', 'video_only'),
)
METRICS = {'video@1': 'eval/video/video_top1_2x1', 'image top-1': 'eval/image/clip_top1'}


def _command(
  variant: str, seed: int, workdir: str, init_from: str, extra: list[str], config_arg: str
) -> list[str]:
  arg = f'variant={variant}' + (f',init_from={init_from}' if init_from else '')
  arg += f',{config_arg}' if config_arg else ''
  return [
    sys.executable,
    '-m',
    'vidjax.main',
    f'--config={EXPERIMENT}:{arg}',
    f'--workdir={workdir}',
    f'--config.seed={seed}',
    *extra,
  ]


def _final_checkpoint(workdir: str) -> str:
  steps = [int(name) for name in os.listdir(os.path.join(workdir, 'checkpoints')) if name.isdigit()]
  return os.path.join(workdir, 'checkpoints', str(max(steps)))


def run_study(workdir: str, seeds: list[int], extra: list[str], config_arg: str = '') -> dict:
  runs = []
  for seed in seeds:
    for variant, pretrained in RUNS:
      run_dir = os.path.join(workdir, f'seed{seed}', variant)
      init_from = (
        _final_checkpoint(os.path.join(workdir, f'seed{seed}', pretrained)) if pretrained else ''
      )
      command = _command(variant, seed, run_dir, init_from, extra, config_arg)
      results_path = os.path.join(run_dir, 'results.json')
      if not os.path.exists(results_path):
        print('$', ' '.join(command), flush=True)
        subprocess.run(command, check=True, cwd=REPO)
      with open(results_path) as f:
        results = json.load(f)
      runs.append(
        dict(
          variant=variant,
          seed=seed,
          command=' '.join(command[1:]),
          **{name: results[key] for name, key in METRICS.items()},
        )
      )
  summary = {}
  for variant, _ in RUNS:
    rows = [run for run in runs if run['variant'] == variant]
    summary[variant] = {
      name: dict(
        mean=statistics.mean(r[name] for r in rows),
        std=statistics.stdev(r[name] for r in rows) if len(rows) > 1 else 0.0,
        values=[r[name] for r in rows],
      )
      for name in METRICS
    }
  study = dict(
    experiment=EXPERIMENT, config_arg=config_arg, seeds=seeds, runs=runs, summary=summary
  )
  with open(os.path.join(workdir, 'study.json'), 'w') as f:
    json.dump(study, f, indent=2)
  return study


def table(study: dict) -> str:
  """The markdown table: mean +- standard deviation over seeds, and each seed's value."""
  lines = [
    f'| variant | {" | ".join(METRICS)} |',
    '|---|' + '---|' * len(METRICS),
  ]
  for variant, metrics in study['summary'].items():
    cells = [
      f'{m["mean"]:.1f} ± {m["std"]:.1f} ({", ".join(f"{v:.1f}" for v in m["values"])})'
      for m in metrics.values()
    ]
    lines.append(f'| {variant} | {" | ".join(cells)} |')
  return '\n'.join(lines)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--seeds', default='0,1,2', help='comma-separated seeds')
  parser.add_argument(
    '--config_arg',
    default='',
    help="more of the experiment's arguments, e.g. video_labels=shape (the related tasks)",
  )
  parser.add_argument(
    'extra',
    nargs='*',
    help='flags passed to every run after "--", e.g. -- --config.input.data_dir=DIR',
  )
  args = parser.parse_args()
  workdir = os.path.abspath(args.workdir)
  os.makedirs(workdir, exist_ok=True)
  seeds = [int(s) for s in args.seeds.split(',')]
  study = run_study(workdir, seeds, args.extra, args.config_arg)
  print(table(study))


if __name__ == '__main__':
  main()
