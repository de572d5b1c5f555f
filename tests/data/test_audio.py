"""Tests of vidjax.data.audio: the numpy log-mel, clip alignment, missing audio, pipeline keys."""

import numpy as np
import pytest

from vidjax import configs
from vidjax.data import audio, decode, encode, pipeline
from vidjax.data.builders import synthetic_scenes

RATE = 16000


def _audio_config(**overrides):
  config = configs.base_config().input.audio
  config.update(overrides)
  return config


def _log_mel(waveform, config):
  return audio.log_mel_spectrogram(
    waveform,
    config.sample_rate,
    config.num_mels,
    config.window_ms,
    config.hop_ms,
    config.min_hz,
    config.max_hz,
  )


def _nearest_mel_bin(hz, config):
  centres = audio.mel_centre_frequencies(config.num_mels, config.min_hz, config.max_hz)
  return int(np.argmin(np.abs(centres - hz)))


def _tone(hz, seconds, rate=RATE):
  t = np.arange(round(seconds * rate)) / rate
  return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize('num_samples', [0, 399, 400, 559, 560, 16000])
def test_frame_count_is_the_stft_formula(num_samples):
  # 25 ms window = 400 samples, 10 ms hop = 160 samples, no edge padding.
  features = _log_mel(np.zeros(num_samples, np.float32), _audio_config())
  expected = 0 if num_samples < 400 else 1 + (num_samples - 400) // 160
  assert features.shape == (expected, 80) and features.dtype == np.float32
  assert audio.num_spectrogram_frames(num_samples, 400, 160) == expected
  # Silence is log(0 + 1e-6).
  np.testing.assert_allclose(features, np.log(1e-6), rtol=1e-6)


def test_filterbank_triangles_cover_the_range():
  filters = audio.mel_filterbank(RATE, 512, 80, 0.0, 8000.0)
  assert filters.shape == (257, 80)
  assert filters.min() >= 0 and filters.max() <= 1
  # Every filter sees at least one FFT bin, and every bin between the first and the last
  # centre is covered by two overlapping triangles whose weights sum to one.
  assert np.all(filters.max(axis=0) > 0)
  centres = audio.mel_centre_frequencies(80, 0.0, 8000.0)
  bin_hz = np.fft.rfftfreq(512, 1 / RATE)
  inside = (bin_hz >= centres[0]) & (bin_hz <= centres[-1])
  np.testing.assert_allclose(filters[inside].sum(axis=1), 1.0, atol=1e-5)
  np.testing.assert_array_equal(filters.argmax(axis=1)[inside][[0, -1]], [0, 79])
  with pytest.raises(ValueError, match='config.input.audio.min_hz / max_hz'):
    audio.mel_filterbank(RATE, 512, 80, 0.0, 9000.0)


@pytest.mark.parametrize('hz', [440.0, 1000.0, 2500.0, 6000.0])
def test_pure_tone_peaks_in_its_mel_bin(hz):
  config = _audio_config()
  features = _log_mel(_tone(hz, 0.5), config)
  assert features.shape == (48, 80)
  peaks = features.argmax(axis=1)
  assert np.all(peaks == _nearest_mel_bin(hz, config))


def test_clip_time_span_counts_wrapped_frames_forward():
  assert audio.clip_time_span(np.array([4, 6, 8]), 8.0, 32) == (0.5, 9 / 8)
  # Looped clip of a 32-frame video: 28, 30, then 0, 2 are 32 and 34 frames on.
  assert audio.clip_time_span(np.array([28, 30, 0, 2]), 8.0, 32) == (28 / 8, 35 / 8)
  # Padded clip: the last frame repeats, the span ends with the video.
  assert audio.clip_time_span(np.array([29, 31, 31, 31]), 8.0, 32) == (29 / 8, 4.0)


def _record(data, num_frames, fps, has_audio):
  return {
    'video': data,
    'num_frames': num_frames,
    'fps': fps,
    'has_audio': has_audio,
    'video_id': 'test',
  }


def _frames(num_frames):
  return np.full((num_frames, 16, 16, 3), 128, np.uint8)


