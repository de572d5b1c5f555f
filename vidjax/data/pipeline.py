"""The grain input graph: source -> shard -> shuffle -> decode/sample/crop -> batch.

Records come from `tfds.data_source` over array_record files (no TensorFlow). Each host
reads its own shard of the example indices; PyAV decodes only the sampled frames; the
random crop and flip are drawn once per clip on the host. The training order is a pure
function of (seed, position in the stream), and the grain iterator's state is saved in
every checkpoint, so a resumed run reads exactly the batches an uninterrupted one would.

config.input:
  dataset: tfds name with optional builder config, e.g. 'vidjax_synthetic/default'; its
    builder lives in `vidjax.data.builders.<name without the 'vidjax_' prefix>`.
  data_dir: tfds data directory.
  split, batch_size (global), num_threads, prefetch.
  sampling: num_frames, stride, policy ('loop' | 'pad', see sampling.py).
  pp: resize_short_side (0 keeps the stored size), crop_size, flip, flip_label_swaps
    (pairs of class names exchanged by a horizontal flip), mean, std, color_jitter.
"""

from __future__ import annotations

import dataclasses
import importlib
import threading
from collections.abc import Callable, Iterator, Sequence

import grain
import ml_collections
import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from PIL import Image

from vidjax.data import decode, sampling

