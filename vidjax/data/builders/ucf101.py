"""`ucf101`: UCF101, 13,320 YouTube videos of 101 human actions, official 3 splits.

`manual_dir` holds the two official downloads, extracted:

  UCF-101/<Class>/v_<Class>_g<group>_c<clip>.avi       (UCF101.rar)
  ucfTrainTestlist/classInd.txt                         '1 ApplyEyeMakeup' (1-based)
  ucfTrainTestlist/trainlist0<N>.txt                    'ApplyEyeMakeup/v_..._g08_c01.avi 1'
  ucfTrainTestlist/testlist0<N>.txt                     'ApplyEyeMakeup/v_..._g01_c01.avi'
                                                        (UCF101TrainTestSplits-RecognitionTask.zip)

Configs `split1`, `split2`, `split3` (short side 256) and `split<N>_short320`; splits
'train' and 'test'. Test lists carry no label: it is the class of the video's folder.
The example id (feature `video_id`) is the file name without '.avi'.
"""

import dataclasses
import os
import posixpath

from etils import epath

from vidjax.data.builders import layout, video_common

_LAYOUT = (
  'the official UCF101 layout: DIR/UCF-101/<Class>/v_*.avi (from UCF101.rar) and '
  'DIR/ucfTrainTestlist/{classInd.txt,trainlist0N.txt,testlist0N.txt} (from '
  'UCF101TrainTestSplits-RecognitionTask.zip), with DIR the --manual_dir'
)


@dataclasses.dataclass(eq=False)
class Ucf101Config(video_common.VideoConfig):
  """A UCF101 config.

  Attributes:
    split_number: which official split (1, 2 or 3) defines 'train' and 'test'.
  """

  split_number: int = 1


def _configs() -> list[Ucf101Config]:
  configs = []
  for short_side in (256, 320):
    for number in (1, 2, 3):
      suffix = '' if short_side == 256 else f'_short{short_side}'
      configs.append(
        Ucf101Config(
          name=f'split{number}{suffix}',
          description=f'Official split {number}, short side {short_side}.',
          split_number=number,
          short_side=short_side,
        )
      )
  return configs


def read_class_index(path: epath.Path) -> list[str]:
  """Class names in label order from `classInd.txt` ('<1-based index> <name>' lines)."""
  names = {}
  for number, line in layout.annotation_lines(path):
    index, _, name = line.partition(' ')
    if not index.isdigit() or not name.strip():
      raise ValueError(f'{path}:{number}: expected "<index> <ClassName>", got {line!r}.')
    names[int(index) - 1] = name.strip()
  if sorted(names) != list(range(len(names))):
    raise ValueError(f'{path}: class indices must run from 1 to {len(names)} without gaps.')
  return [names[i] for i in range(len(names))]


class Ucf101(video_common.VideoBuilder):
  """UCF101: 13,320 YouTube videos of 101 human actions, official 3 splits."""

  name = 'ucf101'
  BUILDER_CONFIGS = _configs()
  DEFAULT_CONFIG_NAME = 'split1'
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'Put in the manual_dir {_LAYOUT}.'
  HOMEPAGE = 'https://www.crcv.ucf.edu/data/UCF101.php'
  CITATION = (
    '@article{soomro2012ucf101, title={UCF101: A dataset of 101 human actions classes from '
    'videos in the wild}, author={Soomro, Khurram and Zamir, Amir Roshan and Shah, Mubarak}, '
    'journal={arXiv preprint arXiv:1212.0402}, year={2012}}'
  )

  def _list_sources(self, manual_dir: epath.Path) -> video_common.Listing:
    lists = manual_dir / 'ucfTrainTestlist'
    label_names = read_class_index(layout.find_file(lists, 'classInd.txt', _LAYOUT))
    labels = {name: index for index, name in enumerate(label_names)}
    video_root = manual_dir / 'UCF-101'
    if not video_root.is_dir():
      raise FileNotFoundError(f'UCF-101 (the videos) not found in {manual_dir}; expected {_LAYOUT}')
    number = self.builder_config.split_number
    splits = {}
    for split, filename in (
      ('train', f'trainlist0{number}.txt'),
      ('test', f'testlist0{number}.txt'),
    ):
      path = layout.find_file(lists, filename, _LAYOUT)
      sources = []
      for line_number, line in layout.annotation_lines(path):
        relative, *given = line.split()
        class_name = relative.split('/')[0]
        if class_name not in labels or len(given) > 1 or '/' not in relative:
          raise ValueError(
            f'{path}:{line_number}: expected "<Class>/<video>.avi[ <label>]" with a class of '
            f'classInd.txt, got {line!r}.'
          )
        label = labels[class_name]
        if given and given[0] != str(label + 1):
          raise ValueError(
            f'{path}:{line_number}: label {given[0]} disagrees with classInd.txt, where '
            f'{class_name} is {label + 1}.'
          )
        example_id = posixpath.splitext(posixpath.basename(relative))[0]
        sources.append(video_common.Source(example_id, os.fspath(video_root / relative), label))
      splits[split] = sources
    return video_common.Listing(label_names, splits)
