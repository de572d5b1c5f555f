"""The `interactions` scenes: every actor has one movement, and each relation label holds
in the tracks (a follower behind its leader on its line, two who meet closing in on one
line, a carried object moving with its carrier), while the look-alikes do not carry it."""

import dataclasses

import numpy as np

from vidjax.data.builders import synthetic_configs, synthetic_interactions
from vidjax.data.builders.synthetic_interactions import ACTOR_ACTIONS, POSE_CLASSES

CONFIG = next(c for c in synthetic_configs.CONFIGS if c.name == 'interactions')
LONG = next(c for c in synthetic_configs.CONFIGS if c.name == 'interactions_long')
PLAIN_LONG = dataclasses.replace(LONG, hidden_seconds=0.0)


def _label(labels, name):
  return np.flatnonzero(labels[:, ACTOR_ACTIONS.index(name)])


def test_relation_labels_hold_in_the_tracks():
  seen = set()
  for index in range(60):
    num_objects = 2 + index % 3
    scene = synthetic_interactions.plan(CONFIG, 0, index, num_objects)
    labels, actors = scene['actor_labels'], scene['is_actor']
    assert (labels[actors, :POSE_CLASSES].sum(-1) == 1).all() and not labels[~actors].any()
    xy = np.stack([scene['tracks']['x'], scene['tracks']['y']], -1) / CONFIG.width  # [N, T, 2]
    motion = xy[:, -1] - xy[:, 0]
    for follower in _label(labels, 'follow'):
      (leader,) = _label(labels, 'lead')
      np.testing.assert_allclose(motion[follower], motion[leader], atol=1e-9)
      ahead = xy[leader, 0] - xy[follower, 0]
      across = ahead[0] * motion[leader][1] - ahead[1] * motion[leader][0]
      assert np.dot(ahead, motion[leader]) > 0 and abs(across) < 1e-9
    meeting = _label(labels, 'meet')
    if len(meeting):
      a, b = meeting
      gap = np.linalg.norm(xy[a] - xy[b], axis=-1)
      assert gap[-1] < gap[0] - 0.2 and np.allclose(motion[a], -motion[b])
    for carrier in _label(labels, 'carry'):
      np.testing.assert_allclose(motion[-1], motion[carrier], atol=1e-9)
      assert np.linalg.norm(motion[carrier]) > 0.1 and not actors[-1]
    seen.add(scene['scene'])
  assert seen == set(synthetic_interactions.SCENES)


def test_detections_jitter_the_actors_and_add_false_ones():
  rng = np.random.default_rng(0)
  boxes = np.array([[0.1, 0.1, 0.3, 0.2], [0.5, 0.5, 0.7, 0.6], [0.4, 0.1, 0.45, 0.15]])
  actors = np.array([1, 1, 0], bool)
  found = [synthetic_interactions.detections(rng, boxes, actors, np.zeros(3, bool))
           for _ in range(400)]  # fmt: skip
  counts = np.array([len(scores) for _, scores in found])
  # Two actors found 90 % of the time each, plus a false detection 30 % of the time.
  assert abs(counts.mean() - (2 * 0.9 + 0.3)) < 0.1
  assert all(((b >= 0) & (b <= 1)).all() and (s > 0).all() for b, s in found)
  # A hidden actor is found half the time.
  hidden = np.array([0, 1, 0], bool)
  found = [synthetic_interactions.detections(rng, boxes, actors, hidden) for _ in range(400)]
  assert abs(np.mean([len(scores) for _, scores in found]) - (0.9 + 0.5 + 0.3)) < 0.1


def test_long_videos_hide_actors_for_three_seconds_and_keep_their_labels():
  hidden_actors, actors_seen = 0, 0
  for index in range(40):
    num_objects = 2 + index % 3
    scene = synthetic_interactions.plan(LONG, 0, index, num_objects)
    # The same draw of the scene as without hiding: only the opacity differs.
    plain = synthetic_interactions.plan(PLAIN_LONG, 0, index, num_objects)
    np.testing.assert_array_equal(scene['actor_labels'], plain['actor_labels'])
    np.testing.assert_array_equal(scene['tracks']['x'], plain['tracks']['x'])
    opacity, actors = scene['tracks']['opacity'], scene['is_actor']
    assert (opacity[~actors] == 1).all() and (plain['tracks']['opacity'] == 1).all()
    for row in opacity[actors]:
      actors_seen += 1
      if row.min() == 1:
        continue
      hidden_actors += 1
      faint = np.flatnonzero(row == synthetic_interactions.HIDDEN_OPACITY)
      # One span of 3 s (24 frames at 8 fps, give or take the fades' rounding).
      assert np.array_equal(faint, np.arange(faint[0], faint[-1] + 1))
      assert 22 <= len(faint) <= 25 and row[0] == 1 and row[-1] == 1
  assert 0.3 < hidden_actors / actors_seen < 0.7
