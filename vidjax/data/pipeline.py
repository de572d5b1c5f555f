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
  split (or a slice: 'train[:90%]'), batch_size (global), num_threads, prefetch.
  loader: 'clip' | 'image' (`vidjax.data.loaders`).
  sources: {name: overrides of these keys}: several inputs read in lockstep, each batch
    {name: batch} (`make_sources_input`); {} reads config.input itself.
  sampling: mode ('stride' | 'fps' | 'segments'), num_frames, stride (mode 'stride'),
    target_fps (mode 'fps'), policy ('loop' | 'pad'); see data/samplers/.
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
import functools
import importlib
import json
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import grain
import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from vidjax.data import label_space, loaders, tags_index
from vidjax.data.builders import video_common


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A prepared split: random access to records plus the label names."""

  source: Sequence[dict]
  label_names: tuple[str, ...]
  # The classes' ids in a dataset's own numbering (AVA's label map), in label order; ()
  # where they are the label indices.
  label_ids: tuple[int, ...]
  name: str
  split: str
  # What exactly was read, recorded with evaluation results: {'dataset', 'version',
  # 'config', 'split', 'num_examples', 'ids_sha256'} (see `split_manifest`).
  manifest: dict
  # The builder's metadata (e.g. the synthetic tags' vocabulary).
  metadata: dict = dataclasses.field(default_factory=dict)
  # Labels are multi-hot float32 [K] rather than class indices (a hashtag label space).
  multi_hot: bool = False


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
  # A split slice ('train[:90%]', 'train[90%:]', 'validation[:100]') carves a held-out set
  # out of a split; tfds reads it as such.
  base_split = split.partition('[')[0]
  if base_split not in builder.info.splits:
    raise ValueError(
      f'Dataset {dataset!r} has no split {base_split!r}; splits: {list(builder.info.splits)}.'
    )
  source = tfds.data_source(
    dataset, split=split, data_dir=data_dir, builder_kwargs=dict(file_format='array_record')
  )
  features = builder.info.features
  label_names = ()
  if 'label' in features and isinstance(features['label'], tfds.features.ClassLabel):
    label_names = tuple(features['label'].names)
  elif builder.info.metadata and 'label_names' in builder.info.metadata:
    label_names = tuple(builder.info.metadata['label_names'])  # e.g. per-actor multi-hot
  metadata = builder.info.metadata or {}
  label_ids = tuple(int(i) for i in metadata.get('label_ids', ()))
  return Dataset(
    source=source,
    label_names=label_names,
    label_ids=label_ids,
    name=dataset,
    split=split,
    manifest=split_manifest(builder, split),
    metadata=dict(metadata),
  )


@functools.lru_cache(maxsize=8)
def split_tags(dataset: str, split: str, data_dir: str) -> tuple[list[str], ...]:
  """The parsed tags of every record of a split, read once per process: building a label
  space and relabelling the split read the same. From the dataset's tags index where it
  has one (`data/tags_index.py`); else from the records, which reads the whole split."""
  source = open_dataset(dataset, split, data_dir).source
  builder = tfds.builder(dataset, data_dir=data_dir, file_format='array_record')
  if 'tags' not in builder.info.features:
    raise ValueError(
      f'config.input.label_space: the records of {dataset!r} have no tags to build classes '
      'from (a dataset with hashtags: web_videos, vidjax_synthetic/tags).'
    )
  tags = tags_index.read(builder, split, source)
  if tags is None:
    tags = [source[i]['tags'] for i in range(len(source))]
  return tuple(label_space.parse_tags(t) for t in tags)


@functools.lru_cache(maxsize=8)
def build_label_space(
  dataset: str, split: str, data_dir: str, kind: str, min_count: int, vocabulary: str
) -> label_space.LabelSpace:
  """The label space built from the tags of `split` (built once per process)."""
  words = label_space.load_vocabulary(vocabulary, open_dataset(dataset, split, data_dir).metadata)
  return label_space.build(split_tags(dataset, split, data_dir), kind, min_count, words)


def with_label_space(
  dataset: Dataset, input_config: ml_collections.ConfigDict, resample_seed: int | None = None
) -> Dataset:
  """`dataset` relabelled by `config.input.label_space` (unchanged where its kind is
  ''): the videos with a class of the space, multi-hot labels; with `resample_seed` (the
  training stream) re-sampled as `label_space.resample` says."""
  config = input_config.label_space
  if not config.kind:
    return dataset
  if config.resample not in label_space.RESAMPLING:
    raise ValueError(
      f'config.input.label_space.resample={config.resample!r}; allowed values: '
      f'{label_space.RESAMPLING}.'
    )
  space = build_label_space(
    input_config.dataset,
    input_config.split,
    input_config.data_dir,
    config.kind,
    config.min_count,
    config.vocabulary,
  )
  tag_lists = split_tags(dataset.name, dataset.split, input_config.data_dir)
  source = label_space.relabel(dataset.source, tag_lists, space, config.num_classes)
  if resample_seed is not None and config.resample == 'sqrt':
    weights = label_space.sqrt_sampling_weights(source.labels, space.counts)
    source = source.resampled(weights, resample_seed)
  manifest = dict(
    dataset.manifest,
    label_space=dict(config.to_dict(), space_classes=len(space.names), num_examples=len(source)),
  )
  names = label_space.output_names(space, config.num_classes)
  return dataclasses.replace(
    dataset, source=source, label_names=names, manifest=manifest, multi_hot=True
  )


def split_manifest(builder: tfds.core.DatasetBuilder, split: str) -> dict:
  """The identity of one prepared split (or slice of one), to store next to results
  computed on it.

  Datasets prepared by tools/prepare_dataset.py carry a manifest with a hash of the
  example ids of each split; the embedded synthetic dataset is a pure function of its
  config, which identifies it (its hash is None).
  """
  manifest_path = builder.data_path / video_common.MANIFEST_FILENAME
  base_split = split.partition('[')[0]
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
    entry.update(config=prepared['config'], **prepared['splits'][base_split])
    if split != base_split:  # the prepared split's identity, and which part of it was read
      entry.update(split=split, num_examples=builder.info.splits[split].num_examples)
  return entry


class _TrainExample(grain.transforms.RandomMap):
  def __init__(self, loader):
    self._loader = loader

  def random_map(self, index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return self._loader.train_example(int(index), rng)


def read_options(input_config: ml_collections.ConfigDict) -> grain.ReadOptions:
  return grain.ReadOptions(
    num_threads=input_config.num_threads, prefetch_buffer_size=input_config.prefetch
  )


@dataclasses.dataclass
class TrainInput:
  """The training stream: a checkpointable grain iterator of host-local batches."""

  iterator: grain.DatasetIterator
  loader: Any
  dataset: Dataset

  @property
  def decode_failures(self) -> int:
    return self.loader.decode_failures

  @property
  def rejected_samples_kept(self) -> int:
    return self.loader.rejected_samples_kept


def with_overrides(
  input_config: ml_collections.ConfigDict, overrides: Any, where: str
) -> ml_collections.ConfigDict:
  """A copy of `input_config` with `overrides` (a dict of its keys, nested dicts update
  nested keys) applied; `sources` is not inherited.

  Raises:
    ValueError: an override names a key config.input does not have (listing the known).
  """
  merged = ml_collections.ConfigDict(input_config.to_dict())
  overrides = ml_collections.ConfigDict(dict(overrides))
  unknown = sorted(set(overrides) - set(merged) | {'sources'} & set(overrides))
  if unknown:
    raise ValueError(
      f'{where} has keys {unknown} that config.input does not have or that cannot be '
      f'overridden; known keys: {sorted(set(merged) - {"sources"})}.'
    )
  merged.update(overrides)
  merged.sources = {}
  return merged


def source_configs(input_config: ml_collections.ConfigDict) -> dict[str, Any]:
  """{name: the full input config of each source} (config.input with each source's
  overrides), or {} for a single-source input."""
  return {
    name: with_overrides(input_config, overrides, f'config.input.sources.{name}')
    for name, overrides in input_config.sources.items()
  }


class SourcesIterator:
  """Batches of several sources, {name: batch}; its state is every source's state."""

  def __init__(self, iterators: dict[str, grain.DatasetIterator]):
    self._iterators = iterators

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, dict[str, np.ndarray]]:
    return {name: next(iterator) for name, iterator in self._iterators.items()}

  def get_state(self) -> dict:
    return {name: iterator.get_state() for name, iterator in self._iterators.items()}

  def set_state(self, state: dict) -> None:
    missing = sorted(set(self._iterators) - set(state))
    if missing:
      raise ValueError(
        f'The checkpoint has no data state for the sources {missing}: it was written by a '
        'run with other config.input.sources; start in a new workdir.'
      )
    for name, iterator in self._iterators.items():
      iterator.set_state(state[name])


