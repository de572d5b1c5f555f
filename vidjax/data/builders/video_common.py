"""Machinery shared by the builders of datasets read from a `manual_dir`.

A builder lists the dataset's files from its official annotation files
(`_list_sources`: class names and, per split, `Source(example_id, path, label)`); this
module does the rest:

- transcodes every listed video that exists (short side from the builder config, H.264
  with a keyframe about every second, AAC audio kept when present) in a pool of worker
  processes with a progress bar, into a cache that survives an interrupted prepare:
  `<download_dir>/vidjax_transcoded/<dataset>/<cache key>/`, where `download_dir` is
  tfds's (by default `<data_dir>/downloads`) and the key names the transcoding parameters
  (`short256_crf23_keyint1s`), so that configs which differ only by split (UCF101 split 1
  and 2) or by class list (Kinetics-400 and 600) share their videos; a rerun transcodes
  only what is not in the cache;
- leaves out (and records why) files that are missing, unreadable, without a video
  stream or decodable frame, truncated, or shorter than the config's `min_frames`;
- writes two files next to the prepared dataset, `<data_dir>/<name>/<config>/<version>/`:
  `vidjax_report.json` (per split: every file left out with the decoder's error, every
  listed file that is missing) and `vidjax_manifest.json` (per split: example count and
  the sha256 of the sorted example ids, see `ids_sha256`). They are written inside tfds's
  `incomplete.*` folder, so they appear atomically with the records.

On Apache Beam (a `DownloadConfig` with a `beam_runner` or `beam_options`), a
`VideoBuilder` gives tfds one Beam transform per split instead
(`vidjax/data/beam_prepare.py`): the workers transcode without the cache, and the report
and manifest are the same.

Builders are found by module path: dataset `NAME` is the builder with tfds name `NAME`
in module `vidjax.data.builders.NAME` (`builder_class`). They are registered with tfds through a
provider placed before tfds's own registry, because tfds ships legacy builders (e.g.
`ucf101`, which needs TensorFlow) under the same names.
"""

import abc
import dataclasses
import hashlib
import importlib
import json
import os
import pkgutil
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from etils import epath
from tensorflow_datasets.core import registered

from vidjax.data import tags_index
from vidjax.data.builders import transcode_cache, worker_pool

REPORT_FILENAME = 'vidjax_report.json'
MANIFEST_FILENAME = 'vidjax_manifest.json'

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.webm', '.mkv', '.mov')


class _Builders(registered.DatasetBuilderProvider):
  """The vidjax builders, looked up by tfds before its own registry."""

  def __init__(self):
    self.classes: dict[str, type] = {}

  def has_dataset(self, name: str) -> bool:
    return name in self.classes

  def get_builder_cls(self, name: str) -> type:
    return self.classes[name]


_BUILDERS = _Builders()
registered.add_dataset_builder_provider(_BUILDERS, index=0)


@dataclasses.dataclass(frozen=True)
class Source:
  """One file listed by a dataset's annotations.

  Attributes:
    example_id: unique id in the dataset (the tfds key and the `video_id` feature).
    path: where the file should be: a local path, or a URI of any `etils.epath` backend
      (gs://, s3://); one that does not exist is reported missing.
    label: class index, or -1 where the annotations give none (unlabelled test splits).
    features: more features of the example that the builder declares (`web_videos`'
      'tags').
  """

  example_id: str
  path: str
  label: int
  features: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Listing:
  """What a builder reads from the annotation files: class names and sources per split."""

  label_names: list[str]
  splits: dict[str, list[Source]]


@dataclasses.dataclass(eq=False)
class VideoConfig(tfds.core.BuilderConfig):
  """Storage parameters common to the video builders.

  Attributes:
    short_side: shorter side of the stored videos in pixels (even).
    min_frames: videos with fewer frames are left out (and reported).
  """

  short_side: int = 256
  min_frames: int = 8


def ids_sha256(example_ids: Sequence[str]) -> str:
  """sha256 (hex) of the sorted ids joined by newlines (UTF-8): a split's fingerprint."""
  return hashlib.sha256('\n'.join(sorted(example_ids)).encode('utf-8')).hexdigest()


class ManualBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A builder that reads `manual_dir` and writes the report and manifest.

  Subclasses that set `name` are registered with tfds under it. Subclasses record each
  split with `_record_split` while generating it.

  Args (constructor, besides tfds's `data_dir`, `config`, `file_format` (default
  'array_record')...):
    workers: worker processes for transcoding/decoding; default: the CPU count.
    progress: show progress bars.
  """

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = 'See the module docstring of the builder.'
  # Whether tools/prepare_dataset.py may create configs under names the user chooses.
  USER_CONFIGS = False

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(skip_registration=True, **kwargs)
    if 'name' in cls.__dict__:
      _BUILDERS.classes[cls.name] = cls

  def __init__(self, *, workers: int | None = None, progress: bool = True, **kwargs):
    self._workers = workers or os.cpu_count() or 1
    self._progress = progress
    self._report: dict[str, Any] = {}
    self._example_ids: dict[str, list[str]] = {}
    # tfds's default, TFRecord, needs TensorFlow to write.
    kwargs.setdefault('file_format', 'array_record')
    super().__init__(**kwargs)

  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    # tfds's own lookup imports the undeclared `importlib_resources` backport.
    return epath.Path(__file__)

  def _start_report(self, manual_dir: epath.Path) -> None:
    self._report = {
      'dataset': f'{self.name}/{self.builder_config.name}',
      'version': str(self.version),
      'manual_dir': os.fspath(manual_dir),
      'splits': {},
    }
    self._example_ids = {}

  def _record_split(
    self,
    split: str,
    num_listed: int,
    example_ids: list[str],
    missing: list[dict[str, str]],
    left_out: list[dict[str, str]],
  ) -> None:
    """Records the outcome of a split for the report and the manifest."""
    self._example_ids[split] = example_ids
    self._report['splits'][split] = {
      'num_listed': num_listed,
      'num_examples': len(example_ids),
      'num_missing': len(missing),
      'num_left_out': len(left_out),
      'missing': missing,
      'left_out': left_out,
    }
    if missing or left_out:
      logging.warning(
        '%s/%s: %d files missing, %d left out (see %s)',
        self.name,
        split,
        len(missing),
        len(left_out),
        REPORT_FILENAME,
      )

  def _download_and_prepare(self, dl_manager, download_config) -> None:
    if on_beam(download_config) and not isinstance(self, VideoBuilder):
      raise ValueError(
        f'{self.name}: only the video datasets are prepared on Apache Beam; prepare '
        f'{self.name} without a Beam runner or options.'
      )
    super()._download_and_prepare(dl_manager, download_config)
    self._finish_splits()
    # `data_path` is tfds's `incomplete.*` folder here; it is renamed when this returns.
    manifest = {
      'dataset': self._report['dataset'],
      'version': self._report['version'],
      'config': config_params(self.builder_config),
      'splits': {
        split: {'num_examples': len(ids), 'ids_sha256': ids_sha256(ids)}
        for split, ids in sorted(self._example_ids.items())
      },
    }
    for filename, content in ((REPORT_FILENAME, self._report), (MANIFEST_FILENAME, manifest)):
      (self.data_path / filename).write_text(json.dumps(content, indent=1))

  def _finish_splits(self) -> None:
    """Records the splits whose outcome is only known once tfds has written them."""


def on_beam(download_config: tfds.download.DownloadConfig) -> bool:
  """Whether tfds is asked to prepare on Apache Beam (a runner or pipeline options given)."""
  return download_config.beam_runner is not None or download_config.beam_options is not None


def config_params(config: tfds.core.BuilderConfig) -> dict[str, Any]:
  """The config's name and parameters (what the manifest records)."""
  base = {f.name for f in dataclasses.fields(tfds.core.BuilderConfig)}
  params = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
  return {'name': config.name, **{k: v for k, v in params.items() if k not in base}}


def video_features() -> dict[str, tfds.features.FeatureConnector]:
  """The features of every video dataset (the input pipeline relies on them).

  `label` has its names set when the annotations are read (`Listing.label_names`).
  """
  scalar = lambda dtype: tfds.features.Tensor(shape=(), dtype=dtype)
  return {
    'video': scalar(np.object_),
    'label': tfds.features.ClassLabel(),
    'video_id': tfds.features.Text(),
    'num_frames': scalar(np.int32),
    'fps': scalar(np.float32),
    'has_audio': scalar(np.bool_),
    # The soundtrack as 16 kHz mono s16le (empty without audio): `data/audio.py`.
    'audio_pcm': scalar(np.object_),
    'height': scalar(np.int32),
    'width': scalar(np.int32),
  }


