"""Log-mel spectrograms of the audio under a sampled clip, in numpy.

The STFT and the mel filterbank are written out here (no librosa) so that the features
are a short, checkable formula: frames of `window_ms` every `hop_ms` with a periodic Hann
window, zero-padded to the next power of two, power spectrum, triangular filters evenly
spaced on the HTK mel scale (mel = 2595 log10(1 + hz / 700)) with unit peaks, then
log(mel energy + 1e-6).

A clip's audio is the span from its first sampled frame's timestamp to its last frame's
plus one frame (frame i is at i / fps: vidjax's prepared videos are constant-rate, with
audio and video both starting at time 0). The spectrogram has a fixed number of frames,
`spectrogram_frames`, so that batches are static: a longer span is cropped at its end, a
shorter one (or one that runs past the end of the audio) is padded with silence, i.e.
log(1e-6). A record without an audio stream, or whose audio cannot be decoded, gets
all-zero features and `has_audio=False`, never an error, so that audio-visual models can
mask it.

The soundtrack is read from the record's `audio_pcm` when it has one and the config asks
for its rate: the whole track as 16 kHz mono 16-bit PCM (`PCM_SAMPLE_RATE`), which the
builders store next to the mp4 when they prepare a dataset (`soundtrack_pcm`, the same
decode and resampling as at training time, done once). A clip's audio is then a slice of
it: no container to open, nothing to decode or resample. Records without it (prepared
before it existed) and other rates decode the span from the mp4 instead, the same
waveform up to the 16-bit rounding.

config.input.audio:
  enabled: add 'audio' and 'has_audio' to the examples.
  sample_rate: Hz the audio is resampled to.
  num_mels, min_hz, max_hz: the mel filterbank (max_hz at most sample_rate / 2).
  window_ms, hop_ms: STFT window and hop.
  spectrogram_frames: frames per clip (one per hop).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import ml_collections
import numpy as np
import scipy.sparse
from absl import logging

from vidjax.data import decode

# The rate and format of the soundtrack stored in records ('audio_pcm'): VMZ's and most
# audio models' 16 kHz, 16-bit little-endian mono, 32 KB per second of video.
PCM_SAMPLE_RATE = 16000
PCM_SCALE = 2.0**15  # FFmpeg's full scale of s16

# Added to the mel energies before the log: silence maps to log(1e-6) ~ -13.8 instead of
# -inf, well below the energy of any audible sound at 16-bit scale.
LOG_OFFSET = 1e-6


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
  """The HTK mel scale."""
  return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
  """Inverse of `hz_to_mel`."""
  return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_centre_frequencies(num_mels: int, min_hz: float, max_hz: float) -> np.ndarray:
  """Centre frequency (Hz) of each mel filter: float64 [num_mels]."""
  edges = np.linspace(hz_to_mel(min_hz), hz_to_mel(max_hz), num_mels + 2)
  return mel_to_hz(edges[1:-1])


@functools.lru_cache(maxsize=8)
def mel_filterbank(
  sample_rate: int, fft_size: int, num_mels: int, min_hz: float, max_hz: float
) -> np.ndarray:
  """Triangular mel filters over the rfft bins: float32 [fft_size // 2 + 1, num_mels].

  Filter m rises linearly in mel from centre m - 1 to 1 at centre m and falls to 0 at
  centre m + 1 (the band edges are min_hz and max_hz). Read-only, as it is cached.
  """
  if not 0 <= min_hz < max_hz <= sample_rate / 2:
    raise ValueError(
      f'Mel range {min_hz}..{max_hz} Hz: need 0 <= min_hz < max_hz <= sample_rate / 2 '
      f'= {sample_rate / 2}; fix config.input.audio.min_hz / max_hz.'
    )
  bin_mels = hz_to_mel(np.fft.rfftfreq(fft_size, 1.0 / sample_rate))[:, None]
  edges = np.linspace(hz_to_mel(min_hz), hz_to_mel(max_hz), num_mels + 2)
  lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
  rising = (bin_mels - lower) / (centre - lower)
  falling = (upper - bin_mels) / (upper - centre)
  filters = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
  filters.setflags(write=False)
  return filters


def window_and_hop(sample_rate: int, window_ms: float, hop_ms: float) -> tuple[int, int]:
  """STFT window and hop in samples."""
  window, hop = round(sample_rate * window_ms / 1000), round(sample_rate * hop_ms / 1000)
  if window < 1 or hop < 1:
    raise ValueError(
      f'window_ms={window_ms}, hop_ms={hop_ms} at {sample_rate} Hz give {window} and {hop} '
      'samples; both need at least one: raise config.input.audio.window_ms / hop_ms.'
    )
  return window, hop


def num_spectrogram_frames(num_samples: int, window: int, hop: int) -> int:
  """Frames of an STFT without edge padding: 1 + (num_samples - window) // hop, or 0."""
  return 0 if num_samples < window else 1 + (num_samples - window) // hop


def log_mel_spectrogram(
  waveform: np.ndarray,
  sample_rate: int,
  num_mels: int,
  window_ms: float,
  hop_ms: float,
  min_hz: float,
  max_hz: float,
) -> np.ndarray:
  """log(mel energies + 1e-6) of a mono waveform.

  Args:
    waveform: float [num_samples] in [-1, 1].
    sample_rate: Hz.
    num_mels: number of mel filters.
    window_ms: STFT window length.
    hop_ms: STFT hop.
    min_hz: lower edge of the first filter.
    max_hz: upper edge of the last filter.

  Returns:
    float32 [num_spectrogram_frames(num_samples, window, hop), num_mels].
  """
  window, hop = window_and_hop(sample_rate, window_ms, hop_ms)
  fft_size = 1 << (window - 1).bit_length()
  filters = _sparse_filterbank(sample_rate, fft_size, num_mels, float(min_hz), float(max_hz))
  num_frames = num_spectrogram_frames(len(waveform), window, hop)
  if num_frames == 0:
    return np.zeros((0, num_mels), np.float32)
  # In float32 throughout (numpy's FFT keeps the precision): half the cost of float64, and
  # far below the resolution of a log-mel.
  waveform = np.asarray(waveform, np.float32)
  frames = np.lib.stride_tricks.sliding_window_view(waveform, window)[::hop][:num_frames]
  spectrum = np.fft.rfft(frames * _hann(window), n=fft_size)
  power = spectrum.real**2 + spectrum.imag**2
  return np.log((filters @ power.T).T + np.float32(LOG_OFFSET))


@functools.lru_cache(maxsize=8)
def _sparse_filterbank(*args) -> scipy.sparse.csr_matrix:
  """`mel_filterbank(*args).T` as a sparse matrix [num_mels, bins]. Each filter covers a
  few bins, and the product stays off BLAS, whose worker threads, woken once per clip,
  cost more than the product itself when training shares the cores."""
  return scipy.sparse.csr_matrix(mel_filterbank(*args).T)


@functools.lru_cache(maxsize=8)
def _hann(window: int) -> np.ndarray:
  """Periodic Hann: overlapping windows at 25 ms / 10 ms sum to a near-constant gain."""
  hann = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)).astype(np.float32)
  hann.setflags(write=False)
  return hann


