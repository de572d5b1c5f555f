"""The procedural scenes of `vidjax_synthetic` (see `synthetic`): objects, actions, audio.

`render_video(config, split, index)` renders one example as arrays, a pure function of its
arguments; `synthetic` encodes these into the dataset's source videos and builds it.
"""

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from vidjax.data.builders import synthetic_events, synthetic_interactions, synthetic_keypoints

# Each action changes one factor of the objects in one direction. Angles grow clockwise
# on screen because y points down.
_ACTIONS = {
  'move_left': ('x', -1),
  'move_right': ('x', 1),
  'move_up': ('y', -1),
  'move_down': ('y', 1),
  'rotate_cw': ('angle', 1),
  'rotate_ccw': ('angle', -1),
  'grow': ('scale', 1),
  'shrink': ('scale', -1),
  'appear': ('opacity', 1),
  'disappear': ('opacity', -1),
}
ACTION_NAMES = tuple(_ACTIONS)
_FACTORS = ('x', 'y', 'angle', 'scale', 'opacity')


def _rect(u0: float, u1: float, v0: float, v1: float) -> list[tuple[float, float]]:
  return [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]


def _mirror(poly: list[tuple[float, float]]) -> list[tuple[float, float]]:
  return [(-u, v) for u, v in poly]


_HALF_DISC = [(np.cos(a), np.sin(a) - 0.5) for a in np.linspace(0, np.pi, 9)]
_CHEVRON_ARM = [(-1.0, 0.6), (0.0, -0.9), (0.0, -0.3), (-0.65, 0.95)]
# Unions of convex polygons in object coordinates [-1, 1]^2; none has a rotational
# symmetry, so that the sense of a rotation is visible.
_SHAPES = {
  'triangle': [[(-0.9, 0.8), (0.9, 0.8), (0.0, -1.0)]],
  'arrow': [_rect(-1.0, 0.15, -0.25, 0.25), [(0.1, -0.8), (1.0, 0.0), (0.1, 0.8)]],
  'ell': [_rect(-0.9, -0.3, -1.0, 1.0), _rect(-0.9, 0.9, 0.4, 1.0)],
  'tee': [_rect(-1.0, 1.0, -1.0, -0.4), _rect(-0.3, 0.3, -1.0, 1.0)],
  'half_disc': [_HALF_DISC],
  'trapezoid': [[(-1.0, 0.6), (1.0, 0.6), (0.45, -0.6), (-0.45, -0.6)]],
  'chevron': [_CHEVRON_ARM, _mirror(_CHEVRON_ARM)],
  'cup': [_rect(-1.0, -0.5, -1.0, 1.0), _rect(0.5, 1.0, -1.0, 1.0), _rect(-1.0, 1.0, 0.5, 1.0)],
}
SHAPE_NAMES = tuple(_SHAPES)

# Tone of each class (Hz): 0.4 octave apart, so no fundamental is another's harmonic.
TONE_HZ = tuple(220.0 * 2.0 ** (0.4 * k) for k in range(len(ACTION_NAMES)))
AUDIO_SAMPLE_RATE = 16000
# Objects fainter than this are still annotated but flagged not visible.
VISIBILITY_THRESHOLD = 0.45
SPLITS = ('train', 'validation')