def test_audio_of_a_clip_follows_the_clip_in_time():
  # 4 s at 8 fps; a 500 Hz tone for two seconds, then a 2000 Hz tone.
  waveform = np.concatenate([_tone(500.0, 2.0), _tone(2000.0, 2.0)])
  data = encode.encode_video(_frames(32), 8.0, waveform, RATE)
  record = _record(data, 32, 8.0, True)
  config = _audio_config(spectrogram_frames=150)
  clips = np.stack([np.arange(0, 16, 2), np.arange(16, 32, 2)])
  features, has_audio = audio.clip_audio(record, clips, config)
  assert has_audio and features.shape == (2, 150, 80)
  low, high = _nearest_mel_bin(500.0, config), _nearest_mel_bin(2000.0, config)
  # 150 frames (1.51 s) of each 2 s span stay clear of the tone change at 2 s.
  assert np.all(features[0].argmax(axis=1) == low)
  assert np.all(features[1].argmax(axis=1) == high)


def test_decode_resamples_to_the_configured_rate():
  data = encode.encode_video(_frames(16), 8.0, _tone(1000.0, 2.0), RATE)
  waveform, rate = decode.decode_audio(data, 8000)
  assert rate == 8000 and 16000 <= len(waveform) <= 16000 + 1024
  spectrum = np.abs(np.fft.rfft(waveform))
  assert np.fft.rfftfreq(len(waveform), 1 / rate)[spectrum.argmax()] == pytest.approx(1000, abs=5)


def _chirp_video(seconds, rate=RATE):
  """A video whose sound sweeps 300 -> 2700 Hz over 6 s: every instant sounds different."""
  t = np.arange(round(seconds * rate)) / rate
  waveform = (0.5 * np.sin(2 * np.pi * (300 + 200 * t) * t)).astype(np.float32)
  return encode.encode_video(_frames(round(seconds * 8)), 8.0, waveform, rate)


@pytest.mark.parametrize('sample_rate', [None, 8000])
@pytest.mark.parametrize('start_s, end_s', [(0.1, 1.0), (2.37, 4.0), (4.5, 9.0), (7.0, 8.0)])
def test_decoding_a_window_gives_that_slice_of_the_whole_decode(sample_rate, start_s, end_s):
  # Windows starting after the pre-roll are decoded from a seek; the last one lies past the
  # 6 s of sound, the one before ends past it.
  data = _chirp_video(6.0)
  whole, rate = decode.decode_audio(data, sample_rate)
  window, window_rate = decode.decode_audio(data, sample_rate, start_s, end_s)
  assert window_rate == rate
  np.testing.assert_allclose(
    window, whole[round(start_s * rate) : round(end_s * rate)], rtol=0, atol=1e-6
  )


def test_clip_features_do_not_depend_on_decoding_only_the_clips():
  # 44.1 kHz audio resampled to 16 kHz: the seek's first frame falls between output samples,
  # so the window is placed to the nearest sample (at most 31 us off).
  data = _chirp_video(6.0, rate=44100)
  record = _record(data, 48, 8.0, True)
  config = _audio_config(spectrogram_frames=100)
  clips = np.stack([np.arange(20, 28), np.arange(36, 44)])
  features, has_audio = audio.clip_audio(record, clips, config)
  whole, rate = decode.decode_audio(data, config.sample_rate)
  expected = [
    audio.clip_log_mel(whole, rate, *audio.clip_time_span(clip, 8.0, 48), config) for clip in clips
  ]
  assert has_audio
  # Compared as mel power (the log of the near-silent bands magnifies any difference); the
  # largest difference, 0.2 % of the peak, is at the window that straddles a clip's end.
  power, expected_power = np.exp(features), np.exp(np.stack(expected))
  np.testing.assert_allclose(power, expected_power, rtol=0, atol=5e-3 * expected_power.max())


def test_stored_pcm_gives_the_features_of_the_decoded_mp4():
  # 44.1 kHz AAC, as many downloaded videos carry: the stored track was
  # resampled once at prepare time, the decode path resamples each span.
  data = _chirp_video(6.0, rate=44100)
  pcm = audio.soundtrack_pcm(data)
  assert len(pcm) == 2 * len(decode.decode_audio(data, audio.PCM_SAMPLE_RATE)[0])
  config = _audio_config(spectrogram_frames=100)
  clips = np.stack([np.arange(0, 8), np.arange(20, 28), np.arange(40, 48)])
  decoded, _ = audio.clip_audio(_record(data, 48, 8.0, True), clips, config)
  stored, has_audio = audio.clip_audio(
    {**_record(data, 48, 8.0, True), 'audio_pcm': pcm}, clips, config
  )
  assert has_audio
  # Mel power within 0.5 % of the peak: 16-bit rounding, and the decode path's resampling
  # of a span (the filter sees the span's edges) against the whole track's.
  power, decoded_power = np.exp(stored), np.exp(decoded)
  np.testing.assert_allclose(power, decoded_power, rtol=0, atol=5e-3 * decoded_power.max())


