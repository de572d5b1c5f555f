"""`kinetics`: Kinetics-400/600/700, 10-second YouTube clips of human actions.

`manual_dir` holds the official annotation CSVs and the clips as fetched by a downloader:

  train.csv, validate.csv (or val.csv), test.csv   directly in DIR or in DIR/annotations;
      columns label,youtube_id,time_start,time_end,split[,is_cc] (test.csv may lack label)
  train/[<class>/]<youtube_id>_<start:06d>_<end:06d>.mp4
  val/ or validate/[<class>/]...
  test/[<class>/]...                               (optional, with test.csv)

A clip is found by file name anywhere under its split's folder (.mp4, .webm, .mkv, .avi or
.mov). Clips that are not there (YouTube videos that went away) are tolerated and listed
under `missing` in the report.

Configs `k400`, `k600`, `k700` (short side 256) and `k<N>_short320`; the configs differ
only in name (the class list comes from train.csv, whose sorted labels are the official
class indices) and share the transcoded clips. Splits 'train', 'validation' and, when both
test.csv and test/ exist, 'test' (label -1 where test.csv has none). The example id
(feature `video_id`) is the file name without extension.
"""

import collections
import csv
import dataclasses
import os

from absl import logging
from etils import epath

from vidjax.data.builders import video_common

_LAYOUT = (
  'the official Kinetics layout: DIR/{train,validate,test}.csv (or under DIR/annotations; '
  'val.csv for validate.csv) and the clips in DIR/train/, DIR/val/ or DIR/validate/, '
  'DIR/test/ (optionally in class sub-folders), named <youtube_id>_<start:06d>_<end:06d>.mp4, '
  'with DIR the --manual_dir'
)
# split -> (CSV names, video folder names), in order of preference.
_SPLITS = {
  'train': (('train.csv',), ('train',)),
  'validation': (('validate.csv', 'val.csv'), ('val', 'validate')),
  'test': (('test.csv',), ('test',)),
}
_COLUMNS = ('youtube_id', 'time_start', 'time_end')


@dataclasses.dataclass(eq=False)
class KineticsConfig(video_common.VideoConfig):
  """A Kinetics config.

  Attributes:
    num_classes: the class count of this release, checked against train.csv (a warning).
  """

  num_classes: int = 400


def _configs() -> list[KineticsConfig]:
  configs = []
  for short_side in (256, 320):
    for num_classes in (400, 600, 700):
      suffix = '' if short_side == 256 else f'_short{short_side}'
      configs.append(
        KineticsConfig(
          name=f'k{num_classes}{suffix}',
          description=f'Kinetics-{num_classes}, short side {short_side}.',
          num_classes=num_classes,
          short_side=short_side,
        )
      )
  return configs


def clip_name(youtube_id: str, time_start: str, time_end: str) -> str:
  """The file name (without extension) of a clip: '<youtube_id>_<start:06d>_<end:06d>'."""
  return f'{youtube_id}_{int(float(time_start)):06d}_{int(float(time_end)):06d}'


def _find_first(directories: list[epath.Path], names: tuple[str, ...]) -> epath.Path | None:
  for directory in directories:
    for name in names:
      if (directory / name).exists():
        return directory / name
  return None


def _index_videos(folder: epath.Path) -> dict[str, str]:
  """{file name without extension: path} of the videos anywhere under `folder`."""
  index = {}
  for directory, _, files in os.walk(folder):
    for filename in sorted(files):
      stem, extension = os.path.splitext(filename)
      if extension.lower() in video_common.VIDEO_EXTENSIONS:
        index.setdefault(stem, os.path.join(directory, filename))
  return index


def _read_csv(path: epath.Path) -> list[tuple[int, dict[str, str]]]:
  with open(path, newline='', encoding='utf-8-sig') as f:
    reader = csv.DictReader(f)
    missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
      raise ValueError(
        f'{path}: no column {", ".join(missing)}; expected the official header '
        f'label,youtube_id,time_start,time_end,split[,is_cc].'
      )
    return [(number, row) for number, row in enumerate(reader, 2)]


class Kinetics(video_common.VideoBuilder):
  """Kinetics-400/600/700: 10-second YouTube clips of human actions."""

  name = 'kinetics'
  BUILDER_CONFIGS = _configs()
  DEFAULT_CONFIG_NAME = 'k400'
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'Put in the manual_dir {_LAYOUT}.'
  HOMEPAGE = 'https://github.com/google-deepmind/kinetics-i3d'
  CITATION = (
    '@article{kay2017kinetics, title={The Kinetics human action video dataset}, '
    'author={Kay, Will and others}, journal={arXiv preprint arXiv:1705.06950}, year={2017}}'
  )

  def _list_sources(self, manual_dir: epath.Path) -> video_common.Listing:
    annotation_dirs = [manual_dir, manual_dir / 'annotations']
    tables, folders = {}, {}
    for split, (csv_names, folder_names) in _SPLITS.items():
      csv_path = _find_first(annotation_dirs, csv_names)
      folder = _find_first([manual_dir], folder_names)
      if split == 'test' and (csv_path is None or folder is None):
        logging.info('kinetics: no test split (needs test.csv and test/ in %s).', manual_dir)
        continue
      if csv_path is None:
        raise FileNotFoundError(
          f'{" or ".join(csv_names)} not found in {manual_dir} or its annotations/ folder; '
          f'expected {_LAYOUT}'
        )
      if folder is None:
        raise FileNotFoundError(
          f'{" or ".join(f + "/" for f in folder_names)} (the {split} clips) not found in '
          f'{manual_dir}; expected {_LAYOUT}'
        )
      tables[split], folders[split] = _read_csv(csv_path), (csv_path, folder)
    label_names = sorted({row['label'] for _, row in tables['train'] if row.get('label')})
    if len(label_names) != self.builder_config.num_classes:
      logging.warning(
        'kinetics/%s: %s has %d classes, Kinetics-%d has %d.',
        self.builder_config.name,
        folders['train'][0],
        len(label_names),
        self.builder_config.num_classes,
        self.builder_config.num_classes,
      )
    labels = {name: index for index, name in enumerate(label_names)}
    splits = {}
    for split, rows in tables.items():
      csv_path, folder = folders[split]
      index = _index_videos(folder)
      sources, seen = [], collections.Counter()
      for line_number, row in rows:
        label = row.get('label') or ''
        if label and label not in labels:
          raise ValueError(
            f'{csv_path}:{line_number}: class {label!r} is not in the train CSV; use the CSVs '
            'of one Kinetics release.'
          )
        try:
          example_id = clip_name(*(row[c] for c in _COLUMNS))
        except (TypeError, ValueError):
          raise ValueError(
            f'{csv_path}:{line_number}: expected youtube_id,time_start,time_end with times '
            f'in seconds, got {row}.'
          ) from None
        seen[example_id] += 1
        if seen[example_id] > 1:
          continue
        path = index.get(example_id, os.path.join(folder, example_id + '.mp4'))
        sources.append(video_common.Source(example_id, path, labels[label] if label else -1))
      duplicates = sum(n - 1 for n in seen.values())
      if duplicates:
        logging.warning('%s: %d duplicate rows ignored.', csv_path, duplicates)
      splits[split] = sources
    return video_common.Listing(label_names, splits)
