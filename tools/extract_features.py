r"""Extracts one feature file per video of a folder with a trained model.

  python tools/extract_features.py --config experiments/quickstart.py \
    --workdir workdirs/quickstart --videos ~/videos --output ~/features \
    --num_clips 10 --num_crops 3

Every video under `--videos` (recursively; .mp4, .avi, .webm, .mkv, .mov) gets
`<output>/<its relative path>.npy`: the model's pooled features (`aux['features']`) of
T clips x S crops sampled as in multi-view testing (config.input.sampling and pp), averaged
over the views, float32 [D]; with `--keep_views`, every view, float32 [T * S, D]
(clip-major). The model and its weights are the experiment config's and the workdir's
latest checkpoint (or config.init_from.path). Rerunning the command skips the videos whose
feature file exists, so an interrupted run resumes. A video that cannot be decoded is
reported and skipped; the list is printed at the end and written to
`<output>/failures.json`.
"""

from vidjax import host_memory

# Before JAX starts its threads; only with VIDJAX_KEEP_FREED_MEMORY=1 (see host_memory).
host_memory.keep_freed_memory(default=False)

import json
import os
import sys

import numpy as np
import tqdm
from absl import app, flags
from ml_collections import config_flags

from vidjax import inference, logs
from vidjax.data import decode
from vidjax.data.builders.video_common import VIDEO_EXTENSIONS

FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined only when run as a program, so that tests can import several tools at once.
  config_flags.DEFINE_config_file(
    'config', None, 'Experiment file of the trained model, e.g. experiments/quickstart.py.'
  )
  flags.DEFINE_string('workdir', None, 'Workdir of the training run (its latest checkpoint).')
  flags.DEFINE_string('videos', None, 'Folder of videos (searched recursively).')
  flags.DEFINE_string('output', None, 'Folder to write one .npy feature file per video to.')
  flags.DEFINE_integer('num_clips', 10, 'Clips per video (T), evenly spaced.')
  flags.DEFINE_integer('num_crops', 3, 'Crops per clip (S): 1 (centre) or 3.')
  flags.DEFINE_bool('keep_views', False, 'Keep every view [T*S, D] instead of their mean [D].')
  flags.DEFINE_integer('batch_size', 8, 'Views per forward pass.')
  flags.mark_flags_as_required(['config', 'workdir', 'videos', 'output'])


def find_videos(root: str) -> list[str]:
  """Paths of the videos under `root` relative to it, sorted."""
  found = []
  for directory, _, files in os.walk(root):
    for name in files:
      if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
        found.append(os.path.relpath(os.path.join(directory, name), root))
  return sorted(found)


def feature_path(output: str, video: str) -> str:
  """Where the features of `video` (relative path) go: the path plus '.npy'."""
  return os.path.join(output, video + '.npy')


def _save(path: str, array: np.ndarray) -> None:
  """Writes through a temporary file, so that a file that exists is complete."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  temporary = path + '.tmp.npy'
  np.save(temporary, array)
  os.replace(temporary, path)


def extract(
  predictor: inference.Predictor,
  input_config,
  videos_dir: str,
  output: str,
  num_clips: int,
  num_crops: int,
  keep_views: bool,
) -> tuple[int, dict[str, str]]:
  """Writes the feature file of every video of `videos_dir` that has none yet.

  Returns:
    (number of feature files written, {relative video path: decoder error} of the videos
    that could not be decoded).
  """
  videos = find_videos(videos_dir)
  todo = [v for v in videos if not os.path.exists(feature_path(output, v))]
  print(f'{len(videos)} videos, {len(videos) - len(todo)} already done.', file=sys.stderr)
  written, failures = 0, {}
  with tqdm.tqdm(todo, unit='video') as bar:
    for video in bar:
      with open(os.path.join(videos_dir, video), 'rb') as f:
        data = f.read()
      try:
        views = inference.video_views(data, input_config, num_clips, num_crops)
      except (decode.DecodeError, ValueError) as e:
        failures[video] = str(e)
        bar.write(f'Skipping {video}: {e}')
        continue
      _, features = predictor(views)
      _save(feature_path(output, video), features if keep_views else features.mean(axis=0))
      written += 1
  return written, failures


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if FLAGS.num_crops not in (1, 3):
    raise app.UsageError(f'--num_crops={FLAGS.num_crops}; multi-view testing uses 1 or 3.')
  logs.quiet_library_logs()
  config = FLAGS.config
  if not os.path.isdir(FLAGS.videos):
    raise app.UsageError(f'--videos={FLAGS.videos!r} is not a folder.')
  try:
    model, variables, step = inference.load_model(config, FLAGS.workdir)
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f'extract_features: {e}')
  print(f'{config.model_name} from step {step} of {FLAGS.workdir}.', file=sys.stderr)
  predictor = inference.Predictor(model, variables, config.input.pp, FLAGS.batch_size)
  written, failures = extract(
    predictor,
    config.input,
    FLAGS.videos,
    FLAGS.output,
    FLAGS.num_clips,
    FLAGS.num_crops,
    FLAGS.keep_views,
  )
  print(f'Wrote {written} feature files to {FLAGS.output}.', file=sys.stderr)
  report = os.path.join(FLAGS.output, 'failures.json')
  if os.path.exists(report):
    os.remove(report)  # Of an earlier run: its videos were retried now.
  if failures:
    os.makedirs(FLAGS.output, exist_ok=True)
    with open(report, 'w') as f:
      json.dump(failures, f, indent=2, sort_keys=True)
    print(f'{len(failures)} videos were skipped (listed in {report}):', file=sys.stderr)
    for video, error in sorted(failures.items()):
      print(f'  {video}: {error}', file=sys.stderr)


if __name__ == '__main__':
  _define_flags()
  app.run(main)
