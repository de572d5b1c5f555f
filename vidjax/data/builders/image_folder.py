"""`image_folder`: your own images in the ImageNet layout, for joint image/video training.

`manual_dir` holds `<split>/<class>/<image>.{jpg,jpeg,png}` (any case), e.g.
`train/n01440764/n01440764_10026.JPEG` and `val/n01440764/ILSVRC2012_val_00000293.JPEG`.
The splits are the folder names; the class names are sorted over all splits.

Features: `image` (the encoded JPEG/PNG bytes), `label`, `image_id` (the path relative to
manual_dir), `height`, `width`. With `short_side` 0 (config `default`) the files' bytes
are stored as they are; otherwise the image is resized to that short side (aspect kept)
and re-encoded as JPEG. Files that cannot be decoded (corrupt, truncated) are left out and
listed in the report.

Name your dataset with a config: `tools/prepare_dataset.py --dataset image_folder --config
my_images [--short_side 256]`, or in Python
`ImageFolder(config=ImageFolderConfig(name='my_images', short_side=256), ...)`; read it
as 'image_folder/my_images'.
"""

import dataclasses
import io
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from vidjax.data.builders import layout, video_common, worker_pool

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')
_LAYOUT = 'DIR/<split>/<class>/<image>.{jpg,jpeg,png}, with DIR the --manual_dir'
JPEG_QUALITY = 90


@dataclasses.dataclass(eq=False)
class ImageFolderConfig(tfds.core.BuilderConfig):
  """An image_folder config.

  Attributes:
    short_side: shorter side of the stored images in pixels; 0 keeps the files as they are.
  """

  short_side: int = 0


def _load_image(job: tuple[str, int]) -> tuple[bytes, int, int] | str:
  """`(encoded bytes, height, width)` of an image file, or the error if it cannot be read."""
  path, short_side = job
  try:
    with open(path, 'rb') as f:
      data = f.read()
    with Image.open(io.BytesIO(data)) as image:
      # Decodes all of it: a truncated file fails here, not when training.
      image.load()
      if not short_side:
        return data, image.height, image.width
      scale = short_side / min(image.height, image.width)
      height = max(1, round(image.height * scale))
      width = max(1, round(image.width * scale))
      resized = image.convert('RGB').resize((width, height), Image.Resampling.BICUBIC)
    encoded = io.BytesIO()
    resized.save(encoded, format='JPEG', quality=JPEG_QUALITY)
    return encoded.getvalue(), height, width
  except (OSError, ValueError, Image.DecompressionBombError) as e:
    return f'{type(e).__name__}: {e}'


class ImageFolder(video_common.ManualBuilder):
  """Your own images, `<split>/<class>/<image>` (see the module docstring)."""

  name = 'image_folder'
  BUILDER_CONFIGS = [
    ImageFolderConfig(name='default', description='The files as they are.', short_side=0),
    ImageFolderConfig(name='short256', description='Resized to short side 256.', short_side=256),
  ]
  DEFAULT_CONFIG_NAME = 'default'
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'Put in the manual_dir {_LAYOUT}.'
  USER_CONFIGS = True

  def _info(self) -> tfds.core.DatasetInfo:
    scalar = lambda dtype: tfds.features.Tensor(shape=(), dtype=dtype)
    features = {
      'image': scalar(np.object_),
      'label': tfds.features.ClassLabel(),
      'image_id': tfds.features.Text(),
      'height': scalar(np.int32),
      'width': scalar(np.int32),
    }
    return tfds.core.DatasetInfo(
      builder=self,
      description=(self.__doc__ or '').strip(),
      features=tfds.features.FeaturesDict(features),
      supervised_keys=('image', 'label'),
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    manual_dir = dl_manager.manual_dir
    tree = layout.sources_in_folders(manual_dir, IMAGE_EXTENSIONS)
    if not tree:
      raise FileNotFoundError(f'No images found in {manual_dir}; expected {_LAYOUT}')
    label_names = sorted({name for classes in tree.values() for name in classes})
    labels = {name: index for index, name in enumerate(label_names)}
    self.info.features['label'].names = label_names
    self._start_report(manual_dir)
    splits = {}
    for split, classes in tree.items():
      splits[split] = [
        video_common.Source(os.fspath(path.relative_to(manual_dir)), os.fspath(path), labels[name])
        for name, paths in classes.items()
        for path in paths
      ]
    return {split: self._generate_examples(split, sources) for split, sources in splits.items()}

  def _generate_examples(
    self, split: str, sources: list[video_common.Source]
  ) -> Iterator[tuple[str, dict[str, Any]]]:
    jobs = {(s.path, self.builder_config.short_side): s for s in sources}
    desc = f'{self.name}/{self.builder_config.name}/{split}: reading images'
    example_ids, left_out = [], []
    for job, result in worker_pool.parallel_map(
      _load_image, list(jobs), self._workers, desc, self._progress
    ):
      source = jobs[job]
      if isinstance(result, str):
        left_out.append({'example_id': source.example_id, 'path': source.path, 'error': result})
        continue
      data, height, width = result
      example_ids.append(source.example_id)
      yield (
        source.example_id,
        {
          'image': data,
          'label': source.label,
          'image_id': source.example_id,
          'height': height,
          'width': width,
        },
      )
    self._record_split(split, len(sources), example_ids, [], left_out)
