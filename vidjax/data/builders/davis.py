"""`davis`: DAVIS-2017 semi-supervised video object segmentation, every frame and its masks.

`manual_dir` is the DAVIS folder as the official downloads extract
(https://davischallenge.org/davis2017/code.html, `DAVIS-2017-trainval-480p.zip` or the
Full-Resolution one), `vidjax.data.davis` reads it:

  JPEGImages/480p/<sequence>/00000.jpg, ...
  Annotations/480p/<sequence>/00000.png, ...      indexed PNGs: 0 background, 1..N objects
  ImageSets/2017/{train,val}.txt                  one sequence a line

Configs `480p` and `full_resolution`; splits 'train' (60 sequences) and 'val' (30). One
example per sequence ('video_id' its name): its frames as the JPEG bytes of the download,
untouched, so that a method sees exactly the pixels the official evaluation's users see;
its masks as uint8 labels [T, H, W], lossless (zlib); the frame names, the size and the
number of objects (those of the first frame). The `sequence` loader reads an example whole
(`vidjax/data/loaders/sequence.py`), and the `label_propagation` evaluator takes
`source='davis/480p'`.

A sequence listed in ImageSets without its frames is reported missing; one with an
unreadable JPEG, a missing annotation or an object id the first frame lacks is left out,
with the reason, in the validation report (tools/prepare_dataset.py prints where). The
test-dev and test-challenge sets are not built: they annotate only the first frame.

  python tools/prepare_dataset.py --dataset davis --config 480p \
      --manual_dir ~/data/DAVIS --data_dir ~/tensorflow_datasets
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from vidjax.data import davis
from vidjax.data.builders import video_common, worker_pool

SPLITS = ('train', 'val')


@dataclasses.dataclass(eq=False)
class DavisConfig(tfds.core.BuilderConfig):
  """Attributes: resolution: the DAVIS folder's resolution ('480p' or 'Full-Resolution')."""

  resolution: str = '480p'


def load_sequence(job: tuple[str, str, str]) -> dict[str, Any] | str:
  """(DAVIS root, resolution, sequence) -> the example, or the reason it cannot be one."""
  root, resolution, sequence = job
  try:
    frame_ids, labels = davis.annotations(root, sequence, resolution)
    frames = davis.read_frames(root, sequence, resolution)  # every JPEG decodes
  except (OSError, ValueError) as error:
    return f'{type(error).__name__}: {error}'
  if frames.shape[1:3] != labels.shape[1:]:
    return (
      f'ValueError: {sequence}: frames of {frames.shape[2]}x{frames.shape[1]} pixels, '
      f'annotations of {labels.shape[2]}x{labels.shape[1]}.'
    )
  folder = os.path.join(root, 'JPEGImages', resolution, sequence)
  encoded = []
  for frame in frame_ids:
    with open(os.path.join(folder, f'{frame}.jpg'), 'rb') as f:
      encoded.append(f.read())
  first = labels[0]
  return {
    'video_id': sequence,
    'frames': np.array(encoded, dtype=object),
    'frame_ids': np.array(frame_ids, dtype=object),
    'masks': labels,
    'num_frames': len(frame_ids),
    'height': labels.shape[1],
    'width': labels.shape[2],
    'num_objects': int(np.max(np.where(first == davis.VOID, 0, first))),
  }


class Davis(video_common.ManualBuilder):
  """DAVIS-2017 train and val: frames and per-object masks of every frame."""

  name = 'davis'
  BUILDER_CONFIGS = [
    DavisConfig(name='480p', description='The 480p release.', resolution='480p'),
    DavisConfig(
      name='full_resolution',
      description='The full-resolution release.',
      resolution='Full-Resolution',
    ),
  ]
  DEFAULT_CONFIG_NAME = '480p'
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
    'Put the DAVIS-2017 folder (JPEGImages, Annotations, ImageSets) in the manual_dir.'
  )
  HOMEPAGE = 'https://davischallenge.org/davis2017/code.html'
  CITATION = (
    '@article{pont2017davis, title={The 2017 DAVIS Challenge on Video Object Segmentation}, '
    "author={Pont-Tuset, Jordi and Perazzi, Federico and Caelles, Sergi and Arbel{\\'a}ez, "
    'Pablo and Sorkine-Hornung, Alex and Van Gool, Luc}, journal={arXiv:1704.00675}, year={2017}}'
  )

  def _info(self) -> tfds.core.DatasetInfo:
    scalar = lambda dtype: tfds.features.Tensor(shape=(), dtype=dtype)  # noqa: E731
    features = {
      'video_id': tfds.features.Text(),
      'frames': tfds.features.Tensor(shape=(None,), dtype=np.object_),
      'frame_ids': tfds.features.Tensor(shape=(None,), dtype=np.object_),
      'masks': tfds.features.Tensor(
        shape=(None, None, None), dtype=np.uint8, encoding=tfds.features.Encoding.ZLIB
      ),
      'num_frames': scalar(np.int32),
      'height': scalar(np.int32),
      'width': scalar(np.int32),
      'num_objects': scalar(np.int32),
    }
    return tfds.core.DatasetInfo(
      builder=self,
      description=__doc__.split('\n\n')[0],
      features=tfds.features.FeaturesDict(features),
      homepage=self.HOMEPAGE,
      citation=self.CITATION,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root = os.fspath(dl_manager.manual_dir)
    self._start_report(dl_manager.manual_dir)
    return {split: self._generate_examples(root, split) for split in SPLITS}

  def _generate_examples(self, root: str, split: str) -> Iterator[tuple[str, dict[str, Any]]]:
    resolution = self.builder_config.resolution
    listed = davis.sequences(root, split)
    present, missing = [], []
    for sequence in listed:
      folder = os.path.join(root, 'JPEGImages', resolution, sequence)
      if os.path.isdir(folder):
        present.append(sequence)
      else:
        missing.append({'example_id': sequence, 'path': folder})
    jobs = [(root, resolution, sequence) for sequence in present]
    desc = f'{self.name}/{self.builder_config.name}/{split}: reading sequences'
    example_ids, left_out = [], []
    for (_, _, sequence), result in worker_pool.parallel_map(
      load_sequence, jobs, self._workers, desc, self._progress
    ):
      if isinstance(result, str):
        left_out.append({'example_id': sequence, 'path': sequence, 'error': result})
        continue
      example_ids.append(sequence)
      yield sequence, result
    self._record_split(split, len(listed), example_ids, missing, left_out)
