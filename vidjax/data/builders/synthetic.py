"""`vidjax_synthetic`: the embedded, procedurally generated quickstart dataset.

Each video shows a few textured objects (their shape is the appearance class) on a smooth
random background with per-frame pixel noise. The action label changes exactly one factor
of the objects monotonically over the clip (position, angle, scale or opacity); every
other factor is constant at a value drawn from the same per-frame marginal distribution
that the changing factor sweeps. A single frame therefore carries no information about
the class and temporal modelling is necessary. The audio track is a tone whose frequency
names a class: the video's class with probability `audio_agreement`, another otherwise.
The `events` config adds audio-visual events: an object flashes for a frame as it makes
its sound (a click and a tone whose pitch names its shape), at times stored in
`event_times` (audio-visual synchronisation, AVTS). The `speed` config plays its validation
videos in segments at normal and at twice the speed, each frame's speed stored in
`frame_speed` (SpeedNet's speediness). `untrimmed` shows the action in one short segment
of a long video, `action_segment`, idle scenes around it (SCSampler). `tags` gives every
video noisy hashtags, `tags` (`synthetic_tags`, IG-65M). `interactions` has
actors with actions and relations, annotated at keyframes with detector boxes; its records
are keyframes (`synthetic_interactions`, AVA's layout).

The builder works like a real-dataset builder: it first renders every video into a
sources folder, `sources_dir(data_dir, config_name)`, which is
`<data_dir>/downloads/manual/vidjax_synthetic/<config name>` (tfds's default manual
folder), as `<split>/<video_id>.mp4` plus `<split>/<video_id>.npz` annotations. Existing
files are kept, so an interrupted build resumes. It then ingests that folder: a video that
cannot be decoded, has the wrong frame count or lacks its annotation is left out, logged,
and listed in `<sources>/<split>_report.json`. The `images` config (single images, label
= shape, for joint image/video training) is generated directly, without sources.

Build: `ensure_built(data_dir, 'default')`; read: `tfds.data_source('vidjax_synthetic',
data_dir=..., split='train', builder_kwargs=dict(config='default',
file_format='array_record'))` after importing this module. `render_video(config, split,
index)` (from `synthetic_scenes`, which holds the scenes) gives one example as arrays,
without encoding. Horizontal flips swap
move_left/move_right and rotate_cw/rotate_ccw: augment with care.
"""

import collections
import concurrent.futures
import dataclasses
import functools
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from etils import epath
from PIL import Image

from vidjax.data import audio, decode, encode
from vidjax.data.builders import ava, synthetic_configs, synthetic_interactions, synthetic_tags
from vidjax.data.builders.synthetic_interactions import ACTOR_ACTIONS
from vidjax.data.builders.synthetic_scenes import (
  ACTION_NAMES,
  AUDIO_SAMPLE_RATE,
  SHAPE_NAMES,
  SPLITS,
  VidjaxSyntheticConfig,
  num_examples,
  render_video,
)


def sources_dir(data_dir: str, config_name: str) -> str:
  """Returns the folder of rendered source videos for a config under `data_dir`."""
  return os.path.join(os.fspath(data_dir), 'downloads', 'manual', 'vidjax_synthetic', config_name)


def _video_id(split: str, index: int) -> str:
  return f'{split}_{index:05d}'


_ANNOTATION_KEYS = ('label', 'audio_label', 'object_actions', 'object_shapes', 'boxes')
_ANNOTATION_KEYS += ('object_visible', 'masks')
_EVENT_KEYS = ('event_times', 'event_objects')
_KEYPOINT_KEYS = ('keypoints', 'keypoint_visible', 'labelled_frames')
_INTERACTION_KEYS = ('is_actor', 'actor_labels', 'keyframes', 'detection_boxes')
_INTERACTION_KEYS += ('detection_scores',)


def _annotation_keys(config: VidjaxSyntheticConfig) -> tuple[str, ...]:
  keys = _ANNOTATION_KEYS + (_EVENT_KEYS if config.events_per_second > 0 else ())
  keys += ('frame_speed',) if config.speeds else ()
  keys += ('frame_phase',) if config.phases else ()
  keys += ('action_segment',) if config.action_frames else ()
  keys += _INTERACTION_KEYS if config.interactions else ()
  return keys + (_KEYPOINT_KEYS if config.keypoints_per_object else ())