def _edges(poly: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
  """Vertices `[E, 2]` in counter-clockwise order and the unit directions of its edges."""
  poly = np.asarray(poly, np.float32)
  u, v = poly[:, 0], poly[:, 1]
  if np.sum(u * np.roll(v, -1) - np.roll(u, -1) * v) < 0:
    poly = poly[::-1]
  direction = np.roll(poly, -1, axis=0) - poly
  return poly, direction / np.linalg.norm(direction, axis=1, keepdims=True)


_POLYGONS = {name: [_edges(p) for p in polys] for name, polys in _SHAPES.items()}


@dataclasses.dataclass(eq=False)
class VidjaxSyntheticConfig(tfds.core.BuilderConfig):
  """Size, resolution and generative parameters of `vidjax_synthetic`.

  Attributes:
    num_train: number of training examples.
    num_validation: number of validation examples.
    height: frame height in pixels (even).
    width: frame width in pixels (even).
    num_frames: frames per video (1 for the image view).
    fps: frame rate of the encoded videos.
    seed: base seed; example i of a split is a function of (seed, split, i) only.
    objects_per_video: (min, max) number of objects, inclusive.
    per_object_actions: give every object its own action; the label is object 0's.
    noise_std: std of the per-frame Gaussian pixel noise, in [0, 1] intensity units.
    audio_agreement: probability that the audio tone is the label's (else another's).
    view: 'video' or 'image' (single images, label = shape class).
    label_kind: the videos' label: 'action' (the temporal classes) or 'shape' (object 0's
      shape class, for transfer to another label set; use one object per video).
    events_per_second: audio-visual events (0: none): every object hums a pitch naming
      its shape, and at each event one object flashes white for a frame and makes its
      sound loudly at that frame's time (a click and a short tone at its pitch), so that
      sound and picture can be matched (which objects) and synchronised (which flashes
      when: AVTS); the event times are stored as `event_times`.
    flash_decay_frames: with events, how a flash fades: 0 lasts one frame (time-symmetric);
      d > 0 starts at full strength at the event and fades as exp(-frames since / d), so
      that a flash, like its click, has an arrow of time (Arrow of Time).
    speeds: playback speeds of the validation videos' segments (SpeedNet), e.g. (1.0, 2.0);
      () keeps every video at one speed, each action's sweep spanning the whole video.
      With speeds, a factor sweeps its range in `natural_frames` frames at speed 1 and
      bounces back at the range's ends, so a video may be longer than a sweep; training
      videos play at speed 1 throughout, validation videos in segments of
      `segment_frames` (min, max) frames at speeds taking turns from a random first one;
      each frame's speed is stored as `frame_speed`.
    natural_frames: frames of one sweep at speed 1 (with `speeds`).
    segment_frames: (min, max) frames of a validation segment, inclusive (with `speeds`).
    phases: actions that object 0 performs one after the other (each changing another
      factor), in phases of random lengths (at least `min_phase_frames` each) that differ
      from video to video, while the other objects stand still; each frame's phase is
      stored as `frame_phase` (temporal alignment, TCC). () keeps the one-action videos.
    min_phase_frames: shortest phase, in frames (with `phases`).
    keypoints_per_object: keypoints fixed to every object (0: none), stored with their
      visibility and the sparse `labelled_frames` (`synthetic_keypoints`: PoseWarper).
    keypoint_label_every: one frame in this many is labelled (with keypoints).
    interactions: actors with actions and relations at keyframes, and detector boxes
      (`synthetic_interactions`: AVA / ACAR); records are keyframes.
    keyframe_every: frames between keyframes (with interactions).
    hidden_seconds: with interactions, half the actors fade almost out of view for this
      many seconds, their labels holding (long-term context: the feature bank).
    action_frames: untrimmed videos (SCSampler) when > 0: the actions happen within one
      segment of this many frames at a random place, the objects standing still before
      (at the sweep's start) and after (at its end), and the audio's tone sounds only
      then; the segment's frames [start, end) are stored as `action_segment`.
    hashtags: give every video noisy web-style hashtags, `tags` (`synthetic_tags`: IG-65M's
      weakly-supervised pretraining). (Not `tags`: tfds's BuilderConfig has that field.)
  """

  num_train: int = 1200
  num_validation: int = 300
  height: int = 64
  width: int = 64
  num_frames: int = 16
  fps: float = 8.0
  seed: int = 0
  objects_per_video: tuple[int, int] = (2, 3)
  per_object_actions: bool = False
  noise_std: float = 0.02
  audio_agreement: float = 0.8
  view: str = 'video'
  label_kind: str = 'action'
  events_per_second: float = 0.0
  flash_decay_frames: float = 0.0
  speeds: tuple[float, ...] = ()
  natural_frames: int = 32
  segment_frames: tuple[int, int] = (8, 16)
  phases: tuple[str, ...] = ()
  min_phase_frames: int = 3
  keypoints_per_object: int = 0
  keypoint_label_every: int = 4
  interactions: bool = False
  keyframe_every: int = 8
  hidden_seconds: float = 0.0
  action_frames: int = 0
  hashtags: bool = False


def num_examples(config: VidjaxSyntheticConfig, split: str) -> int:
  return config.num_train if split == 'train' else config.num_validation


def _rng(config: VidjaxSyntheticConfig, split: str, index: int) -> np.random.Generator:
  return np.random.default_rng([config.seed, SPLITS.index(split), index])


def _factor_ranges(config: VidjaxSyntheticConfig) -> dict[str, tuple[float, float, float, float]]:
  """(low, high, min sweep, max sweep) of each factor, in pixels/radians/opacity."""
  h, w, size = config.height, config.width, min(config.height, config.width)
  return {
    'x': (0.1 * w, 0.9 * w, 0.35 * w, 0.45 * w),
    'y': (0.1 * h, 0.9 * h, 0.35 * h, 0.45 * h),
    'angle': (0.0, 2 * np.pi, 0.8 * np.pi, 1.3 * np.pi),
    'scale': (0.1 * size, 0.24 * size, 0.1 * size, 0.14 * size),
    'opacity': (0.15, 1.0, 0.7, 0.85),
  }


def _tracks(
  rng, config, actions: list[int], ramp: np.ndarray, phase_offsets: dict | None = None
) -> dict[str, np.ndarray]:
  """Per-object values of every factor at every frame, `[N, T]` each.

  A factor that an object's action changes follows `centre + sign * sweep * ramp(t)`.
  A constant factor takes the same formula at one random frame: a random time and sign
  shared by the video's objects, so that one frame's joint statistics match too. Object
  centres are redrawn until the objects are apart, by a rule blind to the action. With
  `phase_offsets` ({factor: offset [T]} from `phase_offsets()`), object 0 follows those in
  place of its action and every other object stands still.
  """
  num_objects = len(actions)
  ranges = _factor_ranges(config)
  sweeps = {f: rng.uniform(lo, hi, num_objects) for f, (_, _, lo, hi) in ranges.items()}
  min_gap = 0.25 * min(config.height, config.width)
  for _ in range(100):
    centres = {
      f: rng.uniform(low + sweeps[f] / 2, high - sweeps[f] / 2)
      for f, (low, high, _, _) in ranges.items()
    }
    centres['angle'] = rng.uniform(0, 2 * np.pi, num_objects)
    xy = np.stack([centres['x'], centres['y']], axis=1)
    gaps = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(num_objects) * min_gap
    if gaps.min() >= min_gap:
      break
  tracks = {}
  for factor in ranges:
    shared = rng.choice((-1.0, 1.0)) * rng.choice(ramp)
    values = []
    for i, action in enumerate(actions):
      if phase_offsets is not None:  # phased videos: only object 0 moves, by its phases
        moving = phase_offsets.get(factor) if i == 0 else None
      else:
        changed, sign = _ACTIONS[ACTION_NAMES[action]]
        moving = sign * ramp if changed == factor else None
      offset = np.full_like(ramp, shared) if moving is None else moving
      values.append(centres[factor][i] + sweeps[factor][i] * offset)
    tracks[factor] = np.stack(values)
  return tracks


def frame_phases(config: VidjaxSyntheticConfig, split: str, index: int) -> np.ndarray:
  """The phase of every frame, int64 [T]: `config.phases` in order, in lengths of at least
  `min_phase_frames` drawn per video (a stream of its own)."""
  num_phases, num_frames = len(config.phases), config.num_frames
  spare = num_frames - num_phases * config.min_phase_frames
  if spare < 0:
    raise ValueError(
      f'{num_phases} phases of at least {config.min_phase_frames} frames do not fit in '
      f'{num_frames} frames.'
    )
  rng = np.random.default_rng([config.seed, SPLITS.index(split), index, 5])
  extra = np.floor(rng.dirichlet(np.full(num_phases, 2.0)) * spare).astype(int)
  extra[-1] += spare - extra.sum()
  lengths = config.min_phase_frames + extra
  return np.repeat(np.arange(num_phases), lengths).astype(np.int64)


def phase_offsets(config: VidjaxSyntheticConfig, phases: np.ndarray) -> dict[str, np.ndarray]:
  """{factor: offset [T]} of object 0 in a phased video: each phase's factor sweeps from
  -sign/2 to sign/2 during its phase and holds its ends before and after."""
  offsets = {}
  for phase, name in enumerate(config.phases):
    factor, sign = _ACTIONS[name]
    frames = np.flatnonzero(phases == phase)
    position = np.clip((np.arange(len(phases)) - frames[0]) / max(len(frames) - 1, 1), 0, 1)
    offsets[factor] = sign * (position - 0.5)
  return offsets


def frame_speeds(config: VidjaxSyntheticConfig, split: str, index: int) -> np.ndarray:
  """The playback speed of every frame, float32 [T]: 1 in training videos, segments at
  `config.speeds` in validation videos (see VidjaxSyntheticConfig)."""
  speeds = np.ones(config.num_frames, np.float32)
  if split != 'validation':
    return speeds
  # A stream of its own, so that the scenes match those of a config without speeds.
  rng = np.random.default_rng([config.seed, SPLITS.index(split), index, 3])
  low, high = config.segment_frames
  kind, start = int(rng.integers(len(config.speeds))), 0
  while start < config.num_frames:
    length = int(rng.integers(low, high + 1))
    speeds[start : start + length] = config.speeds[kind]
    kind, start = (kind + 1) % len(config.speeds), start + length
  return speeds


def action_segment(config: VidjaxSyntheticConfig, split: str, index: int) -> np.ndarray:
  """The frames [start, end) of an untrimmed video's action, int64 [2] (a stream of its
  own, so that the scenes match those of a trimmed config)."""
  rng = np.random.default_rng([config.seed, SPLITS.index(split), index, 6])
  start = int(rng.integers(0, config.num_frames - config.action_frames + 1))
  return np.array([start, start + config.action_frames], np.int64)


def _scene_time(config: VidjaxSyntheticConfig, split: str, index: int, rng) -> np.ndarray:
  """Where each frame is in the actions' sweep, in [-0.5, 0.5]: `ramp` of `_tracks`."""
  num_frames = config.num_frames
  if num_frames == 1:
    return rng.uniform(-0.5, 0.5, 1)
  if config.action_frames:
    start, end = action_segment(config, split, index)
    return np.clip((np.arange(num_frames) - start) / (end - start - 1), 0, 1) - 0.5
  if not config.speeds:
    return np.linspace(-0.5, 0.5, num_frames)
  steps = frame_speeds(config, split, index)[:-1] / (config.natural_frames - 1)
  start = np.random.default_rng([config.seed, SPLITS.index(split), index, 4]).uniform(0, 2)
  travelled = start + np.concatenate([[0.0], np.cumsum(steps)])
  # A triangle wave of period 2: the sweep bounces at both ends at unchanged speed.
  return 0.5 - np.abs(travelled % 2 - 1)


def _background(rng, height: int, width: int) -> np.ndarray:
  """Smooth random colour texture `[H, W, 3]` in [0, 1]: a sum of low-frequency waves."""
  size = min(height, width)
  yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) / size
  image = np.broadcast_to(rng.uniform(0.3, 0.5, 3), (height, width, 3)).astype(np.float32)
  for _ in range(4):
    freq, direction = rng.uniform(1.0, 4.0), rng.uniform(0, 2 * np.pi)
    phase = 2 * np.pi * (freq * (np.cos(direction) * xx + np.sin(direction) * yy))
    wave = np.sin(phase + rng.uniform(0, 2 * np.pi))
    image = image + wave[..., None] * rng.uniform(0.01, 0.04, 3).astype(np.float32)
  return image


