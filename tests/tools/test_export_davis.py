"""tools/export_davis.py: the embedded videos in DAVIS-2017's layout, scored by davis_eval."""

import os
import sys

import numpy as np

from vidjax.data import davis as davis_data
from vidjax.data.builders import synthetic, synthetic_scenes
from vidjax.evaluators import davis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'tools'))
import export_davis  # noqa: E402


def test_objects_are_those_of_the_first_frame_renumbered():
  masks = np.zeros((3, 4, 4), np.uint8)
  masks[0, 0, 0], masks[0, 1, 1] = 2, 4  # objects 1 and 3 of the scene (ids 2, 4)
  masks[1, 2, 2], masks[2, 3, 3] = 3, 4  # id 3 appears later: background
  labels = davis_data.first_frame_objects(masks)
  assert labels[0, 0, 0] == 1 and labels[0, 1, 1] == 2
  assert labels[1, 2, 2] == 0 and labels[2, 3, 3] == 2


def test_the_export_reads_back_and_scores(tmp_path):
  written = export_davis.export('tiny', str(tmp_path), num_videos=3)
  assert written == {
    'train': ['train_00000', 'train_00001', 'train_00002'],
    'val': ['validation_00000', 'validation_00001', 'validation_00002'],
  }
  config = {c.name: c for c in synthetic.VidjaxSynthetic.BUILDER_CONFIGS}['tiny']
  video = synthetic_scenes.render_video(config, 'validation', 1)
  ids, labels = davis_data.annotations(str(tmp_path), 'validation_00001')
  assert len(ids) == config.num_frames and labels.shape == (config.num_frames, 32, 32)
  np.testing.assert_array_equal(labels > 0, davis_data.first_frame_objects(video['masks']) > 0)
  copy = davis.evaluate_folder(
    str(tmp_path), str(tmp_path / 'first_frame_copy'), 'val', processes=1
  )
  truth = davis.evaluate_folder(
    str(tmp_path), str(tmp_path / 'Annotations' / '480p'), 'val', processes=1
  )
  assert truth['J&F-Mean'] == 1.0 and 0.0 < copy['J&F-Mean'] < 1.0
