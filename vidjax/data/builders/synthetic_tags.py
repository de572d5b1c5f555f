"""Web-style hashtags of the `tags` config: weakly-supervised pretraining in miniature.

IG-65M (Ghadiyaram et al., CVPR 2019) pretrains on videos labelled only by their uploaders'
hashtags: some name the action (a verb), some the objects (nouns), some both at once
(#catchingfish), many nothing visual (#fun); correct tags are often missing, wrong ones
present, and the label frequencies have a long tail. Each video of the `tags` config gets
such a tag string from its true action and the shapes of its objects (2 or 3, mostly of
different shapes, all doing the action):

- the verb tag (the action's name without underscores, '#moveleft') with a probability
  that falls along a Zipf-like tail over the classes, `VERB_TAG_RATE / (label + 1) **
  VERB_TAG_DECAY`, so that frequency cut-offs and re-sampling have a tail to act on; with
  probability `WRONG_TAG_RATE` it names another action;
- a noun tag for each shape in the video ('#halfdisc') with probability `NOUN_TAG_RATE`,
  wrong with probability `WRONG_TAG_RATE`;
- the verb-noun tag of one of the objects ('#moveleftcup') with the verb tag's
  probability, always right;
- a Poisson number (mean `JUNK_TAGS_MEAN`) of tags that say nothing about the video.

The tags are a function of (config seed, split, index) and the video's annotation, drawn
from a random stream of their own: the videos are those of the same config without tags.
"""

import numpy as np

from vidjax.data.builders.synthetic_scenes import (
  ACTION_NAMES,
  SHAPE_NAMES,
  SPLITS,
  VidjaxSyntheticConfig,
)

VERBS = tuple(name.replace('_', '') for name in ACTION_NAMES)
NOUNS = tuple(name.replace('_', '') for name in SHAPE_NAMES)
JUNK_TAGS = ('fun', 'love', 'video', 'instagood', 'friends', 'tbt', 'weekend', 'art')

VERB_TAG_RATE = 0.9
VERB_TAG_DECAY = 0.7
NOUN_TAG_RATE = 0.6
WRONG_TAG_RATE = 0.15
JUNK_TAGS_MEAN = 1.0
# Separates the tags' random stream from the scene's, which uses (seed, split, index).
_STREAM = 7


def tag_vocabulary() -> dict[str, list[str]]:
  """The verbs and nouns a label space is built from (the builder's metadata)."""
  return {'verbs': list(VERBS), 'nouns': list(NOUNS)}


def video_tags(
  config: VidjaxSyntheticConfig, split: str, index: int, label: int, shapes: list[int]
) -> str:
  """The hashtags of video `index` of `split` (action `label`, objects' `shapes`), e.g.
  '#moveleft #cup #fun'."""
  rng = np.random.default_rng([config.seed, _STREAM, SPLITS.index(split), index])

  def maybe_wrong(true_index: int, names: tuple[str, ...]) -> str:
    if rng.random() < WRONG_TAG_RATE:
      others = [i for i in range(len(names)) if i != true_index]
      return names[int(rng.choice(others))]
    return names[true_index]

  verb_rate = VERB_TAG_RATE / (label + 1) ** VERB_TAG_DECAY
  tags = []
  if rng.random() < verb_rate:
    tags.append(maybe_wrong(label, VERBS))
  present = sorted(set(shapes))
  for shape in present:
    if rng.random() < NOUN_TAG_RATE:
      tags.append(maybe_wrong(shape, NOUNS))
  if rng.random() < verb_rate:
    tags.append(VERBS[label] + NOUNS[present[int(rng.integers(len(present)))]])
  tags += [str(t) for t in rng.choice(JUNK_TAGS, rng.poisson(JUNK_TAGS_MEAN))]
  order = rng.permutation(len(tags))
  return ' '.join(dict.fromkeys('#' + tags[i] for i in order))
