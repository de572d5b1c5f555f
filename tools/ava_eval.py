r"""AVA frame-mAP of a detections CSV, as ActivityNet's get_ava_performance.py computes it.

  python tools/ava_eval.py --labelmap ava_action_list_v2.2_for_activitynet_2019.pbtxt \
      --groundtruth ava_val_v2.2.csv --detections results/detections.csv \
      --exclusions ava_val_excluded_timestamps_v2.2.csv --json ava_val.json

Prints the AP of every class of the label map and the mAP, and writes JSON with 'mAP' and
'per_class_AP' (class name -> AP; NaN for a class without ground truth). The rules, and
where they come from, are in `vidjax/evaluators/ava.py`; a malformed row is an error
naming its file and line.
"""

import json
import math

from absl import app, flags

from vidjax.evaluators import ava

FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined only when run as a program, so that tests can import several tools at once.
  flags.DEFINE_string('labelmap', None, 'The label map .pbtxt (its ids are the classes).')
  flags.DEFINE_string('groundtruth', None, 'The ground-truth CSV (8 columns).')
  flags.DEFINE_string('detections', None, 'The detections CSV (7 or 8 columns).')
  flags.DEFINE_string('exclusions', None, 'Excluded keyframes (video_id, timestamp CSV).')
  flags.DEFINE_string('json', None, 'Also write the results to this JSON file.')
  for name in ('labelmap', 'groundtruth', 'detections'):
    flags.mark_flag_as_required(name)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  try:
    results = ava.evaluate(FLAGS.labelmap, FLAGS.groundtruth, FLAGS.detections, FLAGS.exclusions)
  except (OSError, ValueError) as error:
    raise SystemExit(f'ava_eval: {error}') from None
  width = max(len(name) for name in results['per_class_AP'])
  for name, ap in results['per_class_AP'].items():
    print(f'{name:<{width}}  {"nan" if math.isnan(ap) else f"{ap:.4f}"}')
  print(f'{"mAP@0.5IOU":<{width}}  {results["mAP"]:.4f}')
  if FLAGS.json:
    with open(FLAGS.json, 'w') as f:
      json.dump(results, f, indent=1)  # NaN is written as NaN, as Python's json reads it


if __name__ == '__main__':
  _define_flags()
  app.run(main)
