"""PoseTrack's multi-person pose mAP, as the official `poseval` computes it (`evaluateAP.py`,
`eval_helpers.py`, `convert.py`), on PoseTrack 2018's per-video JSON files.

- **Joints**: poseval's 15 (`JOINTS`), read from each file's category keypoint names
  (PoseTrack 2018's 17 minus the ears, `head_bottom` in the neck's place). A joint is
  present unless stored as (0, 0) with visibility 0. A prediction's joint score is its
  `scores` entry; without scores every joint scores -9999 (`MIN_SCORE`).
- **Frames**: a video's predictions are matched to its ground truth frame by frame, in the
  files' image order (the official requirement; here the image ids must agree too). Frames
  whose ground truth has nobody are left out with their predictions; points inside a
  frame's ignore regions are removed from both, and a person left without points then too.
- **Matching**, per frame: a predicted joint matches a true one within 0.5 of the true
  person's head size (0.6 x the diagonal of `bbox_head`); each prediction keeps only the
  true person with its highest fraction of matched joints, each true person the prediction
  with the highest such fraction; a matched prediction's joints are true or false positives
  by their own match, an unmatched prediction's joints are false positives.
- **AP** per joint: every predicted joint of the dataset in decreasing score, precision and
  recall against the number of true joints, VOC's area under the interpolated curve. A
  joint never predicted scores 0; one never annotated NaN, left out of the mean ('total').
  The printed table groups the joints as the official one does (Head = head top, neck and
  nose; then shoulders, elbows, wrists, hips, knees, ankles; Total).

Two differences, both on ties of measure zero: an ignore region's boundary (the official
test is shapely's `contains`, interior only; here ray casting, which may decide a point
exactly on an edge either way), and the order of equal scores, which follows the files'
sorted names here and the file system's listing there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

# poseval's joint order (its LSP-style ids 0..14).
JOINTS = (
  'right_ankle',
  'right_knee',
  'right_hip',
  'left_hip',
  'left_knee',
  'left_ankle',
  'right_wrist',
  'right_elbow',
  'right_shoulder',
  'left_shoulder',
  'left_elbow',
  'left_wrist',
  'head_bottom',
  'nose',
  'head_top',
)
# The table's columns: joint names averaged into each.
PARTS = {
  'Head': ('head_top', 'head_bottom', 'nose'),
  'Shou': ('right_shoulder', 'left_shoulder'),
  'Elb': ('right_elbow', 'left_elbow'),
  'Wri': ('right_wrist', 'left_wrist'),
  'Hip': ('right_hip', 'left_hip'),
  'Knee': ('right_knee', 'left_knee'),
  'Ankl': ('right_ankle', 'left_ankle'),
}
DISTANCE_THRESHOLD = 0.5
MIN_SCORE = -9999.0


def _inside(x: float, y: float, polygon: np.ndarray) -> bool:
  """Whether (x, y) lies inside `polygon` [P, 2] (even-odd ray casting)."""
  inside = False
  for (x1, y1), (x2, y2) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
    if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
      inside = not inside
  return inside


def read_video(path: str, *, ground_truth: bool) -> list[dict[str, Any]]:
  """The frames of a PoseTrack 2018 file: per image its id and people, each person
  {'points': {joint id: (x, y)}, 'scores': {joint id: score}, 'head_size'} (ground truth:
  head_size from `bbox_head`), plus the image's ignore polygons.

  Raises:
    ValueError: the file is not in the format, naming the file and what is wrong.
  """
  try:
    with open(path, encoding='utf-8') as f:
      content = json.load(f)
  except json.JSONDecodeError as error:
    raise ValueError(
      f'{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}).'
    ) from None
  categories = content.get('categories') or []
  if len(categories) != 1 or not isinstance(categories[0].get('keypoints'), list):
    raise ValueError(f'{path}: expected one category with its keypoint names (PoseTrack 2018).')
  names = categories[0]['keypoints']
  table = [JOINTS.index(name) if name in JOINTS else None for name in names]
  missing = [name for name in JOINTS if name not in names]
  if missing:
    raise ValueError(f'{path}: the category has no keypoints {missing}.')
  frames = []
  for image in content.get('images', []):
    polygons = [
      np.stack([np.asarray(xs, float), np.asarray(ys, float)], axis=1)
      for xs, ys in zip(
        image.get('ignore_regions_x', []), image.get('ignore_regions_y', []), strict=False
      )
      if len(xs) >= 3
    ]
    frames.append(
      {'id': image['id'], 'file_name': image.get('file_name'), 'people': [], 'ignore': polygons}
    )
  by_id = {frame['id']: frame for frame in frames}
  for annotation in content.get('annotations', []):
    where = f'{path}: annotation {annotation.get("id")!r}'
    frame = by_id.get(annotation.get('image_id'))
    if frame is None:
      raise ValueError(f'{where} names image {annotation.get("image_id")!r}, not in its images.')
    keypoints = np.asarray(annotation.get('keypoints') or [], float)
    if keypoints.size != 3 * len(names):
      raise ValueError(f'{where} has {keypoints.size} keypoint values; expected {3 * len(names)}.')
    scores = annotation.get('scores') or []
    points, joint_scores = {}, {}
    for k, (x, y, visible) in enumerate(keypoints.reshape(-1, 3)):
      if table[k] is None or (x == 0 and y == 0 and visible == 0):
        continue
      points[table[k]] = (x, y)
      joint_scores[table[k]] = float(scores[k]) if len(scores) > k else MIN_SCORE
    person = {'points': points, 'scores': joint_scores}
    if ground_truth:
      if not annotation.get('bbox_head'):
        raise ValueError(f'{where} has no bbox_head (the head size PCKh is relative to).')
      x, y, w, h = annotation['bbox_head']
      person['head_size'] = 0.6 * float(np.linalg.norm([w, h]))
    frame['people'].append(person)
  return frames


def _without_ignored(people: list[dict], polygons: list[np.ndarray]) -> list[dict]:
  """People with their points inside an ignore region removed; in a frame with ignore
  regions a person left with no point is removed (the official `removeIgnoredPointsRects`)."""
  if not polygons:
    return people
  kept = []
  for person in people:
    points = {
      j: p for j, p in person['points'].items() if not any(_inside(*p, poly) for poly in polygons)
    }
    if points:
      scores = {j: s for j, s in person['scores'].items() if j in points}
      kept.append({**person, 'points': points, 'scores': scores})
  return kept


def match_frame(truth: list[dict], predicted: list[dict]) -> tuple[list, list, np.ndarray]:
  """One frame's (scores, labels) per joint of its predicted joints and its count of true
  joints per joint, by the official assignment (module docstring)."""
  num_joints = len(JOINTS)
  scores = [[] for _ in range(num_joints)]
  labels = [[] for _ in range(num_joints)]
  has_truth = np.array([[j in p['points'] for j in range(num_joints)] for p in truth], bool)
  has_truth = has_truth.reshape(len(truth), num_joints)
  matched = np.zeros((len(predicted), len(truth), num_joints), bool)
  if predicted and truth:
    for g, person in enumerate(truth):
      for p, guess in enumerate(predicted):
        for j in set(person['points']) & set(guess['points']):
          distance = np.linalg.norm(np.subtract(person['points'][j], guess['points'][j]))
          matched[p, g, j] = distance / person['head_size'] <= DISTANCE_THRESHOLD
    pck = matched.sum(-1).astype(float)
    annotated = has_truth.sum(-1)
    pck = np.where(annotated[None] > 0, pck / np.maximum(annotated[None], 1), pck)
    best_truth = np.argmax(pck, axis=1)
    pck = np.where(np.arange(len(truth))[None] == best_truth[:, None], pck, 0.0)
    truth_to_guess = np.argmax(pck, axis=0)
    truth_to_guess[np.max(pck, axis=0) == 0] = -1
  for p, guess in enumerate(predicted):
    if truth and p in truth_to_guess:
      correct = matched[p, int(np.flatnonzero(truth_to_guess == p)[0])]
    else:
      correct = np.zeros(num_joints, bool)
    for j, score in guess['scores'].items():
      scores[j].append(score)
      labels[j].append(bool(correct[j]))
  return scores, labels, has_truth.sum(0)


def average_precision(scores: Sequence[float], labels: Sequence[bool], num_truth: float) -> float:
  """poseval's computeRPC and VOCap: 0 without predictions, NaN without true joints."""
  if len(scores) == 0:
    return 0.0
  order = np.asarray(scores, float).argsort()[::-1]
  hits = np.cumsum(np.asarray(labels, float)[order])
  with np.errstate(divide='ignore', invalid='ignore'):
    recall = hits / num_truth
  precision = hits / np.arange(1, len(order) + 1)
  mpre = np.concatenate([[0.0], precision, [0.0]])
  mrec = np.concatenate([[0.0], recall, [1.0]])
  mpre = np.maximum.accumulate(mpre[::-1])[::-1]
  steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
  return float(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps])) * 100.0


