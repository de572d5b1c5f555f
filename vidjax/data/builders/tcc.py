"""`tcc`: the phase-labelled videos of temporal cycle-consistency (Pouring, Penn Action).

`manual_dir` holds the TFRecords in google-research `tcc/`'s format, as its
`dataset_preparation` scripts write them and as the Pouring release ships:

  <dataset>_train-0-of-2.tfrecord, ..., <dataset>_val-*.tfrecord, <dataset>_test-*.tfrecord

each record a `tf.train.SequenceExample`: context `name` (bytes), `len` (int64) and
optionally `label`; feature lists `video` (one JPEG per frame) and `frame_labels` (the
phase of each frame). They are read without TensorFlow (`vidjax/tfrecord.py`).

Configs are TCC's datasets, `pouring` (5 phases; splits train 70, val 14, test 32) and the
13 Penn Action actions (`baseball_pitch` ... `tennis_serve`, 2-6 phases; train and val).
Penn Action's phase labels were never released (google-research issues 63, 65, 116): make
the records of your own labels with TCC's `dataset_preparation/images_to_tfrecords.py`.
Splits are those present in `manual_dir`.

One example per video ('video_id': its `name`): its frames encoded as an H.264 mp4 at
`fps` (the records carry no frame rate; TCC's samplers and context strides count frames,
so it only sets the mp4's time base), `frame_phase` int64 [T] (the records' frame labels),
and the video features every dataset has. The clip loader reads them as any video (the
`tcc` sampler trains on them), and the `alignment` evaluator takes `source='tcc/<config>'`.
A video whose record is malformed, has no frames, a JPEG that does not decode, frames of
different sizes or a frame-label count unlike its frame count is left out and reported
with the file, the record's index and the reason.

  python tools/prepare_dataset.py --dataset tcc --config pouring \
      --manual_dir ~/data/tcc/pouring --data_dir ~/tensorflow_datasets
"""

from __future__ import annotations

import dataclasses
import glob
import io
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from vidjax import tfrecord
from vidjax.data import decode, encode
from vidjax.data.builders import video_common, worker_pool

SPLITS = ('train', 'val', 'test')


@dataclasses.dataclass(eq=False)
class TccConfig(tfds.core.BuilderConfig):
  """Attributes: num_phases: the dataset's phase count (tcc/dataset_splits.py); fps: the
  frame rate of the encoded videos."""

  num_phases: int = 2
  fps: float = 30.0


# tcc/dataset_splits.py: DATASET_TO_NUM_CLASSES.
NUM_PHASES = {
  'pouring': 5,
  'baseball_pitch': 4,
  'baseball_swing': 3,
  'bench_press': 2,
  'bowling': 3,
  'clean_and_jerk': 6,
  'golf_swing': 3,
  'jumping_jacks': 4,
  'pushups': 2,
  'pullups': 2,
  'situp': 2,
  'squats': 4,
  'tennis_forehand': 3,
  'tennis_serve': 4,
}


def shards(root: str, dataset: str, split: str) -> list[str]:
  """The split's TFRecord files, sorted."""
  return sorted(glob.glob(os.path.join(root, f'{dataset}_{split}*.tfrecord')))


def _even(frames: np.ndarray) -> np.ndarray:
  """Frames cropped to an even height and width (H.264's 4:2:0 chroma needs them)."""
  height, width = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
  return frames[:, :height, :width]


