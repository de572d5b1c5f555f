r"""PoseTrack multi-person pose mAP, as the official `poseval` computes it (vidjax/poseval.py).

  python tools/posetrack_eval.py --gt_dir ~/data/posetrack_data/annotations/val \
      --pred_dir results/posetrack_val --json posetrack_val.json

`--gt_dir` holds PoseTrack 2018's per-video JSON files; `--pred_dir` a file of the same
name per video, in the same format, with each person's 17 keypoints and their `scores`.
Prints the official table (AP per body part and the total) and writes the JSON:
{'mAP', 'per_joint': {joint: AP}, 'per_part': {Head, Shou, Elb, Wri, Hip, Knee, Ankl,
Total}, 'num_videos', 'num_frames'}.
"""

import json

from absl import app, flags

from vidjax import poseval

FLAGS = flags.FLAGS
flags.DEFINE_string(
  'gt_dir', None, 'PoseTrack 2018 ground-truth files (one JSON a video).', required=True
)
flags.DEFINE_string(
  'pred_dir', None, 'Predictions, one JSON a video, named as the ground truth.', required=True
)
flags.DEFINE_string('json', None, 'Also write the results to this JSON file.')


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  try:
    results = poseval.evaluate(FLAGS.gt_dir, FLAGS.pred_dir)
  except (FileNotFoundError, ValueError) as error:
    raise SystemExit(f'posetrack_eval: {error}') from None
  print(
    f'{results["num_videos"]} videos, {results["num_frames"]} labelled frames: average precision'
  )
  print(poseval.table(results))
  if FLAGS.json:
    with open(FLAGS.json, 'w') as f:
      json.dump(results, f, indent=1)


if __name__ == '__main__':
  app.run(main)