def _threaded_map(fn: Callable[[Any], Any], items: Sequence[Any], threads: int) -> Iterator[Any]:
  """`map(fn, items)` on a thread pool, in order, with a bounded number in flight.

  Threads rather than processes: x264 and the decoders release the GIL, which is where
  most of the time goes, and threads need no process start method (spawn re-runs an
  unguarded `__main__`; fork is unsafe once JAX threads run).
  """
  with concurrent.futures.ThreadPoolExecutor(threads) as pool:
    pending = collections.deque()
    for item in items:
      pending.append(pool.submit(fn, item))
      if len(pending) >= 4 * threads:
        yield pending.popleft().result()
    while pending:
      yield pending.popleft().result()


def _write_source(config: VidjaxSyntheticConfig, split: str, index: int, directory: str) -> None:
  stem = os.path.join(directory, _video_id(split, index))
  if os.path.exists(stem + '.mp4') and os.path.exists(stem + '.npz'):
    return
  example = render_video(config, split, index)
  annotation = io.BytesIO()
  np.savez_compressed(annotation, **{k: example[k] for k in _annotation_keys(config)})
  video = encode.encode_video(example['frames'], config.fps, example['audio'], AUDIO_SAMPLE_RATE)
  for suffix, data in (('.npz', annotation.getvalue()), ('.mp4', video)):
    # Write-then-rename: an interrupted build never leaves a partial file that looks done.
    with open(stem + '.tmp' + suffix, 'wb') as f:
      f.write(data)
    os.replace(stem + '.tmp' + suffix, stem + suffix)


def write_sources(
  config: VidjaxSyntheticConfig, split: str, directory: str, threads: int = 2
) -> None:
  """Renders the missing `<video_id>.mp4` + `.npz` files of a split into `directory`.

  The files do not depend on `threads`: every video is a function of (config, split, index).

  Args:
    config: the dataset config.
    split: 'train' or 'validation'.
    directory: destination folder, created if missing.
    threads: worker threads.
  """
  os.makedirs(directory, exist_ok=True)
  indices = range(num_examples(config, split))
  for _ in _threaded_map(lambda i: _write_source(config, split, i, directory), indices, threads):
    pass


