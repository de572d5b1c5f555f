"""Generated DAVIS-2017 folders: moving ellipses as annotations, perturbed copies as results.

Shared by tests/tools/test_davis_eval.py and `tools/benchmark.py --mode=davis`.
"""

import os

import numpy as np
from PIL import Image

from vidjax.data import davis as davis_data


def ellipse(height, width, centre, radii):
  ys, xs = np.mgrid[:height, :width]
  return ((ys - centre[0]) / radii[0]) ** 2 + ((xs - centre[1]) / radii[1]) ** 2 <= 1


def scene(rng, num_frames, num_objects, height, width):
  """Labels [T, H, W] of ellipses moving across the frame, later ones in front, with a
  void band at the edges of some objects and objects that leave the frame."""
  labels = np.zeros((num_frames, height, width), np.uint8)
  starts = rng.uniform([0.2 * height, 0.2 * width], [0.8 * height, 0.8 * width], (num_objects, 2))
  speeds = rng.uniform(-0.08, 0.08, (num_objects, 2)) * [height, width]
  radii = rng.uniform(0.08, 0.25, (num_objects, 2)) * [height, width]
  for t in range(num_frames):
    for k in range(num_objects):
      inside = ellipse(height, width, starts[k] + t * speeds[k], radii[k])
      if k == 0:
        ring = ellipse(height, width, starts[k] + t * speeds[k], radii[k] + 2) & ~inside
        labels[t][ring & (labels[t] == 0)] = davis_data.VOID
      labels[t][inside] = k + 1
  return labels


def perturbed(rng, labels, num_objects):
  """A method's result: objects shifted and swollen or shrunk, some frames empty, some
  objects missing, ids of the first frame only, void as background."""
  result = np.where(labels == davis_data.VOID, 0, labels).copy()
  for t in range(len(result)):
    result[t] = np.roll(result[t], rng.integers(-6, 7, 2), axis=(0, 1))
    if rng.random() < 0.15:
      result[t] = 0  # a frame where the method lost everything
    if rng.random() < 0.2 and num_objects > 1:
      result[t][result[t] == rng.integers(1, num_objects + 1)] = 0  # one object vanishes
  if num_objects > 2 and rng.random() < 0.5:
    result[result == num_objects] = 0  # the last object is never named
  return result


def write_davis_folder(root, sequences: dict, seed: int = 0) -> str:
  """Writes DAVIS layout under `root` (a pathlib.Path) for set 'val' with every sequence of
  `sequences` ({name: (frames, objects, height, width)}), and a method's results under
  root / 'results'; returns the results folder."""
  rng = np.random.default_rng(seed)
  os.makedirs(root / 'ImageSets' / '2017', exist_ok=True)
  (root / 'ImageSets' / '2017' / 'val.txt').write_text('\n'.join(sequences) + '\n')
  results = root / 'results'
  for name, (num_frames, num_objects, height, width) in sequences.items():
    labels = scene(rng, num_frames, num_objects, height, width)
    result = perturbed(rng, labels, num_objects)
    for folder in ('JPEGImages', 'Annotations'):
      os.makedirs(root / folder / '480p' / name)
    os.makedirs(results / name)
    for t in range(num_frames):
      frame = f'{t:05d}'
      Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(
        root / 'JPEGImages' / '480p' / name / f'{frame}.jpg'
      )
      davis_data.write_mask(root / 'Annotations' / '480p' / name / f'{frame}.png', labels[t])
      davis_data.write_mask(results / name / f'{frame}.png', result[t])
  return str(results)
