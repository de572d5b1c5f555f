"""tools/ava_speed.py (`tools/benchmark.py --mode=ava`): the generated files exercise what
the comparison with the official evaluation is about, and vidjax scores them."""

import collections
import os
import sys
from pathlib import Path

import numpy as np

from vidjax.evaluators import ava

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'tools'))
import ava_speed  # noqa: E402


def test_generated_files_exercise_the_official_rules(tmp_path):
  paths = ava_speed.write_files(str(tmp_path), keyframes=40)
  assert len(ava.read_labelmap(paths['labelmap'])) == 60
  lines = {name: Path(path).read_text().splitlines() for name, path in paths.items()}
  detections = collections.Counter(line.split(',', 2)[1] for line in lines['det'])
  truth = {line.split(',', 2)[1] for line in lines['gt']}
  actions = {int(line.split(',')[6]) for line in lines['gt']}
  assert max(detections.values()) > ava.TOP_DETECTIONS  # the top-50 cap matters
  assert set(detections) - truth  # detections on keyframes without ground truth
  assert actions - set(ava_speed.CLASS_IDS)  # classes outside the label map
  assert lines['excl']
  result = ava.evaluate(paths['labelmap'], paths['gt'], paths['det'], paths['excl'])
  assert 0 < result['mAP'] < 1 and not np.isnan(result['mAP'])
