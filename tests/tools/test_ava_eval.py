"""vidjax/evaluators/ava.py (tools/ava_eval.py): AVA frame-mAP on hand-checked cases, with
the official script's quirks: greedy matching that can waste a detection, the top-50 cap
over all classes, exclusions, the line-based label map and NaN classes."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from vidjax.evaluators import ava, ava_files

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LABELMAP = """item {
  name: "bend/bow (at the waist)"
  id: 1
}
item {
  name: "crawl"
  label_id: 2
}
item {
 name: "not read: one space"
  id: 3
}
"""


def _csv(path, rows):
  path.write_text(''.join(','.join(str(v) for v in row) + '\n' for row in rows))
  return str(path)


def test_the_label_map_is_read_line_by_line(tmp_path):
  (tmp_path / 'map.pbtxt').write_text(LABELMAP)
  # The third item's name line has one space: it keeps the second's name.
  assert ava_files.read_labelmap(str(tmp_path / 'map.pbtxt')) == {
    1: 'bend/bow (at the waist)',
    2: 'crawl',
    3: 'crawl',
  }


def test_a_detection_that_takes_a_matched_box_is_a_false_positive(tmp_path):
  """Two true boxes of class 1; the second detection overlaps the first box best (already
  taken) and the second box enough: still a false positive. Precision 1, 1/2, 2/3 at
  recall 1/2, 1/2, 1: AP = 1/2 * 1 + 1/2 * 2/3."""
  (tmp_path / 'map.pbtxt').write_text(LABELMAP)
  truth = [('v', 902, 0.0, 0.0, 0.5, 0.5, 1, 0), ('v', 902, 0.3, 0.0, 0.8, 0.5, 1, 1)]
  detections = [
    ('v', 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9),
    ('v', 902, 0.1, 0.0, 0.6, 0.5, 1, 0.8),  # IoU 0.67 with the first box, 0.5 with the second
    ('v', 902, 0.3, 0.0, 0.8, 0.5, 1, 0.7),
  ]
  results = ava.evaluate(
    str(tmp_path / 'map.pbtxt'),
    _csv(tmp_path / 'gt.csv', truth),
    _csv(tmp_path / 'det.csv', detections),
  )
  assert results['per_class_AP']['bend/bow (at the waist)'] == pytest.approx(0.5 + 0.5 * 2 / 3)
  # Classes 2 and 3 have no true boxes: NaN, left out of the mean. The label map names
  # both 'crawl': the ids keep them apart.
  assert math.isnan(results['per_class_AP']['crawl (id 2)'])
  assert math.isnan(results['per_class_AP']['crawl (id 3)'])
  assert results['mAP'] == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_top_50_exclusions_unknown_classes_and_default_scores(tmp_path):
  (tmp_path / 'map.pbtxt').write_text(LABELMAP)
  truth = [
    ('v', 902, 0.0, 0.0, 0.5, 0.5, 1, 0),
    ('v', 903, 0.0, 0.0, 0.5, 0.5, 2, 0),
    ('w', 902, 0.0, 0.0, 0.5, 0.5, 1, 0),  # excluded
  ]
  wrong = [('v', 903, 0.6, 0.6, 0.9, 0.9, 1, 0.5 + k / 200) for k in range(50)]
  detections = [
    ('v', 902, 0.0, 0.0, 0.5, 0.5, 1),  # 7 columns: score 1.0
    ('v', 902, 0.0, 0.0, 0.5, 0.5, 9, 0.99),  # a class outside the map: dropped
    *wrong,  # 50 false positives of class 1 that push ...
    ('v', 903, 0.0, 0.0, 0.5, 0.5, 2, 0.4),  # ... this true one out of the top 50
    ('w', 902, 0.0, 0.0, 0.5, 0.5, 1, 0.3),
  ]
  _csv(tmp_path / 'excluded.csv', [('w', 902)])
  results = ava.evaluate(
    str(tmp_path / 'map.pbtxt'),
    _csv(tmp_path / 'gt.csv', truth),
    _csv(tmp_path / 'det.csv', detections),
    str(tmp_path / 'excluded.csv'),
  )
  assert results['per_class_AP']['bend/bow (at the waist)'] == pytest.approx(1.0)
  assert results['per_class_AP']['crawl (id 2)'] == 0.0  # true boxes, no detection left
  assert results['mAP'] == pytest.approx(0.5)


def test_vocs_interpolated_area():
  scores, labels = np.array([0.9, 0.8, 0.7]), np.array([True, False, True])
  assert ava.average_precision(scores, labels, 4) == pytest.approx(0.25 + 0.25 * 2 / 3)
  assert ava.average_precision(np.zeros(0), np.zeros(0, bool), 4) == 0.0


def test_the_tool_and_its_errors(tmp_path):
  (tmp_path / 'map.pbtxt').write_text(LABELMAP)
  gt = _csv(tmp_path / 'gt.csv', [('v', 902, 0.0, 0.0, 0.5, 0.5, 1, 0)])
  det = _csv(tmp_path / 'det.csv', [('v', 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9)])
  out = tmp_path / 'ava.json'
  command = [
    sys.executable,
    'tools/ava_eval.py',
    f'--labelmap={tmp_path / "map.pbtxt"}',
    f'--groundtruth={gt}',
  ]
  result = subprocess.run(
    [*command, f'--detections={det}', f'--json={out}'],
    cwd=REPO,
    capture_output=True,
    text=True,
    check=True,
  )
  assert 'mAP@0.5IOU' in result.stdout and '1.0000' in result.stdout
  saved = json.loads(out.read_text())
  assert saved['mAP'] == 1.0 and math.isnan(saved['per_class_AP']['crawl (id 2)'])
  bad = _csv(tmp_path / 'bad.csv', [('v', 902, 0.0, 0.0, 0.5, 0.5, 1, 0.9), ('v', 902, 0.5)])
  result = subprocess.run(
    [*command, f'--detections={bad}'], cwd=REPO, capture_output=True, text=True
  )
  assert result.returncode == 1 and 'bad.csv:2: 3 columns' in result.stderr
