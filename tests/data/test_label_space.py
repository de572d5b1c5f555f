"""Label spaces from hashtags: kinds, cut-off, square-root re-sampling, relabelling."""

import collections
import json

import numpy as np
import pytest

from vidjax.data import label_space
from vidjax.data.builders import synthetic_configs, synthetic_tags
from vidjax.data.loaders import clip

VOCABULARY = {'verbs': ['catch', 'throw'], 'nouns': ['fish', 'ball']}
VIDEOS = [
  ['catch', 'fish', 'catchfish', 'fun'],
  ['catch', 'ball'],
  ['throw', 'ball', 'throwball', 'fun'],
  ['catch', 'catchfish'],
  ['fun'],
]


def test_parse_tags_lowers_strips_and_deduplicates():
  assert label_space.parse_tags(b'#Catch #fish  #catch #') == ['catch', 'fish']


@pytest.mark.parametrize(
  ('kind', 'min_count', 'names', 'counts'),
  [
    ('verb', 1, ('catch', 'throw'), (3, 1)),
    ('noun', 1, ('ball', 'fish'), (2, 1)),
    ('verb_noun', 1, ('catchfish', 'throwball'), (2, 1)),
    ('verb_noun', 2, ('catchfish',), (2,)),
    ('hashtag', 2, ('catch', 'fun', 'ball', 'catchfish'), (3, 3, 2, 2)),
  ],
)
def test_build_counts_videos_per_class_and_applies_the_cut_off(kind, min_count, names, counts):
  space = label_space.build(VIDEOS, kind, min_count, VOCABULARY)
  assert (space.names, space.counts) == (names, counts)


def test_build_errors_name_the_key():
  with pytest.raises(ValueError, match="kind='adjective'"):
    label_space.build(VIDEOS, 'adjective')
  with pytest.raises(ValueError, match='needs a vocabulary'):
    label_space.build(VIDEOS, 'verb')
  with pytest.raises(ValueError, match='min_count=9: no class has that many videos; the most '):
    label_space.build(VIDEOS, 'verb', 9, VOCABULARY)


def test_sqrt_sampling_draws_classes_by_the_root_of_their_frequency():
  # Class 0 has 9 videos, class 1 has 1: drawn 3:1 instead of 9:1.
  labels = np.zeros((10, 2), np.float32)
  labels[:9, 0] = labels[9, 1] = 1
  weights = label_space.sqrt_sampling_weights(labels, (9, 1))
  np.testing.assert_allclose(weights, [0.75 / 9] * 9 + [0.25])
  source = label_space.RelabelledSource(list(range(10)), np.arange(10), labels)
  draws = collections.Counter(
    int(source.resampled(weights, seed)._indices[0] == 9) for seed in range(2000)
  )
  assert abs(draws[1] / 2000 - 0.25) < 0.03


def test_relabel_keeps_videos_with_a_class_and_pads_the_outputs():
  records = [{'tags': ' '.join('#' + t for t in tags), 'label': 7} for tags in VIDEOS]
  space = label_space.build(VIDEOS, 'verb_noun', 1, VOCABULARY)
  tag_lists = [label_space.parse_tags(r['tags']) for r in records]
  source = label_space.relabel(records, tag_lists, space, num_outputs=4)
  assert len(source) == 3
  np.testing.assert_array_equal(
    [source[i]['label'] for i in range(3)], [[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]]
  )
  assert label_space.output_names(space, 4) == ('catchfish', 'throwball', '(spare 2)', '(spare 3)')
  with pytest.raises(ValueError, match='num_classes=1, but the verb_noun space has 2 classes'):
    label_space.relabel(records, tag_lists, space, num_outputs=1)


def test_vocabulary_file_and_its_errors(tmp_path):
  path = tmp_path / 'vocabulary.json'
  path.write_text(json.dumps({'verbs': ['Catch'], 'nouns': ['fish']}))
  assert label_space.load_vocabulary(str(path), {}) == {'verbs': ['catch'], 'nouns': ['fish']}
  assert label_space.load_vocabulary('', {'tag_vocabulary': VOCABULARY}) == VOCABULARY
  path.write_text(json.dumps({'adjectives': []}))
  with pytest.raises(ValueError, match="unknown keys {'adjectives'}"):
    label_space.load_vocabulary(str(path), {})


def test_multi_hot_labels_pass_through_the_clip_loader():
  assert clip.label_of({'label': 3}) == {'label': np.int32(3)}
  hot = clip.label_of({'label': np.array([0, 1], np.float32)})['label']
  assert hot.dtype == np.float32 and hot.tolist() == [0, 1]


def test_synthetic_tags_are_noisy_long_tailed_and_deterministic():
  config = next(c for c in synthetic_configs.CONFIGS if c.name == 'tags')
  tags = {
    label: [synthetic_tags.video_tags(config, 'train', i, label, [0, 2]) for i in range(400)]
    for label in (0, 9)
  }
  assert synthetic_tags.video_tags(config, 'train', 3, 0, [0, 2]) == tags[0][3]

  def share(label, tag):
    return np.mean([tag in label_space.parse_tags(t) for t in tags[label]])

  head, tail = synthetic_tags.VERBS[0], synthetic_tags.VERBS[9]
  # The verb tag: 0.9 x 0.85 right for class 0, 0.9 / 10 ** 0.7 x 0.85 for class 9.
  assert abs(share(0, head) - 0.765) < 0.06 and abs(share(9, tail) - 0.153) < 0.06
  # Each shape present: 0.6 x 0.85 right, plus another shape's wrong tag now and then.
  for shape in (0, 2):
    assert abs(share(0, synthetic_tags.NOUNS[shape]) - 0.51) < 0.07
  assert share(0, synthetic_tags.NOUNS[5]) < 0.05
  verb_nouns = [share(0, head + synthetic_tags.NOUNS[shape]) for shape in (0, 2)]
  assert abs(sum(verb_nouns) - 0.9) < 0.05 and min(verb_nouns) > 0.35


def test_a_dataset_without_tags_is_refused(synthetic_data_dir):
  from vidjax.data import pipeline

  with pytest.raises(ValueError, match="records of 'vidjax_synthetic/tiny' have no tags"):
    pipeline.split_tags('vidjax_synthetic/tiny', 'train', synthetic_data_dir)
