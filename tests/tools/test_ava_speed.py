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


def test_arrow_and_the_row_by_row_reader_read_the_same(tmp_path, monkeypatch):
  paths = ava_speed.write_files(str(tmp_path), keyframes=40)
  classes = set(ava.read_labelmap(paths['labelmap']))
  read = {name: ava.read_boxes(paths[name], classes, cap) for name, cap in (('gt', 0), ('det', 50))}
  monkeypatch.setattr(ava, '_arrow_columns', lambda path: None)
  for name, capacity in (('gt', 0), ('det', 50)):
    by_rows = ava.read_boxes(paths[name], classes, capacity)
    # The same keyframes in the same order (first appearance), the same entries in order.
    assert list(by_rows.items()) == list(read[name].items())
