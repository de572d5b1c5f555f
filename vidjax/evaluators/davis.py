"""DAVIS-2017 semi-supervised J&F, number for number with the official evaluation.

The official code is davisvideochallenge/davis2017-evaluation (`davis2017/metrics.py`,
`utils.db_statistics`, `evaluation.py`); `tests/tools/test_davis_eval.py` compares this
module with it on generated mask sets to 1e-6. Its rules:

- The first and last frames of every sequence are left out (the first is given, the last
  is not annotated in the challenge's test sets); void pixels (255) count as background.
- Objects are the ids 1..N of the first frame's annotation. A result's id k is object k;
  an object a result never names is an empty mask; an id above N is an error.
- J (region similarity): IoU of result and annotation, 1 when both are empty.
- F (contour accuracy): boundaries are the pixels whose right, lower or lower-right
  neighbour differs (one pixel wide, half a pixel towards the origin); a boundary pixel
  of one mask matches if a boundary pixel of the other lies in the disk of radius
  ceil(0.008 * image diagonal) around it (8 pixels at 854 x 480); precision and recall of
  the matches, F their harmonic mean. No result boundary: P = 1, R = 0; no annotated
  boundary: P = 0, R = 1; neither: F = 1.
- Per object over its frames: Mean, Recall (the fraction of frames above 0.5) and Decay
  (the mean of the first of four bins of frames minus that of the last).
- Global figures average over objects, not sequences; J&F-Mean = (J-Mean + F-Mean) / 2.

Where the official code differs it is a bug, and this module does not copy it: its decay
bins are cast to uint8, so sequences of more than 256 frames get wrong bins. Both agree
on every sequence up to that length (DAVIS-2017's longest has 104 frames).

The cost is in the boundary matching; the dilations run on the objects' bounding boxes,
not the whole frame, and sequences are evaluated in parallel processes.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from collections.abc import Iterable

import cv2
import numpy as np

from vidjax.data import davis as davis_data

BOUNDARY_TOLERANCE = 0.008  # of the image diagonal
METRICS = ('J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay')


def jaccard(annotation: np.ndarray, result: np.ndarray, num_objects: int) -> np.ndarray:
  """IoU of every object k = 1..num_objects in one frame's labels [H, W] (ids 0..N); 1
  where the object is in neither. One pass: the joint histogram of the two labellings."""
  size = num_objects + 1
  if size * size <= 256:  # uint8 codes: OpenCV's histogram, without a copy to int64
    codes = annotation * np.uint8(size) + result
    joint = cv2.calcHist([codes], [0], None, [size * size], [0, size * size])
  else:
    joint = np.bincount(
      annotation.astype(np.intp).ravel() * size + result.ravel(), minlength=size * size
    )
  joint = joint.astype(np.int64).reshape(size, size)  # [annotated id, result id]
  intersection = np.diag(joint)[1:]
  union = joint.sum(axis=1)[1:] + joint.sum(axis=0)[1:] - intersection
  return np.where(union == 0, 1.0, intersection / np.maximum(union, 1))


def boundaries(masks: np.ndarray) -> np.ndarray:
  """The one-pixel boundaries of bool masks [..., H, W] (the official `_seg2bmap`)."""
  east = np.zeros_like(masks)
  south = np.zeros_like(masks)
  south_east = np.zeros_like(masks)
  east[..., :, :-1] = masks[..., :, 1:]
  south[..., :-1, :] = masks[..., 1:, :]
  south_east[..., :-1, :-1] = masks[..., 1:, 1:]
  edges = (masks ^ east) | (masks ^ south) | (masks ^ south_east)
  edges[..., -1, :] = masks[..., -1, :] ^ east[..., -1, :]
  edges[..., :, -1] = masks[..., :, -1] ^ south[..., :, -1]
  edges[..., -1, -1] = False
  return edges


def disk(radius: int) -> np.ndarray:
  """uint8 disk of `radius` (skimage.morphology.disk): offsets with x^2 + y^2 <= r^2."""
  offsets = np.arange(-radius, radius + 1)
  return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.uint8)


def boundary_radius(height: int, width: int) -> int:
  return int(math.ceil(BOUNDARY_TOLERANCE * math.hypot(height, width)))


def _matched(edges: np.ndarray, other: np.ndarray, kernel: np.ndarray) -> int:
  """How many pixels of `edges` lie within the kernel's reach of a pixel of `other`."""
  return int(np.count_nonzero(edges & cv2.dilate(other.astype(np.uint8), kernel).astype(bool)))


