r"""DAVIS-2017 semi-supervised J&F of a folder of results, as the official evaluation.

  python tools/davis_eval.py --davis_root ~/data/DAVIS --results_dir results/ \
      --set val --json davis_val.json

RESULTS_DIR/<sequence>/<frame>.png are indexed PNGs with the first frame's object ids
(frames 1..T-2 are scored; `tools/propagate.py` and the label-propagation evaluator write
this layout). Prints the official global and per-object tables and writes JSON with
'J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay' and
'per_object' ('<sequence>_<id>' -> {'J-Mean', 'F-Mean'}). The numbers are the official
davis2017-evaluation's to 1e-6 (`vidjax/evaluators/davis.py` gives its rules); unlike it,
this tool always evaluates the semi-supervised task, never reuses results computed
before, and names the file when a mask is missing, of another size or has an unknown id.
"""

import json
import os
import sys
import time

from absl import app, flags

from vidjax.data import davis as davis_data
from vidjax.evaluators import davis

FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined only when run as a program, so that tests can import several tools at once.
  flags.DEFINE_string('davis_root', None, 'DAVIS folder: JPEGImages, Annotations, ImageSets.')
  flags.DEFINE_string('results_dir', None, 'Folder of <sequence>/<frame>.png results.')
  flags.DEFINE_enum('set', 'val', davis_data.SETS, 'Which ImageSets/2017 list to evaluate.')
  flags.DEFINE_string('json', None, 'Write the figures here as JSON.')
  flags.DEFINE_enum('resolution', '480p', davis_data.RESOLUTIONS, 'Annotation resolution.')
  flags.DEFINE_list('sequences', None, 'Evaluate these sequences only (default: the whole set).')
  flags.DEFINE_integer('processes', None, 'Sequences evaluated at once (default: CPU count).')
  flags.mark_flags_as_required(['davis_root', 'results_dir'])


def format_tables(figures: dict, set_name: str) -> str:
  """The official script's two tables: the global figures and the per-object means."""
  widths = [max(len(name), 8) for name in davis.METRICS]
  lines = [f'{"-" * 27} Global results for {set_name} {"-" * 27}']
  lines.append(' '.join(name.rjust(w) for name, w in zip(davis.METRICS, widths, strict=True)))
  lines.append(
    ' '.join(f'{figures[name]:.6f}'.rjust(w) for name, w in zip(davis.METRICS, widths, strict=True))
  )
  lines.append(f'\n{"-" * 10} Per sequence results for {set_name} {"-" * 10}')
  objects = figures['per_object']
  width = max([len('Sequence'), *map(len, objects)])
  lines.append(f'{"Sequence".rjust(width)}   J-Mean   F-Mean')
  for name, means in objects.items():
    lines.append(f'{name.rjust(width)} {means["J-Mean"]:8.6f} {means["F-Mean"]:8.6f}')
  return '\n'.join(lines)


def main(argv) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  start = time.perf_counter()
  figures = davis.evaluate_folder(
    os.path.expanduser(FLAGS.davis_root),
    os.path.expanduser(FLAGS.results_dir),
    FLAGS.set,
    resolution=FLAGS.resolution,
    sequences=FLAGS.sequences,
    processes=FLAGS.processes,
  )
  print(format_tables(figures, FLAGS.set))
  print(f'\nTotal time: {time.perf_counter() - start:.1f} s', file=sys.stderr)
  if FLAGS.json:
    with open(FLAGS.json, 'w') as f:
      json.dump(figures, f, indent=1)
    print(f'Wrote {FLAGS.json}', file=sys.stderr)


if __name__ == '__main__':
  _define_flags()
  app.run(main)
