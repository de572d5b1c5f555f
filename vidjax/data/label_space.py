"""Label spaces built from raw hashtags, for weakly-supervised pretraining (IG-65M).

Ghadiyaram et al. (CVPR 2019) pretrain on videos whose only labels are their hashtags, and
ask which hashtags to keep as classes: verbs, nouns, or the verb-noun combinations people
actually write (#catchingfish). A label space is built from the training split's tags:

- `kind`: 'verb' (tags that are a verb of the vocabulary), 'noun' (a noun), 'verb_noun' (a
  verb followed by a noun, written as one word), or 'hashtag' (every tag: the raw space);
- `num_classes`: the classifier's outputs (0: the space's size); the label space of a
  cut-off is not known before the data is read, so a classifier sized for the largest
  space of the vocabulary takes any, its spare outputs never positive;
- `min_count`: a class needs at least this many training videos (the frequency cut-off);
  videos left with no class are not in the pretraining set (as videos without a hashtag of
  the space are not in the paper's datasets);
- `resample`: 'sqrt' draws the training set anew so that a class's share of it grows with
  the square root of its frequency (Mahajan et al., ECCV 2018, whose sampling IG-65M
  follows): a class is drawn with probability proportional to sqrt(n_k), then one of its
  n_k videos uniformly. One draw of the split's size, fixed by `seed`, replaces the split
  in the epoch-shuffled stream; 'none' keeps the natural distribution.

The label of a video is multi-hot [K] (float32): train with `task_kwargs.multi_label=True`
(sigmoid cross-entropy) and evaluate with the `mean_ap` evaluator. The vocabulary of verbs
and nouns comes from `config.input.label_space.vocabulary` (a JSON file {"verbs": [...],
"nouns": [...]}) or, where that is empty, the dataset's own metadata (`tag_vocabulary`,
which the synthetic `tags` config carries).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

KINDS = ('verb', 'noun', 'verb_noun', 'hashtag')
RESAMPLING = ('none', 'sqrt')


def parse_tags(text: str | bytes) -> list[str]:
  """'#MoveLeft #cup #cup' -> ['moveleft', 'cup']: lower case, without '#', each once."""
  if isinstance(text, bytes):
    text = text.decode('utf-8')
  tags = (tag.lstrip('#').lower() for tag in text.split())
  return list(dict.fromkeys(tag for tag in tags if tag))


@dataclasses.dataclass(frozen=True)
class LabelSpace:
  """Classes (most frequent first) and their numbers of training videos."""

  kind: str
  names: tuple[str, ...]
  counts: tuple[int, ...]
  verbs: frozenset[str] = frozenset()
  nouns: frozenset[str] = frozenset()

  def classes_of(self, tags: Iterable[str]) -> list[str]:
    """The tags that are classes of this kind (before the cut-off)."""
    return [tag for tag in tags if _is_kind(tag, self.kind, self.verbs, self.nouns)]

  @functools.cached_property
  def _index(self) -> dict[str, int]:
    return {name: k for k, name in enumerate(self.names)}

  def encode(self, tags: Iterable[str]) -> np.ndarray:
    """Multi-hot float32 [K] of a video's tags."""
    hot = np.zeros(len(self.names), np.float32)
    for tag in tags:
      if tag in self._index:
        hot[self._index[tag]] = 1.0
    return hot


def _is_kind(tag: str, kind: str, verbs: frozenset[str], nouns: frozenset[str]) -> bool:
  if kind == 'hashtag':
    return True
  if kind == 'verb':
    return tag in verbs
  if kind == 'noun':
    return tag in nouns
  return any(tag.startswith(verb) and tag[len(verb) :] in nouns for verb in verbs)