class VideoBuilder(ManualBuilder):
  """Transcodes the videos of `_list_sources` through the cache and yields them."""

  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES = {
    '1.0.0': 'Initial release.',
    '1.1.0': 'audio_pcm: the soundtrack as 16 kHz mono s16le, read by the audio path.',
  }
  HOMEPAGE = ''
  CITATION = ''

  @abc.abstractmethod
  def _list_sources(self, manual_dir: epath.Path) -> Listing:
    """Reads the annotation files: class names and the sources of every split."""

  def _cache_key(self) -> str:
    """Sub-folder of the dataset's cache; videos with the same id in it are reused."""
    crf, keyint = transcode_cache.CRF, transcode_cache.KEYFRAME_INTERVAL_S
    return f'short{self.builder_config.short_side}_crf{crf}_keyint{keyint:g}s'

  def _features(self) -> dict[str, tfds.features.FeatureConnector]:
    """The example's features: `video_features()`, and a builder's own (`Source.features`)."""
    return video_features()

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
      builder=self,
      description=(self.__doc__ or '').strip().split('\n\n')[0],
      features=tfds.features.FeaturesDict(self._features()),
      supervised_keys=('video', 'label'),
      homepage=self.HOMEPAGE,
      citation=self.CITATION,
    )

  def _download_and_prepare(self, dl_manager, download_config) -> None:
    self._on_beam = on_beam(download_config)
    super()._download_and_prepare(dl_manager, download_config)

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    manual_dir = dl_manager.manual_dir
    listing = self._list_sources(manual_dir)
    self.info.features['label'].names = listing.label_names
    self._start_report(manual_dir)
    self._listing = listing
    if self._on_beam:
      # apache_beam comes with the optional 'beam' extra; only a Beam prepare imports it.
      from vidjax.data import beam_prepare  # noqa: PLC0415

      return beam_prepare.split_transforms(
        listing, self._checked_short_side(), self.builder_config.min_frames, self.data_path
      )
    cache_dir = os.path.join(
      os.fspath(dl_manager.download_dir), 'vidjax_transcoded', self.name, self._cache_key()
    )
    errors = self._transcode(listing, cache_dir)
    return {
      split: self._generate_examples(split, sources, cache_dir, errors)
      for split, sources in listing.splits.items()
    }

  def _finish_splits(self) -> None:
    if self._on_beam:
      from vidjax.data import beam_prepare  # noqa: PLC0415

      counts = beam_prepare.record_outcomes(self._listing, self.data_path, self._record_split)
      self._report['transcoding'] = counts
    tags = {
      source.example_id: source.features['tags']
      for sources in self._listing.splits.values()
      for source in sources
      if 'tags' in source.features
    }
    if tags:
      tags_index.write(self.data_path, self._example_ids, tags)

  def _checked_short_side(self) -> int:
    short_side = self.builder_config.short_side
    if short_side <= 0 or short_side % 2:
      raise ValueError(
        f'{self.name}/{self.builder_config.name}: short_side={short_side}, must be a positive '
        'even number (H.264 stores 4:2:0 chroma); fix the config.'
      )
    return short_side

  def _transcode(self, listing: Listing, cache_dir: str) -> dict[str, str]:
    """Transcodes every existing, not yet cached source; returns {example_id: error}."""
    short_side = self._checked_short_side()
    sources = {}
    for split_sources in listing.splits.values():
      for source in split_sources:
        previous = sources.setdefault(source.example_id, source)
        if previous.path != source.path:
          raise ValueError(
            f'{self.name}: example id {source.example_id!r} names two files, '
            f'{previous.path} and {source.path}; the annotations must give one file per id.'
          )
    existing = [s for s in sources.values() if transcode_cache.source_exists(s.path)]
    jobs = [
      (s.example_id, s.path, transcode_cache.cache_path(cache_dir, s.example_id), short_side)
      for s in existing
      if not os.path.exists(transcode_cache.cache_path(cache_dir, s.example_id))
    ]
    errors = {}
    desc = f'{self.name}/{self.builder_config.name}: transcoding'
    transcode = transcode_cache.transcode_job
    for job, error in worker_pool.parallel_map(
      transcode, jobs, self._workers, desc, self._progress
    ):
      if error is not None:
        errors[job[0]] = error
    # A cache written before soundtracks were stored gets them, without a new transcode.
    cached = [transcode_cache.cache_path(cache_dir, s.example_id) for s in existing]
    suffix = transcode_cache.PCM_SUFFIX
    without_pcm = [c for c in cached if os.path.exists(c) and not os.path.exists(c + suffix)]
    if without_pcm:
      pcm_desc = f'{self.name}/{self.builder_config.name}: soundtracks of cached videos'
      add = transcode_cache.add_soundtrack
      for _ in worker_pool.parallel_map(add, without_pcm, self._workers, pcm_desc, self._progress):
        pass
    self._report['cache_dir'] = cache_dir
    self._report['transcoding'] = {
      'reused': len(existing) - len(jobs),
      'transcoded': len(jobs) - len(errors),
      'failed': len(errors),
    }
    logging.info('%s: %s (cache: %s)', desc, self._report['transcoding'], cache_dir)
    return errors

  def _generate_examples(
    self, split: str, sources: list[Source], cache_dir: str, errors: dict[str, str]
  ) -> Iterator[tuple[str, dict[str, Any]]]:
    min_frames = self.builder_config.min_frames
    example_ids, missing, left_out = [], [], []
    for source in sources:
      entry = {'example_id': source.example_id, 'path': source.path}
      if not transcode_cache.source_exists(source.path):
        missing.append(entry)
        continue
      if source.example_id in errors:
        left_out.append({**entry, 'error': errors[source.example_id]})
        continue
      cached = transcode_cache.cache_path(cache_dir, source.example_id)
      with open(cached + '.json') as f:
        info = json.load(f)['info']
      if error := too_short(info['num_frames'], min_frames):
        left_out.append({**entry, 'error': error})
        continue
      with open(cached, 'rb') as f:
        video = f.read()
      with open(cached + transcode_cache.PCM_SUFFIX, 'rb') as f:
        audio_pcm = f.read()
      example_ids.append(source.example_id)
      yield source.example_id, video_example(source, video, audio_pcm, info)
    self._record_split(split, len(sources), example_ids, missing, left_out)


