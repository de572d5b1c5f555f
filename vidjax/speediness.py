"""SpeedNet's speediness of every frame of a video, and the adaptive speed-up it drives.

SpeedNet (`tasks/speednet.py`) answers one question about a clip: normal speed or sped
up. Slid along a video and asked of the video sub-sampled by several factors, it says how
fast each moment already looks (Benaim et al., arXiv 2004.06130, Sec. 3.3 and 5):

  probabilities   P(sped up) of every frame at every factor x: the mean over the sliding
                  windows of `window` frames, taken every x source frames, that cover it;
  max_normal_factor
                  the largest factor at which a frame still looks normal (where none does,
                  the smallest factor: the frame looks sped up even when slowed down);
  speediness      1 / max_normal_factor: how fast the frame plays compared with its
                  natural speed (1 natural, 2 twice as fast; it saturates at 1 / the
                  smallest factor).

Factors below 1 repeat frames; the speed sampler's jitter shows the network normal clips
with repeated frames, so a 2x moment sub-sampled by 0.5 looks like a natural one.

The adaptive speed-up gives every frame a playback rate (source frames per output frame)
proportional to its max_normal_factor, smoothed in time, between 1 and `max_rate`, scaled
so that the whole video is sped up by the requested factor: moments that look slow are
sped up more, moments that already look fast less. The paper's energy (a target speed-up,
a speediness-derived bound, temporal smoothness) is not among the sources here; this
proportional rule with a Gaussian smoothing is this implementation's version of it.
`ideal_rates` is the same rule on a video's true speeds (the `speed` config of the embedded
data stores them), against which a schedule is scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ml_collections
import numpy as np

from vidjax import inference
from vidjax.data import decode, sampling
from vidjax.data.loaders import clip

FACTORS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
_WINDOWS_PER_CALL = 64


def model_frames(data: bytes, size: int, chunk: int = 256) -> tuple[np.ndarray, float]:
  """(every frame of an encoded video at the model's input size: short side resized to
  `size`, centre crop, uint8 [N, size, size, 3]; the frame rate). Decoded `chunk` frames at
  a time, so that a long video never sits in memory at full resolution."""
  info = decode.probe(data)
  frames = []
  for start in range(0, info.num_frames, chunk):
    decoded = decode.decode_frames(data, range(start, min(start + chunk, info.num_frames)))
    resized = clip.resize_short_side(decoded, size)
    top, left = (resized.shape[1] - size) // 2, (resized.shape[2] - size) // 2
    frames.append(resized[:, top : top + size, left : left + size])
  return np.concatenate(frames), info.fps


def clip_scorer(
  config: ml_collections.ConfigDict, workdir: str, batch_size: int
) -> Callable[[np.ndarray], np.ndarray]:
  """P(sped up) of clips, uint8 [W, T, H, W, 3] -> [W], with the SpeedNet model of
  `config` and the latest checkpoint in `workdir`."""
  model, variables, _ = inference.load_model(config, workdir)
  predictor = inference.Predictor(model, variables, config.input.pp, batch_size)

  def score(clips: np.ndarray) -> np.ndarray:
    logits, _ = predictor(clips)
    if logits.shape[-1] != 1:
      raise ValueError(
        f'The model of {config.model_name!r} has {logits.shape[-1]} outputs; speediness '
        'needs a SpeedNet model (one logit, task speednet).'
      )
    return 1.0 / (1.0 + np.exp(-logits[:, 0]))

  return score


def video_probabilities(
  data: bytes,
  config: ml_collections.ConfigDict,
  workdir: str,
  *,
  factors: Sequence[float] = FACTORS,
  hop: int = 1,
  batch_size: int = 16,
) -> tuple[np.ndarray, float]:
  """(`frame_probabilities` of the encoded video `data` by the SpeedNet model of `config`
  and `workdir`, the video's frame rate)."""
  frames, fps = model_frames(data, config.input.pp.crop_size)
  score = clip_scorer(config, workdir, batch_size)
  window = config.input.sampling.num_frames
  return frame_probabilities(score, frames, window=window, factors=factors, hop=hop), fps


def window_starts(num_frames: int, window: int, factor: float, hop: int) -> np.ndarray:
  """First frames of the windows of `window` frames every `factor` frames, every `hop`
  frames, the last one ending at the video's end."""
  span = sampling.clip_span(window, factor)
  if span > num_frames:
    raise ValueError(
      f'A window of {window} frames at factor {factor} spans {span} frames; the video has '
      f'{num_frames}. Use a longer video, a smaller --window or smaller --factors.'
    )
  starts = np.arange(0, num_frames - span + 1, hop)
  if starts[-1] != num_frames - span:
    starts = np.append(starts, num_frames - span)
  return starts


def frame_probabilities(
  score_clips: Callable[[np.ndarray], np.ndarray],
  frames: np.ndarray,
  *,
  window: int,
  factors: Sequence[float] = FACTORS,
  hop: int = 1,
) -> np.ndarray:
  """P(sped up) of every frame at every factor: float32 [len(factors), N].

  Args:
    score_clips: clips uint8 [W, window, H, W, 3] -> P(sped up) [W].
    frames: the video, uint8 [N, H, W, 3], already at the model's input size.
    window: frames per clip (the model's).
    factors: sub-sampling factors, source frames per clip frame.
    hop: source frames between window starts.
  """
  num_frames = len(frames)
  result = np.zeros((len(factors), num_frames), np.float32)
  for row, factor in enumerate(factors):
    starts = window_starts(num_frames, window, factor, hop)
    offsets = sampling.clip_offsets(window, factor)
    # A chunk of windows at a time: all of a long video's windows at once would not fit.
    probabilities = np.concatenate(
      [
        score_clips(frames[chunk[:, None] + offsets[None, :]])
        for chunk in np.split(starts, range(_WINDOWS_PER_CALL, len(starts), _WINDOWS_PER_CALL))
      ]
    )
    span = int(offsets[-1]) + 1
    total, count = np.zeros(num_frames), np.zeros(num_frames)
    for start, probability in zip(starts, probabilities, strict=True):
      total[start : start + span] += probability
      count[start : start + span] += 1
    result[row] = total / count
  return result


def speediness(probabilities: np.ndarray, factors: Sequence[float] = FACTORS) -> tuple:
  """(max_normal_factor [N], speediness [N]) from `frame_probabilities`."""
  factors = np.asarray(factors, np.float32)
  normal = probabilities < 0.5
  max_normal = np.where(
    normal.any(axis=0), np.max(np.where(normal, factors[:, None], -np.inf), axis=0), factors.min()
  ).astype(np.float32)
  return max_normal, (1.0 / max_normal).astype(np.float32)


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
  """Gaussian smoothing in time, edges extended."""
  if sigma <= 0:
    return values.astype(np.float64)
  radius = int(np.ceil(3 * sigma))
  kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
  padded = np.pad(values.astype(np.float64), radius, mode='edge')
  return np.convolve(padded, kernel / kernel.sum(), mode='valid')


def _scaled_rates(shape: np.ndarray, speedup: float, max_rate: float) -> np.ndarray:
  """clip(c * shape, 1, max_rate) with c such that the output has N / speedup frames
  (sum of 1 / rate), found by bisection (the sum decreases as c grows)."""
  if not 1 <= speedup <= max_rate:
    raise ValueError(f'speedup={speedup}: must be between 1 and max_rate={max_rate}.')
  target = len(shape) / speedup
  low, high = 0.0, max_rate / shape.min()
  for _ in range(100):
    middle = (low + high) / 2
    if np.sum(1.0 / np.clip(middle * shape, 1.0, max_rate)) > target:
      low = middle
    else:
      high = middle
  return np.clip(high * shape, 1.0, max_rate)


def adaptive_rates(
  max_normal_factor: np.ndarray, speedup: float, *, smoothing_frames: float, max_rate: float
) -> np.ndarray:
  """Playback rate of every frame: proportional to the smoothed max_normal_factor, in
  [1, max_rate], overall `speedup`."""
  return _scaled_rates(_smooth(max_normal_factor, smoothing_frames), speedup, max_rate)


def ideal_rates(true_speed: np.ndarray, speedup: float, *, max_rate: float) -> np.ndarray:
  """The adaptive rule on the true speeds: rates proportional to 1 / speed, so that every
  moment of the output plays at one apparent speed (as far as [1, max_rate] allows)."""
  return _scaled_rates(1.0 / np.asarray(true_speed, np.float64), speedup, max_rate)


def output_positions(rates: np.ndarray) -> np.ndarray:
  """Source positions (fractional frames) of the output frames: each output frame moves
  on by the rate of the source frame it shows."""
  positions, position = [], 0.0
  while position < len(rates):
    positions.append(position)
    position += rates[int(position)]
  return np.asarray(positions)


def retime_audio(
  waveform: np.ndarray, sample_rate: int, fps: float, positions: np.ndarray, num_frames: int
) -> np.ndarray:
  """The soundtrack following the output frames: the audio under each output frame's
  source span, resampled to one output frame's duration (so pitch follows the rate)."""
  per_frame = sample_rate / fps
  ends = np.append(positions[1:], num_frames)
  pieces = []
  samples = np.arange(round(per_frame))
  for start, end in zip(positions, ends, strict=True):
    # One output frame's samples read the source span [start, end) at (end - start)
    # source samples per output sample.
    times = (start + samples * (end - start) / round(per_frame)) * per_frame
    pieces.append(np.interp(times, np.arange(len(waveform)), waveform))
  return np.concatenate(pieces).astype(np.float32)


def score_against_truth(
  probabilities: np.ndarray,
  true_speed: np.ndarray,
  *,
  factors: Sequence[float] = FACTORS,
  speedup: float = 2.0,
  smoothing_frames: float = 4.0,
  max_rate: float = 4.0,
) -> dict[str, float]:
  """How well a video's speediness matches its true per-frame speeds (`speed` config).

  Returns:
    'accuracy': percent of frames judged rightly sped up (P(sped up) at factor 1 above
      1/2) or not (true speed above 1 or not); 'balanced_accuracy': the mean of the
      accuracies on sped-up and on normal frames (where the video has both);
    'correlation': Pearson's r of the speediness with the true speed;
    'adaptive_error', 'uniform_error': the mean relative difference of the adaptive and of
      the uniform (every frame at `speedup`) playback rates from `ideal_rates`.
  """
  factors = list(factors)
  if 1.0 not in factors:
    raise ValueError(f'factors={factors}: scoring against the truth needs factor 1.')
  judged_fast = probabilities[factors.index(1.0)] > 0.5
  fast = np.asarray(true_speed) > 1
  max_normal, curve = speediness(probabilities, factors)
  rates = adaptive_rates(max_normal, speedup, smoothing_frames=smoothing_frames, max_rate=max_rate)
  ideal = ideal_rates(true_speed, speedup, max_rate=max_rate)
  per_kind = [
    np.mean(judged_fast[fast == kind] == kind) for kind in (True, False) if (fast == kind).any()
  ]
  correlation = np.corrcoef(curve, true_speed)[0, 1] if np.ptp(curve) > 0 else 0.0
  return {
    'accuracy': 100.0 * float(np.mean(judged_fast == fast)),
    'balanced_accuracy': 100.0 * float(np.mean(per_kind)),
    'correlation': float(correlation),
    'adaptive_error': float(np.mean(np.abs(rates - ideal) / ideal)),
    'uniform_error': float(np.mean(np.abs(speedup - ideal) / ideal)),
  }
