r"""The speediness of every frame of a video, from a trained SpeedNet model.

  python tools/speediness.py VIDEO --config experiments/speednet/synthetic.py \
      --workdir workdirs/speednet --out speediness.json --png speediness.png

Every window of the model's clip length, every `--hop` frames, is scored at every
sub-sampling factor of `--factors` (`vidjax/speediness.py`); a frame's speediness is
1 / the largest factor at which it still looks normal (1: natural speed, 2: twice as
fast). Writes JSON ({'video', 'fps', 'num_frames', 'window', 'factors', 'probabilities':
[factor][frame] P(sped up), 'max_normal_factor', 'speediness'}) and, with --png, a plot of
the curve under frames of the video.
"""

import json
import os
import sys

import numpy as np
from absl import app, flags
from ml_collections import config_flags

from vidjax import logs, speediness
from vidjax.data import decode

FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined only when run as a program, so that tests can import several tools at once.
  config_flags.DEFINE_config_file(
    'config', None, 'Experiment file of the SpeedNet model, e.g. experiments/speednet/synthetic.py.'
  )
  flags.DEFINE_string('workdir', None, 'Workdir of the SpeedNet run (its latest checkpoint).')
  flags.DEFINE_string('out', None, 'JSON output (default: VIDEO with _speediness.json).')
  flags.DEFINE_string('png', None, 'Also draw the curve under frames of the video here.')
  flags.DEFINE_list('factors', [str(f) for f in speediness.FACTORS], 'Sub-sampling factors.')
  flags.DEFINE_integer('hop', 1, 'Frames between window starts.')
  flags.DEFINE_integer('batch_size', 16, 'Clips per forward pass.')
  flags.mark_flags_as_required(['config', 'workdir'])


def video_speediness(path: str, config, workdir: str, factors, hop: int, batch_size: int) -> dict:
  """The JSON record of `path`'s speediness (see the module docstring)."""
  with open(path, 'rb') as f:
    data = f.read()
  probabilities, fps = speediness.video_probabilities(
    data, config, workdir, factors=factors, hop=hop, batch_size=batch_size
  )
  max_normal, curve = speediness.speediness(probabilities, factors)
  return {
    'video': os.path.abspath(path),
    'fps': fps,
    'num_frames': probabilities.shape[1],
    'window': config.input.sampling.num_frames,
    'factors': list(factors),
    'probabilities': probabilities.round(4).tolist(),
    'max_normal_factor': max_normal.tolist(),
    'speediness': curve.tolist(),
  }


def draw(record: dict, data: bytes, path: str, true_speed=None) -> None:
  """The speediness curve (and P(sped up) at factor 1) under 8 frames of the video
  `data`; `true_speed` [N] is drawn too when given."""
  import matplotlib

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt

  num_frames = record['num_frames']
  shown = np.linspace(0, num_frames - 1, 8).round().astype(int)
  frames = decode.decode_frames(data, shown)
  fig = plt.figure(figsize=(10, 4.5))
  grid = fig.add_gridspec(2, 8, height_ratios=(1, 2))
  for column, (index, frame) in enumerate(zip(shown, frames, strict=True)):
    ax = fig.add_subplot(grid[0, column])
    ax.imshow(frame)
    ax.set_title(f'frame {index}', fontsize=8)
    ax.axis('off')
  ax = fig.add_subplot(grid[1, :])
  ax.plot(record['speediness'], label='speediness (1 / largest factor judged normal)')
  if 1.0 in record['factors']:
    at_one = record['probabilities'][record['factors'].index(1.0)]
    ax.plot(at_one, '--', label='P(sped up) at factor 1')
  if true_speed is not None:
    ax.plot(true_speed, ':', color='k', label='true speed')
  ax.set(xlabel='frame', xlim=(0, num_frames - 1))
  ax.legend(fontsize=8, loc='upper right')
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def main(argv: list[str]) -> None:
  if len(argv) != 2:
    raise app.UsageError('Usage: speediness.py VIDEO --config ... --workdir ...')
  logs.quiet_library_logs()
  path = argv[1]
  try:
    factors = [float(f) for f in FLAGS.factors]
  except ValueError:
    sys.exit(f'speediness: --factors={",".join(FLAGS.factors)}: numbers, e.g. 0.5,1,2.')
  try:
    record = video_speediness(
      path, FLAGS.config, FLAGS.workdir, factors, FLAGS.hop, FLAGS.batch_size
    )
  except (OSError, decode.DecodeError, ValueError) as e:
    sys.exit(f'speediness: {path}: {e}')
  out = FLAGS.out or os.path.splitext(path)[0] + '_speediness.json'
  with open(out, 'w') as f:
    json.dump(record, f)
  print(f'Wrote {out}: mean speediness {np.mean(record["speediness"]):.2f}.', file=sys.stderr)
  if FLAGS.png:
    with open(path, 'rb') as f:
      draw(record, f.read(), FLAGS.png)
    print(f'Wrote {FLAGS.png}.', file=sys.stderr)


if __name__ == '__main__':
  _define_flags()
  app.run(main)
