"""experiments/ava/hidden_actors.py: an evaluation's rows split by whether each actor is
hidden at its keyframe, each part scored with the official frame-mAP."""

import importlib.util
import os

import pytest

SCRIPT = os.path.join(
  os.path.dirname(os.path.dirname(os.path.dirname(__file__))), 'experiments/ava/hidden_actors.py'
)
BOXES = ('0.1', '0.1', '0.3', '0.4'), ('0.5', '0.5', '0.7', '0.9'), ('0.1', '0.6', '0.3', '0.9')


@pytest.fixture(scope='module')
def hidden_actors():
  spec = importlib.util.spec_from_file_location('hidden_actors', SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _write(path, rows):
  with open(path, 'w') as f:
    f.writelines(','.join(map(str, row)) + '\n' for row in rows)


def test_each_part_is_scored_on_its_own_actors(hidden_actors, tmp_path):
  # One keyframe of three actors doing actions 1, 1 and 2; actors 1 and 2 are hidden, and
  # the model gets both wrong: each one's true action scored below the other's.
  hidden = {('v', 1): {1, 2}}
  scores = {0: (0.9, 0.1), 1: (0.2, 0.8), 2: (0.9, 0.1)}  # person: (action 1, action 2)
  truth, detections = [], []
  for person, (box, action) in enumerate(zip(BOXES, (1, 1, 2), strict=True)):
    truth.append(('v', 1, *box, action, person))
    for action_id, score in zip((1, 2), scores[person], strict=True):
      detections.append(('v', 1, *box, action_id, score))
  _write(tmp_path / 'groundtruth.csv', truth)
  _write(tmp_path / 'detections.csv', detections)
  (tmp_path / 'labelmap.pbtxt').write_text(
    'item {\n  name: "a"\n  id: 1\n}\nitem {\n  name: "b"\n  id: 2\n}\n'
  )
  parts = hidden_actors._split_rows(str(tmp_path), hidden)
  assert [len(rows) for rows in parts['hidden actors']] == [2, 4]
  assert [len(rows) for rows in parts['visible actors']] == [1, 2]
  # Hidden: per action, the other hidden actor's false entry comes first (AP 1/2 each);
  # visible: actor 0's action 1 is found and action 2 has no true box (left out).
  assert hidden_actors.frame_maps(str(tmp_path), hidden) == {
    'hidden actors': 50.0,
    'visible actors': 100.0,
  }
