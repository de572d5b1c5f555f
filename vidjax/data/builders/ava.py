"""`ava`: AVA v2.2 (Gu et al., CVPR 2018) and AVA-Kinetics, one record per annotated keyframe.

AVA labels the people of 15-minute movie segments once a second (timestamps 902-1798 of
each movie) with boxes and the atomic actions each does. Each record holds the clip
around one keyframe, cut from the movie and re-encoded at `fps` (30, the frame rate ACAR's
and PySlowFast's annotations assume) and `short_side`: `clip_seconds` (3 s, more than the
2.13 s of ACAR's 64-frame window) centred on the keyframe, whose index in the clip is
'keyframe'; near a movie's ends the edge frame repeats. With it: the actors' boxes
(normalised x1, y1, x2, y2, as the CSVs), their multi-hot actions over the label map's
classes (in id order; 'label_names' and 'label_ids' in the dataset's metadata), and the
person detector's
boxes and scores from the detection CSV, when one is given (those scoring at least
`min_detection_score`). `vidjax.data.loaders.keyframe` reads them.

Manual folder (`tools/prepare_dataset.py --dataset ava --manual_dir DIR`):

  DIR/annotations/ava_{train,val}_v2.2.csv             video_id, timestamp, x1, y1, x2, y2,
                                                        action_id, person_id
  DIR/annotations/ava_action_list_v2.2_for_activitynet_2019.pbtxt   the 60 classes
  DIR/annotations/ava_{train,val}_excluded_timestamps_v2.2.csv      (optional) left out
  DIR/annotations/ava_detection_{train,val}_boxes.csv   (optional) video_id, timestamp, x1,
                                                        y1, x2, y2, action_id (blank or -1),
                                                        score: PySlowFast's person boxes
  DIR/videos_15min/<video_id>.<ext>                     the CVDF's segments, from 900 s
                                                        (config 'v2.2'); or whole movies in
                                                        DIR/videos (config 'v2.2_movies')

AVA-Kinetics (Li et al. 2020; config 'kinetics'): its v1.0 CSVs in the same layout,
`DIR/annotations/kinetics_{train,val}_v1.0.csv` (timestamps in seconds of the YouTube
video) and `kinetics_detection_{train,val}_boxes.csv`, with the label map above, and the
Kinetics-700 clips anywhere under `DIR/kinetics700/`, named as the Kinetics downloaders
name them, `<youtube id>_<start:06d>_<end:06d>.mp4`. (Training on AVA-Kinetics reads both
configs; one input that mixes two prepared datasets is not built yet.)

As the official evaluation, rows of classes outside the label map are dropped. A malformed
row, a box outside [0, 1], a timestamp outside its video, or a detection of a video the
split does not annotate, is an error naming the file and line. A movie that is missing
or cannot be decoded is listed in `vidjax_report.json` with its keyframes left out, like
any broken video.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import os
import re
from collections.abc import Iterator
from typing import Any

import av
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from vidjax.data import decode, encode
from vidjax.data.builders import layout, video_common, worker_pool
from vidjax.evaluators.ava_files import read_labelmap

LABELMAP = 'ava_action_list_v2.2_for_activitynet_2019.pbtxt'
SPLIT_FILES = {'train': 'train', 'validation': 'val'}


def keyframe_features(num_classes: int) -> dict:
  """The tfds features of a keyframe record (read by `vidjax.data.loaders.keyframe`)."""
  tensor = lambda shape, dtype: tfds.features.Tensor(shape=shape, dtype=dtype)  # noqa: E731
  return {
    'video': tensor((), np.object_),
    'video_id': tfds.features.Text(),
    'num_frames': tensor((), np.int32),
    'fps': tensor((), np.float32),
    'keyframe': tensor((), np.int32),
    'timestamp': tensor((), np.int32),
    'boxes': tensor((None, 4), np.float32),
    'label': tensor((None, num_classes), np.bool_),
    'detection_boxes': tensor((None, 4), np.float32),
    'detection_scores': tensor((None,), np.float32),
  }


@dataclasses.dataclass(eq=False)
class AvaConfig(video_common.VideoConfig):
  """Attributes (besides short_side and min_frames):
  videos: the folder of the movies in the manual folder.
  segment_start: the movie time (s) of the videos' first frame: 900 for the 15-minute
    segments, 0 for whole movies.
  video_names: 'id' (`<videos>/<video_id>.<ext>`) or 'kinetics' (Kinetics clips anywhere
    under `<videos>`, named `<youtube id>_<start s:06d>_<end s:06d>.<ext>`: the clip starts
    at `start` seconds of the YouTube video the timestamps count in).
  groundtruth, exclusions, detections: the annotation files, with {split} for 'train' or
    'val'; exclusions and detections are read when present ('' never).
  fps: frame rate of the stored clips.
  clip_seconds: length of the stored clip around each keyframe.
  min_detection_score: detector boxes scoring less are not stored.
  num_classes: classes of the label map (60 in the ActivityNet challenge's).
  """

  videos: str = 'videos_15min'
  segment_start: float = 900.0
  video_names: str = 'id'
  groundtruth: str = 'ava_{split}_v2.2.csv'
  exclusions: str = 'ava_{split}_excluded_timestamps_v2.2.csv'
  detections: str = 'ava_detection_{split}_boxes.csv'
  fps: float = 30.0
  clip_seconds: float = 3.0
  min_detection_score: float = 0.0
  num_classes: int = 60


@dataclasses.dataclass
class Keyframe:
  """The annotations of one keyframe: actors {(person_id, box): set of class ids}."""

  timestamp: int
  line: int  # of its first row, for errors
  actors: dict = dataclasses.field(default_factory=dict)
  detections: list = dataclasses.field(default_factory=list)


def _rows(path: epath.Path) -> Iterator[tuple[int, list[str]]]:
  """(line number, fields) of a CSV file (local or any `epath` backend)."""
  lines = path.read_text(encoding='utf-8').splitlines()
  return enumerate(csv.reader(lines), start=1)


def _row_error(path, line: int, message: str) -> ValueError:
  return ValueError(f'{path}:{line}: {message}')


def _box(path, line: int, values: list[str]) -> tuple[float, ...]:
  try:
    box = tuple(float(v) for v in values)
  except ValueError as error:
    raise _row_error(path, line, f'{error}; expected x1, y1, x2, y2 in [0, 1].') from None
  if not all(-1e-3 <= v <= 1 + 1e-3 for v in box):
    raise _row_error(path, line, f'box {box} outside [0, 1]; coordinates are normalised.')
  return box


def read_annotations(path: epath.Path, classes: set[int]) -> dict[str, dict[int, Keyframe]]:
  """{video_id: {timestamp: Keyframe}} of a ground-truth CSV (rows of other classes
  dropped; a keyframe with none left still counts, with no actor)."""
  videos = collections.defaultdict(dict)
  for line, row in _rows(path):
    if len(row) != 8:
      raise _row_error(
        path, line, f'{len(row)} columns; expected video_id, timestamp, x1, y1, x2, y2, '
        'action_id, person_id.'
      )  # fmt: skip
    try:
      timestamp, action, person = int(row[1]), int(row[6]), int(row[7])
    except ValueError as error:
      raise _row_error(path, line, str(error)) from None
    box = _box(path, line, row[2:6])
    keyframe = videos[row[0]].setdefault(timestamp, Keyframe(timestamp, line))
    if action in classes:
      keyframe.actors.setdefault((person, box), set()).add(action)
  return dict(videos)


def read_detections(
  path: epath.Path, videos: dict[str, dict[int, Keyframe]], min_score: float
) -> None:
  """Adds the person boxes of a detection CSV to the keyframes of `videos`."""
  for line, row in _rows(path):
    if len(row) != 8:
      raise _row_error(
        path, line, f'{len(row)} columns; expected video_id, timestamp, x1, y1, x2, y2, '
        'action_id, score.'
      )  # fmt: skip
    if row[0] not in videos:
      raise _row_error(path, line, f'video {row[0]!r} is not annotated in this split.')
    try:
      timestamp, score = int(row[1]), float(row[7])
    except ValueError as error:
      raise _row_error(path, line, str(error)) from None
    box = _box(path, line, row[2:6])
    keyframe = videos[row[0]].get(timestamp)
    if keyframe is not None and score >= min_score:
      keyframe.detections.append((*box, score))


def read_exclusions(path: epath.Path) -> set[tuple[str, int]]:
  excluded = set()
  for line, row in _rows(path):
    if len(row) != 2 or not row[1].strip().isdigit():
      raise _row_error(path, line, 'expected video_id, timestamp.')
    excluded.add((row[0], int(row[1])))
  return excluded


_KINETICS_NAME = re.compile(r'(?P<id>.{11})_(?P<start>\d{6})_(?P<end>\d{6})')


def _kinetics_clips(root: epath.Path) -> dict[str, tuple[epath.Path, float]]:
  """{youtube id: (clip, its start in s)} of the Kinetics clips anywhere under `root`."""
  clips = {}
  for directory, _, names in sorted(root.walk()):
    for name in sorted(names):
      path = directory / name
      match = _KINETICS_NAME.fullmatch(path.stem)
      if match and path.suffix.lower() in video_common.VIDEO_EXTENSIONS:
        clips.setdefault(match['id'], (path, float(match['start'])))
  return clips


def _frames(path: str, short_side: int) -> Iterator[tuple[float, np.ndarray]]:
  """(time in s, RGB frame at `short_side`) of every frame of a video, in order."""
  with av.open(path) as container:
    stream = decode.video_stream(container)
    height, width = encode.scaled_size(
      stream.codec_context.height, stream.codec_context.width, short_side
    )
    for frame in container.decode(stream):
      image = frame.to_ndarray(width=width, height=height, format='rgb24')
      yield float(frame.time), image


def cut_clips(job: tuple) -> tuple[dict[int, bytes] | None, float, str | None]:
  """({timestamp: mp4 of the clip around it}, the video's duration, error) of one movie,
  decoded once in order; job = (path, [(timestamp, time in the video)], config dict)."""
  path, keyframes, config = job
  fps, half = config['fps'], config['clip_seconds'] / 2
  offsets = (np.arange(round(config['clip_seconds'] * fps)) - round(half * fps)) / fps
  pending = sorted(keyframes, key=lambda k: k[1])
  clips, buffer, last = {}, collections.deque(), 0.0

  def emit(timestamp: float, time: float) -> None:
    times = np.array([t for t, _ in buffer])
    targets = np.clip(time + offsets, times[0], times[-1])
    nearest = np.abs(times[None] - targets[:, None]).argmin(1)
    frames = np.stack([buffer[i][1] for i in nearest])
    clips[timestamp] = encode.encode_video(frames, fps)

  try:
    for time, image in _frames(path, config['short_side']):
      buffer.append((time, image))
      last = time
      while pending and time >= pending[0][1] + half:
        emit(*pending.pop(0))
      keep_from = (pending[0][1] - half - 1.0) if pending else np.inf
      while len(buffer) > 1 and buffer[1][0] <= keep_from:
        buffer.popleft()
  except decode.AV_ERRORS as error:
    return None, 0.0, f'{type(error).__name__}: {error}'
  if not buffer:
    return None, 0.0, 'no decodable frame'
  for timestamp, time in pending:  # windows that reach past the end
    if time <= last + 1.0 / fps:
      emit(timestamp, time)
  return clips, last, None


class Ava(video_common.ManualBuilder):
  """AVA v2.2 keyframes (see the module docstring)."""

  name = 'ava'
  VERSION = tfds.core.Version('1.0.0')
  BUILDER_CONFIGS = [
    AvaConfig(name='v2.2', description='The 15-minute segments (videos_15min).'),
    AvaConfig(
      name='v2.2_movies', description='Whole movies (videos).', videos='videos', segment_start=0
    ),
    AvaConfig(
      name='kinetics',
      description=(
        "AVA-Kinetics v1.0's Kinetics part: Kinetics-700 clips (kinetics700, any folders) "
        'with AVA-style keyframes.'
      ),
      videos='kinetics700',
      segment_start=0,
      video_names='kinetics',
      groundtruth='kinetics_{split}_v1.0.csv',
      exclusions='',
      detections='kinetics_detection_{split}_boxes.csv',
    ),
  ]

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
      builder=self,
      description=(self.__doc__ or '').strip(),
      features=tfds.features.FeaturesDict(keyframe_features(self.builder_config.num_classes)),
      metadata=tfds.core.MetadataDict(),
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    manual_dir = epath.Path(dl_manager.manual_dir)
    expected_layout = 'the layout of the module docstring (vidjax/data/builders/ava.py)'
    annotations = manual_dir / 'annotations'
    labelmap = layout.find_file(annotations, LABELMAP, expected_layout)
    names = read_labelmap(os.fspath(labelmap))
    classes = sorted(names)
    if len(classes) != self.builder_config.num_classes:
      raise ValueError(
        f'{labelmap} has {len(classes)} classes; config {self.builder_config.name!r} expects '
        f'{self.builder_config.num_classes} (num_classes).'
      )
    self.info.metadata['label_names'] = [names[c] for c in classes]
    self.info.metadata['label_ids'] = classes
    self._start_report(manual_dir)
    config = self.builder_config
    self._clips = (
      _kinetics_clips(manual_dir / config.videos) if config.video_names == 'kinetics' else {}
    )
    splits = {}
    for split, stem in SPLIT_FILES.items():
      name = config.groundtruth.format(split=stem)
      groundtruth = layout.find_file(annotations, name, expected_layout)
      videos = read_annotations(groundtruth, set(classes))
      excluded = annotations / config.exclusions.format(split=stem)
      if config.exclusions and excluded.exists():
        for video_id, timestamp in read_exclusions(excluded):
          videos.get(video_id, {}).pop(timestamp, None)
      detections = annotations / config.detections.format(split=stem)
      if config.detections and detections.exists():
        read_detections(detections, videos, config.min_detection_score)
      splits[split] = self._generate_examples(split, videos, classes, manual_dir, groundtruth)
    return splits

  def _video_path(self, manual_dir: epath.Path, video_id: str) -> tuple[epath.Path | None, float]:
    """(the video of `video_id` or None, the time its first frame has in the timestamps)."""
    if self.builder_config.video_names == 'kinetics':
      return self._clips.get(video_id, (None, 0.0))
    folder = manual_dir / self.builder_config.videos
    for extension in video_common.VIDEO_EXTENSIONS:
      if (folder / (video_id + extension)).is_file():
        return folder / (video_id + extension), self.builder_config.segment_start
    return None, 0.0

  def _generate_examples(
    self,
    split: str,
    videos: dict,
    classes: list[int],
    manual_dir: epath.Path,
    groundtruth: epath.Path,
  ) -> Iterator[tuple[str, dict[str, Any]]]:
    config = self.builder_config
    params = dict(fps=config.fps, clip_seconds=config.clip_seconds, short_side=config.short_side)
    jobs, missing, ids = [], [], {}
    for video_id in sorted(videos):
      path, start = self._video_path(manual_dir, video_id)
      if path is None:
        expected = manual_dir / config.videos / f'{video_id}*'
        missing.append({'example_id': video_id, 'path': os.fspath(expected)})
        continue
      keyframes = [(t, t - start) for t in videos[video_id]]
      jobs.append((os.fspath(path), keyframes, params))
      ids[os.fspath(path)] = video_id
    example_ids, left_out = [], []
    desc = f'{self.name}/{config.name} {split}: cutting keyframe clips'
    results = worker_pool.parallel_map(cut_clips, jobs, self._workers, desc, self._progress)
    for (path, keyframes, _), (clips, duration, error) in results:
      video_id = ids[path]
      if error is not None:
        left_out.append({'example_id': video_id, 'path': path, 'error': error})
        continue
      for timestamp, time in keyframes:
        keyframe = videos[video_id][timestamp]
        if timestamp not in clips:
          raise ValueError(
            f'{groundtruth}:{keyframe.line}: timestamp {timestamp} is '
            f'{time:.1f} s into {path}, which lasts {duration:.1f} s; check the config '
            f'({config.name!r}: segment_start={config.segment_start}).'
          )
        key = f'{video_id},{timestamp:04d}'
        example_ids.append(key)
        yield key, self._record(video_id, keyframe, clips[timestamp], classes)
    self._record_split(split, len(videos), example_ids, missing, left_out)

  def _record(self, video_id: str, keyframe: Keyframe, clip: bytes, classes: list[int]) -> dict:
    config = self.builder_config
    actors = sorted(keyframe.actors.items())
    labels = np.zeros((len(actors), len(classes)), bool)
    for i, (_, actions) in enumerate(actors):
      labels[i, [classes.index(a) for a in actions]] = True
    detections = np.array(keyframe.detections, np.float32).reshape(-1, 5)
    num_frames = round(config.clip_seconds * config.fps)
    return {
      'video': clip,
      'video_id': video_id,
      'num_frames': num_frames,
      'fps': config.fps,
      'keyframe': round(config.clip_seconds * config.fps / 2),
      'timestamp': keyframe.timestamp,
      'boxes': np.array([box for (_, box), _ in actors], np.float32).reshape(-1, 4),
      'label': labels,
      'detection_boxes': detections[:, :4],
      'detection_scores': detections[:, 4],
    }
