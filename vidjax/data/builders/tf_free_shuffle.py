"""tfds's on-disk shuffle of a large split, without TensorFlow.

While writing a split, tfds orders its examples by a hash of their keys. Up to
`tensorflow_datasets.core.shuffle.MAX_MEM_BUFFER_SIZE` (1 GB) of examples it does so in
memory; past that it spills them to 1,000 bucket files through `tf.io.gfile`, so without
TensorFlow the build of any split over 1 GB (Kinetics, or an embedded config of long
videos) fails with `No module named 'tensorflow'` once all its examples were generated.

`install()` gives tfds's shuffle module, where TensorFlow is not installed, the file calls
it makes (`tf.io.gfile.GFile`, `exists`, `remove`) through `etils.epath`, which tfds already
uses for everything else: the buckets hold the same bytes in the same order, so the split
written is the one a build with TensorFlow writes. When the shuffle spills, it also
raises the soft limit on open files, as tfds does on TensorFlow's "Too many open files",
since every bucket stays open while the examples are spread.
"""

from __future__ import annotations

import importlib.util
import types

from absl import logging
from etils import epath
from tensorflow_datasets.core import shuffle

# The open files a spilled shuffle needs besides the process's others.
_FILES_NEEDED = shuffle.BUCKETS_NUMBER + 256


class _NeverRaised(Exception):
  """tfds catches TensorFlow's ResourceExhaustedError around a bucket's writes; files
  opened through epath raise OSError instead, which reaches the caller."""


def _open(path, mode: str = 'r'):
  if 'w' in mode:  # a bucket: the shuffle has spilled, and keeps every bucket open
    _raise_open_files_limit()
  return epath.Path(path).open(mode)


def _gfile() -> types.SimpleNamespace:
  return types.SimpleNamespace(
    GFile=_open,
    exists=lambda path: epath.Path(path).exists(),
    remove=lambda path: epath.Path(path).unlink(),
  )


def _raise_open_files_limit() -> None:
  try:
    import resource
  except ModuleNotFoundError:  # not UNIX: the limit is the system's
    return
  soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
  wanted = _FILES_NEEDED if hard == resource.RLIM_INFINITY else min(_FILES_NEEDED, hard)
  if soft != resource.RLIM_INFINITY and soft < wanted:
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    logging.info('Open files limit raised from %d to %d for tfds shuffle buckets.', soft, wanted)


def install() -> None:
  """Lets tfds spill a large split's shuffle to disk without TensorFlow (a no-op where
  TensorFlow is installed)."""
  if importlib.util.find_spec('tensorflow') is not None:
    return
  shuffle.tf = types.SimpleNamespace(
    io=types.SimpleNamespace(gfile=_gfile()),
    errors=types.SimpleNamespace(ResourceExhaustedError=_NeverRaised),
  )
