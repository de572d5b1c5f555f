"""Video encoding and transcoding with PyAV (the other half of `decode.py`).

`encode_video` writes frames (and audio) to an H.264/AAC mp4 in memory: the synthetic
dataset, the demo's output video and the tests' videos. `transcode` normalises a real
dataset's source file (any container and codec FFmpeg reads) to the mp4 the tfds records
store. Both raise `decode.DecodeError` instead of PyAV/FFmpeg exceptions.
"""

import fractions
import io

import av
import numpy as np

from vidjax.data.decode import AV_ERRORS, DecodeError, VideoInfo, probe, video_stream


def encode_video(
  frames: np.ndarray,
  fps: float,
  audio: np.ndarray | None = None,
  audio_sample_rate: int = 16000,
  keyframe_interval: int | None = None,
) -> bytes:
  """Encodes frames (and optionally audio) as an H.264/AAC mp4 in memory.

  Args:
    frames: uint8 `[T, H, W, 3]` RGB; H and W must be even (yuv420p chroma subsampling).
    fps: frame rate.
    audio: optional mono float32 waveform `[num_samples]` in [-1, 1], encoded as AAC.
    audio_sample_rate: sample rate of `audio` in Hz.
    keyframe_interval: frames between keyframes; default about one second.

  Returns:
    The mp4 file as bytes.

  Raises:
    ValueError: `frames` has the wrong shape or dtype.
    DecodeError: the encoder failed.
  """
  frames = np.asarray(frames)
  if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
    raise ValueError(f'frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}')
  num_frames, height, width, _ = frames.shape
  if num_frames == 0 or height % 2 or width % 2:
    raise ValueError(f'need at least one frame of even height and width, got {frames.shape}')
  rate = fractions.Fraction(fps).limit_denominator(1001)
  gop = keyframe_interval or max(1, round(fps))
  buffer = io.BytesIO()
  try:
    with av.open(buffer, mode='w', format='mp4') as container:
      # x264's macroblock-tree rate control gives different bitstreams for the same input
      # depending on the calling thread's history (observed with this PyAV wheel), so it
      # is off: the encoded bytes are then a function of the frames alone.
      options = {'crf': '18', 'preset': 'veryfast', 'threads': '1', 'x264-params': 'mbtree=0'}
      video = container.add_stream('libx264', rate=rate, options=options)
      video.width, video.height, video.pix_fmt = width, height, 'yuv420p'
      video.codec_context.gop_size = gop
      video.codec_context.thread_count = 1
      streams = [video]
      if audio is not None:
        audio_stream = container.add_stream('aac', rate=audio_sample_rate, layout='mono')
        audio_stream.codec_context.thread_count = 1
        streams.append(audio_stream)
      for image in frames:
        container.mux(video.encode(av.VideoFrame.from_ndarray(image, format='rgb24')))
      if audio is not None:
        waveform = np.clip(np.asarray(audio, np.float32).reshape(1, -1), -1.0, 1.0)
        frame = av.AudioFrame.from_ndarray(waveform, format='fltp', layout='mono')
        frame.sample_rate = audio_sample_rate
        frame.pts = 0
        container.mux(audio_stream.encode(frame))
      for stream in streams:
        container.mux(stream.encode(None))
  except AV_ERRORS as e:
    raise DecodeError(f'encoding {frames.shape} at {fps} fps failed: {e}') from e
  return buffer.getvalue()


# Sample rates the AAC encoder accepts (MPEG-4 audio sampling frequency table).
_AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025)
_AAC_SAMPLE_RATES += (8000, 7350)

# A file that decodes to less than this fraction of the frames its header declares was cut
# short (an interrupted download or copy); demuxers read such files without an error.
_MIN_DECODED_FRACTION = 0.9


def scaled_size(height: int, width: int, short_side: int) -> tuple[int, int]:
  """The `(height, width)` whose short side is `short_side`, keeping the aspect ratio.

  Both sides are even, as yuv420p chroma subsampling needs.

  Raises:
    ValueError: `short_side` is not a positive even number.
  """
  if short_side <= 0 or short_side % 2:
    raise ValueError(f'short_side must be a positive even number, got {short_side}')
  scale = short_side / min(height, width)
  long_side = max(2, 2 * round(max(height, width) * scale / 2))
  return (short_side, long_side) if height <= width else (long_side, short_side)


def _display_size(stream) -> tuple[int, int]:
  """Frame size as shown: non-square pixels (anamorphic video) are stretched to square."""
  context = stream.codec_context
  height, width = context.height, context.width
  aspect = context.sample_aspect_ratio
  if aspect and aspect != 1:
    width = max(1, round(width * aspect))
  return height, width


def _source_rate(stream) -> fractions.Fraction:
  rate = stream.average_rate or stream.guessed_rate or stream.base_rate
  if not rate:
    raise DecodeError('the video stream declares no frame rate')
  return fractions.Fraction(rate).limit_denominator(1001)