def clip_time_span(indices: np.ndarray, fps: float, video_length: int) -> tuple[float, float]:
  """Seconds from the clip's first frame to the end of its last frame.

  Frames that wrapped around the end of the video (policy 'loop') count forward, so the
  span has the clip's duration; the audio past the video's end is silence.

  Args:
    indices: int [num_frames], the clip's frame indices in clip order.
    fps: the video's frame rate.
    video_length: the video's number of frames.
  """
  forward_steps = int(np.sum(np.diff(indices) % video_length))
  first = int(indices[0])
  return first / fps, (first + forward_steps + 1) / fps


def clip_log_mel(
  waveform: np.ndarray,
  sample_rate: int,
  start_s: float,
  end_s: float,
  config: ml_collections.ConfigDict,
) -> np.ndarray:
  """The log-mel of `waveform[start_s:end_s]`: float32 [spectrogram_frames, num_mels].

  The span is cropped at its end or padded with silence to exactly the samples that
  `config.spectrogram_frames` frames need.
  """
  window, hop = window_and_hop(sample_rate, config.window_ms, config.hop_ms)
  needed = window + (config.spectrogram_frames - 1) * hop
  first = round(start_s * sample_rate)
  piece = waveform[first : min(round(end_s * sample_rate), first + needed)]
  span = np.zeros(needed, np.float32)
  span[: len(piece)] = piece
  return log_mel_spectrogram(
    span,
    sample_rate,
    config.num_mels,
    config.window_ms,
    config.hop_ms,
    config.min_hz,
    config.max_hz,
  )


