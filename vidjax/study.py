"""Miniature studies: every variant of an experiment over seeds, one run per process.

A study file (e.g. `experiments/gblend/study.py`) names its experiment, its runs and the
metrics of its table, and calls `main`. Each run is exactly the `python -m vidjax.main`
command it prints, in WORKDIR/seed<S>/<variant>; a run whose results.json exists is not
run again, so a killed study resumes where it stopped. The study then writes
WORKDIR/study.json (every run's command, final metrics and final task state, and per
variant the mean and standard deviation over seeds) and prints the markdown table that
docs/results.md shows.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Run:
  """One variant of the experiment.

  variant: the run's name (its directory and row), and the experiment's `variant=`
    unless `experiment` is given.
  depends: more of the experiment's arguments, from the seed's directory (where the
    other variants of the same seed ran), e.g. a checkpoint or a workdir this run starts
    from; runs are executed in the order given, so a dependency comes first.
  in_table: whether the variant is a row of the table (False for a helper run, such as
    offline Gradient Blending's estimating run).
  experiment: another experiment file for this run (e.g. the fine-tuning after a
    pretraining), which is then given no `variant=`.
  arguments: more of the experiment's arguments for this run (e.g. 'steps=0': the
    initial network, evaluated without training).
  needs: the variants whose outputs `depends` reads (run first by `--variants`); by
    default those an `init_from_run` dependency names.
  takes_config_arg: whether the study's `--config_arg` reaches this run (False for a run
    of another experiment that takes other arguments, e.g. a pretrained network).
  """

  variant: str
  depends: Callable[[str], str] | None = None
  in_table: bool = True
  experiment: str | None = None
  arguments: str = ''
  needs: tuple[str, ...] = ()
  takes_config_arg: bool = True

  def __post_init__(self):
    if not self.needs:
      object.__setattr__(self, 'needs', tuple(getattr(self.depends, 'needs', ())))


def final_checkpoint(workdir: str) -> str:
  """The last checkpoint a finished run wrote."""
  directory = os.path.join(workdir, 'checkpoints')
  steps = [int(name) for name in os.listdir(directory) if name.isdigit()]
  return os.path.join(directory, str(max(steps)))


def init_from_run(
  variant: str, argument: str = 'init_from', more: str = ''
) -> Callable[[str], str]:
  """A `Run.depends` that starts a run from the last checkpoint of the same seed's
  `variant` run (e.g. fine-tuning from a pretraining): the experiment's `argument` names
  it; `more` adds arguments (e.g. 'backbone=r3d')."""

  def depends(seed_dir: str) -> str:
    checkpoint = final_checkpoint(os.path.join(seed_dir, variant))
    return ','.join(a for a in (f'{argument}={checkpoint}', more) if a)

  depends.needs = (variant,)
  return depends


def with_needs(runs: Sequence[Run], chosen: Sequence[str]) -> list[Run]:
  """The runs named in `chosen` and, before them, every run they need (transitively), in
  the study's order."""
  by_variant = {run.variant: run for run in runs}
  wanted, pending = set(), list(chosen)
  while pending:
    variant = pending.pop()
    if variant not in wanted:
      wanted.add(variant)
      pending.extend(by_variant[variant].needs)
  return [run for run in runs if run.variant in wanted]


def command(experiment: str, arg: str, seed: int, workdir: str, extra: Sequence[str]) -> list[str]:
  return [
    sys.executable,
    '-m',
    'vidjax.main',
    f'--config={experiment}:{arg}',
    f'--workdir={workdir}',
    f'--config.seed={seed}',
    *extra,
  ]


