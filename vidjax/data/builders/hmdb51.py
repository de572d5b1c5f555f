"""`hmdb51`: HMDB51, 6,766 clips of 51 human actions, official 3 splits (70/30 per class).

`manual_dir` holds the official downloads, extracted:

  <class>/<video>.avi                                   (hmdb51_org.rar, then its per-class
                                                         .rar archives)
  testTrainMulti_7030_splits/<class>_test_split<N>.txt  '<video>.avi 1' (test_train_splits.rar)

In the split files, 1 marks a training video, 2 a test video and 0 a video of neither
split. The class names are those of the split files, sorted (the usual label order).

Configs `split1`, `split2`, `split3` (short side 256) and `split<N>_short320`; splits
'train' and 'test'. The example id (feature `video_id`) is '<class>/<video>' without
'.avi': HMDB51 file names are not unique across classes.
"""

import dataclasses
import os
import re

from etils import epath

from vidjax.data.builders import layout, video_common

_LAYOUT = (
  'the official HMDB51 layout: DIR/<class>/<video>.avi (hmdb51_org.rar and its per-class '
  'archives extracted) and DIR/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt '
  '(test_train_splits.rar extracted), with DIR the --manual_dir'
)
_SPLIT_FILES = 'testTrainMulti_7030_splits'
_SPLIT_BY_MARK = {'1': 'train', '2': 'test', '0': None}


@dataclasses.dataclass(eq=False)
class Hmdb51Config(video_common.VideoConfig):
  """An HMDB51 config.

  Attributes:
    split_number: which official split (1, 2 or 3) defines 'train' and 'test'.
  """

  split_number: int = 1


def _configs() -> list[Hmdb51Config]:
  configs = []
  for short_side in (256, 320):
    for number in (1, 2, 3):
      suffix = '' if short_side == 256 else f'_short{short_side}'
      configs.append(
        Hmdb51Config(
          name=f'split{number}{suffix}',
          description=f'Official split {number}, short side {short_side}.',
          split_number=number,
          short_side=short_side,
        )
      )
  return configs


class Hmdb51(video_common.VideoBuilder):
  """HMDB51: 6,766 clips of 51 human actions from movies and web videos, 3 splits."""

  name = 'hmdb51'
  BUILDER_CONFIGS = _configs()
  DEFAULT_CONFIG_NAME = 'split1'
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'Put in the manual_dir {_LAYOUT}.'
  HOMEPAGE = 'https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-database/'
  CITATION = (
    '@inproceedings{kuehne2011hmdb, title={HMDB: a large video database for human motion '
    'recognition}, author={Kuehne, H. and Jhuang, H. and Garrote, E. and Poggio, T. and '
    'Serre, T.}, booktitle={ICCV}, year={2011}}'
  )

  def _list_sources(self, manual_dir: epath.Path) -> video_common.Listing:
    number = self.builder_config.split_number
    split_dir = manual_dir / _SPLIT_FILES
    pattern = re.compile(rf'(.+)_test_split{number}\.txt')
    files = {}
    if split_dir.is_dir():
      for path in split_dir.iterdir():
        match = pattern.fullmatch(path.name)
        if match:
          files[match.group(1)] = path
    if not files:
      raise FileNotFoundError(
        f'<class>_test_split{number}.txt not found in {split_dir}; expected {_LAYOUT}'
      )
    label_names = sorted(files)
    splits = {'train': [], 'test': []}
    for label, class_name in enumerate(label_names):
      path = files[class_name]
      for line_number, line in layout.annotation_lines(path):
        filename, _, mark = line.rpartition(' ')
        if mark not in _SPLIT_BY_MARK or not filename.strip():
          raise ValueError(f'{path}:{line_number}: expected "<video>.avi <0|1|2>", got {line!r}.')
        split = _SPLIT_BY_MARK[mark]
        if split is None:
          continue
        filename = filename.strip()
        example_id = f'{class_name}/{os.path.splitext(filename)[0]}'
        video = os.fspath(manual_dir / class_name / filename)
        splits[split].append(video_common.Source(example_id, video, label))
    return video_common.Listing(label_names, splits)
