"""The tags of a prepared dataset's records, beside them, in record order.

Building a label space (`data/label_space.py`) needs every training video's tags. Read
from the records, that is the whole split, videos included: terabytes for tens of
millions of web videos. So the builders whose videos carry tags (`web_videos`) write
`vidjax_tags.json` next to the records when they prepare a dataset: per split, the
example ids and their tags in the order of the records. tfds orders a split's records by
the hash of their keys (salted with the split's name; `Hasher.hash_key`), the local and
the Beam writers alike, so the order is known without reading a record back.

`read` gives the tags of any split spec ('train', 'train[:90%]', 'train[5:]+validation'),
after checking the ids of the first and last records against the index; where there is
no index, or it does not match (a dataset prepared by another tfds version), it gives
None and the caller reads the records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import tensorflow_datasets as tfds
from absl import logging
from etils import epath
from tensorflow_datasets.core import hashing

FILENAME = 'vidjax_tags.json'


def write(data_path: epath.Path, example_ids: Mapping[str, Sequence[str]], tags: Mapping[str, str]):
  """Writes the index of the splits' `example_ids` ({split: ids}) with `tags` ({id: tags})."""
  index = {}
  for split, ids in example_ids.items():
    hasher = hashing.Hasher(split)
    ordered = sorted(ids, key=hasher.hash_key)
    index[split] = {'ids': ordered, 'tags': [tags[example_id] for example_id in ordered]}
  (data_path / FILENAME).write_text(json.dumps(index))


def read(builder: tfds.core.DatasetBuilder, split: str, source) -> list[str] | None:
  """The tags of `split`'s records (the spec `source` was opened with), or None."""
  path = builder.data_path / FILENAME
  if not path.exists():
    return None
  index = json.loads(path.read_text())
  instructions = tfds.core.ReadInstruction.from_spec(split).to_absolute(builder.info.splits)
  ids, tags = [], []
  for instruction in instructions:
    entries = index.get(instruction.splitname)
    if entries is None:
      return None
    ids += entries['ids'][instruction.from_ : instruction.to]
    tags += entries['tags'][instruction.from_ : instruction.to]
  if len(ids) != len(source):
    logging.warning(
      '%s: %d entries for %d records of %s; reading the records.',
      path,
      len(ids),
      len(source),
      split,
    )
    return None
  for position in {0, len(ids) - 1} if ids else ():
    video_id = source[position]['video_id']
    video_id = video_id.decode() if isinstance(video_id, bytes) else str(video_id)
    if video_id != ids[position]:
      logging.warning(
        '%s: record %d of %s is %r, the index says %r; reading the records.',
        path,
        position,
        split,
        video_id,
        ids[position],
      )
      return None
  return tags
