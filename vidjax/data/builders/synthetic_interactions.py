"""Actors, their actions and relations at keyframes (the `interactions` config: AVA, ACAR).

A video shows 2-3 actors and sometimes a small object. Every actor has one movement (the
mutually exclusive group, as AVA's PERSON_MOVEMENT: stand or move left, right, up or down),
may turn, and may take part in a relation that its own box cannot show:

  follow / lead   two actors move the same way, one behind the other on the same line
                  (side by side, on different lines, neither follows);
  meet            two actors on one line walk towards each other;
  carry           an actor moves with an object beside it (an object standing still beside
                  an actor that walks away is not carried).

Each video draws one of the scenes 'none', 'follow', 'meet', 'carry' with equal chance;
'none' scenes hold the look-alikes (actors side by side, passing on different lines, an
object left standing), so that telling a relation needs the other actor or the object.
The labels hold for the whole video and are annotated at keyframes, one a second (every
`keyframe_every` frames, never the first or last frame), as AVA annotates its movies:
the actors' boxes, their multi-hot actions, and "detector" boxes: each actor's box,
jittered, with a score, missed now and then, plus false detections (on the object, or
anywhere), for training and testing as with a real person detector.

With `hidden_seconds` > 0 (the `interactions_long` config), each actor, with probability
HIDE_PROBABILITY, fades almost out of view (opacity HIDDEN_OPACITY) for that many seconds
at a random time while its labels hold, as a person in a movie is occluded or leaves the
shot for a while: at a keyframe inside that span the clip around it barely shows the
actor, and what it does is told by the other moments of the video, the long-term context
that a feature bank (LFB, ACAR's ACFB) brings. The detector misses a hidden actor with
probability HIDDEN_MISS.

`plan(config, split, index, num_objects)` draws the scene; `annotations(...)` gives the
video's keyframe annotations; `keyframe_records(...)` splits a video into the dataset's
records, one per keyframe (AVA's layout: `vidjax.data.loaders.keyframe`).
"""

from __future__ import annotations

import numpy as np

ACTOR_ACTIONS = (
  'stand',
  'move_left',
  'move_right',
  'move_up',
  'move_down',
  'turn',
  'follow',
  'lead',
  'meet',
  'carry',
)
# The first POSE_CLASSES actions are mutually exclusive (one per actor), as AVA's 13
# PERSON_MOVEMENT classes are: ACAR's loss takes a softmax over them.
POSE_CLASSES = 5
FLIP_SWAPS = (('move_left', 'move_right'),)
SCENES = ('none', 'follow', 'meet', 'carry')

_DIRECTIONS = {1: (-1.0, 0.0), 2: (1.0, 0.0), 3: (0.0, -1.0), 4: (0.0, 1.0)}  # (dx, dy)
TRAVEL = 0.3  # fraction of the frame a moving actor crosses over the video
ACTOR_SIZE = (0.075, 0.09)  # an actor's scale (half its size), fraction of the frame
OBJECT_SIZE = 0.045
GAP = 0.22  # centre distance of a follower behind its leader, and of two who meet at the end
MARGIN = 0.1  # centres stay this far inside the frame
MIN_DISTANCE = 0.16  # between any two entities' centres at every frame (except the carried)
# The detector: box jitter (std, fraction of the box), miss rate, false detections.
DETECTION_JITTER = 0.08
DETECTION_MISS = 0.1
FALSE_DETECTION = 0.3
# Hidden actors (`hidden_seconds`): who hides, how faint, how the fade ramps, the detector.
HIDE_PROBABILITY = 0.5
HIDDEN_OPACITY = 0.15
FADE_SECONDS = 0.5
HIDDEN_MISS = 0.5


def keyframes(num_frames: int, every: int) -> np.ndarray:
  """Annotated frames: every `every` frames, never the first or last one."""
  return np.arange(every, num_frames - 1, every)


def _action(name: str) -> int:
  return ACTOR_ACTIONS.index(name)