def contour_accuracy(annotation: np.ndarray, result: np.ndarray) -> float:
  """F of one frame's bool masks [H, W] (the official `f_measure`)."""
  height, width = annotation.shape
  radius = boundary_radius(height, width)
  either = annotation | result
  rows, cols = np.flatnonzero(either.any(axis=1)), np.flatnonzero(either.any(axis=0))
  if rows.size == 0:
    return 1.0  # no boundary in either mask
  # Everything happens within `radius` + 1 pixels of the masks: a boundary pixel lies at
  # most one pixel above or left of its mask, and a dilation reaches `radius` beyond it.
  # Outside the frame nothing is a boundary, as in the official code, so the box is
  # clipped to it. Where the box ends inside the frame, it ends on background, whose
  # boundary is the same with or without the pixels beyond.
  margin = radius + 1
  box = (
    slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, height)),
    slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, width)),
  )
  result_edges, annotation_edges = boundaries(result[box]), boundaries(annotation[box])
  num_result, num_annotation = np.count_nonzero(result_edges), np.count_nonzero(annotation_edges)
  if num_result == 0 and num_annotation == 0:
    return 1.0
  if num_result == 0 or num_annotation == 0:
    return 0.0  # P = 1, R = 0 or P = 0, R = 1: F = 0
  kernel = disk(radius)
  precision = _matched(result_edges, annotation_edges, kernel) / num_result
  recall = _matched(annotation_edges, result_edges, kernel) / num_annotation
  if precision + recall == 0:
    return 0.0
  return 2 * precision * recall / (precision + recall)


def statistics(values: np.ndarray) -> tuple[float, float, float]:
  """(Mean, Recall, Decay) of one object's per-frame values [T] (`utils.db_statistics`,
  with the decay's bins in int64)."""
  values = np.asarray(values, np.float64)
  if values.size == 0:
    return math.nan, math.nan, math.nan
  mean = float(np.nanmean(values))
  recall = float(np.nanmean(values > 0.5))
  edges = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(np.int64)
  first, last = values[edges[0] : edges[1] + 1], values[edges[3] : edges[4] + 1]
  return mean, recall, float(np.nanmean(first) - np.nanmean(last))


def evaluate_sequence(annotation: np.ndarray, result: np.ndarray) -> dict[str, np.ndarray]:
  """Per-object J and F over the evaluated frames of one sequence.

  Args:
    annotation: uint8 labels [T, H, W] of every frame, the first included (it names the
      objects); void 255.
    result: uint8 labels [T - 2, H, W] of the frames 1..T-2, ids 0..N.

  Returns:
    {'J': float [N, T - 2], 'F': float [N, T - 2]}.
  """
  annotation = np.where(annotation == 255, 0, annotation)
  num_objects = int(annotation[0].max())
  if result.size and int(result.max()) > num_objects:
    raise ValueError(f'Result id {int(result.max())}: the annotation has objects 1..{num_objects}.')
  scores = {'J': [], 'F': []}
  for annotated, predicted in zip(annotation[1:-1], result, strict=True):
    scores['J'].append(jaccard(annotated, predicted, num_objects))
    scores['F'].append(
      [contour_accuracy(annotated == k, predicted == k) for k in range(1, num_objects + 1)]
    )
  return {
    measure: np.asarray(values, np.float64).reshape(-1, num_objects).T
    for measure, values in scores.items()
  }


