"""AVTS: audio-visual temporal synchronisation (Korbar, Tran & Torresani, arXiv 1807.00230).

Each training example becomes one pair of a clip and a sound, labelled in sync or not:

  positive       the clip and the sound under it ('audio');
  easy negative  the clip and the sound of another video (the next example's 'audio' in
                 the batch);
  hard negative  the clip and its own video's sound at least `min_shift_s` earlier or
                 later ('audio_shifted', from the `avts` sampler).

A `positive_fraction` of the examples are positives. The curriculum: for the first
`curriculum_steps` steps every negative is easy; from then on a `hard_fraction` of them
are hard (a video too short for a shift gives an easy one instead). `curriculum_steps=0`
mixes hard negatives in from the start, `hard_fraction=0` never does. The choice is drawn
from the 'pairs' stream, a function of (seed, step), so a resumed run draws the same
pairs. Pairs whose sounds are missing ('has_audio' False) are left out of the loss.

The loss is the contrastive loss of the paper (Hadsell et al.'s), on the distance d
between the clip's and the sound's embeddings (`models/avts.py`):

  y d^2 + (1 - y) max(margin - d, 0)^2,      y = 1 for a pair in sync,

with the paper's margin of 0.99. A pair is judged in sync when d < margin / 2
(`decision_threshold`), which the train metric 'sync_accuracy' and the `synchronisation`
evaluator use.

`objective='classifier'` is the alternative the paper compares the contrastive loss with:
a classifier on the two embeddings concatenated (the model's `sync_classifier`) trained
with the logistic loss on in-sync / not. Its pair score, reported under the same names as
the distance ('distance/<kind>'), is minus the in-sync logit: lower is more in sync, and
the threshold is 0.

`objective='nce'` replaces the one pair per clip by every pair of the batch: each clip's
sound against the other clips' sounds (easy negatives) and, once the curriculum allows, its
own sound shifted (a hard negative, joining a clip's negatives with probability
`hard_fraction`), in a softmax over cosines at `temperature`, both ways (clip to sounds,
sound to clips), as audio-visual instance discrimination (Morgado et al. 2021) does. It
departs from the paper: on the embedded data the contrastive loss collapses every
embedding into one direction (its minimum for pairs it cannot yet tell apart, all at
margin / 2), and the softmax has no such minimum (docs/avts.md). A pair is judged in sync
when its cosine is positive (distance below sqrt 2).

`predict` embeds every clip with its own sound, its shifted sound and the next clip's
sound, giving 'aux/distance/positive', 'aux/distance/easy', 'aux/distance/hard', the
embeddings and the towers' pooled features ('aux/features/audio', 'aux/features/video')
for linear probes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from vidjax import models
from vidjax.tasks import base

POSITIVE, EASY, HARD = 0, 1, 2
KINDS = ('positive', 'easy', 'hard')
OBJECTIVES = ('contrastive', 'classifier', 'nce')
# 'nce' judges a pair in sync when its unit embeddings' cosine is positive (distance below
# sqrt 2): the softmax spreads unrelated embeddings towards right angles.
NCE_THRESHOLD = 2.0**0.5


def contrastive_loss(distance: jax.Array, in_sync: jax.Array, margin: float) -> jax.Array:
  """Per pair: d^2 for pairs in sync, max(margin - d, 0)^2 for the others."""
  return jnp.where(in_sync, distance**2, jnp.maximum(margin - distance, 0.0) ** 2)


def collapse(aux: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """The norm of the batch's mean unit embedding per modality: near 0 when the embeddings
  spread over the sphere, near 1 when they collapse into one direction (a per-dimension
  outlier can defeat the embedding's BatchNorm that way; docs/avts.md)."""
  return {
    f'collapse/{modality}': jnp.linalg.norm(jnp.mean(aux[f'embedding/{modality}'], axis=0))
    for modality in ('video', 'audio')
  }


def distance(a: jax.Array, b: jax.Array) -> jax.Array:
  """Euclidean distance of rows, with a gradient at zero."""
  return jnp.sqrt(jnp.sum((a - b) ** 2, axis=-1) + 1e-12)


class Task(base.Task):
  """Synchronised or not: the contrastive loss over positives, easy and hard negatives."""

  batch_keys = ('video', 'audio', 'audio_shifted', 'has_audio', 'has_shifted_audio')
  rng_names = ('pairs',)

  def __init__(
    self,
    *,
    margin: float = 0.99,
    positive_fraction: float = 0.5,
    hard_fraction: float = 0.25,
    curriculum_steps: int = 0,
    objective: str = 'contrastive',
    temperature: float = 0.1,
  ):
    """Args:
    margin: of the contrastive loss (the paper's 0.99; embeddings are unit vectors).
    positive_fraction: of the examples that are pairs in sync.
    hard_fraction: of the negatives that are hard once the curriculum allows them.
    curriculum_steps: steps with easy negatives only.
    objective: 'contrastive' (the paper's), 'classifier' (needs the model's
      sync_classifier) or 'nce' (every pair of the batch in a softmax).
    temperature: of the 'nce' softmax over cosines.
    """
    for name, value in (('positive_fraction', positive_fraction), ('hard_fraction', hard_fraction)):
      if not 0 <= value <= 1:
        raise ValueError(f'config.task_kwargs.{name}={value}: a fraction in [0, 1].')
    if not margin > 0 or not temperature > 0 or curriculum_steps < 0:
      raise ValueError(
        f'config.task_kwargs: margin={margin} and temperature={temperature} must be '
        f'positive and curriculum_steps={curriculum_steps} at least 0.'
      )
    if objective not in OBJECTIVES:
      raise ValueError(f'config.task_kwargs.objective={objective!r}: one of {OBJECTIVES}.')
    self.objective = objective
    self.margin = margin
    self.positive_fraction = positive_fraction
    self.hard_fraction = hard_fraction
    self.curriculum_steps = curriculum_steps
    self.temperature = temperature

  @property
  def decision_threshold(self) -> float:
    """A pair is judged in sync when its distance is below this."""
    return {'contrastive': self.margin / 2, 'classifier': 0.0, 'nce': NCE_THRESHOLD}[self.objective]

  def _scores(self, aux: dict) -> jax.Array:
    """Each pair's dissimilarity: the embeddings' distance, or minus the in-sync logit."""
    if self.objective != 'classifier':
      video, audio = aux['embedding/video'], aux['embedding/audio']
      return distance(jnp.tile(video, (len(audio) // len(video), 1)), audio)
    if 'sync_logit' not in aux:
      raise ValueError(
        "config.task_kwargs.objective='classifier' needs config.model.sync_classifier=True."
      )
    return -aux['sync_logit']

  def pair_kinds(self, rng: jax.Array, step: jax.Array, has_shifted_audio: jax.Array) -> jax.Array:
    """POSITIVE, EASY or HARD for each example: int32 [B]."""
    positive_rng, hard_rng = jax.random.split(rng)
    batch_size = has_shifted_audio.shape[0]
    positive = jax.random.uniform(positive_rng, (batch_size,)) < self.positive_fraction
    hard = (
      (jax.random.uniform(hard_rng, (batch_size,)) < self.hard_fraction)
      & (step >= self.curriculum_steps)
      & has_shifted_audio
    )
    return jnp.where(positive, POSITIVE, jnp.where(hard, HARD, EASY)).astype(jnp.int32)

  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    if self.objective == 'nce':
      return self._nce_loss_and_metrics(model, variables, batch, ctx)
    kinds = self.pair_kinds(ctx.rngs['pairs'], ctx.step, batch['has_shifted_audio'])
    other_video = jnp.roll(batch['audio'], 1, axis=0)
    chosen = {POSITIVE: batch['audio'], EASY: other_video, HARD: batch['audio_shifted']}
    select = lambda kind: (kinds == kind)[:, None, None]  # noqa: E731
    sound = jnp.where(select(POSITIVE), chosen[POSITIVE], chosen[EASY])
    sound = jnp.where(select(HARD), chosen[HARD], sound)
    has_audio = batch['has_audio']
    valid = has_audio & jnp.where(kinds == EASY, jnp.roll(has_audio, 1), True)
    (_, aux), model_state = self.apply(model, variables, {**batch, 'audio': sound}, ctx)
    d = self._scores(aux)
    in_sync = kinds == POSITIVE
    weights = valid.astype(jnp.float32)
    count = jnp.maximum(weights.sum(), 1.0)
    if self.objective == 'contrastive':
      per_pair = contrastive_loss(d, in_sync, self.margin)
    else:
      per_pair = optax.sigmoid_binary_cross_entropy(-d, in_sync.astype(jnp.float32))
    loss = jnp.sum(weights * per_pair) / count
    correct = (d < self.decision_threshold) == in_sync
    metrics = {'loss': loss, 'sync_accuracy': jnp.sum(weights * correct) / count}
    if self.objective == 'contrastive':
      metrics.update(collapse(aux))
    for kind, name in enumerate(KINDS):
      is_kind = weights * (kinds == kind)
      metrics[f'fraction/{name}'] = is_kind.sum() / count
      metrics[f'distance/{name}'] = jnp.sum(is_kind * d) / jnp.maximum(is_kind.sum(), 1.0)
    return loss, (model_state, metrics)

  def _nce_loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    """Every clip against every sound of the batch (and its own shifted sound) in a
    softmax over cosines, clip to sounds and sound to clips."""
    sounds = jnp.concatenate([batch['audio'], batch['audio_shifted']])
    (_, aux), model_state = self.apply(model, variables, {**batch, 'audio': sounds}, ctx)
    video = aux['embedding/video']
    own, shifted = jnp.split(aux['embedding/audio'], 2)
    num = len(video)
    has_audio = batch['has_audio']
    hard = (
      (jax.random.uniform(ctx.rngs['pairs'], (num,)) < self.hard_fraction)
      & (ctx.step >= self.curriculum_steps)
      & batch['has_shifted_audio']
      & has_audio
    )
    cosines = video @ own.T  # [clip, sound]: positives on the diagonal
    hard_cosines = jnp.sum(video * shifted, axis=-1)
    # Sounds that do not exist are nobody's negative; a hard negative only for its clip.
    # (A finite stand-in for minus infinity keeps the masked rows' gradients finite.)
    excluded = -1e4
    clip_to_sound = jnp.where(has_audio[None, :], cosines, excluded)
    clip_to_sound = jnp.concatenate(
      [clip_to_sound, jnp.where(hard, hard_cosines, excluded)[:, None]], axis=1
    )
    targets = jnp.arange(num)
    per_clip = optax.softmax_cross_entropy_with_integer_labels(
      clip_to_sound / self.temperature, targets
    )
    sound_to_clip = optax.softmax_cross_entropy_with_integer_labels(
      cosines.T / self.temperature, targets
    )
    weights = has_audio.astype(jnp.float32)
    count = jnp.maximum(weights.sum(), 1.0)
    loss = jnp.sum(jnp.where(has_audio, per_clip + sound_to_clip, 0.0)) / (2 * count)
    # Metrics on distances, as the other objectives report them.
    d = jnp.sqrt(jnp.maximum(2.0 - 2.0 * cosines, 0.0) + 1e-12)
    d_hard = distance(video, shifted)
    positive = jnp.diagonal(d)
    easy = weights[:, None] * weights[None, :] * (1.0 - jnp.eye(num))
    hard_weights = hard.astype(jnp.float32)
    metrics = {
      'loss': loss,
      'sync_accuracy': jnp.sum(weights * (positive < NCE_THRESHOLD)) / count,
      'distance/positive': jnp.sum(weights * positive) / count,
      'distance/easy': jnp.sum(easy * d) / jnp.maximum(easy.sum(), 1.0),
      'distance/hard': jnp.sum(hard_weights * d_hard) / jnp.maximum(hard_weights.sum(), 1.0),
      'fraction/hard': hard_weights.sum() / count,
      'ranking/easy': jnp.sum(easy * (positive[:, None] < d)) / jnp.maximum(easy.sum(), 1.0),
      **collapse(aux),
    }
    return loss, (model_state, metrics)

  def predict(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> dict[str, jax.Array]:
    """Scores (distances, or minus the in-sync logits) of every clip with its own sound,
    its shifted sound and the batch's previous example's sound (a single view per video
    keeps that another video)."""
    sounds = batch['audio']
    shifted = batch['audio_shifted'].reshape(sounds.shape)
    # Each clip with its own sound and its shifted sound; the classifier also needs the
    # previous example's sound passed through it, while a distance reuses that embedding.
    paired = [sounds, shifted]
    if self.objective == 'classifier':
      paired.append(jnp.roll(sounds, 1, axis=0))
    inputs = models.model_inputs(model, {**batch, 'audio': jnp.concatenate(paired)})
    _, aux = model.apply(variables, inputs, train=False)
    video, audio = aux['embedding/video'], aux['embedding/audio']
    num = len(sounds)
    own = audio[:num]
    if self.objective == 'classifier':
      positive, hard, easy = jnp.split(self._scores(aux), 3)
    else:
      positive, hard = jnp.split(self._scores(aux), 2)
      easy = distance(video, jnp.roll(own, 1, axis=0))
    return {
      'logits': video,
      'aux/distance/positive': positive,
      'aux/distance/easy': easy,
      'aux/distance/hard': hard,
      'aux/embedding/video': video,
      'aux/embedding/audio': own,
      'aux/features/video': aux['features/video'],
      'aux/features/audio': aux['features/audio'][:num],
    }