def build(
  tag_lists: Iterable[Sequence[str]],
  kind: str,
  min_count: int = 1,
  vocabulary: Mapping[str, Sequence[str]] | None = None,
) -> LabelSpace:
  """The label space of `kind` over videos' parsed tags (see the module docstring)."""
  if kind not in KINDS:
    raise ValueError(f'config.input.label_space.kind={kind!r}; allowed values: {KINDS}.')
  vocabulary = vocabulary or {}
  verbs, nouns = frozenset(vocabulary.get('verbs', ())), frozenset(vocabulary.get('nouns', ()))
  if kind != 'hashtag' and not (verbs and (nouns or kind == 'verb')):
    raise ValueError(
      f'label_space.kind={kind!r} needs a vocabulary of verbs and nouns: set '
      "config.input.label_space.vocabulary to a JSON file {'verbs': [...], 'nouns': [...]}."
    )
  space = LabelSpace(kind, (), (), verbs, nouns)
  counts = collections.Counter()
  for tags in tag_lists:
    counts.update(set(space.classes_of(tags)))
  kept = sorted(
    (name for name, n in counts.items() if n >= min_count), key=lambda n: (-counts[n], n)
  )
  if not kept:
    raise ValueError(
      f'label_space kind={kind!r}, min_count={min_count}: no class has that many videos; '
      f'the most frequent has {max(counts.values(), default=0)}.'
    )
  return dataclasses.replace(space, names=tuple(kept), counts=tuple(counts[n] for n in kept))


def sqrt_sampling_weights(labels: np.ndarray, counts: Sequence[int]) -> np.ndarray:
  """Probability [N] of drawing each video when a class is drawn with probability
  proportional to sqrt(n_k), then one of its videos uniformly; labels multi-hot [N, K]."""
  counts = np.asarray(counts, np.float64)
  class_probability = np.sqrt(counts) / np.sqrt(counts).sum()
  weights = (labels[:, : len(counts)] > 0) @ (class_probability / counts)
  return weights / weights.sum()


class RelabelledSource(Sequence):
  """Records of a split (`indices` into `source`, repeats allowed), each with its
  multi-hot 'label' (`labels` [len(indices), K])."""

  def __init__(self, source: Sequence[Mapping], indices: np.ndarray, labels: np.ndarray):
    self._source, self._indices, self.labels = source, indices, labels

  def __len__(self) -> int:
    return len(self._indices)

  def __getitem__(self, position: int) -> dict:
    record = dict(self._source[int(self._indices[position])])
    record['label'] = self.labels[position]
    return record

  def resampled(self, weights: np.ndarray, seed: int) -> RelabelledSource:
    """A draw with replacement of this source's size, record i with probability weights[i]."""
    order = np.random.default_rng(seed).choice(len(self), size=len(self), p=weights)
    return RelabelledSource(self._source, self._indices[order], self.labels[order])


def relabel(
  source: Sequence[Mapping],
  tag_lists: Sequence[Sequence[str]],
  space: LabelSpace,
  num_outputs: int = 0,
) -> RelabelledSource:
  """The videos of `source` whose parsed tags (`tag_lists`, one per record) have a class
  of `space`, labelled over `num_outputs` classes (0: the space's; more: the spare ones
  never positive, so a classifier sized for the largest space a vocabulary allows fits
  every cut-off)."""
  size = num_outputs or len(space.names)
  if size < len(space.names):
    raise ValueError(
      f'config.input.label_space.num_classes={num_outputs}, but the {space.kind} space has '
      f'{len(space.names)} classes: raise it (and config.model.num_classes) or min_count.'
    )
  labels = [space.encode(tags) for tags in tag_lists]
  indices = np.flatnonzero([label.any() for label in labels])
  padded = np.zeros((len(indices), size), np.float32)
  padded[:, : len(space.names)] = [labels[i] for i in indices]
  return RelabelledSource(source, indices, padded)


def output_names(space: LabelSpace, num_outputs: int = 0) -> tuple[str, ...]:
  """The names of the classifier's outputs: the space's classes, then the spare ones."""
  spare = range(len(space.names), max(num_outputs, len(space.names)))
  return space.names + tuple(f'(spare {k})' for k in spare)


def load_vocabulary(path: str, metadata: Mapping) -> dict[str, list[str]]:
  """The verbs and nouns of `path` (JSON) or, where it is empty, of the dataset's metadata."""
  if not path:
    return dict(metadata.get('tag_vocabulary', {}))
  try:
    with open(path) as f:
      vocabulary = json.load(f)
  except (OSError, json.JSONDecodeError) as error:
    raise ValueError(f'config.input.label_space.vocabulary={path!r}: {error}') from None
  unknown = set(vocabulary) - {'verbs', 'nouns'}
  if not isinstance(vocabulary, dict) or unknown:
    raise ValueError(
      f'{path}: needs a JSON object with "verbs" and "nouns" lists; unknown keys {unknown}.'
    )
  return {key: [str(word).lower() for word in words] for key, words in vocabulary.items()}
