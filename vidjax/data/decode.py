"""Video and audio decoding with PyAV; with `encode.py`, all PyAV use in vidjax lives here.

Every function takes the encoded file as `bytes` (what the tfds records store) and raises
`DecodeError` instead of PyAV/FFmpeg exceptions, so that callers can catch one exception
type, record the error and move on.

Decoding is single-threaded on purpose: the input pipeline parallelises over videos with
worker processes, and codec threads on top of that only oversubscribe the host.

Frame indices are positions in presentation order. They are resolved through an index of
packet timestamps built by demuxing (cheap: no decoding), so that seeking is exact for
variable-frame-rate files and for streams with B-frames.
"""

import dataclasses
import io
import math
from collections.abc import Sequence

import av
import numpy as np

# FFmpeg reports broken input through several exception families: its own errors (which
# subclass OSError/ValueError), and EOF/index errors from truncated containers.
AV_ERRORS = (av.FFmpegError, OSError, ValueError, EOFError)


class DecodeError(Exception):
  """An encoded video or audio file could not be decoded (or encoded)."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
  """Stream properties of an encoded video.

  Attributes:
    num_frames: exact number of video frames (counted by demuxing).
    fps: average frame rate in frames per second.
    height: frame height in pixels.
    width: frame width in pixels.
    has_audio: whether the container has an audio stream.
    audio_sample_rate: sample rate of the first audio stream in Hz, 0 if there is none.
  """

  num_frames: int
  fps: float
  height: int
  width: int
  has_audio: bool
  audio_sample_rate: int


@dataclasses.dataclass(frozen=True)
class _Packet:
  pts: int
  dts: int | None
  is_keyframe: bool


def _open(data: bytes) -> av.container.InputContainer:
  try:
    container = av.open(io.BytesIO(data), mode='r')
  except AV_ERRORS as e:
    raise DecodeError(f'cannot open container ({len(data)} bytes): {e}') from e
  if not container.streams.video:
    container.close()
    raise DecodeError('container has no video stream')
  return container


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
  stream = container.streams.video[0]
  # Must be set before the codec is opened by the first decode call.
  stream.thread_type = 'NONE'
  stream.codec_context.thread_count = 1
  return stream


def _packet_index(
  container: av.container.InputContainer, stream, through: int | None = None
) -> list[_Packet]:
  """Demuxes (without decoding) the video packets, sorted into presentation order.

  With `through`, demuxing stops once frames 0..`through` are known instead of reading
  the whole file: packets arrive in decoding order, a packet's pts is never below its
  dts, and dts only grows, so after a packet with dts D every frame with pts < D has been
  seen and its rank (its index) is final. Only such settled frames are returned.
  """
  packets, settled_below = [], None
  try:
    for packet in container.demux(stream):
      # The demuxer ends with an empty flush packet; discard-flagged packets (edit lists)
      # are decoded but never shown, so neither is a frame.
      if packet.size == 0 or packet.is_discard:
        continue
      if packet.pts is None:
        raise DecodeError('video packet without a presentation timestamp')
      packets.append(_Packet(packet.pts, packet.dts, packet.is_keyframe))
      if (
        through is not None
        and packet.dts is not None
        and len(packets) > through + 1
        and sum(p.pts < packet.dts for p in packets) > through
      ):
        settled_below = packet.dts
        break
  except AV_ERRORS as e:
    raise DecodeError(f'demuxing failed after {len(packets)} video packets: {e}') from e
  packets.sort(key=lambda p: p.pts)
  if settled_below is not None:
    packets = [p for p in packets if p.pts < settled_below]
  return packets


def probe(data: bytes) -> VideoInfo:
  """Reads the stream properties of an encoded video without decoding it.

  Args:
    data: the encoded file (e.g. mp4).

  Returns:
    The `VideoInfo`; `num_frames` is exact (counted from the demuxed video packets).

  Raises:
    DecodeError: the data is not a readable container, has no video stream or no frames.
  """
  with _open(data) as container:
    stream = video_stream(container)
    num_frames = len(_packet_index(container, stream))
    if num_frames == 0:
      raise DecodeError('video stream has no frames')
    rate = stream.average_rate or stream.guessed_rate
    if not rate and stream.duration:
      rate = num_frames / float(stream.duration * stream.time_base)
    audio = container.streams.audio
    return VideoInfo(
      num_frames=num_frames,
      fps=float(rate or 0.0),
      height=stream.codec_context.height,
      width=stream.codec_context.width,
      has_audio=bool(audio),
      audio_sample_rate=audio[0].codec_context.sample_rate if audio else 0,
    )


def _rgb(frame: av.VideoFrame) -> np.ndarray:
  return frame.to_ndarray(format='rgb24', threads=1)


def _decode_by_timestamp(container, stream, packets: list[_Packet], needed: set[int]):
  """Seeks to the keyframe before the first needed frame and decodes up to the last one.

  Frames are identified by timestamp, which is only trusted while the decoder's output
  agrees with counting: every frame from the keyframe on is decoded, so the output must
  name consecutive frames, starting no later than the keyframe. AVI, which stores no
  presentation timestamps, can fail this with B-frames.

  In mp4 files, whose timestamps are exact, the packets of frames that are not needed are
  sent with `skip_frame=NONREF`: the decoder then drops them if no other frame refers to
  them (most B-frames), which saves a third of the decoding for a clip at stride 2.
  Those frames are the only gaps the output may have.

  Returns:
    {index: RGB frame} for `needed`, or None when the timestamps cannot be trusted.
  """
  last = max(needed)
  start = next((i for i in range(min(needed), -1, -1) if packets[i].is_keyframe), 0)
  if packets[start].is_keyframe:
    keyframe = packets[start]
    # Demuxers index by decoding timestamp (<= pts), so seeking to the keyframe's dts
    # lands on it (or, in cue-based formats, on an earlier keyframe), never after it.
    offset = keyframe.pts if keyframe.dts is None else keyframe.dts
    container.seek(offset, backward=True, any_frame=False, stream=stream)
  pts_to_index = {p.pts: i for i, p in enumerate(packets)}
  may_skip = 'mp4' in container.format.name.split(',')
  context = stream.codec_context
  found, previous, skipped = {}, None, set()
  for packet in container.demux(stream):
    index = pts_to_index.get(packet.pts)
    skip = may_skip and index is not None and index not in needed
    context.skip_frame = 'NONREF' if skip else 'DEFAULT'
    if skip:
      skipped.add(index)
    for frame in packet.decode():
      index = pts_to_index.get(frame.pts)
      if index is None:
        return None
      if previous is None:
        if index > start:
          return None
      elif index <= previous or not skipped.issuperset(range(previous + 1, index)):
        return None
      previous = index
      if index in needed:
        found[index] = _rgb(frame)
      if index >= last:
        return found if len(found) == len(needed) else None
  return found if len(found) == len(needed) else None


def _decode_sequential(container, stream, needed: set[int]) -> dict[int, np.ndarray]:
  """Decodes from the start, numbering frames in output order: the definition of index."""
  last = max(needed)
  found = {}
  for index, frame in enumerate(container.decode(stream)):
    if index in needed:
      found[index] = _rgb(frame)
    if index >= last:
      break
  return found


def decode_frames(data: bytes, indices: Sequence[int]) -> np.ndarray:
  """Decodes the frames at `indices` (presentation order), decoding only what is needed.

  Seeks to the last keyframe at or before the first requested frame and decodes forward
  until the last requested frame. The result is bitwise equal to the same frames of a
  full sequential decode; files whose timestamps cannot be trusted are decoded
  sequentially from the start.

  Args:
    data: the encoded video.
    indices: frame numbers in presentation order, in any order, repeats allowed.

  Returns:
    uint8 array `[len(indices), H, W, 3]` (RGB), frames in the requested order.

  Raises:
    DecodeError: the video cannot be decoded or an index is out of range.
  """
  indices = [int(i) for i in indices]
  with _open(data) as container:
    stream = video_stream(container)
    if not indices:
      return np.zeros((0, stream.codec_context.height, stream.codec_context.width, 3), np.uint8)
    # A negative index is an error that names the length, which takes the whole file.
    through = max(indices) if min(indices) >= 0 else None
    packets = _packet_index(container, stream, through=through)
    num_frames = len(packets)
    for i in indices:
      if not 0 <= i < num_frames:
        raise DecodeError(f'frame index {i} out of range for a video of {num_frames} frames')
    needed = set(indices)
    try:
      found = _decode_by_timestamp(container, stream, packets, needed)
    except AV_ERRORS as e:
      raise DecodeError(f'decoding frames {min(needed)}..{max(needed)} failed: {e}') from e
  if found is None:
    with _open(data) as container:
      try:
        found = _decode_sequential(container, video_stream(container), needed)
      except AV_ERRORS as e:
        raise DecodeError(f'decoding frames 0..{max(needed)} failed: {e}') from e
  missing = sorted(needed - found.keys())
  if missing:
    raise DecodeError(f'decoder produced no frame for indices {missing} of {num_frames}')
  return np.stack([found[i] for i in indices])


# Audio decoded before a window's start after seeking there: an AAC frame's samples overlap
# its predecessor's, so the first frames after a seek are incomplete.
_AUDIO_PREROLL_S = 0.2


def decode_audio(
  data: bytes,
  sample_rate: int | None = None,
  start_s: float = 0.0,
  end_s: float | None = None,
) -> tuple[np.ndarray, int]:
  """Decodes the first audio stream, whole or from `start_s` to `end_s`, to a mono waveform.

  A window is decoded from a seek shortly before it, so a clip of a long video costs the
  clip's audio, not the video's.

  Args:
    data: the encoded file.
    sample_rate: resample to this rate (Hz) with FFmpeg's resampler; None keeps the
      stream's rate.
    start_s: where the waveform starts, in seconds from the stream's first sample.
    end_s: where it ends (it is shorter where the stream ends first); None: the stream's end.

  Returns:
    `(waveform, sample_rate)`: float32 `[num_samples]` in [-1, 1] (channels averaged), the
    sound at `start_s + i / sample_rate` seconds in sample i; Hz.

  Raises:
    DecodeError: the data cannot be decoded or has no audio stream.
  """
  seek_s = start_s - _AUDIO_PREROLL_S if start_s > _AUDIO_PREROLL_S else None
  waveform, rate, first_s = _decode_audio_span(data, sample_rate, seek_s, end_s)
  if first_s is None:  # No timestamps to place the samples after a seek by.
    waveform, rate, first_s = _decode_audio_span(data, sample_rate, None, end_s)
  offset = round((start_s - first_s) * rate)
  if offset >= 0:
    waveform = waveform[offset:]
  else:
    waveform = np.concatenate([np.zeros(-offset, np.float32), waveform])
  if end_s is not None:
    waveform = waveform[: max(0, round((end_s - start_s) * rate))]
  return waveform, rate


def _decode_audio_span(
  data: bytes, sample_rate: int | None, seek_s: float | None, end_s: float | None
) -> tuple[np.ndarray, int, float | None]:
  """(waveform, rate, the time of its first sample or None if unknown) from `seek_s` on."""
  try:
    container = av.open(io.BytesIO(data), mode='r')
  except AV_ERRORS as e:
    raise DecodeError(f'cannot open container ({len(data)} bytes): {e}') from e
  with container:
    if not container.streams.audio:
      raise DecodeError('container has no audio stream')
    stream = container.streams.audio[0]
    stream.thread_type = 'NONE'
    stream.codec_context.thread_count = 1
    native_rate = stream.codec_context.sample_rate
    rate = sample_rate or native_rate
    stream_start_s = float((stream.start_time or 0) * stream.time_base)
    first_s = 0.0 if seek_s is None else None
    chunks = []
    try:
      if seek_s is not None:
        container.seek(
          int((seek_s + stream_start_s) / stream.time_base), stream=stream, backward=True
        )
      for frame in container.decode(stream):
        if first_s is None:
          if frame.time is None:
            return np.zeros((0,), np.float32), rate, None
          first_s = float(frame.time) - stream_start_s
        chunks.append(frame)
        # Past the window, plus the resampler's filter length: what follows cannot change it.
        if (
          end_s is not None
          and frame.time is not None
          and (float(frame.time) - stream_start_s > end_s + _RESAMPLER_MARGIN_S)
        ):
          break
      waveform = _mono(chunks)
      if rate != native_rate and len(waveform):
        waveform = _resample(waveform, native_rate, rate)
    except AV_ERRORS as e:
      raise DecodeError(f'decoding audio failed: {e}') from e
  return waveform, rate, first_s if first_s is not None else 0.0


# Full scale of the integer sample formats (FFmpeg's own conversion to float divides by it).
_INTEGER_SCALE = {'s16': 2.0**15, 's32': 2.0**31, 'u8': 2.0**7}
# Decoded past a window's end so that resampling its last samples sees their successors.
_RESAMPLER_MARGIN_S = 0.01


def _mono(frames: list[av.AudioFrame]) -> np.ndarray:
  """Decoded frames' samples as one float32 [samples] in [-1, 1], channels averaged.

  In numpy rather than through FFmpeg's resampler, whose per-frame calls were most of the
  audio path's cost; the frames of a stream share one format and layout.
  """
  if not frames:
    return np.zeros((0,), np.float32)
  name, channels = frames[0].format.name, len(frames[0].layout.channels)
  if frames[0].format.is_planar:  # [channels, samples] per frame
    data = np.concatenate([f.to_ndarray() for f in frames], axis=1)
  else:  # [1, samples * channels], interleaved
    data = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).reshape(-1, channels).T
  kind = name.rstrip('p')
  if kind in ('flt', 'dbl'):
    samples = data.astype(np.float32, copy=False)
  elif kind in _INTEGER_SCALE:
    offset = 128.0 if kind == 'u8' else 0.0
    samples = ((data.astype(np.float32) - offset) / _INTEGER_SCALE[kind]).astype(np.float32)
  else:
    raise DecodeError(f'unsupported audio sample format {name!r}')
  return samples.mean(axis=0) if channels > 1 else samples[0]


def _resample(waveform: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
  """Polyphase resampling of a mono waveform (output sample j at input time j / to_rate).

  scipy's `resample_poly` with a kaiser-windowed sinc: a few CPU-ms per second of 48 kHz
  sound, where FFmpeg's resampler took several times longer.
  """
  # Imported here: scipy.signal takes about a second to import, which every training
  # process would pay, and only audio that needs resampling comes here.
  import scipy.signal

  divisor = math.gcd(from_rate, to_rate)
  up, down = to_rate // divisor, from_rate // divisor
  return scipy.signal.resample_poly(
    waveform, up, down, window=('kaiser', 5.0), padtype='line'
  ).astype(np.float32)
