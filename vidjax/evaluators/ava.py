"""AVA frame-mAP, number for number with ActivityNet's `Evaluation/get_ava_performance.py`
(and its copy in ACAR-Net), on the official CSV files. Its rules (`../shared/REFERENCE.md`
§1):

- **Files**: ground truth `video_id, timestamp, x1, y1, x2, y2, action_id, person_id`,
  detections the same with a score in place of the person (7 columns: score 1.0),
  coordinates normalised to [0, 1]; a keyframe is `"%s,%04d" % (video_id, timestamp)`.
  Rows of classes outside the label map are dropped. The label map is read line by line:
  a line starting with `  name:` names the class, `  id:` or `  label_id:` gives its id.
  Excluded keyframes (`video_id, timestamp`) are left out of both sides.
- **Top 50**: per keyframe the 50 highest (score, class, box) detections over all classes
  (a heap, as the official `read_csv`), then sorted by descending score.
- **Matching**, per keyframe and class, in that order: a detection takes its highest-IoU
  true box of the class; it is a true positive if the IoU is at least 0.5 and that box is
  not yet taken, else a false positive (even if another free box overlaps it). Boxes
  whose y2 <= y1 or x2 <= x1 are dropped from the detections first. Detections on
  keyframes without ground truth are false positives.
- **AP** per class: detections of all keyframes by descending score (NumPy's default
  arg-sort, reversed, as the official code), precision and recall against the class's
  true boxes, VOC's area under the interpolated curve; 0 for a class with true boxes and
  no detection, NaN for a class without true boxes; mAP is the NaN-mean.

The files are read by `evaluators/ava_files.py`, whose errors name the file and line of a
malformed row (the official script asserts).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import jax
import numpy as np

from vidjax import parallel
from vidjax.data import pipeline
from vidjax.evaluators import ava_files, common

IOU_THRESHOLD = 0.5
TOP_DETECTIONS = 50


def average_precision(scores: np.ndarray, labels: np.ndarray, num_truth: int) -> float:
  """VOC AP of detections against `num_truth` true boxes (0 without detections)."""
  if len(scores) == 0:
    return 0.0
  order = np.argsort(scores)[::-1]
  hits = np.cumsum(labels[order])
  precision = hits / np.arange(1, len(order) + 1)
  recall = hits / num_truth
  precision = np.concatenate([[0.0], precision, [0.0]])
  recall = np.concatenate([[0.0], recall, [1.0]])
  precision = np.maximum.accumulate(precision[::-1])[::-1]
  steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
  return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def _true_positives(
  frames: np.ndarray,
  classes: np.ndarray,
  boxes: np.ndarray,
  valid: np.ndarray,
  truth: np.ndarray,
) -> np.ndarray:
  """The official greedy matching of every detection at once: detection i (keyframe
  frames[i], class classes[i], in score order within its keyframe) takes its highest-IoU
  true box of its keyframe and class (the first of equals, as argmax), and is a true
  positive if the IoU is at least 0.5 and no earlier detection took that box. `truth`:
  rows of (keyframe, class, y1, x1, y2, x2), each keyframe's in its order.

  A box is taken exactly by the first detection that has it as its best with IoU >= 0.5,
  so the sequential rule is: IoU >= 0.5, and first among those with the same best box."""
  positive = np.zeros(len(boxes), bool)
  width = int(max(classes.max(initial=0), truth[:, 1].max(initial=0))) + 1
  truth_codes = truth[:, 0].astype(np.int64) * width + truth[:, 1].astype(np.int64)
  grouped = np.argsort(truth_codes, kind='stable')  # each (keyframe, class): its boxes in order
  sorted_codes = truth_codes[grouped]
  codes = frames.astype(np.int64) * width + classes
  low = np.searchsorted(sorted_codes, codes, 'left')
  candidates = np.where(valid, np.searchsorted(sorted_codes, codes, 'right') - low, 0)
  pair_detection = np.repeat(np.arange(len(boxes)), candidates)
  if not len(pair_detection):
    return positive
  # The position of each pair's true box among its detection's candidates.
  offset = np.arange(len(pair_detection)) - np.repeat(
    np.cumsum(candidates) - candidates, candidates
  )
  pair_truth = grouped[np.repeat(low, candidates) + offset]
  a, b = boxes[pair_detection], truth[pair_truth, 2:]
  # IoU without the +1 of pixel boxes.
  intersection = np.maximum(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0) * (
    np.maximum(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0)
  )
  area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
  overlaps = intersection / (area(a) + area(b) - intersection)
  # Per detection, its best pair: highest IoU, then the first true box.
  order = np.lexsort((offset, -overlaps, pair_detection))
  leaders = order[np.r_[True, pair_detection[order][1:] != pair_detection[order][:-1]]]
  matched = leaders[overlaps[leaders] >= IOU_THRESHOLD]  # detections in ascending order
  _, first = np.unique(pair_truth[matched], return_index=True)
  positive[pair_detection[matched[first]]] = True
  return positive


def frame_map(
  truth: dict[str, list[tuple]], detected: dict[str, list[tuple]], names: dict[int, str]
) -> dict[str, Any]:
  """{'mAP', 'per_class_AP'} of per-keyframe (score, class, y1, x1, y2, x2) entries: the
  true boxes and the detections (the top 50 of each keyframe, by descending score)."""
  num_truth = defaultdict(int)
  for entries in truth.values():
    for entry in entries:
      num_truth[entry[1]] += 1
  # Every detection in one array, keyframe after keyframe, each in its descending order:
  # per class, that is the order in which the official code concatenates them.
  keys = list(detected)
  counts = np.array([len(detected[key]) for key in keys], int)
  flat = itertools.chain.from_iterable(itertools.chain.from_iterable(detected.values()))
  rows = np.fromiter(flat, float, 6 * int(counts.sum())).reshape(-1, 6)
  scores, classes, boxes = rows[:, 0], rows[:, 1].astype(int), rows[:, 2:]
  valid = (boxes[:, 0] < boxes[:, 2]) & (boxes[:, 1] < boxes[:, 3])
  frame = {key: index for index, key in enumerate(keys)}
  true_rows = np.array(
    [
      (frame[key], *entry[1:])
      for key, entries in truth.items()
      if key in frame
      for entry in entries
    ],
    float,
  ).reshape(-1, 6)
  positive = _true_positives(
    np.repeat(np.arange(len(keys)), counts), classes, boxes, valid, true_rows
  )
  per_id = {}
  for action in names:
    if num_truth[action] == 0:
      per_id[action] = float('nan')
      continue
    chosen = valid & (classes == action)
    per_id[action] = average_precision(scores[chosen], positive[chosen], num_truth[action])
  values = np.array(list(per_id.values()), float)
  mean = float(np.nanmean(values)) if np.any(~np.isnan(values)) else float('nan')
  # A name the label map gives twice keeps both classes apart (the official output keeps
  # the last one's AP under it; its mean has both).
  repeated = {name for name in names.values() if list(names.values()).count(name) > 1}
  per_class = {
    (f'{names[action]} (id {action})' if names[action] in repeated else names[action]): ap
    for action, ap in per_id.items()
  }
  return {'mAP': mean, 'per_class_AP': per_class}


def evaluate(
  labelmap: str, groundtruth: str, detections: str, exclusions: str | None = None
) -> dict[str, Any]:
  """{'mAP', 'per_class_AP': {class name: AP (NaN without true boxes)}} of the files."""
  names = ava_files.read_labelmap(labelmap)
  excluded = ava_files.read_exclusions(exclusions) if exclusions else set()
  truth = {
    k: v for k, v in ava_files.read_boxes(groundtruth, set(names), 0).items() if k not in excluded
  }
  detected = ava_files.read_boxes(detections, set(names), TOP_DETECTIONS)
  detected = {k: v for k, v in detected.items() if k not in excluded}
  return frame_map(truth, detected, names)


def keyframe_entries(
  scores: np.ndarray, boxes: np.ndarray, box_mask: np.ndarray, capacity: int
) -> list[tuple]:
  """(score, class id, y1, x1, y2, x2) of every box and class of one keyframe, class ids
  from 1 as in AVA; scores [N, C], boxes [N, 4] (x1, y1, x2, y2); the `capacity` highest
  (0: all), by descending score."""
  entries = [
    (float(scores[i, c]), c + 1, *(float(v) for v in boxes[i, [1, 0, 3, 2]]))
    for i in np.flatnonzero(box_mask)
    for c in range(scores.shape[1])
  ]
  entries.sort(key=lambda entry: -entry[0])
  return entries[:capacity] if capacity > 0 else entries


DEFAULTS = dict(common.SPLIT_DEFAULTS, num_clips=1, num_crops=1, scales=())
KEYS = ('type', 'split', 'batch_size', 'every_steps', *DEFAULTS)


class Evaluator(common.SplitEvaluator):
  """Frame-mAP (in percent) of every keyframe of a split, the official way.

  config.evals.<name>: type='ava', split, batch_size, every_steps, num_clips=1, num_crops
  (1, or 2 for the flip test), scales (frame sizes besides `pp.crop_size` to test at, e.g.
  (224, 320): the multi-scale test), pred, input (e.g. dict(keyframe=dict(boxes=
  'detections')) to score the detector's boxes). The logits of every view, flips and
  scales, are averaged before the probabilities, as ACAR's multi-crop test averages them.
  Each box gets the task's probabilities of every class (`tasks/ava.py`); per keyframe the
  top 50 (box, class) scores are matched to the true boxes at IoU 0.5 and AP is VOC's, as
  `frame_map` (and ActivityNet's script) computes it. Boxes are in the frame's normalised
  coordinates (the `keyframe` loader evaluates on the whole frame).
  """

  def __init__(self, name, eval_config, config, model, task, mesh):
    super().__init__(name, eval_config, config, model, task, mesh)
    self._probabilities = task.probabilities
    self._files = {}
    batch_size = parallel.check_batch_size(eval_config.batch_size, f'evals.{name}.batch_size')
    self._scale_inputs = [
      pipeline.make_eval_input(
        pipeline.with_overrides(
          self.input_config, {'pp': {'crop_size': size}}, f'config.evals.{name}.scales'
        ),
        eval_config.split,
        batch_size,
        self.num_clips,
        self.num_crops,
        jax.process_index(),
        jax.process_count(),
      )  # fmt: skip
      for size in eval_config.scales
      if size != self.input_config.pp.crop_size
    ]

  def run(self, state, constants) -> dict[str, float]:
    """One pass per scale; each keyframe's logits averaged over them, then scored."""
    totals, gathered = self.evaluate_input(self._input, state, constants)
    if self._scale_inputs:
      scored = gathered['mask']
      index = gathered['index'][scored]
      total = gathered['logits'][scored].astype(np.float64)
      for input_ in self._scale_inputs:
        _, other = self.evaluate_input(input_, state, constants)
        rows = np.full(max(other['index'].max(), index.max()) + 1, -1)
        rows[other['index'][other['mask']]] = np.flatnonzero(other['mask'])
        total += other['logits'][rows[index]]
      gathered['logits'][scored] = total / (1 + len(self._scale_inputs))
    return self.scored(totals, gathered)

  def sums(self, output, batch):
    del output, batch
    return {}

  def per_example(self, output, batch):
    return {
      'logits': output,
      'boxes': batch['boxes'][:, 0],
      'box_mask': batch['box_mask'][:, 0],
      'gt_boxes': batch['gt_boxes'],
      'gt_labels': batch['gt_labels'],
      'gt_mask': batch['gt_mask'],
      'keyframe_index': batch['index'],
      'timestamp': batch['timestamp'],
    }

  def files(self) -> dict[str, str]:
    """The last run's `detections.csv`, `groundtruth.csv` and `labelmap.pbtxt` in AVA's
    formats (class ids the dataset's own), on which ActivityNet's script gives the same
    frame-mAP: `python get_ava_performance.py -l labelmap.pbtxt -g groundtruth.csv -d
    detections.csv` (or tools/ava_eval.py)."""
    return self._files

  def metrics(self, totals, gathered, count):
    del totals
    dataset = self._input.dataset
    gathered['scores'] = np.asarray(self._probabilities(gathered['logits']))
    num_classes = gathered['scores'].shape[-1]
    ids = dataset.label_ids or tuple(range(1, num_classes + 1))
    names = dict(zip(ids, dataset.label_names or map(str, ids), strict=True))
    truth, detected = {}, {}
    for k in range(count):
      truth[k] = [
        (1.0, ids[c], *(float(v) for v in gathered['gt_boxes'][k, i, [1, 0, 3, 2]]))
        for i in np.flatnonzero(gathered['gt_mask'][k])
        for c in np.flatnonzero(gathered['gt_labels'][k, i])
      ]
      entries = keyframe_entries(
        gathered['scores'][k], gathered['boxes'][k], gathered['box_mask'][k], TOP_DETECTIONS
      )
      detected[k] = [(score, ids[c - 1], *box) for score, c, *box in entries]
    self._files = _csv_files(self._input, gathered, detected, ids, names)
    result = frame_map(truth, detected, names)
    # Classes without a true box in the split have no AP (NaN) and are left out.
    per_class = {
      f'AP/{n}': 100.0 * ap for n, ap in result['per_class_AP'].items() if not np.isnan(ap)
    }
    return {'mAP': 100.0 * result['mAP'], **per_class}


def _csv_files(input_, gathered, detected: dict, ids, names: dict[int, str]) -> dict:
  """AVA's CSV and label-map files of the scored keyframes (rows of `gathered`) and their
  `detected` (score, class id, y1, x1, y2, x2) entries; numbers written exactly (repr)."""
  detections, groundtruth = [], []
  for k in detected:
    video_id = input_.video_id(int(gathered['keyframe_index'][k]))
    video_id = video_id.decode() if isinstance(video_id, bytes) else video_id
    key = f'{video_id},{int(gathered["timestamp"][k]):04d}'
    for person in np.flatnonzero(gathered['gt_mask'][k]):
      box = ','.join(repr(float(v)) for v in gathered['gt_boxes'][k, person])
      for c in np.flatnonzero(gathered['gt_labels'][k, person]):
        groundtruth.append(f'{key},{box},{ids[c]},{person}\n')
    for score, action, y1, x1, y2, x2 in detected[k]:
      box = ','.join(repr(float(v)) for v in (x1, y1, x2, y2))
      detections.append(f'{key},{box},{action},{float(score)!r}\n')
  labelmap = ''.join(f'item {{\n  name: "{n}"\n  id: {i}\n}}\n' for i, n in names.items())
  return {
    'detections.csv': ''.join(detections),
    'groundtruth.csv': ''.join(groundtruth),
    'labelmap.pbtxt': labelmap,
  }
