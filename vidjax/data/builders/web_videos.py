"""`web_videos`: videos listed by URI with their hashtags, for weakly-supervised pretraining.

`manual_dir` holds one JSON Lines file per split, `<split>.jsonl`, one video per line:

  {"uri": "gs://bucket/videos/0001.mp4", "tags": "#surfing #beach #fun"}
  {"uri": "/data/web/0002.webm", "tags": ["skateboarding", "park"], "label": "skateboarding"}

- `uri`: a local path (absolute, or relative to manual_dir) or a URI of any `etils.epath`
  backend (gs://, s3://, ...); it is also the example id (`video_id`) unless `id` is given;
- `tags`: the uploader's hashtags, a string ('#a #b') or a list; stored as the feature
  `tags` ('#a #b'), from which `config.input.label_space` builds the classes
  (vidjax/data/label_space.py);
- `label` (optional): a class name, for sources that have one (-1 where absent).

As with every builder, a video that is missing, unreachable, undecodable or too short is
left out and listed in the report with its error; it never stops the prepare. A
malformed line is an error naming the file and line.

  python tools/prepare_dataset.py --dataset web_videos --config my_web_videos \
      --manual_dir DIR --data_dir DATA_DIR

and read it as 'web_videos/my_web_videos'.
"""

import json
import os
import re

import tensorflow_datasets as tfds
from etils import epath

from vidjax.data.builders import video_common

_SPLIT_NAME = re.compile(r'\w+')
_KEYS = {'uri', 'tags', 'label', 'id'}


def hashtags(tags, where: str) -> str:
  """'#a #b' from a string or a list of tags (with or without '#')."""
  if isinstance(tags, str):
    tags = tags.split()
  if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
    raise ValueError(f'{where}: "tags" must be a string or a list of strings, got {tags!r}.')
  return ' '.join('#' + tag.lstrip('#') for tag in tags if tag.lstrip('#'))


def _read_split(path: epath.Path, manual_dir: epath.Path) -> list[tuple[int, dict]]:
  """(line number, entry) of every video of a split file, checked."""
  entries, seen = [], {}
  for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
    if not line.strip():
      continue
    where = f'{path}:{number}'
    try:
      entry = json.loads(line)
    except json.JSONDecodeError as error:
      raise ValueError(f'{where}: not a JSON object ({error.msg}).') from None
    if not isinstance(entry, dict) or not isinstance(entry.get('uri'), str) or not entry['uri']:
      raise ValueError(f'{where}: needs a JSON object with a "uri" string, got {line!r}.')
    if set(entry) - _KEYS:
      raise ValueError(
        f'{where}: unknown keys {sorted(set(entry) - _KEYS)}; known: {sorted(_KEYS)}.'
      )
    uri = entry['uri']
    if '://' not in uri and not os.path.isabs(uri):
      uri = os.fspath(manual_dir / uri)
    example_id = str(entry.get('id', entry['uri']))
    if example_id in seen:
      raise ValueError(f'{where}: {example_id} is listed twice (line {seen[example_id]} too).')
    seen[example_id] = number
    entries.append(
      (
        number,
        dict(
          id=example_id,
          uri=uri,
          tags=hashtags(entry.get('tags', ''), where),
          label=entry.get('label'),
        ),
      )
    )
  return entries


class WebVideos(video_common.VideoBuilder):
  """Videos listed by URI with their hashtags (see the module doc)."""

  name = 'web_videos'
  BUILDER_CONFIGS = [
    video_common.VideoConfig(name='default', description='Short side 256.', short_side=256),
  ]
  DEFAULT_CONFIG_NAME = 'default'
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
    'Put in the manual_dir one <split>.jsonl per split, lines {"uri": ..., "tags": ...}.'
  )
  USER_CONFIGS = True

  def _cache_key(self) -> str:
    # Configs name different datasets here, whose example ids may coincide.
    return f'{self.builder_config.name}/{super()._cache_key()}'

  def _features(self) -> dict:
    return {**video_common.video_features(), 'tags': tfds.features.Text()}

  def _list_sources(self, manual_dir: epath.Path) -> video_common.Listing:
    files = sorted(p for p in manual_dir.iterdir() if p.suffix == '.jsonl')
    if not files:
      raise FileNotFoundError(
        f'No <split>.jsonl files in {manual_dir}; expected lines {{"uri": ..., "tags": ...}}.'
      )
    tables = {}
    for path in files:
      if not _SPLIT_NAME.fullmatch(path.stem):
        raise ValueError(f'{path}: {path.stem!r} cannot name a split (letters, digits, _).')
      tables[path.stem] = _read_split(path, manual_dir)
    names = sorted({e['label'] for t in tables.values() for _, e in t if e['label'] is not None})
    index = {name: k for k, name in enumerate(names)}
    splits = {
      split: [
        video_common.Source(
          entry['id'],
          entry['uri'],
          index.get(entry['label'], -1),
          features={'tags': entry['tags']},
        )
        for _, entry in entries
      ]
      for split, entries in tables.items()
    }
    return video_common.Listing([str(n) for n in names], splits)
