r"""Speediness curves and the adaptive speed-up of a SpeedNet run, scored against the truth.

  python experiments/speednet/speediness_study.py --workdir workdirs/speednet \
      --out workdirs/speednet/speediness.json --png_dir workdirs/speednet/curves

For every validation video of `vidjax_synthetic/speed` (segments at normal and at twice
the speed, every frame's true speed stored), the SpeedNet model of the workdir (the
experiment `--config`, by default experiments/speednet/synthetic.py) gives the speediness
of every frame (`vidjax/speediness.py`), scored by `speediness.score_against_truth`:
frames rightly judged sped up or not (accuracy, balanced accuracy), Pearson's r of the
speediness with the true speed, and the mean relative error of the adaptive speed-up's
playback rates against the ideal schedule (the same rule on the true speeds), next to the
uniform speed-up's. Prints the means over the videos and writes them, with every video's
scores, to --out; --png_dir draws the first videos' curves against the truth.

Hardware: 2 CPU cores, a few minutes for the 300 videos.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402

from vidjax import configs, speediness  # noqa: E402
from vidjax.data import pipeline  # noqa: E402


def _speediness_tool():
  spec = importlib.util.spec_from_file_location(
    'speediness_tool', os.path.join(REPO, 'tools', 'speediness.py')
  )
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--workdir', required=True, help='the SpeedNet run')
  parser.add_argument('--config', default='experiments/speednet/synthetic.py')
  parser.add_argument('--data_dir', default=None, help="default: the config's")
  parser.add_argument('--num_videos', type=int, default=300)
  parser.add_argument('--speedup', type=float, default=2.0)
  parser.add_argument('--hop', type=int, default=2)
  parser.add_argument('--out', required=True, help='JSON output')
  parser.add_argument('--png_dir', default=None, help='draw the first --num_png curves here')
  parser.add_argument('--num_png', type=int, default=4)
  args = parser.parse_args()
  config = configs.load_config_file(args.config)
  data_dir = args.data_dir or config.input.data_dir
  source = pipeline.open_dataset('vidjax_synthetic/speed', 'validation', data_dir).source
  score = speediness.clip_scorer(config, args.workdir, batch_size=32)
  window = config.input.sampling.num_frames
  per_video = []
  for index in range(min(args.num_videos, len(source))):
    record = source[index]
    video_id = record['video_id']
    video_id = video_id.decode() if isinstance(video_id, bytes) else str(video_id)
    frames, _ = speediness.model_frames(record['video'], config.input.pp.crop_size)
    probabilities = speediness.frame_probabilities(score, frames, window=window, hop=args.hop)
    truth = np.asarray(record['frame_speed'])
    scores = speediness.score_against_truth(probabilities, truth, speedup=args.speedup)
    per_video.append(dict(video_id=video_id, **scores))
    if args.png_dir and index < args.num_png:
      os.makedirs(args.png_dir, exist_ok=True)
      max_normal, curve = speediness.speediness(probabilities)
      drawn = dict(
        num_frames=len(frames),
        factors=list(speediness.FACTORS),
        probabilities=probabilities.tolist(),
        speediness=curve.tolist(),
      )
      png = os.path.join(args.png_dir, f'{video_id}.png')
      _speediness_tool().draw(drawn, record['video'], png, truth)
  means = {
    key: float(np.mean([v[key] for v in per_video])) for key in per_video[0] if key != 'video_id'
  }
  with open(args.out, 'w') as f:
    json.dump(
      dict(workdir=os.path.abspath(args.workdir), means=means, videos=per_video), f, indent=1
    )
  for key, value in means.items():
    print(f'{key}: {value:.3f}')


if __name__ == '__main__':
  main()