def _load_source(config: VidjaxSyntheticConfig, path: str) -> tuple[dict | None, str | None]:
  """Reads and checks one source video + annotation: `(example, None)` or `(None, error)`."""
  try:
    with open(path, 'rb') as f:
      video = f.read()
    info = decode.probe(video)
    if info.num_frames != config.num_frames:
      raise ValueError(f'{info.num_frames} frames, expected {config.num_frames}')
    # Decoding every frame catches corrupt packets that the container still indexes.
    decode.decode_frames(video, range(info.num_frames))
    with np.load(path[: -len('.mp4')] + '.npz') as annotation:
      example = {k: annotation[k] for k in _annotation_keys(config)}
    t, h, w = config.num_frames, config.height, config.width
    if example['masks'].shape != (t, h, w) or example['boxes'].shape[1:] != (t, 4):
      raise ValueError(f'annotation shapes {example["masks"].shape}, {example["boxes"].shape}')
    audio_pcm = audio.soundtrack_pcm(video) if info.has_audio else b''
  except (decode.DecodeError, OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
    return None, f'{type(e).__name__}: {e}'
  return {**example, 'video': video, 'has_audio': info.has_audio, 'audio_pcm': audio_pcm}, None


def _claim_sources(root: str, config: VidjaxSyntheticConfig) -> None:
  """Records the generative parameters in `root`, or checks them against a previous build."""
  # The label kind picks a label of the same rendered videos, so it is not a parameter of them.
  base = {f.name for f in dataclasses.fields(tfds.core.BuilderConfig)} | {'label_kind'}
  params = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
  params = json.loads(json.dumps({k: v for k, v in params.items() if k not in base}))
  path = os.path.join(root, 'config.json')
  if os.path.exists(path):
    with open(path) as f:
      previous = json.load(f)
    # A parameter added after these sources were rendered matches them at its default,
    # which renders what the builds before it rendered.
    # (Compared as JSON, as the parameters are: tuples as lists.)
    defaults = {f.name: f.default for f in dataclasses.fields(config) if f.name in params}
    defaults = json.loads(json.dumps(defaults))
    added = {k for k in params if k not in previous and params[k] == defaults[k]}
    if previous != {k: v for k, v in params.items() if k not in added}:
      raise ValueError(
        f'{root} holds sources rendered with {previous}, not {params}: delete that folder '
        f'or give the config another name.'
      )
    return
  os.makedirs(root, exist_ok=True)
  with open(path, 'w') as f:
    json.dump(params, f)


def ensure_built(
  data_dir: str, config_name: str | VidjaxSyntheticConfig = 'default'
) -> tfds.core.DatasetBuilder:
  """Builds `vidjax_synthetic/<config>` under `data_dir` unless prepared; returns the builder."""
  builder = VidjaxSynthetic(config=config_name, data_dir=data_dir, file_format='array_record')
  config = builder.builder_config
  if config.view == 'video':
    # tfds identifies a prepared dataset by config name only; the sources know the rest.
    _claim_sources(sources_dir(data_dir, config.name), config)
  if not builder.is_prepared():
    print(f'Building vidjax_synthetic/{config.name} in {data_dir} ...', flush=True)
    builder.download_and_prepare()
  return builder


class VidjaxSynthetic(tfds.core.GeneratorBasedBuilder):
  """Procedural videos whose action classes need temporal modelling (see module doc)."""

  VERSION = tfds.core.Version('1.2.0')
  RELEASE_NOTES = {
    '1.0.0': 'Initial release.',
    '1.1.0': 'images: PNG bytes with image_id, height and width, as image_folder stores them.',
    '1.2.0': 'audio_pcm: the soundtrack as 16 kHz mono s16le, as the video builders store it.',
  }
  BUILDER_CONFIGS = list(synthetic_configs.CONFIGS)
  DEFAULT_CONFIG_NAME = 'default'

  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    # tfds's own lookup, for builders inside a package, imports the `importlib_resources`
    # backport, which tfds does not declare as a dependency.
    return epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    config = self.builder_config
    t, h, w = config.num_frames, config.height, config.width
    if config.view == 'image':
      # The encoding of image_folder (PNG bytes here, lossless), read by the image loader.
      scalar = lambda dtype: tfds.features.Tensor(shape=(), dtype=dtype)
      features = {
        'image': scalar(np.object_),
        'label': tfds.features.ClassLabel(names=SHAPE_NAMES),
        'image_id': tfds.features.Text(),
        'height': scalar(np.int32),
        'width': scalar(np.int32),
      }
      supervised_keys = ('image', 'label')
    elif config.interactions:
      features = ava.keyframe_features(len(ACTOR_ACTIONS))
      supervised_keys = None
    else:
      features = {
        'video': tfds.features.Tensor(shape=(), dtype=np.object_),
        'label': tfds.features.ClassLabel(
          names=SHAPE_NAMES if config.label_kind == 'shape' else ACTION_NAMES
        ),
        'video_id': tfds.features.Text(),
        'num_frames': tfds.features.Tensor(shape=(), dtype=np.int32),
        'fps': tfds.features.Tensor(shape=(), dtype=np.float32),
        'has_audio': tfds.features.Tensor(shape=(), dtype=np.bool_),
        'audio_pcm': tfds.features.Tensor(shape=(), dtype=np.object_),
        'audio_label': tfds.features.Tensor(shape=(), dtype=np.int64),
        'object_actions': tfds.features.Tensor(shape=(None,), dtype=np.int64),
        'object_shapes': tfds.features.Tensor(shape=(None,), dtype=np.int64),
        'boxes': tfds.features.Tensor(shape=(None, t, 4), dtype=np.float32),
        'object_visible': tfds.features.Tensor(shape=(None, t), dtype=np.bool_),
        'masks': tfds.features.Tensor(
          shape=(t, h, w), dtype=np.uint8, encoding=tfds.features.Encoding.ZLIB
        ),
      }
      if config.events_per_second > 0:
        features['event_times'] = tfds.features.Tensor(shape=(None,), dtype=np.float32)
        features['event_objects'] = tfds.features.Tensor(shape=(None,), dtype=np.int64)
      if config.speeds:
        features['frame_speed'] = tfds.features.Tensor(shape=(t,), dtype=np.float32)
      if config.phases:
        features['frame_phase'] = tfds.features.Tensor(shape=(t,), dtype=np.int64)
      if config.action_frames:
        features['action_segment'] = tfds.features.Tensor(shape=(2,), dtype=np.int64)
      if config.hashtags:
        features['tags'] = tfds.features.Text()
      if config.keypoints_per_object:
        k = config.keypoints_per_object
        features.update(
          keypoints=tfds.features.Tensor(shape=(None, t, k, 2), dtype=np.float32),
          keypoint_visible=tfds.features.Tensor(shape=(None, t, k), dtype=np.bool_),
          labelled_frames=tfds.features.Tensor(shape=(t,), dtype=np.bool_),
        )
      supervised_keys = ('video', 'label')
    # Per-actor multi-hot labels have no ClassLabel to carry their names.
    metadata = tfds.core.MetadataDict(label_names=ACTOR_ACTIONS) if config.interactions else None
    if config.hashtags:
      metadata = tfds.core.MetadataDict(tag_vocabulary=synthetic_tags.tag_vocabulary())
    return self.dataset_info_from_configs(
      description=__doc__.split('\n\n')[1],
      features=tfds.features.FeaturesDict(features),
      supervised_keys=supervised_keys,
      metadata=metadata,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # Sources are rendered, not downloaded.
    config = self.builder_config
    if config.view == 'image':
      return {split: self._generate_images(split) for split in SPLITS}
    root = sources_dir(os.fspath(self.data_dir_root), config.name)
    _claim_sources(root, config)
    for split in SPLITS:
      write_sources(config, split, os.path.join(root, split))
    return {split: self._generate_examples(split, root) for split in SPLITS}

  def _generate_examples(self, split: str, root: str) -> Iterator[tuple[str, dict]]:
    config = self.builder_config
    left_out = []
    paths = [
      os.path.join(root, split, _video_id(split, i) + '.mp4')
      for i in range(num_examples(config, split))
    ]
    for index, (path, (source, error)) in enumerate(
      zip(
        paths,
        _threaded_map(functools.partial(_load_source, config), paths, threads=2),
        strict=True,
      )
    ):
      if error is not None:
        logging.warning('Leaving out %s: %s', path, error)
        left_out.append({'path': path, 'error': error})
        continue
      video_id = os.path.basename(path)[: -len('.mp4')]
      example = {'video_id': video_id, 'num_frames': config.num_frames, 'fps': config.fps}
      if config.interactions:
        yield from synthetic_interactions.keyframe_records(video_id, {**source, **example})
        continue
      if config.label_kind == 'shape':
        example['label'] = int(source['object_shapes'][0])
      if config.hashtags:
        shapes = [int(shape) for shape in source['object_shapes']]
        example['tags'] = synthetic_tags.video_tags(
          config, split, index, int(source['label']), shapes
        )
      yield video_id, {**source, **example}
    report = {
      'split': split,
      'num_examples': num_examples(config, split) - len(left_out),
      'left_out': left_out,
    }
    with open(os.path.join(root, f'{split}_report.json'), 'w') as f:
      json.dump(report, f, indent=1)

  def _generate_images(self, split: str) -> Iterator[tuple[str, dict]]:
    config = self.builder_config
    for index in range(num_examples(config, split)):
      example = render_video(config, split, index)
      image = example['frames'][0]
      encoded = io.BytesIO()
      Image.fromarray(image).save(encoded, format='PNG')
      yield (
        _video_id(split, index),
        {
          'image': encoded.getvalue(),
          'label': int(example['object_shapes'][0]),
          'image_id': _video_id(split, index),
          'height': image.shape[0],
          'width': image.shape[1],
        },
      )