def test_stored_pcm_is_read_without_the_mp4():
  data = _chirp_video(2.0)
  record = {**_record(b'not an mp4', 16, 8.0, True), 'audio_pcm': audio.soundtrack_pcm(data)}
  config = _audio_config(spectrogram_frames=50)
  features, has_audio = audio.clip_audio(record, np.arange(4), config)
  assert has_audio and features.max() > 0
  # Another rate than the stored one decodes the mp4 (here garbage: silence and the flag).
  features, has_audio = audio.clip_audio(record, np.arange(4), _audio_config(sample_rate=8000))
  assert not has_audio and not features.any()


def test_span_shorter_than_the_output_is_padded_with_silence():
  data = encode.encode_video(_frames(16), 8.0, _tone(1000.0, 2.0), RATE)
  config = _audio_config(spectrogram_frames=100)
  # Frames 0..3 at 8 fps: 0.5 s = 8000 samples, i.e. 1 + (8000 - 400) // 160 = 48 windows
  # inside the sound; windows from 8000 / 160 = 50 on lie wholly after it.
  features, has_audio = audio.clip_audio(_record(data, 16, 8.0, True), np.arange(4), config)
  assert has_audio and features.shape == (100, 80)
  assert np.all(features[:48].max(axis=1) > 0)
  np.testing.assert_allclose(features[50:], np.log(1e-6), rtol=1e-6)


def test_video_without_audio_gives_silence_and_the_flag():
  data = encode.encode_video(_frames(16), 8.0)
  assert not decode.probe(data).has_audio
  config = _audio_config()
  indices = np.arange(8)[None].repeat(3, axis=0)
  features, has_audio = audio.clip_audio(_record(data, 16, 8.0, False), indices, config)
  assert not has_audio and features.shape == (3, 200, 80)
  assert not features.any()
  # A record that claims audio its file does not have is also silence, not a crash.
  features, has_audio = audio.clip_audio(_record(data, 16, 8.0, True), indices, config)
  assert not has_audio and not features.any()


@pytest.fixture
def input_config(synthetic_data_dir):
  config = configs.base_config().input
  config.dataset = 'vidjax_synthetic/tiny'
  config.data_dir = synthetic_data_dir
  config.sampling.num_frames = 4
  config.pp.crop_size = 28
  config.audio.enabled = True
  return config


def test_synthetic_record_peaks_at_its_label_tone(input_config):
  dataset = pipeline.open_dataset(input_config.dataset, 'validation', input_config.data_dir)
  config = input_config.audio
  for i in range(4):
    record = dataset.source[i]
    # The whole 2 s video as one clip: frames 0..15 at 8 fps.
    features, has_audio = audio.clip_audio(record, np.arange(16), config)
    # The stored track: 2 s at 16 kHz, 2 bytes a sample, and AAC's last frame's padding.
    assert has_audio and 2 * 2 * audio.PCM_SAMPLE_RATE <= len(record['audio_pcm']) < 70000
    tone_hz = synthetic_scenes.TONE_HZ[int(record['audio_label'])]
    # The tone is the label's within +-2 %, so its bin may be a neighbour of the nominal one.
    assert abs(int(features.mean(axis=0).argmax()) - _nearest_mel_bin(tone_hz, config)) <= 1


def test_pipeline_adds_audio_keys(input_config):
  input_config.audio.spectrogram_frames = 64
  batch = next(pipeline.make_train_input(input_config, 0, 2, 0, 1).iterator)
  assert batch['audio'].shape == (2, 64, 80) and batch['audio'].dtype == np.float32
  assert batch['has_audio'].dtype == np.bool_ and batch['has_audio'].all()
  assert pipeline.input_shapes(input_config)['audio'] == (64, 80)
  eval_input = pipeline.make_eval_input(input_config, 'validation', 2, 2, 3, 0, 1)
  views = next(iter(eval_input))
  assert views['audio'].shape == (2, 6, 64, 80) and views['has_audio'].all()
  # Clip-major views: the three crops of a clip share its audio; the clips' audio differs.
  np.testing.assert_array_equal(views['audio'][:, 0], views['audio'][:, 2])
  assert not np.array_equal(views['audio'][:, 0], views['audio'][:, 3])
