"""`ssv2`: Something-Something v2, 220,847 clips of 174 object interactions (webm, VP9).

`manual_dir` holds the official download, extracted:

  labels/labels.json                             {"<class>": "<index>"}, 174 classes
  labels/something-something-v2-train.json       [{"id", "label", "template", "placeholders"}]
  labels/something-something-v2-validation.json
  labels/something-something-v2-test.json        (optional: [{"id"}], no labels)
  20bn-something-something-v2/<id>.webm

The label files may also lie directly in DIR, and the videos too. An entry's class is its
template without the brackets ('Putting [something] on a surface' -> 'Putting something on
a surface'), looked up in labels.json.

Configs `default` (short side 256) and `short320`; splits 'train', 'validation' and, when
the test JSON exists, 'test' (label -1). The example id (feature `video_id`) is the id.

Many classes are told apart by direction; `FLIP_LABEL_SWAPS` lists the class pairs that
a horizontal flip exchanges, for `config.input.pp.flip_label_swaps`.
"""

import json

from etils import epath

from vidjax.data.builders import layout, video_common

# Classes that are mirror images of each other: the names differ by 'left' <-> 'right'.
FLIP_LABEL_SWAPS = (
  ('Pulling something from left to right', 'Pulling something from right to left'),
  ('Pushing something from left to right', 'Pushing something from right to left'),
  (
    'Turning the camera left while filming something',
    'Turning the camera right while filming something',
  ),
)

_LAYOUT = (
  'the official Something-Something v2 layout: DIR/labels/{labels.json,'
  'something-something-v2-train.json,something-something-v2-validation.json} and the '
  'videos DIR/20bn-something-something-v2/<id>.webm, with DIR the --manual_dir'
)
_VIDEO_DIR = '20bn-something-something-v2'
_SPLIT_FILES = {
  'train': 'something-something-v2-train.json',
  'validation': 'something-something-v2-validation.json',
  'test': 'something-something-v2-test.json',
}


def template_class(template: str) -> str:
  """The class name of a template: 'Putting [something] on [something]' -> 'Putting ...'."""
  return template.replace('[', '').replace(']', '')


def _read_json(path: epath.Path):
  try:
    return json.loads(path.read_text(encoding='utf-8'))
  except json.JSONDecodeError as e:
    raise ValueError(f'{path} is not valid JSON ({e}); re-extract the official file.') from e


def _read_labels(path: epath.Path) -> list[str]:
  ids = _read_json(path)
  try:
    names = sorted(ids, key=lambda name: int(ids[name]))
    valid = [int(ids[name]) for name in names] == list(range(len(names)))
  except (TypeError, ValueError):
    valid = False
  if not isinstance(ids, dict) or not valid:
    raise ValueError(f'{path}: expected {{"<class name>": "<index>"}} with indices 0..N-1.')
  return names


class Ssv2(video_common.VideoBuilder):
  """Something-Something v2: 220,847 clips of 174 fine-grained object interactions."""

  name = 'ssv2'
  BUILDER_CONFIGS = [
    video_common.VideoConfig(name='default', description='Short side 256.', short_side=256),
    video_common.VideoConfig(name='short320', description='Short side 320.', short_side=320),
  ]
  DEFAULT_CONFIG_NAME = 'default'
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'Put in the manual_dir {_LAYOUT}.'
  HOMEPAGE = 'https://www.qualcomm.com/developer/software/something-something-v-2-dataset'
  CITATION = (
    '@inproceedings{goyal2017something, title={The "something something" video database for '
    'learning and evaluating visual common sense}, author={Goyal, Raghav and others}, '
    'booktitle={ICCV}, year={2017}}'
  )

  def _list_sources(self, manual_dir: epath.Path) -> video_common.Listing:
    label_dir = manual_dir / 'labels'
    if not (label_dir / 'labels.json').exists():
      label_dir = manual_dir
    label_names = _read_labels(layout.find_file(label_dir, 'labels.json', _LAYOUT))
    labels = {name: index for index, name in enumerate(label_names)}
    video_dir = manual_dir / _VIDEO_DIR
    if not video_dir.is_dir():
      video_dir = manual_dir
    splits = {}
    for split, filename in _SPLIT_FILES.items():
      if split == 'test' and not (label_dir / filename).exists():
        continue
      path = layout.find_file(label_dir, filename, _LAYOUT)
      entries = _read_json(path)
      sources = []
      for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or 'id' not in entry:
          raise ValueError(f'{path}: entry {position} has no "id": {entry!r}.')
        label = -1
        if split != 'test':
          name = template_class(entry.get('template', ''))
          if name not in labels:
            raise ValueError(
              f'{path}: entry {position} (id {entry["id"]}) has template '
              f'{entry.get("template")!r}, whose class is not in labels.json.'
            )
          label = labels[name]
        video_id = str(entry['id'])
        sources.append(video_common.Source(video_id, str(video_dir / f'{video_id}.webm'), label))
      splits[split] = sources
    return video_common.Listing(label_names, splits)