def _paths(rng, scene: str, num_actors: int, with_object: bool) -> tuple[np.ndarray, ...]:
  """(start [N, 2], velocity [N, 2] (frame fractions over the video), labels [A, C])."""
  n = num_actors + with_object
  start = rng.uniform(MARGIN, 1 - MARGIN, (n, 2))
  movement = rng.integers(0, POSE_CLASSES, n)
  velocity = np.array([_DIRECTIONS.get(int(m), (0.0, 0.0)) for m in movement]) * TRAVEL
  labels = np.zeros((num_actors, len(ACTOR_ACTIONS)), bool)
  if scene == 'follow' or (scene == 'none' and rng.random() < 0.5):
    # Two actors moving the same way: one behind the other (follow) or side by side.
    way = int(rng.integers(1, POSE_CLASSES))
    direction = np.array(_DIRECTIONS[way])
    velocity[:2] = direction * TRAVEL
    movement[:2] = way
    if scene == 'follow':
      start[1] = start[0] - direction * GAP
      labels[1, _action('follow')] = labels[0, _action('lead')] = True
    else:
      start[1] = start[0] + direction[::-1] * GAP * rng.choice((-1, 1)) * 1.3
  if scene == 'meet' or (scene == 'none' and rng.random() < 0.5):
    way = int(rng.choice((1, 3)))  # left or up; the other walks the opposite way
    direction = np.array(_DIRECTIONS[way])
    velocity[0], velocity[1] = direction * TRAVEL / 2, -direction * TRAVEL / 2
    movement[0], movement[1] = way, way + 1
    span = GAP + TRAVEL  # they end GAP apart
    start[1] = start[0] + direction * span
    if scene == 'meet':
      labels[:2, _action('meet')] = True
    else:  # passing on different lines
      start[1] += direction[::-1] * 1.5 * GAP * rng.choice((-1, 1))
  if with_object:
    carrier = 0 if scene == 'carry' else int(rng.integers(num_actors))
    if scene == 'carry':
      way = int(rng.integers(1, POSE_CLASSES))
      movement[carrier], velocity[carrier] = way, np.array(_DIRECTIONS[way]) * TRAVEL
      velocity[-1] = velocity[carrier]
      labels[carrier, _action('carry')] = True
    else:  # left standing where the actor started
      velocity[-1] = 0.0
    side = np.array(_DIRECTIONS[int(rng.integers(1, POSE_CLASSES))])
    start[-1] = start[carrier] + side * (MIN_DISTANCE + 0.01)
  labels[np.arange(num_actors), movement[:num_actors]] = True
  return start, velocity, labels


def plan(config, split_index: int, index: int, num_objects: int) -> dict[str, np.ndarray]:
  """The scene of a video with `num_objects` entities (the last one the object when the
  scene has one): 'tracks' {x, y, angle, scale, opacity: [N, T] pixels / radians},
  'is_actor' [N], 'actor_labels' [N, C] (zero rows for the object) and 'scene'."""
  rng = np.random.default_rng([config.seed, split_index, index, 6])
  scene = SCENES[int(rng.integers(len(SCENES)))]
  with_object = scene == 'carry' or (num_objects > 2 and rng.random() < 0.5)
  num_actors = num_objects - with_object
  size, t = min(config.height, config.width), np.linspace(0, 1, config.num_frames)
  for _ in range(1000):
    start, velocity, labels = _paths(rng, scene, num_actors, with_object)
    position = start[:, None] + velocity[:, None] * t[None, :, None]  # [N, T, 2]
    inside = np.all((position >= MARGIN) & (position <= 1 - MARGIN))
    apart = np.linalg.norm(position[:, None] - position[None], axis=-1).min(-1)
    apart += np.eye(len(start)) * 1.0
    if with_object and scene == 'carry':
      apart[0, -1] = apart[-1, 0] = 1.0
    if inside and apart.min() >= MIN_DISTANCE - 1e-6:
      break
  else:
    raise RuntimeError(f'No layout of scene {scene!r} fits; the frame is too crowded.')
  turning = rng.random(num_actors) < 0.3
  labels[turning, _action('turn')] = True
  angle = rng.uniform(0, 2 * np.pi, len(start))[:, None] + np.zeros_like(t)
  angle[:num_actors] += (turning * rng.choice((-1, 1), num_actors) * np.pi)[:, None] * t
  scale = np.concatenate([rng.uniform(*ACTOR_SIZE, num_actors), [OBJECT_SIZE] * with_object])
  opacity = np.ones_like(angle)
  if config.hidden_seconds > 0:
    opacity[:num_actors] = _hiding(config, split_index, index, num_actors)
  tracks = {
    'x': position[..., 0] * config.width,
    'y': position[..., 1] * config.height,
    'angle': angle,
    'scale': np.repeat(scale[:, None] * size, len(t), axis=1),
    'opacity': opacity,
  }
  actor_labels = np.zeros((len(start), len(ACTOR_ACTIONS)), bool)
  actor_labels[:num_actors] = labels
  is_actor = np.arange(len(start)) < num_actors
  return {'tracks': tracks, 'is_actor': is_actor, 'actor_labels': actor_labels, 'scene': scene}


def _hiding(config, split_index: int, index: int, num_actors: int) -> np.ndarray:
  """The actors' opacity [A, T]: 1, or for a hiding actor HIDDEN_OPACITY over a span of
  `hidden_seconds` at a random time, fading in and out over FADE_SECONDS."""
  rng = np.random.default_rng([config.seed, split_index, index, 8])
  frames = np.arange(config.num_frames, dtype=np.float64)
  span, fade = config.hidden_seconds * config.fps, max(FADE_SECONDS * config.fps, 1.0)
  if span + 2 * fade > config.num_frames - 1:
    raise ValueError(
      f'hidden_seconds={config.hidden_seconds} (and the fades) does not fit in a video of '
      f'{config.num_frames / config.fps:g} s; hide actors for a shorter time.'
    )
  opacity = np.ones((num_actors, config.num_frames))
  for actor in np.flatnonzero(rng.random(num_actors) < HIDE_PROBABILITY):
    start = rng.uniform(fade, config.num_frames - 1 - span - fade)
    # 1 outside, 0 inside the span, linear over `fade` frames either side.
    outside = np.clip(np.maximum(start - frames, frames - start - span) / fade, 0.0, 1.0)
    opacity[actor] = HIDDEN_OPACITY + (1 - HIDDEN_OPACITY) * outside
  return opacity


