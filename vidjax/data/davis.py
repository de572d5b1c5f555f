"""The DAVIS-2017 folder layout: sequences, frames and indexed-PNG masks.

    DAVIS_ROOT/
      JPEGImages/480p/<sequence>/00000.jpg, 00001.jpg, ...
      Annotations/480p/<sequence>/00000.png, ...    indexed PNGs: 0 background,
                                                     1..N the objects, 255 void
      ImageSets/2017/{train,val,test-dev,test-challenge}.txt   one sequence a line

(`Full-Resolution` in place of `480p` for the full-size release.) A method's results use
the annotations' layout: RESULTS_DIR/<sequence>/<frame>.png, indexed PNGs with the object
ids of the first frame's annotation. Everything here reads whole sequences as uint8
[T, H, W] label maps and refuses what the official evaluation would misread or crash on,
naming the file: a frame without its annotation, a mask of another size, a PNG that is
not indexed.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

SETS = ('train', 'val', 'test-dev', 'test-challenge')
RESOLUTIONS = ('480p', 'Full-Resolution')
VOID = 255


def palette() -> np.ndarray:
  """The PASCAL VOC colour map DAVIS's PNGs use: uint8 [256, 3], id 1 red, 2 green, ..."""
  ids = np.arange(256)
  colours = np.zeros((256, 3), np.int64)
  for bit in range(8):
    for channel in range(3):
      colours[:, channel] |= ((ids >> (3 * bit + channel)) & 1) << (7 - bit)
  return colours.astype(np.uint8)


def sequences(root: str, set_name: str) -> list[str]:
  """The sequence names of `set_name`, from ImageSets/2017/<set>.txt."""
  if set_name not in SETS:
    raise ValueError(f'--set={set_name!r}: one of {SETS}.')
  listing = os.path.join(root, 'ImageSets', '2017', f'{set_name}.txt')
  if not os.path.isfile(listing):
    raise FileNotFoundError(
      f'{listing} not found: --davis_root must be the DAVIS folder that holds JPEGImages, '
      'Annotations and ImageSets (https://davischallenge.org/davis2017/code.html).'
    )
  with open(listing) as f:
    return [line.strip() for line in f if line.strip()]


def frame_ids(root: str, sequence: str, resolution: str = '480p') -> list[str]:
  """The frame names of a sequence (without extension), from its JPEGImages folder, sorted."""
  folder = os.path.join(root, 'JPEGImages', resolution, sequence)
  if not os.path.isdir(folder):
    raise FileNotFoundError(f'{folder} not found: sequence {sequence!r} has no frames.')
  names = sorted(name[:-4] for name in os.listdir(folder) if name.endswith('.jpg'))
  if not names:
    raise FileNotFoundError(f'{folder} holds no .jpg frames.')
  return names


def read_frames(root: str, sequence: str, resolution: str = '480p') -> np.ndarray:
  """uint8 RGB frames [T, H, W, 3] of a sequence, in `frame_ids` order."""
  folder = os.path.join(root, 'JPEGImages', resolution, sequence)
  frames = []
  for frame in frame_ids(root, sequence, resolution):
    path = os.path.join(folder, f'{frame}.jpg')
    try:
      frames.append(np.asarray(Image.open(path).convert('RGB')))
    except OSError as error:
      raise ValueError(f'{path}: not a readable JPEG ({error}).') from None
    if frames[-1].shape != frames[0].shape:
      raise ValueError(
        f'{path}: {frames[-1].shape[1]}x{frames[-1].shape[0]} pixels where the first frame '
        f'of {sequence!r} has {frames[0].shape[1]}x{frames[0].shape[0]}.'
      )
  return np.stack(frames)


def first_frame_objects(masks: np.ndarray) -> np.ndarray:
  """Scene masks [T, H, W] (0 background, i + 1 object i) -> DAVIS labels: the objects
  of the first frame renumbered 1..N in order, every other object background (DAVIS-2017
  annotates only the objects given in the first frame)."""
  present = [i for i in np.unique(masks[0]) if i != 0]
  renumber = np.zeros(256, np.uint8)
  renumber[present] = np.arange(1, len(present) + 1)
  return renumber[masks]


def read_mask(path: str) -> np.ndarray:
  """An indexed (or 8-bit grayscale) PNG as its uint8 labels [H, W]."""
  try:
    image = Image.open(path)
  except FileNotFoundError:
    raise FileNotFoundError(f'{path} not found.') from None
  except OSError as error:
    raise ValueError(f'{path}: not a readable PNG ({error}).') from None
  if image.mode not in ('P', 'L'):
    raise ValueError(
      f'{path}: a {image.mode} image; masks are indexed PNGs whose pixel values are object '
      'ids (0 background, 1..N objects), written e.g. with vidjax.data.davis.write_mask.'
    )
  return np.asarray(image, np.uint8)


def write_mask(path: str, labels: np.ndarray) -> None:
  """Writes uint8 labels [H, W] as an indexed PNG with DAVIS's palette."""
  image = Image.fromarray(np.asarray(labels, np.uint8), mode='P')
  image.putpalette(palette().ravel().tolist())
  image.save(path)


def read_masks(folder: str, ids: list[str], size: tuple[int, int] | None = None) -> np.ndarray:
  """Masks <folder>/<id>.png for every id, uint8 [T, H, W]; all of one size (`size`, if
  given, else the first's)."""
  masks = []
  for frame in ids:
    path = os.path.join(folder, f'{frame}.png')
    mask = read_mask(path)
    size = size or mask.shape
    if mask.shape != tuple(size):
      raise ValueError(
        f"{path}: a mask of {mask.shape[1]}x{mask.shape[0]} pixels where the sequence's "
        f'annotations are {size[1]}x{size[0]}.'
      )
    masks.append(mask)
  return np.stack(masks)


def annotations(root: str, sequence: str, resolution: str = '480p') -> tuple[list[str], np.ndarray]:
  """(frame ids, uint8 labels [T, H, W]) of a sequence's ground truth, one per frame.

  Every frame must have its annotation, and every object id must be one of the first
  frame's: DAVIS-2017 gives every object in the first frame.
  """
  ids = frame_ids(root, sequence, resolution)
  folder = os.path.join(root, 'Annotations', resolution, sequence)
  missing = [frame for frame in ids if not os.path.isfile(os.path.join(folder, f'{frame}.png'))]
  if missing:
    raise FileNotFoundError(
      f'{os.path.join(folder, missing[0] + ".png")} not found: {len(missing)} of the '
      f'{len(ids)} frames of {sequence!r} in JPEGImages have no annotation.'
    )
  labels = read_masks(folder, ids)
  num_objects = int(np.max(np.where(labels[0] == VOID, 0, labels[0])))
  unknown = (labels > num_objects) & (labels != VOID)
  if unknown.any():
    index = int(np.flatnonzero(unknown.any(axis=(1, 2)))[0])
    frame, unknown = ids[index], labels[index][unknown[index]]
    raise ValueError(
      f'{os.path.join(folder, frame + ".png")}: object id {int(unknown[0])} is not in the '
      f'first frame, whose objects are 1..{num_objects}.'
    )
  return ids, labels
