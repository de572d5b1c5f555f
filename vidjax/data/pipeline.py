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
  sampling: mode ('stride' | 'fps' | 'segments'), num_frames, stride (mode 'stride'),
    target_fps (mode 'fps'), policy ('loop' | 'pad'); see sampling.py.
  audio: enabled, sample_rate, num_mels, min_hz, max_hz, window_ms, hop_ms,
    spectrogram_frames: log-mel of each clip's time span (see audio.py); examples then carry
    'audio' float32 [..., spectrogram_frames, num_mels] (one per view of 'video') and
    'has_audio' bool (False, with zero features, for a video without audio).
  pp: resize_short_side (0 keeps the stored size), crop_size, flip, flip_label_swaps
    (pairs of class names exchanged by a horizontal flip), mean, std, color_jitter.
    Training crop (host): train_crop ('random' | 'scale_jitter' | 'random_resized'),
    scale_jitter (short-side range), random_resized_crop (area, aspect_ratio),
    repeated_augmentation (copies of each video in a batch, 1 = off). Device side (augment.py):
    grayscale_prob, rand_augment, random_erasing, mix (Mixup / CutMix). See docs/data.md.
  flow: enabled, bound, preset, stack: optical flow beside the video (see flow.py); examples
    then carry 'flow' uint8 [..., T * stack, h, w, 2] with exactly the views of 'video'.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence

import grain
import ml_collections
import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from PIL import Image

from vidjax.data import audio, decode, flow, sampling
from vidjax.data.builders import video_common

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
  # What exactly was read, recorded with evaluation results: {'dataset', 'version',
  # 'config', 'split', 'num_examples', 'ids_sha256'} (see `split_manifest`).
  manifest: dict


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
  features = builder.info.features
  label_names = tuple(features['label'].names) if 'label' in features else ()
  return Dataset(
    source=source,
    label_names=label_names,
    name=dataset,
    split=split,
    manifest=split_manifest(builder, split),
  )


def split_manifest(builder: tfds.core.DatasetBuilder, split: str) -> dict:
  """The identity of one prepared split, to store next to results computed on it.

  Datasets prepared by tools/prepare_dataset.py carry a manifest with a hash of the
  example ids of each split; the embedded synthetic dataset is a pure function of its
  config, which identifies it (its hash is None).
  """
  manifest_path = builder.data_path / video_common.MANIFEST_FILENAME
  entry = {
    'dataset': builder.name,
    'version': str(builder.info.version),
    'config': builder.builder_config.name,
    'split': split,
    'num_examples': builder.info.splits[split].num_examples,
    'ids_sha256': None,
  }
  if manifest_path.exists():
    prepared = json.loads(manifest_path.read_text())
    entry.update(config=prepared['config'], **prepared['splits'][split])
  return entry


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


def _resize_box(frames: np.ndarray, box: Sequence[float], size: int) -> np.ndarray:
  """Resamples the (top, left, height, width) box of every frame to size x size: one
  bilinear resize of just the box, so a crop of a rescaled frame costs only its pixels."""
  top, left, height, width = box
  region = (left, top, left + width, top + height)
  return np.stack(
    [
      np.asarray(Image.fromarray(f).resize((size, size), Image.BILINEAR, box=region))
      for f in frames
    ]
  )