# Consecutive undecodable records tolerated before the run is stopped: one bad video is
# replaced by the next, but a dataset of bad videos must not loop forever.
MAX_CONSECUTIVE_DECODE_FAILURES = 16


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A prepared split: random access to records plus the label names."""

  source: Sequence[dict]
  label_names: tuple[str, ...]
  name: str
  split: str


def open_dataset(dataset: str, split: str, data_dir: str) -> Dataset:
  """Opens `dataset` ('name' or 'name/config') as a tfds data source.

  The embedded synthetic dataset is built on first use; real datasets must have been
  prepared with tools/prepare_dataset.py.
  """
  name, _, config_name = dataset.partition('/')
  module_name = name.removeprefix('vidjax_')
  try:
    builder_module = importlib.import_module(f'vidjax.data.builders.{module_name}')
  except ModuleNotFoundError:
    raise ValueError(
      f'config.input.dataset={dataset!r}: no builder module vidjax.data.builders.{module_name}.'
    ) from None
  if hasattr(builder_module, 'ensure_built'):
    builder = builder_module.ensure_built(data_dir, config_name or 'default')
  else:
    builder = tfds.builder(dataset, data_dir=data_dir, file_format='array_record')
    if not builder.is_prepared():
      raise FileNotFoundError(
        f'Dataset {dataset!r} is not prepared in {data_dir}. Run: python '
        f'tools/prepare_dataset.py --dataset {name} --manual_dir DIR --data_dir {data_dir}'
      )
  if split not in builder.info.splits:
    raise ValueError(
      f'Dataset {dataset!r} has no split {split!r}; splits: {list(builder.info.splits)}.'
    )
  source = tfds.data_source(
    dataset, split=split, data_dir=data_dir, builder_kwargs=dict(file_format='array_record')
  )
  label_names = tuple(builder.info.features['label'].names)
  return Dataset(source=source, label_names=label_names, name=dataset, split=split)


def flip_label_map(label_names: Sequence[str], swaps: Sequence[Sequence[str]]) -> np.ndarray:
  """Label permutation applied with a horizontal flip (e.g. 'move_left' <-> 'move_right')."""
  mapping = np.arange(len(label_names))
  for pair in swaps:
    missing = [n for n in pair if n not in label_names]
    if len(pair) != 2 or missing:
      raise ValueError(
        f'config.input.pp.flip_label_swaps entry {tuple(pair)}: needs two class names of '
        f'the dataset; unknown: {missing}.'
      )
    a, b = (label_names.index(n) for n in pair)
    mapping[a], mapping[b] = b, a
  return mapping


def _resize_short_side(frames: np.ndarray, size: int) -> np.ndarray:
  height, width = frames.shape[1:3]
  if size == 0 or min(height, width) == size:
    return frames
  scale = size / min(height, width)
  new_size = (round(width * scale), round(height * scale))
  return np.stack([np.asarray(Image.fromarray(f).resize(new_size, Image.BILINEAR)) for f in frames])


class _ClipLoader:
  """Reads a record, decodes the sampled frames, crops; replaces undecodable videos.

  A decode failure is logged with the video id and the decoder's error, counted in
  `decode_failures` (reported by the trainer as data/decode_failures), and the example is
  replaced by the next index, deterministically, so that training never crashes and a
  resumed run still sees the same stream.
  """

  def __init__(self, dataset: Dataset, input_config: ml_collections.ConfigDict):
    self._source = dataset.source
    self._sampling = input_config.sampling
    self._pp = input_config.pp
    self._flip_map = flip_label_map(dataset.label_names, self._pp.flip_label_swaps)
    self._lock = threading.Lock()
    self.decode_failures = 0

  def _decode(self, index: int, clip_indices: Callable[[int], np.ndarray]):
    """Returns (record, frames) of `index` or the next decodable one.

    `clip_indices` maps the video's frame count to the frame indices to decode (any shape);
    the frames come back with that shape in front of [H, W, 3].
    """
    for attempt in range(MAX_CONSECUTIVE_DECODE_FAILURES):
      record = self._source[(index + attempt) % len(self._source)]
      try:
        indices = clip_indices(int(record['num_frames']))
        frames = decode.decode_frames(record['video'], np.asarray(indices).reshape(-1))
        return record, frames.reshape(*np.shape(indices), *frames.shape[1:])
      except decode.DecodeError as e:
        with self._lock:
          self.decode_failures += 1
        logging.warning('Skipping undecodable video %s: %s', record.get('video_id'), e)
    raise RuntimeError(
      f'{MAX_CONSECUTIVE_DECODE_FAILURES} consecutive videos from index {index} could not '
      'be decoded; the dataset is likely corrupt: rebuild it (tools/prepare_dataset.py).'
    )

  def train_clip(self, index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One random clip, random crop and flip: video uint8 [T, h, w, 3], label int32."""
    cfg = self._sampling
    record, frames = self._decode(
      index,
      lambda length: sampling.random_clip(rng, length, cfg.num_frames, cfg.stride, cfg.policy),
    )
    frames = _resize_short_side(frames, self._pp.resize_short_side)
    size = self._pp.crop_size
    y, x = sampling.random_crop(rng, frames.shape[1], frames.shape[2], size)
    frames = frames[:, y : y + size, x : x + size]
    label = int(record['label'])
    if self._pp.flip and rng.random() < 0.5:
      frames = frames[:, :, ::-1]
      label = int(self._flip_map[label])
    return {'video': np.ascontiguousarray(frames), 'label': np.int32(label)}

  def eval_views(self, index: int, num_clips: int, num_crops: int) -> dict[str, np.ndarray]:
    """All T x S views of a video: video uint8 [T*S, t, h, w, 3] (clip-major), label."""
    cfg = self._sampling
    record, clips = self._decode(
      index,
      lambda length: sampling.uniform_clips(
        length, cfg.num_frames, cfg.stride, num_clips, cfg.policy
      ),
    )
    size = self._pp.crop_size
    views = []
    for clip in clips:
      clip = _resize_short_side(clip, self._pp.resize_short_side)
      for y, x in sampling.multi_crops(clip.shape[1], clip.shape[2], size, num_crops):
        views.append(clip[:, y : y + size, x : x + size])
    return {
      'video': np.stack(views),
      'label': np.int32(record['label']),
      'mask': np.bool_(True),
    }


