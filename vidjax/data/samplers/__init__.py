"""Temporal samplers: which frames of a video make an example, and what was decided.

`config.input.sampling.mode` names the module (`vidjax.data.samplers.<mode>`); the other
keys of `config.input.sampling` are the constructor arguments of the built-in samplers,
and each sampler takes those its constructor names. A sampler module defines:

  Sampler(**kwargs)                       with
    train(rng, meta) -> Sample            one training clip: frames int64 [T];
    eval(meta, num_views) -> Sample       the test clips: frames int64 [num_views, T].

`meta` is the record's `VideoMeta(num_frames, fps, labelled_frames)`. `Sample.fields` holds what the
sampler decided (a speed, an order, an audio offset): the loader merges it into the
example, so the labels of pretext tasks come from samplers, not from the records. At
test time each field has a leading axis of one entry per clip [num_views, ...].
Built in: `stride` (a clip of frames every `stride` frames), `fps` (at `target_fps`
whatever the video's rate), `segments` (TSN: one frame per equal segment), `avts` (a
clip, its audio and the same video's audio shifted in time), `speed` (SpeedNet: a clip
at normal speed and sped up, frames [2, T] in training), `arrow` (Arrow of Time: a clip
and the same frames reversed, frames [2, T] in training), `tuples` (Shuffle & Learn:
three frames in temporal order or not) and `two_clips` (SCSampler's ranking: two clips of
one video at independent random starts, frames [2, T] in training).

`clips_per_video` > 0 (a key of config.input.sampling for every mode with one clip per
view: stride, fps, segments) fixes the training clips of each video to that many, the
centres of as many equal stretches of it, one drawn per example (`FixedClips`): with a split
slice of N videos ('train[:N]') it trains on a budget of N x clips_per_video clips, the
question IG-65M asks of long videos (many videos with a clip each, or fewer with several).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import ml_collections
import numpy as np

from vidjax import configs


class VideoMeta(NamedTuple):
  """What a sampler may read of a record: its number of frames, (average) frame rate and,
  where the record marks them, its labelled frames (bool [num_frames]; sparse pose labels)."""

  num_frames: int
  fps: float
  labelled_frames: np.ndarray | None = None


class Sample(NamedTuple):
  """The frame indices to decode, the fields the sampler decided (merged into the
  example, e.g. {'speed': np.int32(2)}) and, when audio is enabled, whose time spans the
  audio features cover: {example key: frame indices shaped like `frames`}; None: 'audio'
  under `frames` (AVTS adds 'audio_shifted', the same video's audio at another time).
  `accept`, for training samples, is a test of the decoded frames (uint8, shaped like
  `frames` plus [H, W, 3]): when it fails, the loader draws another sample with the same
  rng, at most MAX_DRAWS in all, and keeps the last (Shuffle & Learn's tuples of motion)."""

  frames: np.ndarray
  fields: dict[str, Any]
  audio_frames: Mapping[str, np.ndarray] | None = None
  accept: Callable[[np.ndarray], bool] | None = None


# Draws of a training sample whose `accept` test fails before the last one is kept.
MAX_DRAWS = 5


def module(name: str) -> types.ModuleType:
  """The sampler module `name` (or a dotted module path of your own); an unknown name lists
  the known ones."""
  return configs.load_module('data.samplers', name, flag='config.input.sampling.mode')


# Modes whose test-time views are one clip each, as `FixedClips` draws them.
ONE_CLIP_MODES = ('stride', 'fps', 'segments')


def _select_views(views: Sample, which: int | slice) -> Sample:
  """Views `which` of a multi-view Sample: one view (an index) or several (a slice)."""
  return Sample(
    views.frames[which],
    {key: value[which] for key, value in views.fields.items()},
    None
    if views.audio_frames is None
    else {key: value[which] for key, value in views.audio_frames.items()},
  )


class FixedClips:
  """Training clips from a fixed set per video, one drawn at random per training example;
  evaluation as the base sampler's.

  The set is the centres of `clips` equal stretches of the video: the odd views of the
  base sampler's 2 x clips + 1 evenly spaced test-time views, so that one clip is the
  centred test-time clip. Not the `clips` test-time views themselves: those span the first
  to the last start, so a set of two would be the video's two ends, where an action at a
  random place is least often (in the `untrimmed` videos a clip at the ends shows half as
  much action as a centred one), and the clip budgets would differ in how much of the
  action they see rather than in how many videos they cover.
  """

  def __init__(self, base, clips: int):
    self._base, self._clips = base, clips

  def fixed_clips(self, meta: VideoMeta) -> Sample:
    """The video's `clips` training clips, as views."""
    return _select_views(self._base.eval(meta, 2 * self._clips + 1), slice(1, None, 2))

  def train(self, rng: np.random.Generator, meta: VideoMeta) -> Sample:
    return _select_views(self.fixed_clips(meta), int(rng.integers(self._clips)))

  def eval(self, meta: VideoMeta, num_views: int) -> Sample:
    return self._base.eval(meta, num_views)


def build(sampling: ml_collections.ConfigDict):
  """The sampler of config.input.sampling: `mode`'s Sampler with the keys it takes,
  wrapped in `FixedClips` when `clips_per_video` > 0."""
  sampler_class = module(sampling.mode).Sampler
  accepted = set(inspect.signature(sampler_class.__init__).parameters) - {'self'}
  sampler = sampler_class(**{key: sampling[key] for key in accepted if key in sampling})
  clips = sampling.get('clips_per_video', 0)
  if clips <= 0:
    return sampler
  if sampling.mode not in ONE_CLIP_MODES:
    raise ValueError(
      f'config.input.sampling.clips_per_video={clips} fixes one-clip views, which mode='
      f'{sampling.mode!r} does not have; use one of {ONE_CLIP_MODES} or clips_per_video=0.'
    )
  return FixedClips(sampler, clips)