def load_video(job: tuple[str, int, bytes, float]) -> dict[str, Any] | str:
  """(file, record index, record, fps) -> the example, or why it cannot be one."""
  path, index, record, fps = job
  where = f'{path}: record {index}'
  try:
    context, steps = tfrecord.parse_sequence_example(record)
  except ValueError as error:
    return f'ValueError: {where}: not a SequenceExample ({error}).'
  name = context.get('name') or [f'{os.path.basename(path)}_{index}'.encode()]
  jpegs = [step[0] for step in steps.get('video', []) if len(step)]
  if not jpegs:
    return f'ValueError: {where} ({name[0].decode()}): no video frames.'
  try:
    frames = []
    for t, data in enumerate(jpegs):
      with Image.open(io.BytesIO(data)) as image:
        frames.append(np.asarray(image.convert('RGB')))
      if frames[-1].shape != frames[0].shape:
        raise ValueError(f'frame {t} is {frames[-1].shape}, frame 0 {frames[0].shape}')
  except (OSError, ValueError) as error:
    return f'{type(error).__name__}: {where} ({name[0].decode()}): {error}'
  labels = steps.get('frame_labels')
  phases = np.asarray([step[0] for step in labels] if labels else [], np.int64)
  if len(phases) != len(frames):
    return (
      f'ValueError: {where} ({name[0].decode()}): {len(phases)} frame labels for '
      f'{len(frames)} frames.'
    )
  video = _even(np.stack(frames))
  try:
    data = encode.encode_video(video, fps)
  except decode.DecodeError as error:
    return f'DecodeError: {where}: {error}'
  return {
    'video_id': name[0].decode(),
    'video': data,
    'label': 0,
    'num_frames': len(video),
    'fps': fps,
    'has_audio': False,
    'audio_pcm': b'',
    'height': video.shape[1],
    'width': video.shape[2],
    'frame_phase': phases,
  }


class Tcc(video_common.ManualBuilder):
  """TCC's phase-labelled videos from its TFRecords."""

  name = 'tcc'
  BUILDER_CONFIGS = [
    TccConfig(name=dataset, description=f"TCC's {dataset} records.", num_phases=phases)
    for dataset, phases in NUM_PHASES.items()
  ]
  DEFAULT_CONFIG_NAME = 'pouring'
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
    "Put the dataset's TFRecords (<dataset>_<split>-*.tfrecord, google-research tcc's "
    'format) in the manual_dir.'
  )
  HOMEPAGE = 'https://github.com/google-research/google-research/tree/master/tcc'

  def _info(self) -> tfds.core.DatasetInfo:
    features = video_common.video_features()
    features['label'] = tfds.features.ClassLabel(names=[self.builder_config.name])
    features['frame_phase'] = tfds.features.Tensor(shape=(None,), dtype=np.int64)
    return tfds.core.DatasetInfo(
      builder=self,
      description=__doc__.split('\n\n')[0],
      features=tfds.features.FeaturesDict(features),
      homepage=self.HOMEPAGE,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root, dataset = os.fspath(dl_manager.manual_dir), self.builder_config.name
    present = [split for split in SPLITS if shards(root, dataset, split)]
    if not present:
      raise FileNotFoundError(
        f'No {dataset}_{{train,val,test}}*.tfrecord files in {root}: '
        f'{self.MANUAL_DOWNLOAD_INSTRUCTIONS}'
      )
    self._start_report(dl_manager.manual_dir)
    return {split: self._generate_examples(root, split) for split in present}

  def _jobs(self, root: str, split: str) -> Iterator[tuple[str, int, bytes, float]]:
    for path in shards(root, self.builder_config.name, split):
      for index, record in enumerate(tfrecord.read_records(path)):
        yield path, index, record, self.builder_config.fps

  def _generate_examples(self, root: str, split: str) -> Iterator[tuple[str, dict[str, Any]]]:
    jobs = list(self._jobs(root, split))  # a misframed file stops the build, naming it
    desc = f'{self.name}/{self.builder_config.name}/{split}: encoding videos'
    example_ids, left_out = [], []
    for (path, index, _, _), result in worker_pool.parallel_map(
      load_video, jobs, self._workers, desc, self._progress
    ):
      if isinstance(result, str):
        left_out.append(
          {'example_id': f'{os.path.basename(path)}:{index}', 'path': path, 'error': result}
        )
        continue
      if result['video_id'] in example_ids:
        left_out.append(
          {
            'example_id': result['video_id'],
            'path': path,
            'error': f'ValueError: {path}: record '
            f'{index}: a second video named {result["video_id"]!r}.',
          }
        )
        continue
      example_ids.append(result['video_id'])
      yield result['video_id'], result
    self._record_split(split, len(jobs), example_ids, [], left_out)
