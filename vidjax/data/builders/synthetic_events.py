"""The audio-visual events of `vidjax_synthetic` scenes (the `events` and `arrow` configs):
when objects flash, how strongly, and the sounds they make.

Each kind of object has its own sound, a pitch naming its shape (`OBJECT_PITCH_HZ` of
`synthetic_scenes`): every object hums it quietly all along, and at an event the flashing
object makes it loudly, after a click (a burst of noise) that marks the time. What is seen
and heard thus matches at every moment (which objects), and at the events in time (which
flashes when).
"""

import numpy as np

# Events are at least this many frames apart, and never on the first or last frame.
MIN_EVENT_GAP_FRAMES = 3
HUM_AMPLITUDE = 0.05
CLICK_DECAY_S, CLICK_AMPLITUDE = 0.005, 0.4
CHIRP_DECAY_S, CHIRP_AMPLITUDE = 0.04, 0.5
# A flashing object's colour moves this far towards white.
FLASH_STRENGTH = 0.8


def flash_strengths(
  events: dict[int, int], num_objects: int, num_frames: int, decay_frames: float
) -> np.ndarray:
  """How strongly each object flashes at each frame, [N, T] in [0, 1]: 1 at its events,
  and with `decay_frames` > 0 the strongest fading exp(-frames since / decay_frames) of
  its earlier events (below 1 % counts as none)."""
  strengths = np.zeros((num_objects, num_frames))
  for frame, obj in events.items():
    if decay_frames <= 0:
      strengths[obj, frame] = 1.0
      continue
    fade = np.exp(-np.arange(num_frames - frame) / decay_frames)
    strengths[obj, frame:] = np.maximum(strengths[obj, frame:], np.where(fade < 0.01, 0.0, fade))
  return strengths


def event_frames(
  rng: np.random.Generator, num_frames: int, fps: float, events_per_second: float
) -> np.ndarray:
  """The frames of a video's events, sorted: about `events_per_second` per second (at
  least one), `MIN_EVENT_GAP_FRAMES` apart. `rng` is a stream of the events' own, so
  that adding events leaves the rest of a scene as it was."""
  wanted = max(1, rng.poisson(events_per_second * num_frames / fps))
  candidates = rng.permutation(np.arange(1, num_frames - 1))
  chosen = []
  for frame in candidates:
    if all(abs(frame - c) >= MIN_EVENT_GAP_FRAMES for c in chosen):
      chosen.append(int(frame))
    if len(chosen) == wanted:
      break
  return np.sort(np.asarray(chosen, np.int64))


def add_object_sounds(
  rng,
  audio: np.ndarray,
  object_pitches_hz: np.ndarray,
  times_s: np.ndarray,
  event_pitches_hz: np.ndarray,
  sample_rate: int,
) -> np.ndarray:
  """`audio` with every object's hum (`object_pitches_hz`), and from each of `times_s` a
  click and a chirp at the flashing object's pitch (`event_pitches_hz`)."""
  whole = np.arange(len(audio)) / sample_rate
  audio = audio.copy()
  for pitch in object_pitches_hz:
    phase = rng.uniform(0, 2 * np.pi)
    audio += HUM_AMPLITUDE * np.sin(2 * np.pi * pitch * whole + phase)
  length = round(6 * CHIRP_DECAY_S * sample_rate)
  t = np.arange(length) / sample_rate
  for time_s, pitch in zip(times_s, event_pitches_hz, strict=True):
    click = CLICK_AMPLITUDE * np.exp(-t / CLICK_DECAY_S) * rng.standard_normal(length)
    chirp = CHIRP_AMPLITUDE * np.exp(-t / CHIRP_DECAY_S) * np.sin(2 * np.pi * pitch * t)
    start = round(time_s * sample_rate)
    piece = audio[start : start + length]
    piece += (click + chirp)[: len(piece)]
  return np.clip(audio, -1, 1).astype(np.float32)