def _draw(frame, polygons, colour, stripes, cx, cy, angle, scale, opacity):
  """Composites one object onto `frame` in place; returns its coverage and window corner.

  Coverage is anti-aliased by a one-pixel ramp of the signed distance to each convex
  piece's edges, and computed only in the object's bounding window. The fill is the
  colour modulated by stripes fixed to the object, so that its texture moves and
  rotates with it.
  """
  height, width, _ = frame.shape
  radius = 1.45 * scale + 1
  y0, y1 = max(0, int(cy - radius)), min(height, int(np.ceil(cy + radius)) + 1)
  x0, x1 = max(0, int(cx - radius)), min(width, int(np.ceil(cx + radius)) + 1)
  if y0 >= y1 or x0 >= x1:
    return None
  ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cy
  xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cx
  cos, sin = np.cos(angle), np.sin(angle)
  u = (cos * xs + sin * ys) / scale
  v = (-sin * xs + cos * ys) / scale
  coverage = np.zeros(u.shape, np.float32)
  for start, direction in polygons:
    du, dv = direction[:, 0, None, None], direction[:, 1, None, None]
    distance = du * (v - start[:, 1, None, None]) - dv * (u - start[:, 0, None, None])
    coverage = np.maximum(coverage, np.clip(distance.min(axis=0) * scale + 0.5, 0, 1))
  frequency, phase = stripes
  fill = (coverage * (1.0 + 0.25 * np.sin(frequency * u + phase)))[..., None] * colour
  window = frame[y0:y1, x0:x1]
  window *= 1.0 - opacity * coverage[..., None]
  window += opacity * fill
  return coverage, (y0, x0)


