"""`posetrack`: PoseTrack 2018 (and 2017 in its 2018 format), every frame and every pose.

`manual_dir` is the release's `posetrack_data` folder (https://posetrack.net):

  images/{train,val}/<video>/000000.jpg, ...
  annotations/{train,val}/<video>.json     one file per video, the official format:
      images:      [{id, file_name: 'images/val/<video>/000000.jpg', is_labeled, ...}]
      annotations: [{image_id, track_id, keypoints: [x, y, v] * 17, bbox: [x, y, w, h]}]
      categories:  [{keypoints: the 17 joint names, skeleton}]

Config `2018`; splits 'train' and 'val' (those whose annotation folder has files). One
example per video ('video_id': the file's stem): its frames as the JPEG bytes of the
release in the order of their file names, and per person track (`track_ids` [N]) the
keypoints of every frame, float32 [N, T, 17, 2] ((y, x) pixels, as given), their
visibility [N, T, 17] (v > 0 in a labelled frame), the person boxes [N, T, 4] ((y1, x1,
y2, x2) pixels; zeros where the track has none), and `labelled_frames` [T] (`is_labeled`:
training videos label 30 frames at their centre, validation videos also every fourth
frame). The `sequence` loader reads an example whole.

A malformed annotation file is an error that names the file and what is wrong (the line
and column of a JSON syntax error, the id of a bad annotation); a video whose frames are
missing or unreadable is left out and reported with the reason.

  python tools/prepare_dataset.py --dataset posetrack \
      --manual_dir ~/data/posetrack_data --data_dir ~/tensorflow_datasets
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from vidjax.data.builders import video_common, worker_pool

SPLITS = ('train', 'val')
NUM_JOINTS = 17


def read_annotations(path: str) -> dict[str, Any]:
  """A video's annotation file, checked: frame names in order, and per track the keypoints,
  visibility and boxes of every frame."""
  try:
    with open(path, encoding='utf-8') as f:
      content = json.load(f)
  except json.JSONDecodeError as error:
    raise ValueError(
      f'{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}).'
    ) from None
  for key in ('images', 'annotations'):
    if not isinstance(content.get(key), list):
      raise ValueError(f'{path}: no {key!r} list; expected the PoseTrack 2018 format.')
  images = sorted(content['images'], key=lambda image: image['file_name'])
  frame_of = {image['id']: t for t, image in enumerate(images)}
  tracks = sorted({annotation.get('track_id', -1) for annotation in content['annotations']})
  num_frames = len(images)
  keypoints = np.zeros((len(tracks), num_frames, NUM_JOINTS, 2), np.float32)
  visible = np.zeros((len(tracks), num_frames, NUM_JOINTS), bool)
  boxes = np.zeros((len(tracks), num_frames, 4), np.float32)
  labelled = np.array([bool(image.get('is_labeled', False)) for image in images])
  for annotation in content['annotations']:
    where = f'{path}: annotation {annotation.get("id")!r}'
    if annotation.get('image_id') not in frame_of:
      raise ValueError(f'{where} names image {annotation.get("image_id")!r}, not in its images.')
    points = annotation.get('keypoints') or []
    if len(points) not in (0, 3 * NUM_JOINTS):
      raise ValueError(f'{where} has {len(points)} keypoint values; expected {3 * NUM_JOINTS}.')
    n, t = tracks.index(annotation.get('track_id', -1)), frame_of[annotation['image_id']]
    if points:
      xyv = np.asarray(points, np.float32).reshape(NUM_JOINTS, 3)
      keypoints[n, t] = xyv[:, [1, 0]]
      visible[n, t] = (xyv[:, 2] > 0) & labelled[t]
    if annotation.get('bbox'):
      x, y, w, h = annotation['bbox']
      boxes[n, t] = (y, x, y + h, x + w)
  return {
    'file_names': [image['file_name'] for image in images],
    'track_ids': np.asarray(tracks, np.int64),
    'keypoints': keypoints,
    'keypoint_visible': visible,
    'boxes': boxes,
    'labelled_frames': labelled,
  }


def load_video(job: tuple[str, str]) -> dict[str, Any] | str:
  """(posetrack_data folder, annotation file) -> the example, or why it cannot be one."""
  root, annotation_path = job
  annotations = read_annotations(annotation_path)  # malformed annotations stop the build
  frames, size = [], None
  for name in annotations.pop('file_names'):
    path = os.path.join(root, name)
    try:
      with Image.open(path) as image:
        image.load()
        size = size or image.size
        if image.size != size:
          return f'ValueError: {path} is {image.size[0]}x{image.size[1]}, the first frame {size}.'
      with open(path, 'rb') as f:
        frames.append(f.read())
    except (OSError, ValueError) as error:
      return f'{type(error).__name__}: {path}: {error}'
  if not frames:
    return f'ValueError: {annotation_path} lists no images.'
  return {
    'video_id': os.path.splitext(os.path.basename(annotation_path))[0],
    'frames': np.array(frames, dtype=object),
    'num_frames': len(frames),
    'width': size[0],
    'height': size[1],
    **annotations,
  }


def _listing(root: str, split: str) -> list[str]:
  folder = os.path.join(root, 'annotations', split)
  return os.listdir(folder) if os.path.isdir(folder) else []


class PoseTrack(video_common.ManualBuilder):
  """PoseTrack 2018: video frames and the tracked 17-joint poses of their people."""

  name = 'posetrack'
  BUILDER_CONFIGS = [tfds.core.BuilderConfig(name='2018', description='PoseTrack 2018.')]
  DEFAULT_CONFIG_NAME = '2018'
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
    "Put the release's posetrack_data folder (images/, annotations/{train,val}/) in the manual_dir."
  )
  HOMEPAGE = 'https://posetrack.net'

  def _info(self) -> tfds.core.DatasetInfo:
    scalar = lambda dtype: tfds.features.Tensor(shape=(), dtype=dtype)  # noqa: E731

    def per_track(shape, dtype):  # [tracks, frames, ...]: tfds stores these zlib-encoded
      return tfds.features.Tensor(shape=shape, dtype=dtype, encoding=tfds.features.Encoding.ZLIB)

    features = {
      'video_id': tfds.features.Text(),
      'frames': tfds.features.Tensor(shape=(None,), dtype=np.object_),
      'num_frames': scalar(np.int32),
      'height': scalar(np.int32),
      'width': scalar(np.int32),
      'track_ids': tfds.features.Tensor(shape=(None,), dtype=np.int64),
      'keypoints': per_track((None, None, NUM_JOINTS, 2), np.float32),
      'keypoint_visible': per_track((None, None, NUM_JOINTS), np.bool_),
      'boxes': per_track((None, None, 4), np.float32),
      'labelled_frames': tfds.features.Tensor(shape=(None,), dtype=np.bool_),
    }
    return tfds.core.DatasetInfo(
      builder=self,
      description=__doc__.split('\n\n')[0],
      features=tfds.features.FeaturesDict(features),
      homepage=self.HOMEPAGE,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root = os.fspath(dl_manager.manual_dir)
    present = [
      split for split in SPLITS if any(name.endswith('.json') for name in _listing(root, split))
    ]
    if not present:
      raise FileNotFoundError(
        f'No annotation files in {os.path.join(root, "annotations", "{train,val}")}: '
        f'{self.MANUAL_DOWNLOAD_INSTRUCTIONS}'
      )
    self._start_report(dl_manager.manual_dir)
    return {split: self._generate_examples(root, split) for split in present}

  def _generate_examples(self, root: str, split: str) -> Iterator[tuple[str, dict[str, Any]]]:
    folder = os.path.join(root, 'annotations', split)
    names = sorted(name for name in _listing(root, split) if name.endswith('.json'))
    jobs = [(root, os.path.join(folder, name)) for name in names]
    desc = f'{self.name}/{split}: reading videos'
    example_ids, left_out = [], []
    for (_, path), result in worker_pool.parallel_map(
      load_video, jobs, self._workers, desc, self._progress
    ):
      video_id = os.path.splitext(os.path.basename(path))[0]
      if isinstance(result, str):
        left_out.append({'example_id': video_id, 'path': path, 'error': result})
        continue
      example_ids.append(video_id)
      yield video_id, result
    self._record_split(split, len(names), example_ids, [], left_out)
