"""tools/poseval_speed.py (`tools/benchmark.py --mode=poseval`): the generated files
exercise what the comparison with the official poseval is about, and vidjax scores them."""

import json
import os
import sys

import numpy as np

from vidjax import poseval

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'tools'))
import poseval_speed  # noqa: E402


def test_generated_files_exercise_the_official_rules(tmp_path):
  truth_dir, predictions_dir = poseval_speed.write_files(str(tmp_path), videos=6)
  name = sorted(os.listdir(truth_dir))[0]
  with open(os.path.join(truth_dir, name)) as f:
    truth = json.load(f)
  with open(os.path.join(predictions_dir, name)) as f:
    predicted = json.load(f)
  labelled = {person['image_id'] for person in truth['annotations']}
  assert len(labelled) < len(truth['images'])  # frames without ground truth
  assert {p['image_id'] for p in predicted['annotations']} - labelled  # predicted there too
  keypoints = np.array([p['keypoints'] for p in truth['annotations']]).reshape(-1, 17, 3)
  assert (keypoints[..., 2] == 0).any()  # unannotated joints
  assert any('ignore_regions_x' in image for image in truth['images'])
  assert len(predicted['annotations']) > len(truth['annotations']) / 2
  results = poseval.evaluate(truth_dir, predictions_dir)
  assert results['num_videos'] == 6 and results['num_frames'] > 0
  assert 0 < results['mAP'] < 100