def _hsv_colour(rng) -> np.ndarray:
  hue, saturation, value = rng.uniform(0, 1), rng.uniform(0.6, 1.0), rng.uniform(0.85, 1.0)
  k = (np.array([5.0, 3.0, 1.0]) + hue * 6) % 6
  rgb = value - value * saturation * np.clip(np.minimum(k, 4 - k), 0, 1)
  return rgb.astype(np.float32)


def _audio(
  rng, config: VidjaxSyntheticConfig, label: int, tone_frames: tuple[int, int] | None = None
) -> tuple[np.ndarray, int]:
  """Mono tone + harmonic + noise `[num_samples]`, and the class whose tone it is; the
  tone sounds during the frames [start, end) of `tone_frames`, or all along."""
  audio_label = label
  if rng.uniform() >= config.audio_agreement:
    audio_label = int(rng.choice([k for k in range(len(ACTION_NAMES)) if k != label]))
  num_samples = round(config.num_frames / config.fps * AUDIO_SAMPLE_RATE)
  t = np.arange(num_samples, dtype=np.float32) / AUDIO_SAMPLE_RATE
  freq = TONE_HZ[audio_label] * rng.uniform(0.98, 1.02)
  tone = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
  tone += 0.4 * np.sin(4 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
  # Short fades avoid clicks (broadband energy) at the clip boundaries.
  begin, end = (0.0, t[-1]) if tone_frames is None else np.divide(tone_frames, config.fps)
  envelope = np.clip(np.minimum(t - begin, end - t) / 0.01, 0, 1)
  wave = rng.uniform(0.2, 0.4) * envelope * tone
  wave += rng.normal(0, rng.uniform(0.02, 0.08), num_samples)
  return np.clip(wave, -1, 1).astype(np.float32), audio_label


# Each kind of object's pitch (see `synthetic_events`).
OBJECT_PITCH_HZ = tuple(600.0 * 2.0 ** (0.4 * k) for k in range(len(SHAPE_NAMES)))


def render_video(config: VidjaxSyntheticConfig, split: str, index: int) -> dict[str, np.ndarray]:
  """Renders example `index` of `split`; a pure function of (config, split, index).

  Returns:
    A dict with `frames` uint8 `[T, H, W, 3]`, `audio` float32 `[T / fps * 16000]`,
    `label`, `audio_label`, `object_actions` `[N]`, `object_shapes` `[N]`, `boxes`
    float32 `[N, T, 4]` (normalised ymin, xmin, ymax, xmax, clipped to the frame),
    `object_visible` bool `[N, T]` and `masks` uint8 `[T, H, W]` (0 = background,
    i + 1 = object i, later objects in front); with events, `event_times` float32 [E]
    (seconds: the flashing frame's index / fps, when its click starts) and
    `event_objects` int64 [E]; with speeds, `frame_speed` float32 [T]; with phases,
    `frame_phase` int64 [T]; with keypoints, `keypoints` float32 [N, T, K, 2] ((y, x)
    pixels), `keypoint_visible` bool [N, T, K] and `labelled_frames` bool [T]; with
    interactions, those of `synthetic_interactions.annotations`; untrimmed,
    `action_segment` int64 [2].
  """
  rng = _rng(config, split, index)
  n = num_examples(config, split)
  # A permutation of balanced labels, shared by the split and cheap to recompute.
  label = int(np.random.default_rng([config.seed, SPLITS.index(split)]).permutation(n)[index])
  label %= len(ACTION_NAMES)
  low, high = config.objects_per_video
  num_objects = int(rng.integers(low, high + 1))
  actions = [label] * num_objects
  if config.per_object_actions:
    actions[1:] = rng.integers(0, len(ACTION_NAMES), num_objects - 1).tolist()
  shapes = rng.integers(0, len(SHAPE_NAMES), num_objects)
  colours = [_hsv_colour(rng) for _ in range(num_objects)]
  stripes = [(rng.uniform(2, 5), rng.uniform(0, 2 * np.pi)) for _ in range(num_objects)]
  num_frames, height, width = config.num_frames, config.height, config.width
  ramp = _scene_time(config, split, index, rng)
  phases = frame_phases(config, split, index) if config.phases else None
  offsets = phase_offsets(config, phases) if config.phases else None
  tracks = _tracks(rng, config, actions, ramp, offsets)
  if config.interactions:
    scene = synthetic_interactions.plan(config, SPLITS.index(split), index, num_objects)
    tracks, shapes = (
      scene['tracks'],
      np.where(scene['is_actor'], shapes % (len(SHAPE_NAMES) - 1), len(SHAPE_NAMES) - 1),
    )
  background = _background(rng, height, width)
  frames = np.empty((num_frames, height, width, 3), np.uint8)
  masks = np.zeros((num_frames, height, width), np.uint8)
  boxes = np.zeros((num_objects, num_frames, 4), np.float32)
  visible = np.zeros((num_objects, num_frames), bool)
  noise = config.noise_std * rng.standard_normal(frames.shape, dtype=np.float32)
  events = {}
  if config.events_per_second > 0:
    event_frames = synthetic_events.event_frames(
      np.random.default_rng([config.seed, SPLITS.index(split), index, 1]),
      config.num_frames,
      config.fps,
      config.events_per_second,
    )
    event_rng = np.random.default_rng([config.seed, SPLITS.index(split), index, 2])
    flashing = event_rng.integers(0, num_objects, len(event_frames))
    events = dict(zip(event_frames.tolist(), flashing.tolist(), strict=True))
  glow = synthetic_events.flash_strengths(
    events, num_objects, num_frames, config.flash_decay_frames
  )
  for t in range(num_frames):
    frame = background.copy()
    for i in range(num_objects):
      x, y, angle, scale, opacity = (tracks[f][i, t] for f in _FACTORS)
      polygons = _POLYGONS[SHAPE_NAMES[shapes[i]]]
      colour = colours[i]
      if glow[i, t] == 1.0:
        colour = colour + synthetic_events.FLASH_STRENGTH * (1.0 - colour)
        opacity = 1.0  # a flash shows even on an object that is fading
      elif glow[i, t] > 0:
        colour = colour + glow[i, t] * synthetic_events.FLASH_STRENGTH * (1.0 - colour)
        opacity = opacity + glow[i, t] * (1.0 - opacity)
      drawn = _draw(frame, polygons, colour, stripes[i], x, y, angle, scale, opacity)
      if drawn is None or not drawn[0].any():
        continue
      coverage, (y0, x0) = drawn
      rows, cols = np.nonzero(coverage.any(axis=1))[0], np.nonzero(coverage.any(axis=0))[0]
      corners = (y0 + rows[0], x0 + cols[0], y0 + rows[-1] + 1, x0 + cols[-1] + 1)
      boxes[i, t] = np.divide(corners, (height, width, height, width))
      visible[i, t] = opacity >= VISIBILITY_THRESHOLD and coverage.sum() >= 1.0
      window = masks[t, y0 : y0 + coverage.shape[0], x0 : x0 + coverage.shape[1]]
      window[coverage >= 0.5] = i + 1
    frame += noise[t]
    frames[t] = np.clip(np.rint(frame * 255), 0, 255).astype(np.uint8)
  segment = action_segment(config, split, index) if config.action_frames else None
  audio, audio_label = _audio(rng, config, label, segment)
  annotations = {} if segment is None else {'action_segment': segment}
  if events:
    event_times = np.asarray(sorted(events), np.float32) / np.float32(config.fps)
    event_objects = np.asarray([events[t] for t in sorted(events)], np.int64)
    pitches = np.asarray(OBJECT_PITCH_HZ)
    audio = synthetic_events.add_object_sounds(
      event_rng,
      audio,
      pitches[shapes],
      event_times,
      pitches[shapes[event_objects]],
      AUDIO_SAMPLE_RATE,
    )
    annotations = {'event_times': event_times, 'event_objects': event_objects}
  if config.speeds:
    annotations['frame_speed'] = frame_speeds(config, split, index)
  if config.phases:
    annotations['frame_phase'] = phases
  if config.keypoints_per_object:
    annotations.update(synthetic_keypoints.annotations(config, tracks, visible, masks))
  if config.interactions:
    split_index = SPLITS.index(split)
    annotations.update(synthetic_interactions.annotations(config, split_index, index, scene, boxes))
  return {
    **annotations,
    'frames': frames,
    'audio': audio,
    'label': label,
    'audio_label': audio_label,
    'object_actions': np.asarray(actions, np.int64),
    'object_shapes': shapes.astype(np.int64),
    'boxes': boxes,
    'object_visible': visible,
    'masks': masks,
  }
