r"""Top-5 classes of a video file with a trained model, optionally drawn onto the video.

  python tools/demo.py --config experiments/quickstart.py --workdir workdirs/quickstart \
    --video clip.mp4 --output_video clip_predicted.mp4

With an AVA model (task 'ava', e.g. experiments/ava/synthetic.py), the top actions of each
person box of `--boxes` (a person detector's CSV: `seconds, x1, y1, x2, y2[, score]`,
normalised; each second listed is a keyframe), printed per keyframe and, with
`--output_video`, drawn as boxes with their actions on the frames around each keyframe
(`vidjax/ava_inference.py`):

  python tools/demo.py --config experiments/ava/synthetic.py --workdir workdirs/ava/acar \
    --video clip.mp4 --boxes people.csv --output_video clip_actions.mp4

The model and its weights are the experiment config's and the workdir's latest checkpoint
(or config.init_from.path). The video is classified as in multi-view testing: T clips x S crops
(config.input.sampling and pp), logits averaged, softmax. Class names come from the
config's dataset (config.input.dataset, built or prepared in config.input.data_dir) or,
with `--labels`, from a text file with one name per line in class-index order.
`--output_video` writes the whole video with the predictions drawn on every frame (H.264).
"""

import os
import sys

import numpy as np
from absl import app, flags
from ml_collections import config_flags
from PIL import Image, ImageDraw, ImageFont

from vidjax import ava_inference, inference, logs
from vidjax.data import decode, encode, pipeline

FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined only when run as a program, so that tests can import several tools at once.
  config_flags.DEFINE_config_file(
    'config', None, 'Experiment file of the trained model, e.g. experiments/quickstart.py.'
  )
  flags.DEFINE_string('workdir', None, 'Workdir of the training run (its latest checkpoint).')
  flags.DEFINE_string('video', None, 'Video file to classify.')
  flags.DEFINE_string('labels', None, "Class names, one per line (default: the dataset's).")
  flags.DEFINE_integer('top_k', 5, 'Number of classes to show.')
  flags.DEFINE_integer('num_clips', 3, 'Clips (T), evenly spaced over the video.')
  flags.DEFINE_integer('num_crops', 1, 'Crops per clip (S): 1 (centre) or 3.')
  flags.DEFINE_string('output_video', None, 'Write the video with the predictions drawn here.')
  flags.DEFINE_integer('batch_size', 8, 'Views per forward pass.')
  flags.DEFINE_string('boxes', None, "AVA models: the people's boxes (CSV, see above).")
  flags.mark_flags_as_required(['config', 'workdir', 'video'])


def read_labels(path: str | None, config, num_classes: int) -> list[str]:
  """Class names from `path` (one per line) or from the config's dataset."""
  if path:
    with open(path) as f:
      names = [line.strip() for line in f if line.strip()]
    source = f'--labels={path}'
  else:
    dataset = pipeline.open_dataset(config.input.dataset, config.input.split, config.input.data_dir)
    names, source = list(dataset.label_names), f'dataset {config.input.dataset}'
  if len(names) != num_classes:
    raise ValueError(
      f'{source} has {len(names)} class names, the model {num_classes} classes; pass a '
      '--labels file with one name per class.'
    )
  return names


def top_classes(logits: np.ndarray, names: list[str], k: int) -> list[tuple[str, float]]:
  """(name, probability) of the `k` most likely classes of view logits [V, C] (averaged)."""
  mean = logits.mean(axis=0).astype(np.float64)
  probs = np.exp(mean - mean.max())
  probs /= probs.sum()
  order = np.argsort(-probs, kind='stable')[:k]
  return [(names[i], float(probs[i])) for i in order]