def test_views(clips: np.ndarray, pp: ml_collections.ConfigDict, num_crops: int) -> np.ndarray:
  """The S test crops of each decoded clip: uint8 [T, t, H, W, 3] -> [T * S, t, h, w, 3],
  clip-major, after the evaluation resize (`pp.resize_short_side`)."""
  size = pp.crop_size
  views = []
  for clip in clips:
    clip = _resize_short_side(clip, pp.resize_short_side)
    for y, x in sampling.multi_crops(clip.shape[1], clip.shape[2], size, num_crops):
      views.append(clip[:, y : y + size, x : x + size])
  return np.stack(views)


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
    self._flow = input_config.flow
    self._audio = input_config.audio
    self._input_config = input_config
    self._has_label = bool(dataset.label_names)
    self._flip_map = flip_label_map(dataset.label_names, self._pp.flip_label_swaps)
    self._lock = threading.Lock()
    self.decode_failures = 0

  def _decode(self, index: int, clip_indices: Callable[[Mapping], np.ndarray], *, substitute: bool):
    """Returns (record, sampled indices, frames) of `index`.

    `clip_indices` maps the record to the frame indices to sample (any shape); the frames
    come back with that shape in front of [H, W, 3]. With flow enabled, the last
    axis holds every sampled frame followed by `stack` more (see `_modalities`).
    A video that fails to decode is counted and logged; with `substitute` (training) the
    next decodable one takes its place, otherwise (evaluation) the DecodeError is raised.
    """
    for attempt in range(MAX_CONSECUTIVE_DECODE_FAILURES if substitute else 1):
      record = self._source[(index + attempt) % len(self._source)]
      try:
        indices = sampled = np.asarray(clip_indices(record))
        if self._flow.enabled:
          # Each sampled frame is followed by the frames its flow fields reach (flow.py).
          pairs = flow.frame_indices(indices, int(record['num_frames']), self._flow.stack)
          indices = pairs.reshape(*pairs.shape[:-2], -1)
        frames = decode.decode_frames(record['video'], np.asarray(indices).reshape(-1))
        return record, sampled, frames.reshape(*np.shape(indices), *frames.shape[1:])
      except decode.DecodeError as e:
        with self._lock:
          self.decode_failures += 1
        logging.warning('Undecodable video %s: %s', record.get('video_id'), e)
        if not substitute:
          raise
    raise RuntimeError(
      f'{MAX_CONSECUTIVE_DECODE_FAILURES} consecutive videos from index {index} could not '
      'be decoded; the dataset is likely corrupt: rebuild it (tools/prepare_dataset.py).'
    )

  def _modalities(self, frames: np.ndarray) -> dict[str, np.ndarray]:
    """Splits cropped (and flipped) decoded frames into the example's visual inputs.

    Args:
      frames: uint8 [..., F, h, w, 3] as `_decode` returned them, after the spatial
        transforms: F = T, or F = T * (stack + 1) with flow enabled.

    Returns:
      'video' uint8 [..., T, h, w, 3] and, with flow enabled, 'flow' uint8
      [..., T * stack, h, w, 2] computed on exactly these pixels.
    """
    if not self._flow.enabled:
      return {'video': np.ascontiguousarray(frames)}
    stack = self._flow.stack
    runs = frames.reshape(*frames.shape[:-4], -1, stack + 1, *frames.shape[-3:])
    fields = flow.compute(runs, self._flow.preset)
    fields = fields.reshape(*frames.shape[:-4], -1, *fields.shape[-3:])
    return {
      'video': np.ascontiguousarray(runs[..., 0, :, :, :]),
      'flow': flow.quantize(fields, self._flow.bound),
    }

  def _clip_audio(
    self, record: Mapping, indices: np.ndarray, repeats: int = 1
  ) -> dict[str, np.ndarray]:
    """'audio' and 'has_audio' of the clips in `indices`, or nothing with audio disabled.

    The features of clip i are repeated `repeats` times along the first axis, so that
    they line up with clip-major views (every crop of a clip hears the same audio).
    """
    if not self._audio.enabled:
      return {}
    features, has_audio = audio.clip_audio(record, indices, self._audio)
    return {'audio': np.repeat(features, repeats, axis=0), 'has_audio': np.bool_(has_audio)}

  def _train_crop(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """frames [F, H, W, 3] -> [F, crop_size, crop_size, 3], one box for every frame."""
    pp, size = self._pp, self._pp.crop_size
    height, width = frames.shape[1:3]
    if pp.train_crop == 'random':
      frames = _resize_short_side(frames, pp.resize_short_side)
      y, x = sampling.random_crop(rng, frames.shape[1], frames.shape[2], size)
      return frames[:, y : y + size, x : x + size]
    if pp.train_crop == 'scale_jitter':
      box = sampling.scale_jitter_crop(rng, height, width, size, pp.scale_jitter)
    else:
      rrc = pp.random_resized_crop
      box = sampling.random_resized_crop(rng, height, width, rrc.area, rrc.aspect_ratio)
    return _resize_box(frames, box, size)

  def train_clip(self, index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One random clip, random crop and flip: video uint8 [T, h, w, 3], label int32."""
    record, indices, frames = self._decode(
      index,
      lambda record: sampling.train_indices(
        rng, self._sampling, int(record['num_frames']), float(record['fps'])
      ),
      substitute=True,
    )
    frames = self._train_crop(frames, rng)
    label = _label(record)
    if self._pp.flip and rng.random() < 0.5:
      frames = frames[:, :, ::-1]
      label = {'label': np.int32(self._flip_map[label['label']])} if label else label
    return {**self._modalities(frames), **self._clip_audio(record, indices), **label}

  def eval_views(self, index: int, num_clips: int, num_crops: int) -> dict[str, np.ndarray]:
    """All T x S views of video `index`: video uint8 [T*S, t, h, w, 3] (clip-major), the
    label when the dataset has one, 'index', and 'mask' / 'decode_failed': a video that
    cannot be decoded gives zeros with mask False and decode_failed True, never another
    video (evaluation must score every example of the split exactly once)."""
    try:
      record, indices, clips = self._decode(
        index,
        lambda record: sampling.eval_indices(
          self._sampling, int(record['num_frames']), float(record['fps']), num_clips
        ),
        substitute=False,
      )
    except decode.DecodeError:
      return dict(
        self.empty_example(num_clips * num_crops),
        index=np.int32(index),
        decode_failed=np.bool_(True),
      )
    return {
      **self._modalities(test_views(clips, self._pp, num_crops)),
      **self._clip_audio(record, indices, repeats=num_crops),
      **_label(record),
      'index': np.int32(index),
      'mask': np.bool_(True),
      'decode_failed': np.bool_(False),
    }

  def empty_example(self, num_views: int) -> dict[str, np.ndarray]:
    """An evaluation example of zeros, masked out (padding and undecodable videos):
    index -1, mask and decode_failed False."""
    shapes = {key: (num_views, *shape) for key, shape in input_shapes(self._input_config).items()}
    example = {
      key: np.zeros(shape, np.float32 if key == 'audio' else np.uint8)
      for key, shape in shapes.items()
    }
    if self._audio.enabled:
      example['has_audio'] = np.bool_(False)
    if self._has_label:
      example['label'] = np.int32(0)
    example.update(index=np.int32(-1), mask=np.bool_(False), decode_failed=np.bool_(False))
    return example


def _label(record: Mapping) -> dict[str, np.ndarray]:
  """{'label': int32} of a record, or nothing for a dataset without labels."""
  return {'label': np.int32(record['label'])} if 'label' in record else {}


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
  num_examples: int, seed: int, process_index: int, process_count: int, repeats: int = 1
) -> grain.MapDataset:
  """This host's endless stream of example indices: reshuffled every epoch (shuffle
  before repeat), then split round-robin so hosts read disjoint examples each epoch.

  With `repeats` > 1 (repeated augmentation, Hoffer et al. 2020; DeiT) every index is
  repeated in place: position p holds the index at position p // repeats of the plain
  stream. The random map after this seeds each position differently, so the copies get
  independent augmentations, and the stream stays a function of (seed, position).
  """
  stream = (
    grain.MapDataset.range(num_examples).shuffle(seed=seed).repeat()[process_index::process_count]
  )
  if repeats == 1:
    return stream
  return grain.MapDataset.range(len(stream)).map(lambda position: stream[position // repeats])


TRAIN_CROPS = ('random', 'scale_jitter', 'random_resized')


def _check_train_pp(pp: ml_collections.ConfigDict, flow_enabled: bool) -> None:
  pixel_level = {
    'rand_augment.num_ops': pp.rand_augment.num_ops > 0,
    'random_erasing.prob': pp.random_erasing.prob > 0,
    'mix.mixup_alpha': pp.mix.mixup_alpha > 0,
    'mix.cutmix_alpha': pp.mix.cutmix_alpha > 0,
  }
  if flow_enabled and any(pixel_level.values()):
    # These act on the RGB video on the device; the flow would no longer match it.
    on = [f'config.input.pp.{key}' for key, enabled in pixel_level.items() if enabled]
    raise ValueError(
      f'{", ".join(on)}: not supported together with config.input.flow.enabled (the optical '
      'flow would no longer match the augmented video); switch one of them off.'
    )
  if pp.train_crop not in TRAIN_CROPS:
    raise ValueError(f'config.input.pp.train_crop={pp.train_crop!r}; choose one of {TRAIN_CROPS}.')
  if pp.repeated_augmentation < 1:
    raise ValueError(
      f'config.input.pp.repeated_augmentation={pp.repeated_augmentation!r}: the number of '
      'copies of each video in a batch, an integer >= 1 (1 = off).'
    )


def input_shapes(input_config: ml_collections.ConfigDict) -> dict[str, tuple[int, ...]]:
  """Shapes of one training example's model inputs, without the batch axis: 'video' and,
  when enabled, 'flow' and 'audio' (models are initialised from these before any data is
  read)."""
  num_frames, size = input_config.sampling.num_frames, input_config.pp.crop_size
  shapes = {'video': (num_frames, size, size, 3)}
  if input_config.flow.enabled:
    shapes['flow'] = (num_frames * input_config.flow.stack, size, size, 2)
  if input_config.audio.enabled:
    shapes['audio'] = (input_config.audio.spectrogram_frames, input_config.audio.num_mels)
  return shapes


def make_train_input(
  input_config: ml_collections.ConfigDict,
  seed: int,
  per_host_batch_size: int,
  process_index: int,
  process_count: int,
) -> TrainInput:
  """An endless, per-epoch reshuffled stream of batches of this host's shard."""
  _check_train_pp(input_config.pp, input_config.flow.enabled)
  dataset = open_dataset(input_config.dataset, input_config.split, input_config.data_dir)
  loader = _ClipLoader(dataset, input_config)
  repeats = input_config.pp.repeated_augmentation
  ds = (
    train_index_stream(len(dataset.source), seed, process_index, process_count, repeats)
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

  def video_id(self, index: int) -> str:
    """The id of example `index` of the split (for reports)."""
    video_id = self.dataset.source[index].get('video_id', index)
    return video_id.decode() if isinstance(video_id, bytes) else str(video_id)

  def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
    ds = (
      grain.MapDataset.source(self._indices)
      .map(lambda i: self.loader.eval_views(int(i), self.num_clips, self.num_crops))
      .batch(self.batch_size, drop_remainder=False)
      .to_iter_dataset(self._read_options)
    )
    empty = self.loader.empty_example(self.num_clips * self.num_crops)
    produced = 0
    for batch in ds:
      produced += 1
      yield _pad_batch(batch, empty, self.batch_size)
    # Hosts with a smaller (or empty) shard still run the same number of steps (the step
    # is a collective over all devices): they feed fully masked batches.
    for _ in range(self.num_batches - produced):
      yield _pad_batch({k: v[None][:0] for k, v in empty.items()}, empty, self.batch_size)


def _pad_batch(
  batch: dict[str, np.ndarray], empty: dict[str, np.ndarray], size: int
) -> dict[str, np.ndarray]:
  """`batch` completed to `size` examples with copies of the masked `empty` example."""
  missing = size - len(batch['index'])
  if not missing:
    return batch
  return {
    k: np.concatenate([v, np.broadcast_to(empty[k], (missing, *np.shape(empty[k])))])
    for k, v in batch.items()
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