@dataclasses.dataclass
class SourcesInput:
  """The training stream of several sources: {name: batch} per step."""

  iterator: SourcesIterator
  inputs: dict[str, TrainInput]

  @property
  def decode_failures(self) -> int:
    return sum(source.decode_failures for source in self.inputs.values())

  @property
  def rejected_samples_kept(self) -> int:
    return sum(source.rejected_samples_kept for source in self.inputs.values())


def global_index_stream(
  num_examples: int, seed: int, process_count: int, repeats: int = 1
) -> grain.MapDataset:
  """The endless stream of example indices of all hosts, by global position: reshuffled
  every epoch (shuffle before repeat), and position g belongs to host g % process_count.

  Host h reads the plain stream's positions h, h + P, h + 2P, ... (disjoint examples each
  epoch). With `repeats` > 1 (repeated augmentation, Hoffer et al. 2020; DeiT) every index
  is repeated in place within a host: its local position p holds its plain position
  p // repeats. The random map that follows is seeded by the global position, so an
  example gets the same augmentation whatever the number of hosts, and the copies of a
  repeated video get independent ones.
  """
  plain = grain.MapDataset.range(num_examples).shuffle(seed=seed).repeat()

  def index_at(position: int) -> int:
    host, local = position % process_count, position // process_count
    return plain[(local // repeats) * process_count + host]

  return grain.MapDataset.range(len(plain)).map(index_at)


def train_index_stream(
  num_examples: int, seed: int, process_index: int, process_count: int, repeats: int = 1
) -> grain.MapDataset:
  """This host's endless stream of example indices (see `global_index_stream`)."""
  return global_index_stream(num_examples, seed, process_count, repeats)[
    process_index::process_count
  ]


def input_shapes(input_config: ml_collections.ConfigDict) -> dict[str, tuple[int, ...]]:
  """Shapes of one training example's model inputs, without the batch axis (models are
  initialised from these before any data is read); with several sources, the inputs of
  all of them (a model picks the keys it reads, `vidjax.models.model_inputs`)."""
  sources = source_configs(input_config) or {'': input_config}
  shapes = {}
  for source in sources.values():
    shapes.update(loaders.module(source.loader).input_shapes(source))
  return shapes


def make_sources_input(
  input_config: ml_collections.ConfigDict,
  seed: int,
  per_host_batch_sizes: dict[str, int],
  process_index: int,
  process_count: int,
) -> SourcesInput:
  """One stream per source of `config.input.sources`, each with its own batch size and a
  seed of its own (the source's name folded in), read in lockstep."""
  inputs = {
    name: make_train_input(
      source,
      seed ^ zlib.crc32(name.encode()),
      per_host_batch_sizes[name],
      process_index,
      process_count,
    )
    for name, source in source_configs(input_config).items()
  }
  iterator = SourcesIterator({name: train.iterator for name, train in inputs.items()})
  return SourcesInput(iterator=iterator, inputs=inputs)


def make_train_input(
  input_config: ml_collections.ConfigDict,
  seed: int,
  per_host_batch_size: int,
  process_index: int,
  process_count: int,
) -> TrainInput:
  """An endless, per-epoch reshuffled stream of batches of this host's shard."""
  loader_module = loaders.module(input_config.loader)
  loader_module.check_train_config(input_config)
  dataset = open_dataset(input_config.dataset, input_config.split, input_config.data_dir)
  dataset = with_label_space(dataset, input_config, resample_seed=seed)
  loader = loader_module.Loader(dataset, input_config)
  repeats = input_config.pp.repeated_augmentation
  ds = (
    global_index_stream(len(dataset.source), seed, process_count, repeats)
    .random_map(_TrainExample(loader), seed=seed)[process_index::process_count]
    .to_iter_dataset(read_options(input_config))
    .batch(per_host_batch_size, drop_remainder=True)
  )
  return TrainInput(iterator=iter(ds), loader=loader, dataset=dataset)


@dataclasses.dataclass
class EvalInput:
  """Padded host-local batches of every example of a split, each counted exactly once."""

  dataset: Dataset
  loader: Any
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
    record = self.dataset.source[index]
    video_id = record.get('video_id', record.get('image_id', index))
    return video_id.decode() if isinstance(video_id, bytes) else str(video_id)

  def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
    ds = (
      grain.MapDataset.source(self._indices)
      .map(lambda i: self.loader.eval_example(int(i), self.num_clips, self.num_crops))
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
  dataset = with_label_space(
    open_dataset(input_config.dataset, split, input_config.data_dir), input_config
  )
  num_examples = len(dataset.source)
  indices = range(num_examples)[process_index::process_count]
  largest_shard = -(-num_examples // process_count)
  return EvalInput(
    dataset=dataset,
    loader=loaders.module(input_config.loader).Loader(dataset, input_config),
    num_batches=-(-largest_shard // per_host_batch_size),
    batch_size=per_host_batch_size,
    num_clips=num_clips,
    num_crops=num_crops,
    _indices=indices,
    _read_options=read_options(input_config),
  )
