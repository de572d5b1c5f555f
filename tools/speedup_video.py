r"""Speeds a video up adaptively with a trained SpeedNet model, or uniformly.

  python tools/speedup_video.py VIDEO --speedup 2.0 --out OUT.mp4 \
      --config experiments/speednet/synthetic.py --workdir workdirs/speednet \
      --uniform_out OUT_uniform.mp4

The adaptive speed-up (`vidjax/speediness.py`) plays every frame at a rate proportional to
the largest sub-sampling factor at which SpeedNet still judges it normal, smoothed over
`--smoothing_frames` and between 1 and `--max_rate`, so that moments that look slow are
sped up more and moments that already look fast less, and the whole video `--speedup`
times faster: OUT.mp4 has the source's frame rate and about 1 / speedup of its frames.
The soundtrack, where there is one, follows the same schedule (each output frame's sound is
its source span's, resampled, so it stays in sync and its pitch follows the rate).
`--uniform_out` also writes the uniform speed-up (every `speedup`-th frame) to compare
with. The schedule (source frame of every output frame, and the rates) is written beside
OUT.mp4 as OUT.json.
"""

import json
import os
import sys

import numpy as np
from absl import app, flags
from ml_collections import config_flags

from vidjax import logs, speediness
from vidjax.data import decode, encode

FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined only when run as a program, so that tests can import several tools at once.
  config_flags.DEFINE_config_file(
    'config', None, 'Experiment file of the SpeedNet model, e.g. experiments/speednet/synthetic.py.'
  )
  flags.DEFINE_string('workdir', None, 'Workdir of the SpeedNet run (its latest checkpoint).')
  flags.DEFINE_float('speedup', 2.0, 'Overall speed-up factor.')
  flags.DEFINE_string('out', None, 'Output mp4 of the adaptive speed-up.')
  flags.DEFINE_string('uniform_out', None, 'Also write the uniform speed-up here.')
  flags.DEFINE_float('smoothing_frames', 4.0, 'Gaussian smoothing of the rates (frames, sigma).')
  flags.DEFINE_float('max_rate', 4.0, 'Largest playback rate of a frame.')
  flags.DEFINE_list('factors', [str(f) for f in speediness.FACTORS], 'Sub-sampling factors.')
  flags.DEFINE_integer('hop', 1, 'Frames between window starts.')
  flags.DEFINE_integer('batch_size', 16, 'Clips per forward pass.')
  flags.mark_flags_as_required(['config', 'workdir', 'out'])


def write_retimed(data: bytes, positions: np.ndarray, path: str) -> None:
  """Writes the frames at `positions` (fractional source frames) of the encoded video
  `data` at its frame rate, with its soundtrack retimed to match."""
  info = decode.probe(data)
  frames = decode.decode_frames(data, np.floor(positions).astype(int))
  # yuv420p needs even sizes.
  frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
  waveform, rate = None, 16000
  if info.has_audio:
    waveform, rate = decode.decode_audio(data, sample_rate=rate)
    waveform = speediness.retime_audio(waveform, rate, info.fps, positions, info.num_frames)
  encoded = encode.encode_video(frames, info.fps, waveform, rate)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'wb') as f:
    f.write(encoded)


def speed_up(
  path: str,
  config,
  workdir: str,
  *,
  speedup: float,
  out: str,
  uniform_out: str | None = None,
  smoothing_frames: float = 4.0,
  max_rate: float = 4.0,
  factors=speediness.FACTORS,
  hop: int = 1,
  batch_size: int = 16,
) -> dict:
  """Writes the adaptive (and optionally the uniform) speed-up of the video at `path` and
  the schedule beside `out`; returns the schedule."""
  with open(path, 'rb') as f:
    data = f.read()
  probabilities, _ = speediness.video_probabilities(
    data, config, workdir, factors=factors, hop=hop, batch_size=batch_size
  )
  max_normal, _ = speediness.speediness(probabilities, factors)
  rates = speediness.adaptive_rates(
    max_normal, speedup, smoothing_frames=smoothing_frames, max_rate=max_rate
  )
  positions = speediness.output_positions(rates)
  write_retimed(data, positions, out)
  if uniform_out:
    write_retimed(data, speediness.output_positions(np.full(len(rates), speedup)), uniform_out)
  schedule = {'source_positions': positions.tolist(), 'rates': rates.tolist()}
  with open(os.path.splitext(out)[0] + '.json', 'w') as f:
    json.dump(schedule, f)
  return schedule


def main(argv: list[str]) -> None:
  if len(argv) != 2:
    raise app.UsageError('Usage: speedup_video.py VIDEO --speedup 2.0 --out OUT.mp4 ...')
  logs.quiet_library_logs()
  path = argv[1]
  try:
    factors = [float(f) for f in FLAGS.factors]
    schedule = speed_up(
      path,
      FLAGS.config,
      FLAGS.workdir,
      speedup=FLAGS.speedup,
      out=FLAGS.out,
      uniform_out=FLAGS.uniform_out,
      smoothing_frames=FLAGS.smoothing_frames,
      max_rate=FLAGS.max_rate,
      factors=factors,
      hop=FLAGS.hop,
      batch_size=FLAGS.batch_size,
    )
  except (OSError, decode.DecodeError, ValueError) as e:
    sys.exit(f'speedup_video: {path}: {e}')
  num_source, num_out = len(schedule['rates']), len(schedule['source_positions'])
  print(
    f'Wrote {FLAGS.out}: {num_out} of {num_source} frames ({num_source / num_out:.2f}x), '
    f'schedule in {os.path.splitext(FLAGS.out)[0]}.json.',
    file=sys.stderr,
  )


if __name__ == '__main__':
  _define_flags()
  app.run(main)
