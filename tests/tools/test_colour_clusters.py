"""tools/colour_clusters.py: the colour centres of an experiment's training clips."""

import os
import sys

import numpy as np

from vidjax import configs
from vidjax.tasks import colorization

REPO = os.path.join(os.path.dirname(__file__), '..', '..')
sys.path.insert(0, os.path.join(REPO, 'tools'))
import colour_clusters  # noqa: E402


def test_centres_of_the_smoke_config_quantise_its_clips(synthetic_data_dir):
  config = configs.load_config_file(
    os.path.join(REPO, 'experiments/colorization/synthetic.py') + ':smoke'
  )
  config.input.data_dir = synthetic_data_dir
  colours = colour_clusters.training_colours(config, num_batches=2)
  assert colours.shape == (2 * 8 * 4 * 4 * 4, 2)  # batches x clips x frames x 4 x 4 cells
  centres = colour_clusters.cluster(config, num_batches=2, num_colours=4, max_colours=300)
  assert centres.shape == (4, 2) and len(np.unique(centres, axis=0)) == 4
  # Every centre is the colour of some cells: each gets some of the clips' colours.
  used = np.unique(np.asarray(colorization.quantise(colours, centres)))
  np.testing.assert_array_equal(used, np.arange(4))