def _declared_frames(container, stream, rate: fractions.Fraction) -> int:
  """Frame count from the header: stored (AVI, mp4) or from the duration (Matroska/webm)."""
  if stream.frames:
    return stream.frames
  if stream.duration:
    return round(stream.duration * stream.time_base * rate)
  if container.duration:
    return round(container.duration / av.time_base * rate)
  return 0


def transcode(
  source: str | bytes, short_side: int, keyframe_interval_s: float = 1.0, crf: int = 23
) -> tuple[bytes, VideoInfo]:
  """Re-encodes a video as an H.264 (+ AAC) mp4 with the given short side.

  Streams frame by frame (demux, decode, resize, encode), so memory does not grow with
  the length of the video, only the encoded output is held. Frames are renumbered at the
  source's average frame rate: the output has a constant frame rate whatever the source
  timestamps (AVI has none; some webm files have irregular ones). The first audio stream,
  if any, is re-encoded as AAC (mono or stereo, the source's sample rate when AAC allows
  it), because sources carry MP3, Vorbis, Opus or PCM that mp4 players handle unevenly.

  Args:
    source: path of the source file, or its bytes.
    short_side: the output's shorter side in pixels (even); the other keeps the display
      aspect ratio (rounded to even).
    keyframe_interval_s: seconds between forced keyframes (sets the decode cost of a seek).
    crf: x264 constant rate factor (lower is better quality and larger files).

  Returns:
    `(mp4 bytes, VideoInfo of the output)`.

  Raises:
    DecodeError: the source cannot be opened, has no video stream or no decodable frame,
      fails to decode part way, or decodes to clearly fewer frames than its header
      declares (a truncated file).
    ValueError: `short_side` is not a positive even number.
  """
  name = source if isinstance(source, str) else f'{len(source)} bytes'
  try:
    container = av.open(source if isinstance(source, str) else io.BytesIO(source), mode='r')
  except AV_ERRORS as e:
    raise DecodeError(f'cannot open {name}: {e}') from e
  with container:
    if not container.streams.video:
      raise DecodeError(f'{name} has no video stream')
    video_in = video_stream(container)
    rate = _source_rate(video_in)
    height, width = scaled_size(*_display_size(video_in), short_side)
    audio_in = container.streams.audio[0] if container.streams.audio else None
    buffer = io.BytesIO()
    num_frames = 0
    try:
      with av.open(buffer, mode='w', format='mp4') as output:
        # tune=fastdecode (no CABAC, deblocking or weighted prediction) makes decoding, the
        # cost of every training clip, about 35 % cheaper for files about 10 % larger.
        options = {'crf': str(crf), 'preset': 'veryfast', 'tune': 'fastdecode', 'threads': '1'}
        # Same reason as in encode_video: deterministic bytes for the same input.
        options['x264-params'] = 'mbtree=0'
        video_out = output.add_stream('libx264', rate=rate, options=options)
        video_out.width, video_out.height, video_out.pix_fmt = width, height, 'yuv420p'
        video_out.codec_context.gop_size = max(1, round(float(rate) * keyframe_interval_s))
        video_out.codec_context.thread_count = 1
        streams_in, audio_out, num_samples = [video_in], None, 0
        if audio_in is not None:
          audio_in.thread_type = 'NONE'
          audio_in.codec_context.thread_count = 1
          in_rate = audio_in.codec_context.sample_rate
          audio_rate = in_rate if in_rate in _AAC_SAMPLE_RATES else 48000
          layout = 'mono' if audio_in.codec_context.channels == 1 else 'stereo'
          audio_out = output.add_stream('aac', rate=audio_rate, layout=layout)
          audio_out.codec_context.thread_count = 1
          streams_in.append(audio_in)
        time_base = 1 / rate
        for packet in container.demux(streams_in):
          for frame in packet.decode():
            if packet.stream is video_in:
              image = frame.reformat(width, height, format='yuv420p', interpolation='AREA')
              image.pts, image.time_base = num_frames, time_base
              output.mux(video_out.encode(image))
              num_frames += 1
            else:
              # Counted samples rather than source timestamps, which some containers
              # (AVI, broken webm) do not give reliably.
              frame.pts, frame.time_base = num_samples, fractions.Fraction(1, frame.sample_rate)
              num_samples += frame.samples
              output.mux(audio_out.encode(frame))
        if num_frames == 0:
          raise DecodeError(f'{name}: the video stream has no decodable frame')
        output.mux(video_out.encode(None))
        if audio_out is not None:
          output.mux(audio_out.encode(None))
    except AV_ERRORS as e:
      raise DecodeError(f'{name}: transcoding failed after {num_frames} frames: {e}') from e
    declared = _declared_frames(container, video_in, rate)
  if declared and num_frames < _MIN_DECODED_FRACTION * declared:
    raise DecodeError(
      f'{name}: decoded {num_frames} frames of the {declared} that its header declares '
      '(truncated file?)'
    )
  data = buffer.getvalue()
  return data, probe(data)
