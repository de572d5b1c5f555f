"""The actions of the people in a video with a trained AVA model (tools/demo.py).

The people's boxes come from a person detector, as AVA's models are tested: a CSV of
`seconds, x1, y1, x2, y2[, score]` rows, the boxes normalised to [0, 1] of the frame; each
second listed is a keyframe. For each, the clip around it is read as the `keyframe`
loader reads it in evaluation (`sampling.num_frames` frames `sampling.stride` apart,
centred on it, the whole frame resized to `pp.crop_size`), the model scores every box,
and the task turns the logits into the probabilities of each action (ACAR's softmax over
the movement classes, sigmoids over the rest).
"""

from __future__ import annotations

import csv

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from vidjax import configs, inference
from vidjax.data import decode, preprocess
from vidjax.data.crop import Crop
from vidjax.data.loaders import keyframe


def read_person_boxes(path: str) -> dict[float, np.ndarray]:
  """{seconds: boxes [n, 4] (x1, y1, x2, y2)} of a person-box CSV, in time order; rows
  scoring below a given score column are kept (filter before, as the detector's
  threshold is the user's choice)."""
  boxes: dict[float, list] = {}
  with open(path, encoding='utf-8', newline='') as f:
    for line, row in enumerate(csv.reader(f), start=1):
      if not row:
        continue
      if len(row) not in (5, 6):
        raise ValueError(
          f'{path}:{line}: {len(row)} columns; expected seconds, x1, y1, x2, y2[, score].'
        )
      try:
        seconds, *box = (float(v) for v in row[:5])
      except ValueError as error:
        raise ValueError(f'{path}:{line}: {error}') from None
      if not all(0.0 <= v <= 1.0 for v in box) or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f'{path}:{line}: box {box}: x1 < x2 and y1 < y2, normalised to [0, 1].')
      boxes.setdefault(seconds, []).append(box)
  if not boxes:
    raise ValueError(f'{path}: no boxes.')
  return {t: np.array(b, np.float32) for t, b in sorted(boxes.items())}


class ActionDetector:
  """A trained AVA model of an experiment config and workdir, on one device."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str):
    if config.input.loader != 'keyframe':
      raise ValueError(
        f"The config's input.loader is {config.input.loader!r}; an AVA model reads "
        "keyframes (loader='keyframe', e.g. experiments/ava/synthetic.py)."
      )
    model, self._variables, self.step = inference.load_model(config, workdir)
    task = configs.load_module('tasks', config.task).Task(**config.task_kwargs)
    self._input = config.input
    pp = config.input.pp

    def scores(variables, batch):
      batch = preprocess.model_batch(batch, pp, train=False)
      logits, _ = model.apply(variables, {k: batch[k] for k in model.input_keys}, train=False)
      return task.probabilities(logits)

    self._scores = jax.jit(scores)

  def __call__(self, data: bytes, boxes: dict[float, np.ndarray]) -> dict[float, np.ndarray]:
    """{seconds: action probabilities [n, C] of its boxes} of an encoded video."""
    info = decode.probe(data)
    sampling, actors = self._input.sampling, self._input.keyframe.max_actors
    results = {}
    for seconds, people in boxes.items():
      if len(people) > actors:
        raise ValueError(
          f'{len(people)} boxes at {seconds} s, more than the '
          f'config.input.keyframe.max_actors={actors} the model was built for; raise it.'
        )
      frame = min(round(seconds * info.fps), info.num_frames - 1)
      indices = keyframe.window(frame, info.num_frames, sampling.num_frames, sampling.stride)
      unique, inverse = np.unique(indices, return_inverse=True)
      frames = decode.decode_frames(data, unique.tolist())[inverse]
      crop = Crop(0, 0, frames.shape[1], frames.shape[2], size=self._input.pp.crop_size)
      padded = np.zeros((actors, 4), np.float32)
      padded[: len(people)] = people
      batch = {
        'video': jnp.asarray(crop.frames(frames))[None],
        'boxes': jnp.asarray(padded)[None],
        'box_mask': (jnp.arange(actors) < len(people))[None],
      }
      results[seconds] = np.asarray(self._scores(self._variables, batch))[0, : len(people)]
    return results
