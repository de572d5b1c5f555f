r"""Prints the label space that `config.input.label_space` builds from a dataset's hashtags.

  python tools/label_space.py --dataset web_videos/my_web_videos --data_dir ~/tensorflow_datasets \
      --kind verb_noun --min_count 100 --vocabulary ~/verbs_nouns.json --json space.json

The classes are built from the split's tags exactly as training builds them
(vidjax/data/label_space.py): run this before pretraining to choose the cut-off and to
learn the number of classes (`num_classes=` of experiments/weak_supervision/web_videos.py).
Prints the number of classes and of videos that keep at least one, and the most and
least frequent classes; `--json` writes every class with its count.
"""

import json

from absl import app, flags

from vidjax import configs, logs
from vidjax.data import label_space, pipeline

_DATASET = flags.DEFINE_string('dataset', 'vidjax_synthetic/tags', 'Dataset (name/config).')
_DATA_DIR = flags.DEFINE_string('data_dir', configs.default_data_dir(), 'tfds data_dir.')
_SPLIT = flags.DEFINE_string('split', 'train', 'The split the classes are counted on.')
_KIND = flags.DEFINE_enum('kind', 'verb', list(label_space.KINDS), 'The label space.')
_MIN_COUNT = flags.DEFINE_integer('min_count', 1, 'Fewest videos a class needs.')
_VOCABULARY = flags.DEFINE_string(
  'vocabulary', '', 'JSON {"verbs": [...], "nouns": [...]} ("": the dataset\'s own).'
)
_SHOW = flags.DEFINE_integer('show', 10, 'Most and least frequent classes printed.')
_JSON = flags.DEFINE_string('json', None, 'Write {kind, min_count, classes: {name: count}}.')


def main(argv):
  del argv
  logs.quiet_library_logs()
  space = pipeline.build_label_space(
    _DATASET.value, _SPLIT.value, _DATA_DIR.value, _KIND.value, _MIN_COUNT.value, _VOCABULARY.value
  )
  source = pipeline.open_dataset(_DATASET.value, _SPLIT.value, _DATA_DIR.value).source
  tags = pipeline.split_tags(_DATASET.value, _SPLIT.value, _DATA_DIR.value)
  kept = len(label_space.relabel(source, tags, space))
  print(
    f'{_DATASET.value} {_SPLIT.value}: {_KIND.value} space, min_count {_MIN_COUNT.value}: '
    f'{len(space.names)} classes; {kept} of {len(source)} videos have one.'
  )
  pairs = list(zip(space.names, space.counts, strict=True))
  print('most frequent: ' + ', '.join(f'{n} {c}' for n, c in pairs[: _SHOW.value]))
  print('least frequent: ' + ', '.join(f'{n} {c}' for n, c in pairs[-_SHOW.value :]))
  if _JSON.value:
    with open(_JSON.value, 'w') as f:
      json.dump(
        {'kind': space.kind, 'min_count': _MIN_COUNT.value, 'classes': dict(pairs)}, f, indent=1
      )


if __name__ == '__main__':
  app.run(main)
