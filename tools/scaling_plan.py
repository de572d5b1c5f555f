r"""The large-run plan of docs/scaling.md: per model family, the recipe's batch and learning
rate scaled to a pod, and the expected step time and epoch time on H100, TPU v5p and v5e.

  python tools/scaling_plan.py --json docs/benchmarks/scaling_plan.json

Inputs, and how much each number can be trusted:
  - FLOPs per clip: XLA's cost analysis of the bfloat16 inference graph at the recipe's
    clip (`vidjax.model_size.flops`, no compilation), times 3 for a train step (forward,
    and the backward's two passes).
  - Utilisation: measured, the model's bfloat16 MFU on one H200 from
    `--measured` (tools/benchmark.py --mode=model --dtype=bfloat16 outputs; where several
    rows measure the recipe's model and clip, with different convolution lowerings, the
    fastest, whose lowering the plan names). The same
    fraction is then assumed for the other devices: an extrapolation, not a measurement,
    and marked as such in the output. A model without a measurement gets no time.
  - Peaks: the vendors' dense bfloat16 TFLOP/s (tools/model_speed.py PEAK_TFLOPS).
  - Host cores: the CPU-ms of one clip from `--data` (tools/benchmark.py --mode=data),
    scaled by the recipe's frame count, times the clips per second a chip consumes: the
    cores each chip needs so that decoding keeps up.
  - Learning rate: the linear scaling rule (Goyal et al. 2017: rate proportional to the
    global batch, warm-up kept in epochs), which PySlowFast applies across machines
    (BASE_LR_SCALE_NUM_SHARDS) and which multigrid's long cycle applies to its larger
    batches.
"""

import dataclasses
import json
import os
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import model_speed  # noqa: E402

from vidjax import configs, model_size  # noqa: E402

_MEASURED = flags.DEFINE_list(
  'measured',
  [
    'docs/benchmarks/model_h200_bf16.json',
    'docs/benchmarks/model_h200_bf16_mfu.json',
    'docs/benchmarks/model_h200_bf16_xla_gpu.json',
    'docs/benchmarks/model_h200_bf16_xla_gpu_slowfast.json',
  ],
  'tools/benchmark.py --mode=model --dtype=bfloat16 outputs with the measured train clips/s.',
)
_DATA = flags.DEFINE_string(
  'data',
  'docs/benchmarks/data_cpu.json',
  'tools/benchmark.py --mode=data output: CPU-ms to decode and crop one training clip.',
)
_CHIPS = flags.DEFINE_integer('chips', 64, 'Chips (GPUs) of the pod the plan is made for.')
_JSON = flags.DEFINE_string('json', None, 'Write the plan here.')

KINETICS_400_TRAIN_CLIPS = 240_000
DEVICES = {'H100 SXM': 989.0, 'TPU v5p': 459.0, 'TPU v5e': 197.0}


@dataclasses.dataclass(frozen=True)
class Recipe:
  """A model family's published 8-device recipe: the model, its clip, batch and rate."""

  benchmark_name: str  # its name in tools/benchmark.py --mode=model
  model_name: str
  model_kwargs: dict
  clip: tuple[int, int, int]
  batch: int
  base_lr: float
  epochs: int
  source: str


RECIPES = {
  'R(2+1)D-18': Recipe(
    'torchvision/r2plus1d_18',
    'video_resnet',
    dict(depth=18, block='r2plus1d', num_classes=400),
    (16, 112, 112),
    256,
    0.4,
    45,
    'experiments/supervised/kinetics400_r2plus1d_18.py',
  ),
  'SlowFast R50 8x8': Recipe(
    'pytorchvideo/slowfast_r50',
    'slowfast',
    dict(depth=50, variant='8x8', num_classes=400),
    (32, 224, 224),
    64,
    0.1,
    239,
    'experiments/supervised/kinetics400_slowfast_multigrid.py (without multigrid)',
  ),
  'ir-CSN-152': Recipe(
    'vmz/ir_csn_152_ig_ft_kinetics_32frms',
    'csn',
    dict(depth=152, variant='ir', num_classes=400),
    (32, 224, 224),
    256,
    0.4,
    45,
    'experiments/gblend/kinetics400_av.py (its video tower alone)',
  ),
  'X3D-M': Recipe(
    'pytorchvideo/x3d_m',
    'x3d',
    dict(variant='m', num_classes=400),
    (16, 224, 224),
    128,
    0.1,
    300,
    "PySlowFast's configs/Kinetics/X3D_M.yaml",
  ),
  'ViViT-B FE': Recipe(
    'zoo/vivit_b',
    'vivit',
    dict(variant='B', num_classes=400),
    (32, 224, 224),
    64,
    0.1,
    30,
    'Scenic-style factorised encoder; no experiment file yet',
  ),
}


