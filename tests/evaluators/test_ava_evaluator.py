"""The in-training AVA evaluator scores gathered boxes exactly as the official files are
scored (`ava.evaluate`, tools/ava_eval.py): the same frame-mAP from arrays and from CSVs."""

import types

import numpy as np

from vidjax.evaluators import ava

NAMES = ('stand', 'walk', 'meet')


def _gathered(rng, num_keyframes=12, slots=4):
  gt_boxes = np.zeros((num_keyframes, slots, 4), np.float32)
  gt_mask = np.zeros((num_keyframes, slots), bool)
  for k in range(num_keyframes):
    n = rng.integers(1, slots + 1)
    corner = rng.uniform(0, 0.6, (n, 2))
    gt_boxes[k, :n] = np.concatenate([corner, corner + rng.uniform(0.1, 0.4, (n, 2))], -1)
    gt_mask[k, :n] = True
  gt_labels = (rng.random((num_keyframes, slots, len(NAMES))) < 0.5) & gt_mask[..., None]
  # Detections: the true boxes moved a little (some by too much to match), one missed.
  boxes = gt_boxes + rng.normal(0, 0.05, gt_boxes.shape).astype(np.float32)
  box_mask = gt_mask.copy()
  box_mask[0, 0] = False
  scores = rng.random((num_keyframes, slots, len(NAMES))).astype(np.float32)
  return dict(
    scores=scores, boxes=boxes, box_mask=box_mask,
    gt_boxes=gt_boxes, gt_labels=gt_labels, gt_mask=gt_mask,
  )  # fmt: skip


def test_the_evaluator_writes_files_that_score_the_same(tmp_path):
  gathered = _gathered(np.random.default_rng(0))
  count = len(gathered['scores'])
  gathered['keyframe_index'] = np.arange(count)
  gathered['timestamp'] = 900 + np.arange(count)
  ids = (3, 7, 12)  # the dataset's own class ids, as AVA's label map numbers them
  dataset = types.SimpleNamespace(label_names=NAMES, label_ids=ids)
  evaluator = types.SimpleNamespace(
    _input=types.SimpleNamespace(dataset=dataset, video_id=lambda i: f'video{i % 3}'.encode()),
    _probabilities=lambda logits: logits,  # scores given as they are
  )
  gathered['logits'] = gathered.pop('scores')
  metrics = ava.Evaluator.metrics(evaluator, {}, gathered, count)
  files = ava.Evaluator.files(evaluator)
  for name, text in files.items():
    (tmp_path / name).write_text(text)
  assert files['groundtruth.csv'].splitlines()[0].startswith('video0,0900,')
  assert {int(row.split(',')[6]) for row in files['detections.csv'].splitlines()} == set(ids)
  official = ava.evaluate(*(str(tmp_path / n) for n in ('labelmap.pbtxt', 'groundtruth.csv',
                                                        'detections.csv')))  # fmt: skip
  assert 0 < official['mAP'] < 1
  np.testing.assert_allclose(metrics['mAP'], 100 * official['mAP'], rtol=1e-12)
  for name in NAMES:
    np.testing.assert_allclose(metrics[f'AP/{name}'], 100 * official['per_class_AP'][name])


def test_only_the_top_50_of_a_keyframe_are_kept():
  scores = np.random.default_rng(1).random((20, 3))
  boxes = np.tile([0.1, 0.2, 0.5, 0.6], (20, 1))
  entries = ava.keyframe_entries(scores, boxes, np.ones(20, bool), ava.TOP_DETECTIONS)
  assert len(entries) == 50 and entries[0][0] == scores.max()
  assert entries[-1][0] == np.sort(scores.ravel())[-50]
  assert entries[0][2:] == (0.2, 0.1, 0.6, 0.5)  # (y1, x1, y2, x2), as read from the files
