"""Loaders: one record of a prepared dataset -> one example of host arrays, by kind.

`config.input.loader` names the module (`vidjax.data.loaders.<name>`): 'clip' (video
clips, with flow and audio) and 'image' (single images); 'keyframe' (a clip with the boxes
and labels of its actors), 'sequence' (every frame, for propagation) and 'person_crops'
(top-down pose crops of a frame and a nearby one) follow the same interface. A loader
module defines:

  Loader(dataset, input_config)      with
    train_example(index, rng) -> dict   one training example (random sampling and crop);
    eval_example(index, num_clips, num_crops) -> dict
                                         every test view of example `index`, plus 'index',
                                         'mask' and 'decode_failed' (never another example);
    empty_example(num_views) -> dict     a masked example of zeros (padding, failures);
    decode_failures                      how many records failed to decode so far;
    rejected_samples_kept                how many training samples were kept after their
                                         sampler's `accept` test rejected every draw.
  input_shapes(input_config) -> {key: shape}   the model inputs of one training example.
  check_train_config(input_config)             errors for settings that cannot go together.

The label is optional: a dataset without one gives examples without 'label'.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from absl import logging

from vidjax import configs

# Consecutive undecodable records tolerated in training before the run is stopped: one bad
# record is replaced by the next, but a dataset of bad records must not loop forever.
MAX_CONSECUTIVE_DECODE_FAILURES = 16


def module(name: str) -> types.ModuleType:
  """The loader module `name` (or a dotted module path of your own); an unknown name lists
  the known ones."""
  return configs.load_module('data.loaders', name, flag='config.input.loader')


class RecordReader:
  """Reads a record and decodes it, counting failures across the loader's threads.

  A failure (one of `errors`) is logged with the record's id and counted in
  `decode_failures`; in training (`substitute`) the next record takes its place,
  deterministically, so a run never crashes and a resumed run sees the same stream; at
  evaluation the error is raised for the loader to mask the example.
  """

  def __init__(self, source: Sequence[Mapping], kind: str, id_key: str, errors: tuple):
    self._source, self._kind, self._id_key, self._errors = source, kind, id_key, errors
    self._lock = threading.Lock()
    self.decode_failures = 0

  def read(
    self, index: int, decode: Callable[[Mapping], Any], *, substitute: bool
  ) -> tuple[Mapping, Any]:
    """(record, decode(record)) of `index`, or of the next decodable record."""
    attempts = MAX_CONSECUTIVE_DECODE_FAILURES if substitute else 1
    for attempt in range(attempts):
      record = self._source[(index + attempt) % len(self._source)]
      try:
        return record, decode(record)
      except self._errors as e:
        with self._lock:
          self.decode_failures += 1
        logging.warning('Undecodable %s %s: %s', self._kind, record.get(self._id_key), e)
        if not substitute:
          raise
    raise RuntimeError(
      f'{attempts} consecutive {self._kind}s from index {index} could not be decoded; the '
      'dataset is likely corrupt: rebuild it (tools/prepare_dataset.py).'
    )