class _TrainClip(grain.transforms.RandomMap):
  def __init__(self, loader: _ClipLoader):
    self._loader = loader

  def random_map(self, index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return self._loader.train_clip(int(index), rng)


def _read_options(input_config: ml_collections.ConfigDict) -> grain.ReadOptions:
  return grain.ReadOptions(
    num_threads=input_config.num_threads, prefetch_buffer_size=input_config.prefetch
  )


@dataclasses.dataclass
class TrainInput:
  """The training stream: a checkpointable grain iterator of host-local batches."""

  iterator: grain.DatasetIterator
  loader: _ClipLoader
  dataset: Dataset


def train_index_stream(
  num_examples: int, seed: int, process_index: int, process_count: int
) -> grain.MapDataset:
  """This host's endless stream of example indices: reshuffled every epoch (shuffle
  before repeat), then split round-robin so hosts read disjoint examples each epoch."""
  return (
    grain.MapDataset.range(num_examples).shuffle(seed=seed).repeat()[process_index::process_count]
  )


def make_train_input(
  input_config: ml_collections.ConfigDict,
  seed: int,
  per_host_batch_size: int,
  process_index: int,
  process_count: int,
) -> TrainInput:
  """An endless, per-epoch reshuffled stream of batches of this host's shard."""
  dataset = open_dataset(input_config.dataset, input_config.split, input_config.data_dir)
  loader = _ClipLoader(dataset, input_config)
  ds = (
    train_index_stream(len(dataset.source), seed, process_index, process_count)
    .random_map(_TrainClip(loader), seed=seed)
    .to_iter_dataset(_read_options(input_config))
    .batch(per_host_batch_size, drop_remainder=True)
  )
  return TrainInput(iterator=iter(ds), loader=loader, dataset=dataset)


@dataclasses.dataclass
class EvalInput:
  """Padded host-local batches of every example of a split, each counted exactly once."""

  dataset: Dataset
  loader: _ClipLoader
  num_batches: int
  batch_size: int
  num_clips: int
  num_crops: int
  _indices: Sequence[int]
  _read_options: grain.ReadOptions

  @property
  def num_examples(self) -> int:
    return len(self.dataset.source)

  def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
    ds = (
      grain.MapDataset.source(self._indices)
      .map(lambda i: self.loader.eval_views(int(i), self.num_clips, self.num_crops))
      .batch(self.batch_size, drop_remainder=False)
      .to_iter_dataset(self._read_options)
    )
    produced, batch = 0, None
    for batch in ds:
      produced += 1
      yield _pad_batch(batch, self.batch_size)
    # Hosts with a smaller shard still run the same number of steps (the step is a
    # collective over all devices): they feed fully masked batches.
    for _ in range(self.num_batches - produced):
      yield {k: np.zeros((self.batch_size, *v.shape[1:]), v.dtype) for k, v in batch.items()}


def _pad_batch(batch: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
  missing = size - len(batch['label'])
  if not missing:
    return batch
  return {
    k: np.concatenate([v, np.zeros((missing, *v.shape[1:]), v.dtype)]) for k, v in batch.items()
  }


def make_eval_input(
  input_config: ml_collections.ConfigDict,
  split: str,
  per_host_batch_size: int,
  num_clips: int,
  num_crops: int,
  process_index: int,
  process_count: int,
) -> EvalInput:
  """Every example of `split` once, sharded over hosts, T clips x S crops per video."""
  dataset = open_dataset(input_config.dataset, split, input_config.data_dir)
  num_examples = len(dataset.source)
  indices = range(num_examples)[process_index::process_count]
  largest_shard = -(-num_examples // process_count)
  return EvalInput(
    dataset=dataset,
    loader=_ClipLoader(dataset, input_config),
    num_batches=-(-largest_shard // per_host_batch_size),
    batch_size=per_host_batch_size,
    num_clips=num_clips,
    num_crops=num_crops,
    _indices=indices,
    _read_options=_read_options(input_config),
  )
