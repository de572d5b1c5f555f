"""Top-down pose inference on PoseTrack's videos, written as prediction files for
`tools/posetrack_eval.py` (the official mAP).

For every labelled frame of a PoseTrack 2018 annotation file and every person box in it,
the person is cut out as in training (`data/loaders/person_crops.py`: the box widened to
the crop's aspect ratio and by `box_scale`, no augmentation), the pose network's heatmaps
of the crop are decoded (the arg-max moved a quarter cell towards the higher neighbour,
the joint's score its heatmap maximum) and mapped back into the frame. With `aggregate`,
PoseWarper's temporal pose aggregation: the heatmaps of the same crop in frames t-2..t+2
are warped to frame t by the warping module and summed with weights 0.1, 0.25, 0.3, 0.25,
0.1 (`pose_hrnet_PoseAgg.py`; frames beyond the video's ends repeat its first or last).

The boxes are the annotation's own (`bbox`): the ground-truth boxes, an upper bound of
what a person detector gives; the paper's numbers use detections.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import cv2
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from PIL import Image

from vidjax import checkpoint, configs, heatmaps
from vidjax.data.loaders import person_crops

# PoseWarper's aggregation weights of frames t-2..t+2.
AGGREGATION_WEIGHTS = (0.1, 0.25, 0.3, 0.25, 0.1)


def load_posewarper(config: ml_collections.ConfigDict, workdir: str | None):
  """(model, variables) of a posewarper experiment: the latest checkpoint of `workdir`,
  else `config.init_from` (e.g. a converted HRNet, read with its rename and dont_load)."""
  model = configs.load_module('models', config.model_name).Model(**config.model)
  height, width = config.input.person_crop.size
  video = {'video': jnp.zeros((1, 2, height, width, 3), jnp.float32)}
  fresh = jax.jit(lambda: model.init(jax.random.key(0), video, train=False))()
  fresh = {k: v for k, v in fresh.items() if k in ('params', 'batch_stats')}
  directory = os.path.join(os.path.expanduser(workdir), 'checkpoints') if workdir else ''
  step = None
  if os.path.isdir(directory):
    checkpointer = checkpoint.Checkpointer(directory, max_to_keep=1)
    step = checkpointer.latest_step()
    checkpointer.close()
  if step is not None:
    return model, checkpoint.read_variables(os.path.join(directory, str(step)), fresh)
  if not config.init_from.path:
    raise FileNotFoundError(
      f'No checkpoint in {directory or "(no --workdir)"} and no config.init_from.path.'
    )
  return model, checkpoint.restore_variables(
    os.path.expanduser(config.init_from.path),
    fresh,
    dont_load=config.init_from.dont_load,
    rename=config.init_from.rename,
  )


def person_box(bbox, aspect: float, box_scale: float) -> tuple[np.ndarray, np.ndarray]:
  """(centre, size) in (x, y) pixels of an annotation box [x, y, w, h], widened to `aspect`
  and scaled by `box_scale`."""
  x, y, w, h = (float(v) for v in bbox)
  corners = np.array([[x, y], [x + w, y + h]])
  return person_crops.box_of(corners, aspect, box_scale)


class PosePredictor:
  """Keypoints and scores of person crops, in frame pixels; see the module docstring."""

  def __init__(self, config: ml_collections.ConfigDict, model, variables, *, aggregate: bool):
    self.size = tuple(config.input.person_crop.size)
    self.box_scale = config.input.person_crop.box_scale
    self.aggregate = aggregate
    task = configs.load_module('tasks', config.task).Task(**config.task_kwargs)
    stride, pp = task.stride, config.input.pp

    @jax.jit
    def predict(crops):  # [B, S, H, W, 3] uint8, S = 1 or 5 frames, the keyframe in the middle
      b, s = crops.shape[:2]
      maps = task.pose_heatmaps(model, variables, crops.reshape(-1, *crops.shape[2:]), pp)
      maps = maps.reshape(b, s, *maps.shape[1:])
      keyframe = maps[:, s // 2]
      if s > 1:
        weights = jnp.asarray(AGGREGATION_WEIGHTS, jnp.float32)
        warped = [task.warp(model, variables, keyframe, maps[:, i], maps[:, i]) for i in range(s)]
        keyframe = sum(w * m for w, m in zip(weights, warped, strict=True))
      points = heatmaps.decode(keyframe, stride)  # [B, K, 2] (y, x) crop pixels
      return points, jnp.max(keyframe, axis=(1, 2))

    self._predict = predict

  def crops(self, frames: list[np.ndarray], t: int, bbox) -> tuple[np.ndarray, np.ndarray]:
    """(crops uint8 [S, H, W, 3] of frame t (and its neighbours), frame -> crop matrix)."""
    aspect = self.size[1] / self.size[0]
    centre, box = person_box(bbox, aspect, self.box_scale)
    matrix = person_crops.crop_transform(centre, box, 0.0, self.size)
    span = range(t - 2, t + 3) if self.aggregate else (t,)
    chosen = [frames[min(max(i, 0), len(frames) - 1)] for i in span]
    crops = [cv2.warpAffine(f, matrix, self.size[::-1], flags=cv2.INTER_LINEAR) for f in chosen]
    return np.stack(crops), matrix

  def __call__(
    self, crops: np.ndarray, matrices: list[np.ndarray]
  ) -> tuple[np.ndarray, np.ndarray]:
    """(keypoints [B, K, 2] (x, y) frame pixels, scores [B, K]) of crops [B, S, H, W, 3]."""
    points, scores = (np.asarray(a) for a in self._predict(jnp.asarray(crops)))
    frame_points = [
      person_crops.warp_points(cv2.invertAffineTransform(m), p[:, ::-1])
      for m, p in zip(matrices, points, strict=True)
    ]
    return np.stack(frame_points), scores


def _people(content: dict) -> Iterator[tuple[int, int, dict]]:
  """(frame index, image id, annotation) of every person box in a labelled frame."""
  index_of = {image['id']: t for t, image in enumerate(content['images'])}
  labelled = {image['id'] for image in content['images'] if image.get('is_labeled', True)}
  for annotation in content['annotations']:
    if annotation.get('bbox') and annotation.get('image_id') in labelled:
      yield index_of[annotation['image_id']], annotation['image_id'], annotation


def predict_video(
  predictor: PosePredictor, root: str, annotation_path: str, batch_size: int
) -> dict[str, Any]:
  """The prediction file (PoseTrack 2018 format) of one annotation file's video."""
  with open(annotation_path, encoding='utf-8') as f:
    content = json.load(f)
  frames = []
  for image in content['images']:
    with Image.open(os.path.join(root, image['file_name'])) as frame:
      frames.append(np.asarray(frame.convert('RGB')))
  people = list(_people(content))
  annotations = []
  for start in range(0, len(people), batch_size):
    chunk = people[start : start + batch_size]
    cut = [predictor.crops(frames, t, annotation['bbox']) for t, _, annotation in chunk]
    padded = cut + [cut[-1]] * (batch_size - len(cut))  # one compiled batch shape
    points, scores = predictor(np.stack([c for c, _ in padded]), [m for _, m in padded])
    for (_, image_id, annotation), p, s in zip(chunk, points, scores, strict=False):
      keypoints = np.concatenate([p, np.ones((len(p), 1))], axis=1)
      annotations.append(
        {
          'image_id': image_id,
          'track_id': annotation.get('track_id', -1),
          'id': annotation.get('id'),
          'bbox': annotation['bbox'],
          'keypoints': keypoints.reshape(-1).round(2).tolist(),
          'scores': s.round(4).tolist(),
        }
      )
  return {
    'images': content['images'],
    'annotations': annotations,
    'categories': content.get('categories', []),
  }


def predict_posetrack(
  predictor: PosePredictor,
  root: str,
  split: str,
  out_dir: str,
  batch_size: int = 32,
  max_videos: int = 0,
) -> list[str]:
  """Writes `out_dir/<video>.json` for every annotation file of `root/annotations/split`;
  returns the files written."""
  folder = os.path.join(root, 'annotations', split)
  names = sorted(name for name in os.listdir(folder) if name.endswith('.json'))
  if max_videos:
    names = names[:max_videos]
  os.makedirs(out_dir, exist_ok=True)
  written = []
  for name in names:
    prediction = predict_video(predictor, root, os.path.join(folder, name), batch_size)
    path = os.path.join(out_dir, name)
    with open(path, 'w') as f:
      json.dump(prediction, f)
    written.append(path)
  return written
