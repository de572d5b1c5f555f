"""Actor-context feature banks (ACAR-Net's ACFB): the file, and reading a keyframe's window.

A bank holds, for every keyframe of a split, the pooled first-order actor-context feature
of each of its actors (aux['actor_context'] of a trained ACAR model;
`tools/extract_feature_bank.py` writes it), for the frame and for its mirror image:

  video_id   str [K]
  timestamp  int32 [K]               the keyframe's second (AVA's timestamps)
  features   float16 [K, 2, N, C]    view 0: the frame, view 1: its mirror image
  mask       bool [K, N]             False for padded actor slots

one `.npz` file, read whole into host memory (float16: about 4 GB for AVA v2.2's 211k
training keyframes at C = 512 and N = 10). A keyframe's bank is the entries of the same
video whose timestamp is within `window` seconds of its own, its own included (LFB's
window, centred), flattened to M = (2 * window + 1) * N slots with a mask: a keyframe
near a video's start or end has fewer. A training clip that is mirrored reads the
mirrored features, so that features and labels agree when a flip exchanges classes
(`pp.flip_label_swaps`).
"""

from __future__ import annotations

import functools
import os
import zipfile

import numpy as np

VIEWS = 2


def write(
  path: str,
  video_ids: list[str],
  timestamps: np.ndarray,
  features: np.ndarray,
  mask: np.ndarray,
) -> None:
  """Writes a bank (shapes in the module docstring) to `path` (.npz), through a temporary
  file: a bank file that exists is complete."""
  features = np.asarray(features, np.float16)
  if features.ndim != 4 or features.shape[1] != VIEWS:
    raise ValueError(f'Bank features must be [K, {VIEWS}, N, C]; got {features.shape}.')
  temporary = path + '.tmp.npz'
  np.savez(
    temporary,
    video_id=np.asarray(video_ids, dtype=str),
    timestamp=np.asarray(timestamps, np.int32),
    features=features,
    mask=np.asarray(mask, bool),
  )
  os.replace(temporary, path)


def shape(path: str) -> tuple[int, int]:
  """(N actor slots, C channels) of the bank at `path`, read from its header only."""
  try:
    with zipfile.ZipFile(path) as archive, archive.open('features.npy') as member:
      version = np.lib.format.read_magic(member)
      read_header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
      }[version]
      header = read_header(member)
  except (OSError, KeyError, zipfile.BadZipFile) as e:
    raise ValueError(
      f'config.input.keyframe.bank.path={path!r} is not a feature bank ({e}); write one '
      'with tools/extract_feature_bank.py.'
    ) from e
  _, _, actors, channels = header[0]
  return actors, channels


class Bank:
  """A bank in memory, indexed by video and second."""

  def __init__(self, path: str, window: int):
    if window < 0:
      raise ValueError(f'config.input.keyframe.bank.window={window}: seconds, 0 or more.')
    self.actors, self.channels = shape(path)
    with np.load(path) as data:
      self._features, self._mask = data['features'], data['mask']
      video_ids, timestamps = data['video_id'], data['timestamp']
    self._rows: dict[tuple[str, int], int] = {
      (str(video), int(second)): row
      for row, (video, second) in enumerate(zip(video_ids, timestamps, strict=True))
    }
    self.window = window
    self.slots = (2 * window + 1) * self.actors

  def read(self, video_id: str, timestamp: int, view: int) -> tuple[np.ndarray, np.ndarray]:
    """The window's features float32 [M, C] of `view` (1: mirrored) and their mask [M]."""
    features = np.zeros((self.slots, self.channels), np.float32)
    mask = np.zeros(self.slots, bool)
    for offset in range(2 * self.window + 1):
      row = self._rows.get((video_id, timestamp - self.window + offset))
      if row is not None:
        slots = slice(offset * self.actors, (offset + 1) * self.actors)
        # Padded actor slots hold whatever the model gave them; they read as zeros.
        features[slots] = self._features[row, view] * self._mask[row][:, None]
        mask[slots] = self._mask[row]
    return features, mask


def open_bank(path: str, window: int) -> Bank:
  """The bank at `path`, read once per process while the file is unchanged: the training
  input and every evaluation input of a run (true and detected boxes, each test scale)
  share one copy in memory."""
  try:
    modified = os.stat(path).st_mtime_ns
  except OSError:
    modified = None  # Bank names the path in its error
  return _cached_bank(path, window, modified)


@functools.lru_cache(maxsize=4)
def _cached_bank(path: str, window: int, modified: int | None) -> Bank:
  del modified  # part of the cache key only
  return Bank(path, window)
