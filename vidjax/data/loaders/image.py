"""The `image` loader: an encoded image record (JPEG or PNG bytes, as `image_folder` and
the synthetic `images` config store them) -> one cropped image.

Training: the `clip` loader's crop (`pp.train_crop`) of the image as a one-frame clip,
and a flip with probability 1/2 when `pp.flip`; evaluation: the short side resized to
`pp.resize_short_side` (0 keeps it) and the centre crop. An image that cannot be decoded
is replaced by the next one in training and masked out at evaluation, like a video.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import ml_collections
import numpy as np
import PIL
from PIL import Image

from vidjax.data import loaders, sampling
from vidjax.data.loaders import clip

TRAIN_CROPS = clip.TRAIN_CROPS


def input_shapes(input_config: ml_collections.ConfigDict) -> dict[str, tuple[int, ...]]:
  size = input_config.pp.crop_size
  return {'image': (size, size, 3)}


def check_train_config(input_config: ml_collections.ConfigDict) -> None:
  for modality in ('flow', 'audio'):
    if input_config[modality].enabled:
      raise ValueError(
        f"config.input.{modality}.enabled: images have no {modality}; with loader='image' "
        'switch it off.'
      )
  if input_config.pp.train_crop not in TRAIN_CROPS:
    raise ValueError(
      f'config.input.pp.train_crop={input_config.pp.train_crop!r}; choose one of {TRAIN_CROPS}.'
    )


def decode_image(data: bytes) -> np.ndarray:
  """Encoded bytes -> uint8 [H, W, 3]; ValueError when they are not an image."""
  try:
    with Image.open(io.BytesIO(data)) as image:
      return np.asarray(image.convert('RGB'))
  except (PIL.UnidentifiedImageError, OSError) as e:
    raise ValueError(f'not a decodable image: {e}') from None


class Loader:
  """Reads and crops images; see the module docstring."""

  rejected_samples_kept = 0  # no sampler, nothing rejected

  def __init__(self, dataset, input_config: ml_collections.ConfigDict):
    self._pp = input_config.pp
    self._has_label = bool(dataset.label_names)
    self._reader = loaders.RecordReader(dataset.source, 'image', 'image_id', (ValueError,))

  def _decode(self, index: int, *, substitute: bool) -> tuple[Mapping, np.ndarray]:
    return self._reader.read(index, lambda r: decode_image(r['image']), substitute=substitute)

  @property
  def decode_failures(self) -> int:
    return self._reader.decode_failures

  def train_example(self, index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One random crop (and flip) of image `index`: image uint8 [h, w, 3], label."""
    record, image = self._decode(index, substitute=True)
    crop = clip.train_crop(image.shape[0], image.shape[1], rng, self._pp)
    return {'image': crop.frames(image), **clip.label_of(record)}

  def eval_example(self, index: int, num_clips: int, num_crops: int) -> dict[str, np.ndarray]:
    """The centre crop of image `index`, 'index', 'mask' and 'decode_failed'."""
    if (num_clips, num_crops) != (1, 1):
      raise ValueError(
        f'An image has one view; evaluate images with num_clips=1 and num_crops=1, not '
        f'{num_clips} and {num_crops}.'
      )
    try:
      record, image = self._decode(index, substitute=False)
    except ValueError:
      return dict(self.empty_example(1), index=np.int32(index), decode_failed=np.bool_(True))
    size = self._pp.crop_size
    image = clip.resize_short_side(image[None], self._pp.resize_short_side)[0]
    ((y, x),) = sampling.multi_crops(image.shape[0], image.shape[1], size, 1)
    return {
      'image': np.ascontiguousarray(image[y : y + size, x : x + size]),
      **clip.label_of(record),
      'index': np.int32(index),
      'mask': np.bool_(True),
      'decode_failed': np.bool_(False),
    }

  def empty_example(self, num_views: int) -> dict[str, np.ndarray]:
    """A masked image of zeros (padding and undecodable images)."""
    del num_views  # an image has one view
    size = self._pp.crop_size
    example = {'image': np.zeros((size, size, 3), np.uint8)}
    if self._has_label:
      example['label'] = np.int32(0)
    example.update(index=np.int32(-1), mask=np.bool_(False), decode_failed=np.bool_(False))
    return example