def evaluate(truth_dir: str, predictions_dir: str) -> dict[str, Any]:
  """mAP of the predictions in `predictions_dir` against every ground-truth file of
  `truth_dir` (same file names): {'mAP', 'per_joint': {joint: AP}, 'per_part': {column:
  AP}, 'num_videos', 'num_frames'}.

  Raises:
    FileNotFoundError: a video's prediction file is missing.
    ValueError: a file is malformed, or its frames differ from the ground truth's.
  """
  names = sorted(name for name in os.listdir(truth_dir) if name.endswith('.json'))
  if not names:
    raise FileNotFoundError(f'No .json files in {truth_dir}.')
  scores = [[] for _ in JOINTS]
  labels = [[] for _ in JOINTS]
  num_truth = np.zeros(len(JOINTS))
  num_frames = 0
  for name in names:
    prediction_path = os.path.join(predictions_dir, name)
    if not os.path.isfile(prediction_path):
      raise FileNotFoundError(f'No prediction file {prediction_path} for {name}.')
    truth = read_video(os.path.join(truth_dir, name), ground_truth=True)
    predicted = read_video(prediction_path, ground_truth=False)
    if [f['id'] for f in truth] != [f['id'] for f in predicted]:
      raise ValueError(
        f"{prediction_path}: its images (ids, in order) differ from the ground truth's "
        f'({len(predicted)} against {len(truth)} frames).'
      )
    for true_frame, predicted_frame in zip(truth, predicted, strict=True):
      if not true_frame['people']:
        continue
      people = _without_ignored(true_frame['people'], true_frame['ignore'])
      guesses = _without_ignored(predicted_frame['people'], true_frame['ignore'])
      frame_scores, frame_labels, frame_truth = match_frame(people, guesses)
      for j in range(len(JOINTS)):
        scores[j] += frame_scores[j]
        labels[j] += frame_labels[j]
      num_truth += frame_truth
      num_frames += 1
  per_joint = {
    joint: average_precision(scores[j], labels[j], num_truth[j]) for j, joint in enumerate(JOINTS)
  }
  values = np.array(list(per_joint.values()))
  total = float(np.mean(values[~np.isnan(values)]))
  per_part = {
    part: float(np.mean([per_joint[j] for j in joints])) for part, joints in PARTS.items()
  }
  return {
    'mAP': total,
    'per_joint': per_joint,
    'per_part': {**per_part, 'Total': total},
    'num_videos': len(names),
    'num_frames': num_frames,
  }


def table(results: dict[str, Any]) -> str:
  """The official table's header and row (LaTeX-style, as poseval prints them)."""
  columns = [*PARTS, 'Total']
  header = '&' + ' &'.join(f' {c:<4}' for c in columns) + '\\\\'
  row = '&' + ' &'.join(f'{results["per_part"][c]:>5.1f}' for c in columns) + ' \\\\'
  return f'{header}\n{row}'