def _jitter(rng, box: np.ndarray, std: float) -> np.ndarray:
  """A (y1, x1, y2, x2) box with each edge moved by N(0, std) of the box's size."""
  height, width = box[2] - box[0], box[3] - box[1]
  moved = box + rng.normal(0, std, 4) * np.array([height, width, height, width])
  return np.clip(moved, 0, 1)


def detections(
  rng, boxes: np.ndarray, is_actor: np.ndarray, hidden: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
  """Detector boxes (y1, x1, y2, x2) [M, 4] and scores [M] of one keyframe, from the
  entities' true boxes [N, 4]: each actor found with probability 1 - DETECTION_MISS
  (1 - HIDDEN_MISS where `hidden` [N]), and a false detection with probability
  FALSE_DETECTION (on the object if there is one)."""
  found, scores = [], []
  for box, is_hidden in zip(boxes[is_actor], hidden[is_actor], strict=True):
    if rng.random() >= (HIDDEN_MISS if is_hidden else DETECTION_MISS):
      found.append(_jitter(rng, box, DETECTION_JITTER))
      scores.append(rng.uniform(0.6, 1.0))
  if rng.random() < FALSE_DETECTION:
    if not is_actor.all():
      found.append(_jitter(rng, boxes[~is_actor][0], 2 * DETECTION_JITTER))
    else:
      centre, half = rng.uniform(0.2, 0.8, 2), rng.uniform(0.05, 0.12, 2)
      found.append(np.concatenate([centre - half, centre + half]))
    scores.append(rng.uniform(0.3, 0.8))
  return np.array(found, np.float32).reshape(-1, 4), np.array(scores, np.float32)


def annotations(config, split_index: int, index: int, scene: dict, boxes: np.ndarray) -> dict:
  """A video's 'is_actor' [N], 'actor_labels' [N, C], 'keyframes' [K] and the detector's
  'detection_boxes' [K, M, 4] / 'detection_scores' [K, M] (padded with score -1), from its
  planned scene and the entities' boxes [N, T, 4] (normalised y1, x1, y2, x2)."""
  rng = np.random.default_rng([config.seed, split_index, index, 7])
  frames = keyframes(config.num_frames, config.keyframe_every)
  hidden = scene['tracks']['opacity'] < 0.5
  found = [detections(rng, boxes[:, t], scene['is_actor'], hidden[:, t]) for t in frames]
  most = max(1, max(len(scores) for _, scores in found))
  detection_boxes = np.zeros((len(frames), most, 4), np.float32)
  detection_scores = np.full((len(frames), most), -1.0, np.float32)
  for k, (box, scores) in enumerate(found):
    detection_boxes[k, : len(scores)], detection_scores[k, : len(scores)] = box, scores
  return {
    'is_actor': scene['is_actor'],
    'actor_labels': scene['actor_labels'],
    'keyframes': frames.astype(np.int64),
    'detection_boxes': detection_boxes,
    'detection_scores': detection_scores,
  }


def to_xy(boxes: np.ndarray) -> np.ndarray:
  """(y1, x1, y2, x2) -> AVA's (x1, y1, x2, y2)."""
  return boxes[..., [1, 0, 3, 2]]


def keyframe_records(video_id: str, source: dict) -> list[tuple[str, dict]]:
  """The records of one video, one per keyframe: the video, the keyframe, its actors'
  boxes (AVA's normalised x1, y1, x2, y2) and multi-hot 'label' [A, C], the detector's
  boxes and scores."""
  actors = np.asarray(source['is_actor'], bool)
  records = []
  for k, frame in enumerate(np.asarray(source['keyframes'])):
    scores = np.asarray(source['detection_scores'][k])
    key = f'{video_id}_{int(frame):04d}'
    records.append(
      (
        key,
        {
          'video': source['video'],
          'video_id': video_id,
          'num_frames': int(source['num_frames']),
          'fps': float(source['fps']),
          'keyframe': int(frame),
          'timestamp': round(float(frame) / float(source['fps'])),
          'boxes': to_xy(np.asarray(source['boxes'])[actors, frame]).astype(np.float32),
          'label': np.asarray(source['actor_labels'])[actors],
          'detection_boxes': to_xy(source['detection_boxes'][k][scores >= 0]),
          'detection_scores': scores[scores >= 0],
        },
      )
    )
  return records
