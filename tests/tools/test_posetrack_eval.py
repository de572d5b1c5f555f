"""vidjax/poseval.py (tools/posetrack_eval.py): PoseTrack mAP on hand-checked cases, the
official matching and AP rules, and errors naming the file."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from vidjax import poseval

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# PoseTrack 2018's keypoints, in its files' (COCO) order.
NAMES = (
  'nose', 'head_bottom', 'head_top', 'left_ear', 'right_ear', 'left_shoulder',
  'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip',
  'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
)  # fmt: skip
# A person's joints (x, y): a column of 17 points 10 pixels apart; the head box 20 x 20, so
# PCKh's threshold is 0.5 * 0.6 * sqrt(800) = 8.5 pixels.
POSE = np.stack([np.full(17, 100.0), 50.0 + 10 * np.arange(17)], axis=1)


def _person(image_id, pose, scores=None, track=0, head=True, present=None):
  present = np.ones(17, bool) if present is None else present
  keypoints = np.concatenate([np.where(present[:, None], pose, 0), present[:, None]], axis=1)
  person = {'image_id': image_id, 'track_id': track, 'id': image_id * 100 + track}
  person['keypoints'] = keypoints.reshape(-1).tolist()
  if scores is not None:
    person['scores'] = list(scores)
  if head:
    person['bbox_head'] = [90, 40, 20, 20]
  return person


def _write(directory, name, people, num_images=2, ignore=None):
  images = [{'id': i, 'file_name': f'images/val/{name}/{i:06d}.jpg'} for i in range(num_images)]
  if ignore:
    images[0].update(ignore_regions_x=[ignore[0]], ignore_regions_y=[ignore[1]])
  content = {
    'images': images,
    'annotations': people,
    'categories': [{'name': 'person', 'keypoints': list(NAMES)}],
  }
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, f'{name}.json'), 'w') as f:
    json.dump(content, f)


def test_perfect_predictions_score_100_and_unlabelled_frames_do_not_count(tmp_path):
  _write(tmp_path / 'gt', 'a', [_person(0, POSE)])
  # Image 1 has no ground truth: its prediction is left out, not a false positive.
  _write(tmp_path / 'pred', 'a', [_person(0, POSE + 3, np.ones(17)), _person(1, POSE, np.ones(17))])
  results = poseval.evaluate(str(tmp_path / 'gt'), str(tmp_path / 'pred'))
  assert results['mAP'] == pytest.approx(100.0) and results['num_frames'] == 1
  assert set(results['per_joint']) == set(poseval.JOINTS)  # the ears are not scored


def test_a_confident_wrong_pose_halves_the_ap():
  """Scores 0.95 for a pose 20 pixels off (a false positive) and 0.9 for the right one:
  sorted, FP then TP, precision 0 then 1/2 at recall 1: AP 50."""
  truth = [{'points': {j: (0.0, 10.0 * j) for j in range(15)}, 'head_size': 10.0}]
  wrong = {
    'points': {j: (20.0, 10.0 * j) for j in range(15)},
    'scores': dict.fromkeys(range(15), 0.95),
  }
  right = {
    'points': {j: (1.0, 10.0 * j) for j in range(15)},
    'scores': dict.fromkeys(range(15), 0.9),
  }
  scores, labels, num_truth = poseval.match_frame(truth, [wrong, right])
  assert labels[0] == [False, True] and list(num_truth) == [1] * 15
  assert poseval.average_precision(scores[0], labels[0], num_truth[0]) == pytest.approx(50.0)
  # Each true person keeps one prediction: a second right pose is a false positive too.
  scores, labels, _ = poseval.match_frame(truth, [right, right])
  assert labels[0] == [True, False]


def test_ap_rules_of_the_official_code():
  assert poseval.average_precision([], [], 3) == 0.0  # never predicted
  assert np.isnan(poseval.average_precision([0.5], [False], 0))  # never annotated
  # TP, FP, TP of 3 true joints: VOC's interpolated area 1/3 * 1 + 1/3 * 2/3.
  assert poseval.average_precision([0.9, 0.8, 0.7], [True, False, True], 3) == pytest.approx(
    100 * (1 / 3 + 2 / 9)
  )


def test_ignore_regions_remove_points_of_both(tmp_path):
  """A wrong prediction inside an ignore region costs nothing."""
  square = ([0, 60, 60, 0], [0, 0, 400, 400])
  _write(tmp_path / 'gt', 'a', [_person(0, POSE)], ignore=square)
  far = POSE.copy()
  far[:, 0] = 30  # every joint inside the region
  _write(
    tmp_path / 'pred',
    'a',
    [_person(0, POSE, np.ones(17)), _person(0, far, 2 * np.ones(17), track=1)],
  )
  assert poseval.evaluate(str(tmp_path / 'gt'), str(tmp_path / 'pred'))['mAP'] == pytest.approx(
    100.0
  )


def test_errors_name_the_file(tmp_path):
  _write(tmp_path / 'gt', 'a', [_person(0, POSE, head=False)])
  _write(tmp_path / 'pred', 'a', [_person(0, POSE, np.ones(17))])
  with pytest.raises(ValueError, match=r'a.json: annotation 0 has no bbox_head'):
    poseval.evaluate(str(tmp_path / 'gt'), str(tmp_path / 'pred'))
  _write(tmp_path / 'gt', 'a', [_person(0, POSE)])
  _write(tmp_path / 'pred', 'a', [_person(0, POSE, np.ones(17))], num_images=3)
  with pytest.raises(ValueError, match=r'pred/a.json: its images .* differ .*\(3 against 2'):
    poseval.evaluate(str(tmp_path / 'gt'), str(tmp_path / 'pred'))
  os.remove(tmp_path / 'pred' / 'a.json')
  result = subprocess.run(
    [
      sys.executable,
      'tools/posetrack_eval.py',
      f'--gt_dir={tmp_path / "gt"}',
      f'--pred_dir={tmp_path / "pred"}',
    ],
    cwd=REPO,
    capture_output=True,
    text=True,
  )
  assert result.returncode == 1 and 'No prediction file' in result.stderr


def test_the_tool_prints_the_table_and_writes_json(tmp_path):
  _write(tmp_path / 'gt', 'a', [_person(0, POSE)])
  _write(tmp_path / 'pred', 'a', [_person(0, POSE, np.ones(17))])
  out = tmp_path / 'results.json'
  result = subprocess.run(
    [
      sys.executable,
      'tools/posetrack_eval.py',
      f'--gt_dir={tmp_path / "gt"}',
      f'--pred_dir={tmp_path / "pred"}/',
      f'--json={out}',
    ],
    cwd=REPO,
    capture_output=True,
    text=True,
    check=True,
  )
  assert 'Head' in result.stdout and '100.0' in result.stdout
  assert json.loads(out.read_text())['per_part']['Total'] == pytest.approx(100.0)


def test_predictions_of_a_posewarper_run_score_with_the_evaluator(tmp_path):
  """tools/posetrack_predict.py's library on a two-video PoseTrack folder: one prediction
  per labelled person box, mapped back into the frames, in files the evaluator reads;
  with temporal aggregation too."""
  import jax
  import jax.numpy as jnp
  from PIL import Image

  from vidjax import checkpoint, configs, pose_inference

  root = tmp_path / 'posetrack_data'
  for name in ('a', 'b'):
    os.makedirs(root / 'images' / 'val' / name)
    for i in range(3):
      frame = np.random.default_rng(i).integers(0, 255, (240, 320, 3), dtype=np.uint8)
      Image.fromarray(frame).save(root / 'images' / 'val' / name / f'{i:06d}.jpg')
    person = dict(_person(1, POSE), bbox=[80, 40, 40, 180])
    _write(root / 'annotations' / 'val', name, [person], num_images=3)
  config = configs.load_config_file('experiments/posewarper/posetrack.py:smoke')
  config.model.num_keypoints = 17
  config.input.person_crop.num_keypoints = 17
  model = configs.load_module('models', config.model_name).Model(**config.model)
  video = {'video': jnp.zeros((1, 2, 32, 32, 3))}
  variables = jax.jit(lambda: model.init(jax.random.key(0), video, train=False))()
  checkpoint.save_variables(str(tmp_path / 'weights'), variables)
  config.init_from.update(path=str(tmp_path / 'weights'), rename=(), dont_load=())
  model, variables = pose_inference.load_posewarper(config, None)
  for aggregate in (False, True):
    predictor = pose_inference.PosePredictor(config, model, variables, aggregate=aggregate)
    crops, matrix = predictor.crops([np.zeros((240, 320, 3), np.uint8)] * 3, 1, [80, 40, 40, 180])
    assert crops.shape == ((5 if aggregate else 1), 32, 32, 3)
    # The crop's centre is the box's.
    np.testing.assert_allclose(
      pose_inference.person_crops.warp_points(matrix, np.array([[100.0, 130.0]])),
      [[16.0, 16.0]],
      atol=1e-4,
    )
    out = tmp_path / f'predictions_{aggregate}'
    written = pose_inference.predict_posetrack(predictor, str(root), 'val', str(out), batch_size=4)
    assert [os.path.basename(p) for p in written] == ['a.json', 'b.json']
    content = json.loads((out / 'a.json').read_text())
    assert len(content['annotations']) == 1 and len(content['annotations'][0]['scores']) == 17
    points = np.asarray(content['annotations'][0]['keypoints']).reshape(17, 3)
    # Every joint decodes inside the person's crop box, mapped back into the frame.
    centre, size = pose_inference.person_box([80, 40, 40, 180], 1.0, 1.25)
    assert np.all(np.abs(points[:, :2] - centre) <= size / 2 + 1e-3)
    results = poseval.evaluate(str(root / 'annotations' / 'val'), str(out))
    assert 0.0 <= results['mAP'] <= 100.0 and results['num_frames'] == 2