def too_short(num_frames: int, min_frames: int) -> str | None:
  """Why a video with `num_frames` frames is left out, or None when it is kept."""
  if num_frames < min_frames:
    return f'too short: {num_frames} frames < min_frames={min_frames}'
  return None


def video_example(source: Source, video: bytes, audio_pcm: bytes, info: dict[str, Any]):
  """The features of one transcoded video (`info`: its `decode.VideoInfo` as a dict)."""
  return {
    'video': video,
    'label': source.label,
    'video_id': source.example_id,
    'num_frames': info['num_frames'],
    'fps': info['fps'],
    'has_audio': info['has_audio'],
    'audio_pcm': audio_pcm,
    'height': info['height'],
    'width': info['width'],
    **source.features,
  }


def known_datasets() -> list[str]:
  """Names of the datasets prepared from a `manual_dir` (modules of vidjax.data.builders)."""
  package = importlib.import_module('vidjax.data.builders')
  names = []
  for module in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f'vidjax.data.builders.{module.name}')
    if module.name in _BUILDERS.classes:
      names.append(module.name)
  return sorted(names)


def builder_class(name: str) -> type[ManualBuilder]:
  """The builder class of dataset `name`, from module `vidjax.data.builders.<name>`.

  Raises:
    ValueError: no such dataset; the message lists the known ones.
  """
  try:
    importlib.import_module(f'vidjax.data.builders.{name}')
  except ModuleNotFoundError as e:
    if e.name != f'vidjax.data.builders.{name}':
      raise
  if name not in _BUILDERS.classes:
    raise ValueError(f'Unknown dataset {name!r}; known datasets: {", ".join(known_datasets())}.')
  return _BUILDERS.classes[name]


def _prepared_file(data_dir: str, dataset: str, filename: str) -> dict[str, Any]:
  name = dataset.partition('/')[0]
  builder_class(name)
  not_prepared = FileNotFoundError(
    f'{dataset} is not prepared in {data_dir} ({filename} not found). Run: python '
    f'tools/prepare_dataset.py --dataset {name} --manual_dir DIR --data_dir {data_dir}'
  )
  try:
    # tfds.builder also finds configs named by the user (image_folder, video_folder),
    # which only exist in the prepared files.
    builder = tfds.builder(dataset, data_dir=data_dir)
  except (registered.DatasetNotFoundError, ValueError) as e:
    raise not_prepared from e
  path = builder.data_path / filename
  if not path.exists():
    raise not_prepared
  return json.loads(path.read_text())


def read_manifest(data_dir: str, dataset: str) -> dict[str, Any]:
  """The manifest of a prepared dataset ('name' or 'name/config'), to record with results.

  Returns:
    `{'dataset', 'version', 'config': {parameters}, 'splits': {split: {'num_examples',
    'ids_sha256'}}}`.

  Raises:
    FileNotFoundError: the dataset is not prepared in `data_dir`.
  """
  return _prepared_file(data_dir, dataset, MANIFEST_FILENAME)


def read_report(data_dir: str, dataset: str) -> dict[str, Any]:
  """The validation report of a prepared dataset ('name' or 'name/config')."""
  return _prepared_file(data_dir, dataset, REPORT_FILENAME)
