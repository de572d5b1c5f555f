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

The errors name the file and line of a malformed row; the official script asserts.
"""

from __future__ import annotations

import csv
import heapq
import itertools
import operator
from collections import defaultdict
from typing import Any

import jax
import numpy as np
import pyarrow
from pyarrow import csv as pyarrow_csv

from vidjax import parallel
from vidjax.data import pipeline
from vidjax.evaluators import common

IOU_THRESHOLD = 0.5
TOP_DETECTIONS = 50


def image_key(video_id: str, timestamp: str | int) -> str:
  return f'{video_id},{int(timestamp):04d}'


def read_labelmap(path: str) -> dict[int, str]:
  """{class id: name} of a label map `.pbtxt`, read as the official parser does."""
  labels, name = {}, ''
  with open(path, encoding='utf-8') as f:
    for line in f:
      if line.startswith('  name:'):
        name = line.split('"')[1]
      elif line.startswith(('  id:', '  label_id:')):
        labels[int(line.strip().split(' ')[-1])] = name
  if not labels:
    raise ValueError(f'{path}: no "  id:" or "  label_id:" lines; not an AVA label map.')
  return labels


def read_exclusions(path: str) -> set[str]:
  """The excluded keyframes of a `video_id, timestamp` CSV."""
  excluded = set()
  with open(path, encoding='utf-8', newline='') as f:
    for line, row in enumerate(csv.reader(f), start=1):
      if len(row) != 2:
        raise ValueError(f'{path}:{line}: {len(row)} columns; expected video_id, timestamp.')
      excluded.add(image_key(row[0], row[1]))
  return excluded


def read_boxes(path: str, classes: set[int], capacity: int) -> dict[str, list[tuple]]:
  """Per keyframe, (score, class, y1, x1, y2, x2) in descending score; with `capacity`,
  only that many of the highest: the entries of the official `read_csv`, whose heap this
  goes through where ties make it matter (`_top_entries`), so that tied scores of a class
  come out in its order. Keyframes in order of first appearance, as the official
  dictionaries."""
  columns = _arrow_columns(path) or _csv_columns(path)
  videos, video_index, timestamp, x1, y1, x2, y2, action, score = columns
  allowed = np.zeros(max(classes, default=0) + 1, bool)
  allowed[list(classes)] = True
  kept = (action >= 0) & (action < len(allowed))
  kept[kept] = allowed[action[kept]]
  video_index, timestamp = video_index[kept], timestamp[kept]
  if not len(timestamp):
    return {}
  # A code per (video, timestamp), then the keyframes numbered by first appearance.
  span = int(timestamp.max() - timestamp.min()) + 1
  codes = video_index.astype(np.int64) * span + (timestamp - timestamp.min())
  _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
  appearance = np.argsort(first, kind='stable')
  rank = np.empty_like(appearance)
  rank[appearance] = np.arange(len(appearance))
  keyframe = rank[inverse.reshape(-1)]
  order = np.argsort(keyframe, kind='stable')  # each keyframe's rows together, in file order
  bounds = np.searchsorted(keyframe[order], np.arange(len(appearance) + 1))
  selected = np.flatnonzero(kept)[order]
  columns = [c[selected] for c in (score, action, y1, x1, y2, x2)]
  fast, slow = _top_entries(columns, bounds, capacity)
  result = {}
  for number, row in enumerate(first[appearance]):
    key = image_key(videos[video_index[row]], timestamp[row])
    if fast[number] is not None:
      result[key] = fast[number]
      continue
    rows = slow[number]
    pushed = len(rows) if capacity < 1 else capacity
    heap = []
    for entry in rows[:pushed]:
      heapq.heappush(heap, entry)
    if len(rows) > pushed:
      lowest = heap[0][0]
      for entry in rows[pushed:]:
        if entry[0] > lowest:
          heapq.heapreplace(heap, entry)
          lowest = heap[0][0]
    # Stable, as the official sort by -score: tied scores keep the heap's order.
    result[key] = sorted(heap, key=operator.itemgetter(0), reverse=True)
  return result


def _top_entries(columns: list[np.ndarray], bounds: np.ndarray, capacity: int):
  """Per keyframe (rows bounds[k]:bounds[k + 1] of the columns score, class, y1, x1, y2,
  x2), either its kept entries in descending score, where the scores decide them, or its
  rows in file order for the official heap to go through.

  The scores decide where the `capacity`-th highest score is above the next one (the heap
  keeps exactly the highest `capacity`; without a capacity it keeps all) and no two kept
  entries of one class share a score. Entries of different classes with equal scores may
  then come in another order than the heap's; no result depends on that order, since
  matching and AP take each class on its own, in its entries' order.

  Returns:
    ([entries or None per keyframe], [rows or None per keyframe]).
  """
  score, action = columns[0], columns[1]
  sizes = np.diff(bounds)
  count = len(sizes)
  fast, slow = [None] * count, [None] * count
  if not count:
    return fast, slow
  group = np.repeat(np.arange(count), sizes)
  position = np.arange(len(score)) - bounds[group]
  width = int(sizes.max())
  padded = np.full((count, width), -np.inf)
  padded[group, position] = score
  classes = np.full((count, width), -1, np.int64)
  classes[group, position] = action
  limit = min(capacity, width) if capacity > 0 else width
  # Each keyframe's highest limit + 1 positions, by descending score.
  top = min(limit + 1, width)
  best = (
    np.argpartition(-padded, top - 1, axis=1)[:, :top]
    if top < width
    else np.tile(np.arange(width), (count, 1))
  )
  best = np.take_along_axis(best, np.argsort(-np.take_along_axis(padded, best, 1), axis=1), 1)
  best_scores = np.take_along_axis(padded, best, 1)
  undecided = np.zeros(count, bool)
  undecided[group[np.isnan(score)]] = True
  if top > limit:  # the limit-th and the next: a tie leaves the kept set to the heap
    undecided |= (best_scores[:, limit - 1] == best_scores[:, limit]) & (sizes > limit)
  kept, kept_scores = best[:, :limit], best_scores[:, :limit]
  kept_classes = np.take_along_axis(classes, kept, 1)
  pairs = np.lexsort((kept_classes, kept_scores), axis=1)
  pair_scores = np.take_along_axis(kept_scores, pairs, 1)
  pair_classes = np.take_along_axis(kept_classes, pairs, 1)
  repeated = (pair_scores[:, 1:] == pair_scores[:, :-1]) & (
    pair_classes[:, 1:] == pair_classes[:, :-1]
  )
  undecided |= np.any(repeated & (pair_classes[:, 1:] >= 0), axis=1)
  # The decided keyframes' kept rows, keyframe after keyframe, highest score first.
  decided_sizes = np.where(undecided, 0, np.minimum(sizes, limit))
  in_use = np.arange(limit)[None, :] < decided_sizes[:, None]
  chosen = (bounds[:-1, None] + kept)[in_use]
  decided = list(zip(*(c[chosen].tolist() for c in columns), strict=True))
  listed = np.flatnonzero(undecided[group])
  rows = list(zip(*(c[listed].tolist() for c in columns), strict=True))
  decided_ends, row_ends = np.cumsum(decided_sizes), np.cumsum(np.where(undecided, sizes, 0))
  for k in range(count):
    if undecided[k]:
      slow[k] = rows[row_ends[k] - sizes[k] : row_ends[k]]
    else:
      fast[k] = decided[decided_ends[k] - decided_sizes[k] : decided_ends[k]]
  return fast, slow


# The columns of a box file as Arrow parses them: id, timestamp, x1, y1, x2, y2, action[, score].
_ARROW_TYPES = ('string', 'int64', 'float64', 'float64', 'float64', 'float64', 'int64', 'float64')


def _arrow_columns(path: str) -> tuple | None:
  """`_csv_columns(path)` parsed by Arrow (C++, many times faster); None where Arrow cannot
  parse the file, so that the row-by-row reader names the line."""
  try:
    with open(path, encoding='utf-8', newline='') as f:
      first = f.readline()
    width = len(next(csv.reader([first]))) if first.strip() else 0
    if width not in (7, 8):
      return None
    names = [f'c{i}' for i in range(width)]
    table = pyarrow_csv.read_csv(
      path,
      read_options=pyarrow_csv.ReadOptions(column_names=names),
      convert_options=pyarrow_csv.ConvertOptions(
        column_types={
          n: pyarrow.type_for_alias(t) for n, t in zip(names, _ARROW_TYPES, strict=False)
        }
      ),
    )
  except (pyarrow.ArrowException, UnicodeDecodeError):
    return None
  videos = table.column('c0').combine_chunks().dictionary_encode()
  numbers = [table.column(name).combine_chunks().to_numpy() for name in names[1:]]
  score = numbers[6] if width == 8 else np.ones(len(table))
  return (videos.dictionary.to_pylist(), videos.indices.to_numpy(), *numbers[:6], score)


def _csv_columns(path: str) -> tuple:
  """(video ids, each row's video's index among them, timestamp, x1, y1, x2, y2, action,
  score) of every row; a malformed row is an error naming its line."""
  videos, rows = {}, []
  with open(path, encoding='utf-8', newline='') as f:
    for line, row in enumerate(csv.reader(f), start=1):
      if len(row) not in (7, 8):
        raise ValueError(
          f'{path}:{line}: {len(row)} columns; expected video_id, timestamp, x1, y1, x2, y2, '
          'action_id[, score].'
        )
      try:
        numbers = (int(row[1]), *(float(v) for v in row[2:6]), int(row[6]))
        score = float(row[7]) if len(row) == 8 else 1.0
      except ValueError as error:
        raise ValueError(f'{path}:{line}: {error}') from None
      rows.append((videos.setdefault(row[0], len(videos)), *numbers, score))
  columns = np.array(rows, float).reshape(-1, 8).T
  integer = lambda column: column.astype(np.int64)  # noqa: E731
  return (
    list(videos),
    integer(columns[0]),
    integer(columns[1]),
    *columns[2:6],
    integer(columns[6]),
    columns[7],
  )


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
  names = read_labelmap(labelmap)
  excluded = read_exclusions(exclusions) if exclusions else set()
  truth = {k: v for k, v in read_boxes(groundtruth, set(names), 0).items() if k not in excluded}
  detected = read_boxes(detections, set(names), TOP_DETECTIONS)
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
