"""`tools/benchmark.py --mode=poseval`: vidjax/poseval.py against the official `poseval`.

Both score the same generated PoseTrack 2018 files (`write_files`): per video, frames with
1-4 people of 17 keypoints, some unannotated (stored as (0, 0), invisible), a head box
each, every other frame unlabelled (nobody in its ground truth, predictions all the
same), ignore regions over some frames; predictions of most people, their joints moved a
little or far, joints left out, false people, continuous scores (ties are measure-zero
cases where the two may differ; vidjax/poseval.py's docstring). Reported: the largest
difference of any joint's AP and of the total, and the seconds of each (best of
`rounds`, both in this process) with their ratio.

The official code is not part of vidjax: `--official_poseval DIR` names a checkout of
https://github.com/leonid-pishchulin/poseval (its `poseval/` package; it needs `shapely`
and `click`: `pip install shapely click`).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import tempfile

import numpy as np
import timing

from vidjax import poseval

# PoseTrack 2018's keypoints, in its files' (COCO) order.
KEYPOINTS = (
  'nose', 'head_bottom', 'head_top', 'left_ear', 'right_ear', 'left_shoulder',
  'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip',
  'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
)  # fmt: skip
FRAMES = 8


def _person(image_id, track, points, scale, present, scores=None):
  points = np.where(present[:, None], points, 0.0)
  keypoints = np.concatenate([points, present[:, None]], axis=1).round(2)
  head = points[2] - scale / 2  # a head box around the head top
  person = {
    'image_id': image_id,
    'track_id': track,
    'id': image_id * 100 + track,
    'keypoints': keypoints.reshape(-1).tolist(),
    'bbox_head': [*head.round(2).tolist(), scale, scale],
  }
  if scores is not None:
    person['scores'] = scores.tolist()
  return person


def _video(rng, index: int) -> tuple[dict, dict]:
  """A video's ground truth and predictions, PoseTrack 2018's format."""
  name = f'{index:06d}_mpii_test'
  images, truth, predicted = [], [], []
  for frame in range(FRAMES):
    image_id = 10000 * index + frame
    image = {'id': image_id, 'file_name': f'images/val/{name}/{frame:06d}.jpg'}
    if frame % 4 == 1:  # an ignore region over the left part of the frame
      # (its edge off the 2-decimal grid of the points: a point on an edge is a tie)
      image.update(ignore_regions_x=[[0, 120.005, 120.005, 0]], ignore_regions_y=[[0, 0, 400, 400]])
    images.append(image)
    labelled = frame % 2 == 0
    for track in range(rng.integers(1, 5)):
      scale = rng.uniform(15, 40)
      points = rng.uniform(50, 350, 2) + rng.normal(0, 2, (17, 2)) * scale
      if labelled:
        truth.append(_person(image_id, track, points, scale, rng.random(17) > 0.15))
      if rng.random() < 0.85:  # a prediction of this person: its joints near, or some far off
        error = rng.choice([0.1, 0.6], size=(17, 1)) * scale
        guess = points + rng.normal(0, 1, (17, 2)) * error
        predicted.append(
          _person(image_id, track, guess, scale, rng.random(17) > 0.1, rng.random(17))
        )
    for track in range(5, 5 + rng.integers(0, 2)):  # false people
      scale = rng.uniform(15, 40)
      points = rng.uniform(50, 350, 2) + rng.normal(0, 2, (17, 2)) * scale
      predicted.append(_person(image_id, track, points, scale, np.ones(17, bool), rng.random(17)))
  categories = [{'name': 'person', 'keypoints': list(KEYPOINTS)}]
  return (
    {'images': images, 'annotations': truth, 'categories': categories},
    {'images': images, 'annotations': predicted, 'categories': categories},
  )


def write_files(directory: str, videos: int, seed: int = 0) -> tuple[str, str]:
  """(ground-truth folder, predictions folder) of `videos` generated videos."""
  rng = np.random.default_rng(seed)
  folders = tuple(os.path.join(directory, name) + os.sep for name in ('gt', 'pred'))
  for folder in folders:
    os.makedirs(folder, exist_ok=True)
  for index in range(videos):
    for folder, content in zip(folders, _video(rng, index), strict=True):
      with open(os.path.join(folder, f'{index:06d}_mpii_test.json'), 'w') as f:
        json.dump(content, f)
  return folders


def _official(directory: str):
  """The official (load_data_dir, evaluateAP) of the checkout in `directory`."""
  if not os.path.isfile(os.path.join(directory, 'poseval', 'evaluateAP.py')):
    raise FileNotFoundError(
      f'--official_poseval={directory}: no poseval/evaluateAP.py there; point it at a '
      'checkout of github.com/leonid-pishchulin/poseval.'
    )
  sys.path.insert(0, directory)
  helpers = importlib.import_module('poseval.eval_helpers')
  return helpers.load_data_dir, importlib.import_module('poseval.evaluateAP').evaluateAP


def poseval_benchmark(official_dir: str, videos: int, rounds: int) -> dict:
  load_data_dir, evaluate_ap = _official(official_dir)
  with tempfile.TemporaryDirectory() as directory:
    truth, predictions = write_files(directory, videos)

    def official():
      with contextlib.redirect_stdout(io.StringIO()):
        frames = load_data_dir(['', truth, predictions])
        return evaluate_ap(*frames, directory, bSaveAll=False)[0][:, 0]

    ours_seconds, ours = timing.best_seconds(lambda: poseval.evaluate(truth, predictions), rounds)
    official_seconds, theirs = timing.best_seconds(official, rounds)
  differences = [
    abs(ours['per_joint'][joint] - theirs[j])
    for j, joint in enumerate(poseval.JOINTS)
    if not np.isnan(theirs[j])
  ]
  return {
    'mode': 'poseval',
    'videos': videos,
    'labelled_frames': ours['num_frames'],
    'joints_compared': len(differences),
    'max_joint_ap_difference': max(differences),
    'total_ap_difference': abs(ours['mAP'] - theirs[len(poseval.JOINTS)]),
    'vidjax_total_ap': round(ours['mAP'], 4),
    'vidjax_seconds': round(ours_seconds, 2),
    'official_seconds': round(official_seconds, 2),
    'speedup': round(official_seconds / ours_seconds, 2),
    'rounds': rounds,
  }