def clip_audio(
  record: Mapping, indices: np.ndarray, config: ml_collections.ConfigDict
) -> tuple[np.ndarray, bool]:
  """Log-mel spectrograms under each clip of a record.

  Args:
    record: a dataset record with 'video' (the mp4 bytes), 'fps', 'num_frames',
      'has_audio', and optionally 'audio_pcm' (see the module docstring).
    indices: int [..., num_frames], the frame indices of one clip or of several.
    config: config.input.audio.

  Returns:
    `(features, has_audio)`: float32 [..., spectrogram_frames, num_mels], all zeros when
    the record has no audio or its audio cannot be decoded (then `has_audio` is False).
  """
  indices = np.asarray(indices)
  shape = (*indices.shape[:-1], config.spectrogram_frames, config.num_mels)
  if not record['has_audio']:
    return np.zeros(shape, np.float32), False
  fps, video_length = float(record['fps']), int(record['num_frames'])
  clips = indices.reshape(-1, indices.shape[-1])
  spans = [clip_time_span(clip, fps, video_length) for clip in clips]
  # One decode covers every clip; only their span of the soundtrack is decoded.
  first_s, last_s = min(start for start, _ in spans), max(end for _, end in spans)
  try:
    waveform, rate = _soundtrack_span(record, config.sample_rate, first_s, last_s)
  except decode.DecodeError as e:
    logging.warning('Audio of %s replaced by silence: %s', record.get('video_id'), e)
    return np.zeros(shape, np.float32), False
  features = [
    clip_log_mel(waveform, rate, start - first_s, end - first_s, config) for start, end in spans
  ]
  return np.stack(features).reshape(shape), True


def soundtrack_pcm(video: bytes) -> bytes:
  """The whole first audio stream of an encoded video as `PCM_SAMPLE_RATE` mono s16le
  bytes (what builders store as 'audio_pcm').

  Raises:
    DecodeError: the video has no audio stream or its audio cannot be decoded.
  """
  waveform, _ = decode.decode_audio(video, PCM_SAMPLE_RATE)
  samples = np.clip(np.round(waveform * PCM_SCALE), -PCM_SCALE, PCM_SCALE - 1)
  return samples.astype('<i2').tobytes()


def _soundtrack_span(
  record: Mapping, sample_rate: int, start_s: float, end_s: float
) -> tuple[np.ndarray, int]:
  """The mono waveform from `start_s` to `end_s` (shorter where the track ends): a slice
  of the record's stored PCM when it has one at `sample_rate`, else decoded from the mp4."""
  pcm = record.get('audio_pcm', b'')
  if len(pcm) and sample_rate == PCM_SAMPLE_RATE:
    samples = np.frombuffer(pcm, '<i2')  # a view: only the span is converted
    span = samples[round(start_s * sample_rate) : round(end_s * sample_rate)]
    return span.astype(np.float32) / np.float32(PCM_SCALE), sample_rate
  return decode.decode_audio(record['video'], sample_rate, start_s, end_s)
