"""`video_folder`: your own videos, from class folders or CSV files.

`manual_dir` is laid out in one of two ways:

  class folders:  <split>/<class>/<video>.{mp4,avi,webm,mkv,mov}
  CSV files:      <split>.csv with rows 'path,label' (an optional 'path,label' header);
                  paths relative to manual_dir, or absolute

The splits are the folder (or CSV) names, e.g. 'train', 'val', 'test'; the class names
are sorted over all splits. The CSV layout is used when manual_dir holds a .csv file.

Name your dataset with a config: `tools/prepare_dataset.py --dataset video_folder --config
my_videos [--short_side 320]`, or in Python
`VideoFolder(config=video_common.VideoConfig(name='my_videos'), ...)`; read it as
'video_folder/my_videos'. The example id (feature `video_id`) is the path relative to
manual_dir (class folders) or the path as written in the CSV.
"""

import csv
import os
import re

from etils import epath

from vidjax.data.builders import layout, video_common

_LAYOUT = (
  'either class folders DIR/<split>/<class>/<video>.{mp4,avi,webm,mkv,mov} or CSV files '
  'DIR/<split>.csv with rows "path,label", with DIR the --manual_dir'
)
# tfds split names.
_SPLIT_NAME = re.compile(r'\w+')


def _check_split_name(name: str, where: epath.Path) -> None:
  if not _SPLIT_NAME.fullmatch(name):
    raise ValueError(
      f'{where}: {name!r} cannot name a split (letters, digits and underscores only); rename it.'
    )


def _from_folders(manual_dir: epath.Path) -> video_common.Listing:
  tree = layout.sources_in_folders(manual_dir, video_common.VIDEO_EXTENSIONS)
  if not tree:
    raise FileNotFoundError(f'No videos found in {manual_dir}; expected {_LAYOUT}')
  label_names = sorted({name for classes in tree.values() for name in classes})
  labels = {name: index for index, name in enumerate(label_names)}
  splits = {}
  for split, classes in tree.items():
    _check_split_name(split, manual_dir / split)
    splits[split] = [
      video_common.Source(os.fspath(path.relative_to(manual_dir)), os.fspath(path), labels[name])
      for name, paths in classes.items()
      for path in paths
    ]
  return video_common.Listing(label_names, splits)


def _read_csv(path: epath.Path) -> list[tuple[str, str]]:
  with open(path, newline='', encoding='utf-8-sig') as f:
    rows = [(number, row) for number, row in enumerate(csv.reader(f), 1) if row]
  if rows and [c.strip() for c in rows[0][1]] == ['path', 'label']:
    rows = rows[1:]
  entries, seen = [], {}
  for number, row in rows:
    if len(row) != 2 or not row[0].strip() or not row[1].strip():
      raise ValueError(f'{path}:{number}: expected "path,label", got {",".join(row)!r}.')
    video, label = row[0].strip(), row[1].strip()
    if video in seen:
      raise ValueError(f'{path}:{number}: {video} is listed twice (line {seen[video]} too).')
    seen[video] = number
    entries.append((video, label))
  return entries


def _from_csv(manual_dir: epath.Path, csv_files: list[epath.Path]) -> video_common.Listing:
  tables = {}
  for path in csv_files:
    _check_split_name(path.stem, path)
    tables[path.stem] = _read_csv(path)
  label_names = sorted({label for entries in tables.values() for _, label in entries})
  labels = {name: index for index, name in enumerate(label_names)}
  splits = {
    split: [
      video_common.Source(video, os.fspath(manual_dir / video), labels[label])
      for video, label in entries
    ]
    for split, entries in tables.items()
  }
  return video_common.Listing(label_names, splits)


class VideoFolder(video_common.VideoBuilder):
  """Your own videos, from class folders or 'path,label' CSV files (see the module doc)."""

  name = 'video_folder'
  BUILDER_CONFIGS = [
    video_common.VideoConfig(name='default', description='Short side 256.', short_side=256),
    video_common.VideoConfig(name='short320', description='Short side 320.', short_side=320),
  ]
  DEFAULT_CONFIG_NAME = 'default'
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'Put in the manual_dir {_LAYOUT}.'
  USER_CONFIGS = True

  def _cache_key(self) -> str:
    # Configs name different datasets here, whose example ids may coincide.
    return f'{self.builder_config.name}/{super()._cache_key()}'

  def _list_sources(self, manual_dir: epath.Path) -> video_common.Listing:
    csv_files = sorted(p for p in manual_dir.iterdir() if p.suffix.lower() == '.csv')
    if csv_files:
      return _from_csv(manual_dir, csv_files)
    return _from_folders(manual_dir)