def summarise(per_sequence: Iterable[tuple[str, dict[str, np.ndarray]]]) -> dict:
  """The global table and the per-object means from (sequence, evaluate_sequence()) pairs.

  Returns:
    {'J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay': float,
     'per_object': {'<sequence>_<id>': {'J-Mean', 'F-Mean'}}}, averaged over objects.
  """
  rows = {'J': [], 'F': []}
  per_object = {}
  for sequence, scores in per_sequence:
    for index in range(len(scores['J'])):
      stats = {measure: statistics(scores[measure][index]) for measure in ('J', 'F')}
      for measure in ('J', 'F'):
        rows[measure].append(stats[measure])
      per_object[f'{sequence}_{index + 1}'] = {'J-Mean': stats['J'][0], 'F-Mean': stats['F'][0]}
  table = {}
  for measure in ('J', 'F'):
    means = np.mean(np.array(rows[measure]).reshape(-1, 3), axis=0)
    table.update(
      {
        f'{measure}-{name}': float(v)
        for name, v in zip(('Mean', 'Recall', 'Decay'), means, strict=True)
      }
    )
  table['J&F-Mean'] = (table['J-Mean'] + table['F-Mean']) / 2
  return {**{name: table[name] for name in METRICS}, 'per_object': per_object}


def _evaluate_folder_sequence(job: tuple[str, str, str, str]):
  root, results_dir, sequence, resolution = job
  ids, annotation = davis_data.annotations(root, sequence, resolution)
  folder = os.path.join(results_dir, sequence)
  result = davis_data.read_masks(folder, ids[1:-1], size=annotation.shape[1:])
  num_objects = int(np.where(annotation[0] == davis_data.VOID, 0, annotation[0]).max())
  for frame, labels in zip(ids[1:-1], result, strict=True):
    if labels.max() > num_objects:
      raise ValueError(
        f'{os.path.join(folder, frame + ".png")}: object id {int(labels.max())}, but the '
        f'first frame of {sequence!r} has objects 1..{num_objects} only.'
      )
  return sequence, evaluate_sequence(annotation, result)


def evaluate_folder(
  root: str,
  results_dir: str,
  set_name: str = 'val',
  *,
  resolution: str = '480p',
  sequences: list[str] | None = None,
  processes: int | None = None,
) -> dict:
  """J&F of the results in RESULTS_DIR/<sequence>/<frame>.png against DAVIS_ROOT's
  annotations, over `sequences` (default: every sequence of `set_name`); see `summarise`.

  Results are needed for frames 1..T-2 only. A missing sequence or frame, a mask of
  another size or an id the first frame does not have is an error naming the file.
  """
  if resolution not in davis_data.RESOLUTIONS:
    raise ValueError(f'--resolution={resolution!r}: one of {davis_data.RESOLUTIONS}.')
  sequences = sequences or davis_data.sequences(root, set_name)
  missing = [s for s in sequences if not os.path.isdir(os.path.join(results_dir, s))]
  if missing:
    raise FileNotFoundError(
      f'{os.path.join(results_dir, missing[0])} not found: {len(missing)} of the '
      f'{len(sequences)} sequences have no results folder ({", ".join(missing[:5])}'
      f'{", ..." if len(missing) > 5 else ""}).'
    )
  jobs = [(root, results_dir, sequence, resolution) for sequence in sequences]
  processes = min(processes or os.cpu_count() or 1, len(jobs))
  scores = {}
  # Forked workers start at once; after JAX has started its threads in this process a
  # fork can deadlock, and the workers are spawned (they import this module afresh).
  context = multiprocessing.get_context('spawn' if 'jax' in sys.modules else 'fork')
  with context.Pool(processes) if processes > 1 else _Serial() as pool:
    for done, (sequence, result) in enumerate(pool.imap_unordered(_evaluate_folder_sequence, jobs)):
      scores[sequence] = result
      print(f'[{done + 1}/{len(jobs)}] {sequence}', file=sys.stderr, flush=True)
  return summarise((sequence, scores[sequence]) for sequence in sequences)


class _Serial:
  """A pool of one: the jobs in this process (no start-up cost for one sequence)."""

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False

  def imap_unordered(self, function, jobs):
    return map(function, jobs)