def train_gflops_per_clip(recipe: Recipe) -> float:
  """3 x the bfloat16 forward FLOPs of one clip, by XLA's cost analysis."""
  model = configs.load_module('models', recipe.model_name).Model(
    **recipe.model_kwargs, dtype='bfloat16'
  )
  clip = jax.ShapeDtypeStruct((1, *recipe.clip, 3), jnp.float32)
  variables = model_size.abstract_variables(model, clip)
  return 3 * model_size.flops(model, variables, clip) / 1e9


def measured_mfu(
  measured: list[dict], recipe: Recipe, train_gflops: float
) -> tuple[float, str] | tuple[None, None]:
  """The H200's measured train MFU of the recipe's model, recomputed from its clips/s, and
  the convolution lowering it was measured with (None for a model without convolutions); the
  fastest row of every benchmark output that measured the model at the recipe's clip."""
  best = (None, None)
  for results in measured:
    peak = results['device_peak_tflops'] or model_speed.PEAK_TFLOPS[('NVIDIA H200', 'bfloat16')]
    for row in results['models']:
      if row['model'] != recipe.benchmark_name or list(row['input'][:3]) != list(recipe.clip):
        continue
      mfu = row['vidjax_train_clips_per_s'] * train_gflops / (peak * 1e3)
      if best[0] is None or mfu > best[0]:
        best = (mfu, row.get('lowering', 'auto'))
  return best


def plan(measured: list[dict], data: dict, chips: int) -> list[dict]:
  ms_per_frame = data['vidjax_cpu_ms_per_clip'] / data['clip']['num_frames']
  rows = []
  for family, recipe in RECIPES.items():
    gflops = train_gflops_per_clip(recipe)
    mfu, lowering = measured_mfu(measured, recipe, gflops)
    per_chip = recipe.batch // 8
    global_batch = per_chip * chips
    row = {
      'family': family,
      'recipe': recipe.source,
      'clip': list(recipe.clip),
      'train_gflops_per_clip': round(gflops, 1),
      'h200_measured_train_mfu': None if mfu is None else round(mfu, 4),
      'lowering': lowering,
      'per_chip_batch': per_chip,
      'global_batch': global_batch,
      'learning_rate': round(recipe.base_lr * global_batch / recipe.batch, 4),
      'devices': {},
    }
    for device, peak in DEVICES.items():
      if mfu is None:
        continue
      clips_per_s = mfu * peak * 1e3 / gflops
      row['devices'][device] = {
        'step_seconds': round(per_chip / clips_per_s, 3),
        'epoch_minutes': round(KINETICS_400_TRAIN_CLIPS / (clips_per_s * chips) / 60, 1),
        'run_hours': round(
          recipe.epochs * KINETICS_400_TRAIN_CLIPS / (clips_per_s * chips) / 3600, 1
        ),
        'host_cores_per_chip': round(clips_per_s * recipe.clip[0] * ms_per_frame / 1e3, 1),
        'mfu_source': "the H200's measured MFU, assumed",
      }
    rows.append(row)
  return rows


def main(argv):
  del argv
  measured = []
  for path in _MEASURED.value:
    with open(path) as f:
      measured.append(json.load(f))
  with open(_DATA.value) as f:
    data = json.load(f)
  rows = plan(measured, data, _CHIPS.value)
  print(f'Plan for {_CHIPS.value} chips (MFU measured on one H200, assumed elsewhere):')
  for row in rows:
    mfu = row['h200_measured_train_mfu']
    utilisation = '-' if mfu is None else f'{100 * mfu:.1f} %'
    if row['lowering']:
      utilisation += f' (lowering {row["lowering"]})'
    print(
      f'{row["family"]:18s} {row["train_gflops_per_clip"]:8.1f} GFLOP/clip (train)  '
      f'batch {row["global_batch"]:5d}  lr {row["learning_rate"]:<7g} '
      f'MFU {utilisation}'
    )
    for device, numbers in row['devices'].items():
      print(
        f'    {device:9s} step {numbers["step_seconds"]:.3f} s, epoch '
        f'{numbers["epoch_minutes"]} min, run {numbers["run_hours"]} h, '
        f'{numbers["host_cores_per_chip"]} host cores per chip'
      )
  if _JSON.value:
    with open(_JSON.value, 'w') as f:
      json.dump(
        {'chips': _CHIPS.value, 'measured': _MEASURED.value, 'data': _DATA.value, 'plan': rows},
        f,
        indent=2,
      )


if __name__ == '__main__':
  app.run(main)
