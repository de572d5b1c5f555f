"""AVA's files, read as the official `get_ava_performance.py` reads them: the label map,
the excluded keyframes, and the box CSVs (ground truth and detections) with the top-50
rule (`evaluators/ava.py` scores them).

Arrow parses the CSVs (C++); where it cannot, the row-by-row reader does, so that an error
names the file and line of a malformed row.
"""

from __future__ import annotations

import csv
import heapq
import operator

import numpy as np
import pyarrow
from pyarrow import csv as pyarrow_csv


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