def run_study(
  *,
  experiment: str,
  runs: Sequence[Run],
  metrics: Mapping[str, str],
  workdir: str,
  seeds: Sequence[int],
  extra: Sequence[str] = (),
  config_arg: str = '',
) -> dict:
  """Runs what has not run yet and summarises every run.

  Args:
    experiment: the experiment file, relative to the repository.
    runs: the variants, in the order they must run.
    metrics: {column of the table: key in results.json}.
    workdir: the study's directory.
    seeds: `config.seed` of each repetition.
    extra: flags passed to every run (e.g. --config.input.data_dir=DIR).
    config_arg: more of the experiment's arguments for every run.
  """
  records = []
  for seed in seeds:
    seed_dir = os.path.join(workdir, f'seed{seed}')
    for run in runs:
      run_dir = os.path.join(seed_dir, run.variant)
      own_variant = '' if run.experiment else f'variant={run.variant}'
      arg = ','.join(
        a
        # The run's own arguments last: they override the study's (e.g. steps=0 over steps=N).
        for a in (
          own_variant,
          run.depends and run.depends(seed_dir),
          config_arg if run.takes_config_arg else '',
          run.arguments,
        )
        if a
      )
      cmd = command(run.experiment or experiment, arg, seed, run_dir, extra)
      results_path = os.path.join(run_dir, 'results.json')
      if not os.path.exists(results_path):
        print('$', ' '.join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=REPO)
      with open(results_path) as f:
        results = json.load(f)
      record = dict(variant=run.variant, seed=seed, command=' '.join(cmd[1:]))
      record.update({name: results[key] for name, key in metrics.items() if key in results})
      if results.get('task_state'):
        record['task_state'] = results['task_state']
      records.append(record)
  summary = {}
  for run in runs:
    if not run.in_table:
      continue
    rows = [r for r in records if r['variant'] == run.variant]
    summary[run.variant] = {
      name: dict(
        mean=statistics.mean(r[name] for r in rows),
        std=statistics.stdev(r[name] for r in rows) if len(rows) > 1 else 0.0,
        values=[r[name] for r in rows],
      )
      for name in metrics
      if all(name in r for r in rows)
    }
  study = dict(
    experiment=experiment, config_arg=config_arg, seeds=list(seeds), runs=records, summary=summary
  )
  with open(os.path.join(workdir, 'study.json'), 'w') as f:
    json.dump(study, f, indent=2)
  return study


def table(study: dict, metrics: Sequence[str]) -> str:
  """The markdown table: mean +- standard deviation over seeds, and each seed's value
  ('-' where a variant does not report a metric)."""
  lines = [f'| variant | {" | ".join(metrics)} |', '|---|' + '---|' * len(metrics)]
  for variant, summary in study['summary'].items():
    cells = []
    for name in metrics:
      m = summary.get(name)
      values = m and ', '.join(f'{v:.1f}' for v in m['values'])
      cells.append(f'{m["mean"]:.1f} ± {m["std"]:.1f} ({values})' if m else '-')
    lines.append(f'| {variant} | {" | ".join(cells)} |')
  return '\n'.join(lines)


def main(
  description: str,
  *,
  experiment: str,
  runs: Sequence[Run],
  metrics: Mapping[str, str],
  config_arg_help: str = "more of the experiment's arguments for every run",
) -> dict:
  """The command line of a study file: --workdir, --seeds, --config_arg, -- flags."""
  parser = argparse.ArgumentParser(description=description)
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--seeds', default='0,1,2', help='comma-separated seeds')
  parser.add_argument('--config_arg', default='', help=config_arg_help)
  parser.add_argument(
    '--variants',
    default='',
    help='comma-separated variants to run and tabulate (default: all); with their dependencies',
  )
  parser.add_argument(
    'extra',
    nargs='*',
    help='flags passed to every run after "--", e.g. -- --config.input.data_dir=DIR',
  )
  args = parser.parse_args()
  if args.variants:
    known = [run.variant for run in runs]
    chosen = args.variants.split(',')
    if unknown := sorted(set(chosen) - set(known)):
      parser.error(f'--variants: unknown {unknown}; the variants are {known}.')
    runs = with_needs(runs, chosen)
  workdir = os.path.abspath(args.workdir)
  os.makedirs(workdir, exist_ok=True)
  study = run_study(
    experiment=experiment,
    runs=runs,
    metrics=metrics,
    workdir=workdir,
    seeds=[int(s) for s in args.seeds.split(',')],
    extra=args.extra,
    config_arg=args.config_arg,
  )
  print(table(study, list(metrics)))
  return study