def draw_predictions(frames: np.ndarray, predictions: list[tuple[str, float]]) -> np.ndarray:
  """Writes 'name: p %' lines on a dark box in the top-left corner of every frame.

  Args:
    frames: uint8 [T, H, W, 3].
    predictions: (name, probability) pairs, most likely first.

  Returns:
    uint8 [T, H, W, 3].
  """
  height = frames.shape[1]
  font = ImageFont.load_default(size=max(8, height // 20))
  text = '\n'.join(f'{name}: {100 * p:.1f} %' for name, p in predictions)
  out = []
  for frame in frames:
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    box = draw.multiline_textbbox((4, 4), text, font=font)
    draw.rectangle((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill=(0, 0, 0))
    draw.multiline_text((4, 4), text, fill=(255, 255, 255), font=font)
    out.append(np.asarray(image))
  return np.stack(out)


def write_video(path: str, data: bytes, predictions: list[tuple[str, float]]) -> None:
  """Re-encodes the video `data` with `predictions` drawn on every frame."""
  info = decode.probe(data)
  frames = decode.decode_frames(data, range(info.num_frames))
  # H.264 with yuv420p needs even sides.
  frames = frames[:, : info.height // 2 * 2, : info.width // 2 * 2]
  encoded = encode.encode_video(draw_predictions(frames, predictions), fps=info.fps or 25.0)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'wb') as f:
    f.write(encoded)


def draw_actions(
  frames: np.ndarray, boxes: np.ndarray, actions: list[list[tuple[str, float]]]
) -> np.ndarray:
  """Draws each box (normalised x1, y1, x2, y2 [n, 4]) with its 'name p %' lines above it
  on every frame of uint8 [T, H, W, 3]."""
  height, width = frames.shape[1:3]
  font = ImageFont.load_default(size=max(8, height // 28))
  out = []
  for frame in frames:
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    for box, lines in zip(boxes, actions, strict=True):
      x1, y1, x2, y2 = box * np.array([width, height, width, height])
      draw.rectangle((x1, y1, x2, y2), outline=(255, 255, 0), width=2)
      text = '\n'.join(f'{name} {100 * p:.0f} %' for name, p in lines)
      corner = (x1, max(0.0, y1 - draw.multiline_textbbox((0, 0), text, font=font)[3] - 2))
      bbox = draw.multiline_textbbox(corner, text, font=font)
      draw.rectangle(bbox, fill=(0, 0, 0))
      draw.multiline_text(corner, text, fill=(255, 255, 0), font=font)
    out.append(np.asarray(image))
  return np.stack(out)


def ava_main(config, data: bytes) -> None:
  """The AVA path: every keyframe's people and their top actions."""
  if not FLAGS.boxes:
    sys.exit('demo: an AVA model needs --boxes, the people to classify (see the docstring).')
  try:
    people = ava_inference.read_person_boxes(FLAGS.boxes)
    detector = ava_inference.ActionDetector(config, FLAGS.workdir)
    scores = detector(data, people)
    names = read_labels(FLAGS.labels, config, next(iter(scores.values())).shape[-1])
  except (FileNotFoundError, ValueError, decode.DecodeError) as e:
    sys.exit(f'demo: {e}')
  actions = {}
  for seconds, probabilities in scores.items():
    actions[seconds] = []
    for i, row in enumerate(probabilities):
      order = np.argsort(-row, kind='stable')[: FLAGS.top_k]
      actions[seconds].append([(names[c], float(row[c])) for c in order])
      box = ', '.join(f'{v:.2f}' for v in people[seconds][i])
      listed = ', '.join(f'{name} {100 * p:.1f} %' for name, p in actions[seconds][-1])
      print(f'{seconds:g} s, person {i + 1} ({box}): {listed}')
  if FLAGS.output_video:
    info = decode.probe(data)
    frames = decode.decode_frames(data, range(info.num_frames))
    frames = frames[:, : info.height // 2 * 2, : info.width // 2 * 2]
    times = np.array(list(actions))
    for t in range(len(frames)):
      # The keyframe nearest in time, within half a second.
      nearest = times[np.argmin(np.abs(times - t / info.fps))]
      if abs(nearest - t / info.fps) <= 0.5:
        frames[t] = draw_actions(frames[t : t + 1], people[nearest], actions[nearest])[0]
    encoded = encode.encode_video(frames, fps=info.fps or 25.0)
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output_video)), exist_ok=True)
    with open(FLAGS.output_video, 'wb') as f:
      f.write(encoded)
    print(f'Wrote {FLAGS.output_video}.', file=sys.stderr)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logs.quiet_library_logs()
  config = FLAGS.config
  with open(FLAGS.video, 'rb') as f:
    data = f.read()
  if config.task == 'ava':
    ava_main(config, data)
    return
  try:
    views = inference.video_views(data, config.input, FLAGS.num_clips, FLAGS.num_crops)
  except (decode.DecodeError, ValueError) as e:
    sys.exit(f'demo: --video={FLAGS.video}: {e}')
  try:
    model, variables, _ = inference.load_model(config, FLAGS.workdir)
    logits, _ = inference.Predictor(model, variables, config.input.pp, FLAGS.batch_size)(views)
    names = read_labels(FLAGS.labels, config, logits.shape[-1])
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f'demo: {e}')
  predictions = top_classes(logits, names, FLAGS.top_k)
  for rank, (name, p) in enumerate(predictions, 1):
    print(f'{rank}. {name}: {100 * p:.1f} %')
  if FLAGS.output_video:
    write_video(FLAGS.output_video, data, predictions)
    print(f'Wrote {FLAGS.output_video}.', file=sys.stderr)


if __name__ == '__main__':
  _define_flags()
  app.run(main)
