"""tools/ava_speed.py (`tools/benchmark.py --mode=ava`): the generated files exercise what
the comparison with the official evaluation is about, and vidjax scores them."""

import collections
import os
import sys
from pathlib import Path

import numpy as np

from vidjax.evaluators import ava, ava_files

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'tools'))
import ava_speed  # noqa: E402


def test_generated_files_exercise_the_official_rules(tmp_path):
  paths = ava_speed.write_files(str(tmp_path), keyframes=40)
  assert len(ava_files.read_labelmap(paths['labelmap'])) == 60
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
  classes = set(ava_files.read_labelmap(paths['labelmap']))
  read = {
    name: ava_files.read_boxes(paths[name], classes, cap) for name, cap in (('gt', 0), ('det', 50))
  }
  monkeypatch.setattr(ava_files, '_arrow_columns', lambda path: None)
  for name, capacity in (('gt', 0), ('det', 50)):
    by_rows = ava_files.read_boxes(paths[name], classes, capacity)
    # The same keyframes in the same order (first appearance), the same entries in order.
    assert list(by_rows.items()) == list(read[name].items())


def _official_heap(path: str, classes: set[int], capacity: int) -> dict[str, list[tuple]]:
  """The official `read_csv`'s entries, restated: a heap per keyframe, then sorted."""
  import csv
  import heapq

  entries = collections.defaultdict(list)
  with open(path) as f:
    for row in csv.reader(f):
      key, action = f'{row[0]},{int(row[1]):04d}', int(row[6])
      if action not in classes:
        continue
      x1, y1, x2, y2 = (float(v) for v in row[2:6])
      entry = (float(row[7]) if len(row) == 8 else 1.0, action, y1, x1, y2, x2)
      if capacity < 1 or len(entries[key]) < capacity:
        heapq.heappush(entries[key], entry)
      elif entry[0] > entries[key][0][0]:
        heapq.heapreplace(entries[key], entry)
  return {key: sorted(heap, key=lambda e: -e[0]) for key, heap in entries.items()}


def test_the_kept_entries_are_the_official_heaps_class_by_class(tmp_path):
  """Scores with 1, 2 and 4 decimals: ties within a class, across classes and at the
  50th place; every keyframe's entries of each class come out as the heap's."""
  rng = np.random.default_rng(4)
  classes = set(range(1, 9))
  for decimals in (1, 2, 4):
    lines = []
    for k in range(60):
      for _ in range(rng.integers(1, 120)):
        box = np.sort(rng.uniform(0, 1, (2, 2)), axis=0).ravel()
        score = round(float(rng.random()), decimals)
        action = rng.integers(0, 10)
        lines.append(f'v{k % 7},{900 + k},{box[1]},{box[0]},{box[3]},{box[2]},{action},{score}')
    path = tmp_path / f'det{decimals}.csv'
    path.write_text('\n'.join(lines) + '\n')
    for capacity in (0, 50):
      ours, official = (
        ava_files.read_boxes(str(path), classes, capacity),
        _official_heap(str(path), classes, capacity),
      )
      assert list(ours) == list(official)
      for key, entries in official.items():
        assert sorted(ours[key]) == sorted(entries)  # the same entries
        for action in classes:
          assert [e for e in ours[key] if e[1] == action] == [e for e in entries if e[1] == action]


def test_files_without_a_known_class_read_empty(tmp_path):
  empty, unknown = tmp_path / 'empty.csv', tmp_path / 'unknown.csv'
  empty.write_text('')
  unknown.write_text('v,0902,0.1,0.1,0.5,0.5,99,0.3\n')
  assert (
    ava_files.read_boxes(str(empty), {1, 2}, 50)
    == ava_files.read_boxes(str(unknown), {1, 2}, 50)
    == {}
  )
