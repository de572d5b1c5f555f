r"""Parameters and FLOPs per clip of the model zoo (or of an experiment's model).

  python tools/flops.py                                    # the zoo's standard variants
  python tools/flops.py --models slowfast_r50_8x8,x3d_s --json
  python tools/flops.py --config experiments/quickstart.py  # the model an experiment trains

Nothing is allocated or run: parameters are counted with `jax.eval_shape` and FLOPs come
from XLA's cost analysis of the lowered inference graph (`vidjax.model_size`, the numbers
the trainer logs), with native convolutions. XLA counts a multiply-add as 2 FLOPs, also
counts BN, activations and residual adds, and leaves out kernel taps on zero padding. The
"layer GMACs" column counts as papers, fvcore and torchvision do (every tap of every
convolution and dense layer, `model_size.layer_macs`): the number to hold against a
paper's. The published columns are those of docs/models.md.
"""

import dataclasses
import json
import sys
from typing import Any

import jax
import jax.numpy as jnp
from absl import app, flags

from vidjax import configs, model_size, models
from vidjax.data import pipeline


@dataclasses.dataclass(frozen=True)
class Entry:
  """A standard variant: `vidjax.models.<model>.Model(**kwargs)` on one clip of `frames`.

  Attributes:
    model: module name in vidjax.models.
    kwargs: constructor arguments.
    frames: input clip (T, H, W).
    published_params_m: published parameter count in millions (docs/models.md), if any.
    published_gmacs: published multiply-adds per clip in billions (docs/models.md), if any.
  """

  model: str
  kwargs: dict[str, Any]
  frames: tuple[int, int, int]
  published_params_m: float | None = None
  published_gmacs: float | None = None


ZOO = {
  'r3d_18': Entry('video_resnet', dict(depth=18, block='r3d'), (16, 112, 112), 33.37, 40.70),
  'r2plus1d_18': Entry(
    'video_resnet', dict(depth=18, block='r2plus1d'), (16, 112, 112), 31.51, 40.52
  ),
  'resnet18_per_frame': Entry(
    'single_frame', dict(num_classes=1000, depth=18), (1, 224, 224), 11.69
  ),
  'ir_csn_101': Entry('csn', dict(depth=101, variant='ir'), (32, 224, 224), 22.21),
  'ir_csn_152': Entry('csn', dict(depth=152, variant='ir'), (32, 224, 224), 29.6),
  'slowfast_r50_8x8': Entry('slowfast', dict(depth=50, variant='8x8'), (32, 224, 224), 34.57),
  'slowfast_r101_8x8': Entry('slowfast', dict(depth=101, variant='8x8'), (32, 224, 224), 62.83),
  'slow_r50_8x8': Entry('slowfast', dict(depth=50, pathway='slow'), (8, 224, 224), 32.45),
  'x3d_xs': Entry('x3d', dict(variant='xs'), (4, 160, 160), 3.79),
  'x3d_s': Entry('x3d', dict(variant='s'), (13, 160, 160), 3.79, 2.03),
  'x3d_m': Entry('x3d', dict(variant='m'), (16, 224, 224), 3.79),
  'x3d_l': Entry('x3d', dict(variant='l'), (16, 312, 312), 6.15),
  's3d': Entry('s3d', dict(variant='s3d'), (64, 224, 224), 8.32),
  's3d_g': Entry('s3d', dict(variant='s3d-g'), (64, 224, 224), 9.6),
  'i3d': Entry('i3d', {}, (64, 224, 224), 12.0),
  'vivit_b_fe': Entry('vivit', dict(variant='B'), (32, 224, 224), 115.1),
  'c3d': Entry('c3d', dict(num_classes=487), (16, 112, 112), 78.0),
  'fusion_slow': Entry('fusion', dict(num_classes=487, variant='slow'), (10, 170, 170)),
  'lrcn': Entry('lrcn', dict(num_classes=101), (16, 227, 227)),
}
# Kinetics-400 unless an entry says otherwise.
DEFAULT_NUM_CLASSES = 400

FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined only when run as a program, so that tests can import several tools at once.
  flags.DEFINE_list('models', list(ZOO), f'Standard variants to measure, of: {", ".join(ZOO)}.')
  flags.DEFINE_string(
    'config', None, "Measure this experiment's model instead (path.py[:arg], as main's --config)."
  )
  flags.DEFINE_bool('json', False, 'Print one JSON object per model instead of the table.')


def measure(name: str, model: Any, inputs: Any) -> dict[str, Any]:
  """Parameters and FLOPs of `model` applied to `inputs` (arrays or shapes, batch 1)."""
  variables = model_size.abstract_variables(model, inputs)
  gflops = model_size.flops(model, variables, inputs) / 1e9
  shapes = jax.tree.map(lambda x: 'x'.join(map(str, x.shape[1:])), inputs)
  if isinstance(shapes, dict):
    shapes = ' '.join(f'{key}:{shape}' for key, shape in shapes.items())
  return {
    'name': name,
    'model': type(model).__module__.removeprefix('vidjax.models.'),
    'input': shapes,
    'params_m': model_size.count_params(variables['params']) / 1e6,
    'gflops': gflops,
    'gmacs': gflops / 2,
    'layer_gmacs': model_size.layer_macs(model, variables, inputs) / 1e9,
  }


def measure_entry(name: str, entry: Entry) -> dict[str, Any]:
  """`measure` of a zoo entry, with its published numbers."""
  kwargs = dict(num_classes=DEFAULT_NUM_CLASSES) | entry.kwargs
  model = configs.load_module('models', entry.model).Model(**kwargs)
  row = measure(name, model, jax.ShapeDtypeStruct((1, *entry.frames, 3), jnp.float32))
  return row | {
    'published_params_m': entry.published_params_m,
    'published_gmacs': entry.published_gmacs,
  }


def measure_config(spec: str) -> dict[str, Any]:
  """`measure` of the model an experiment file trains, on one clip of its training input."""
  config = configs.load_config_file(spec)
  model = configs.load_module('models', config.model_name).Model(**config.model)
  shapes = pipeline.input_shapes(config.input)
  batch = {k: jax.ShapeDtypeStruct((1, *s), jnp.float32) for k, s in shapes.items()}
  row = measure(spec, model, models.model_inputs(model, batch))
  return row | {'published_params_m': None, 'published_gmacs': None}


def format_table(rows: list[dict[str, Any]]) -> str:
  """A markdown table of `measure` rows."""

  def number(x, digits):
    return '-' if x is None else f'{x:.{digits}f}'

  lines = [
    '| name | model | input | params (M) | published (M) | GFLOPs | GMACs | layer GMACs | '
    'published GMACs |',
    '|---|---|---|---|---|---|---|---|---|',
  ]
  for r in rows:
    lines.append(
      f'| {r["name"]} | {r["model"]} | {r["input"]} | {number(r["params_m"], 2)} | '
      f'{number(r["published_params_m"], 2)} | {number(r["gflops"], 2)} | '
      f'{number(r["gmacs"], 2)} | {number(r["layer_gmacs"], 2)} | '
      f'{number(r["published_gmacs"], 2)} |'
    )
  return '\n'.join(lines)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if FLAGS.config:
    jobs = [(FLAGS.config, None)]
  else:
    unknown = [name for name in FLAGS.models if name not in ZOO]
    if unknown:
      sys.exit(f'flops: --models has unknown names {unknown}; known: {", ".join(ZOO)}.')
    jobs = [(name, ZOO[name]) for name in FLAGS.models]
  rows = []
  for name, entry in jobs:
    rows.append(measure_config(name) if entry is None else measure_entry(name, entry))
    if FLAGS.json:
      print(json.dumps(rows[-1]), flush=True)
  if not FLAGS.json:
    print(format_table(rows))


if __name__ == '__main__':
  _define_flags()
  app.run(main)
