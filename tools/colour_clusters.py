r"""The colour centres of colourisation tracking: k-means of the ab plane of training frames.

  python tools/colour_clusters.py --config experiments/colorization/kinetics400.py \
      --out weights/kinetics_colour_centres.json
  python -m vidjax.main --config \
      experiments/colorization/kinetics400.py:colour_centres=weights/kinetics_colour_centres.json \
      --workdir workdirs/colorization_k400

Draws `--num_batches` training batches of the experiment's input (its clips, crops and
seed), converts them to CIE Lab, averages ab over the cells the task quantises
(`config.task_kwargs.feature_stride`, 8 pixels) and clusters those colours into
`--num_colours` (the paper's 16) centres with k-means (`tasks/colorization.fit_centres`).
Writes them as JSON ([[a, b], ...]) and prints them, to paste into a config or to give as
`colour_centres`.
"""

import itertools
import json

import numpy as np
from absl import app, flags
from ml_collections import config_flags

from vidjax import configs
from vidjax.data import pipeline
from vidjax.tasks import colorization

FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined only when run as a program, so that tests can import several tools at once.
  config_flags.DEFINE_config_file('config', None, 'The colourisation experiment file.')
  flags.DEFINE_string('out', None, 'The JSON file to write the centres to.')
  flags.DEFINE_integer('num_batches', 20, 'Training batches whose colours are clustered.')
  flags.DEFINE_integer('num_colours', 16, 'Number of centres (the paper: 16).')
  flags.DEFINE_integer('max_colours', 100_000, 'Colours clustered at most (a random subset).')
  flags.mark_flags_as_required(['config', 'out'])


def training_colours(config, num_batches: int) -> np.ndarray:
  """ab colours [N, 2] of the cells of `num_batches` training batches."""
  stride = config.task_kwargs.get('feature_stride', 8)
  stream = pipeline.make_train_input(config.input, config.seed, config.input.batch_size, 0, 1)
  colours = []
  for batch in itertools.islice(stream.iterator, num_batches):
    lab = colorization.rgb_to_lab(np.asarray(batch['video'], np.float32) / 255.0)
    colours.append(np.asarray(colorization.cell_means(lab[..., 1:], stride)).reshape(-1, 2))
  return np.concatenate(colours)


def cluster(config, num_batches: int, num_colours: int, max_colours: int) -> np.ndarray:
  colours = training_colours(config, num_batches)
  if len(colours) > max_colours:
    colours = np.random.default_rng(0).choice(colours, max_colours, replace=False)
  return colorization.fit_centres(colours, num_colours)


def main(argv) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  config = configs.finalize(FLAGS.config)
  centres = cluster(config, FLAGS.num_batches, FLAGS.num_colours, FLAGS.max_colours)
  pairs = [[round(float(a), 2), round(float(b), 2)] for a, b in centres]
  with open(FLAGS.out, 'w') as f:
    json.dump(pairs, f)
  print(json.dumps(pairs))
  print(f'Wrote {len(pairs)} centres to {FLAGS.out}.')


if __name__ == '__main__':
  _define_flags()
  app.run(main)
