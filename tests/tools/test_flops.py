"""Tests of tools/flops.py and the measurements it shares with the trainer (model_size)."""

import importlib.util
import json
import os
import subprocess
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

from vidjax import configs, model_size
from vidjax.models import layers, onednn

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tools', 'flops.py')
TINY_R3D = dict(num_classes=5, depth=10, width=8, block='r3d')


def _load_tool():
  spec = importlib.util.spec_from_file_location('flops_tool', TOOL)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


flops_tool = _load_tool()


class _OneConv(nn.Module):
  """A single depthwise conv: XLA counts its CPU lowerings (tap sums, oneDNN custom calls)
  differently from the convolution, or not at all."""

  lowering: str = 'xla_cpu'

  @nn.compact
  def __call__(self, x, *, train):
    del train
    conv = layers.Conv(8, (3, 3, 3), padding='VALID', feature_group_count=8, lowering=self.lowering)
    return conv(x), {}


@pytest.mark.parametrize('lowering', ['xla_cpu', 'onednn'])
def test_flops_count_the_native_convolution(lowering):
  if lowering == 'onednn' and not onednn.available():
    pytest.skip('oneDNN turned off')
  x = jax.ShapeDtypeStruct((1, 4, 6, 6, 8), jnp.float32)
  variables = model_size.abstract_variables(_OneConv(lowering), x)
  assert model_size.count_params(variables['params']) == 3 * 3 * 3 * 8 + 8
  # 27 taps x 8 channels per output position: multiply-adds plus the bias add. (XLA leaves
  # out the taps that fall on padding, hence VALID for a round number.)
  positions = 2 * 4 * 4
  expected = positions * 8 * (2 * 27 + 1)
  flops = model_size.flops(_OneConv(lowering), variables, x)
  assert abs(flops - expected) / expected < 0.02, (flops, expected)


def test_measure_entry_counts_params_and_scales_with_frames():
  short = flops_tool.measure_entry('tiny', flops_tool.Entry('video_resnet', TINY_R3D, (4, 32, 32)))
  long = flops_tool.measure_entry('tiny', flops_tool.Entry('video_resnet', TINY_R3D, (8, 32, 32)))
  model = configs.load_module('models', 'video_resnet').Model(**TINY_R3D)
  variables = model_size.abstract_variables(model, jnp.zeros((1, 4, 32, 32, 3)))
  assert short['params_m'] == model_size.count_params(variables['params']) / 1e6
  assert short['input'] == '4x32x32x3' and short['model'] == 'video_resnet'
  assert short['gmacs'] == short['gflops'] / 2 > 0
  # A fully convolutional trunk: twice the frames, twice the work, plus the border taps that
  # fall on padding in the short clip (not counted by XLA) and no longer do.
  assert 2.0 < long['gflops'] / short['gflops'] < 2.4
  assert short['published_params_m'] is None


def test_zoo_entries_build_and_table_shows_published_numbers():
  for name, entry in flops_tool.ZOO.items():
    kwargs = dict(num_classes=flops_tool.DEFAULT_NUM_CLASSES) | entry.kwargs
    assert configs.load_module('models', entry.model).Model(**kwargs), name
  row = dict(
    name='x3d_s',
    model='x3d',
    input='13x160x160x3',
    params_m=3.79,
    gflops=4.03,
    gmacs=2.015,
    layer_gmacs=1.96,
  )
  table = flops_tool.format_table([row | {'published_params_m': 3.79, 'published_gmacs': 2.03}])
  assert '| x3d_s | x3d | 13x160x160x3 | 3.79 | 3.79 | 4.03 | 2.02 | 1.96 | 2.03 |' in table


def _run(*args):
  return subprocess.run(
    [sys.executable, TOOL, *args], cwd=REPO, capture_output=True, text=True, timeout=120
  )


def test_command_line_json_of_an_experiment_config():
  result = _run('--config', 'experiments/quickstart.py:smoke', '--json')
  assert result.returncode == 0, result.stderr
  row = json.loads(result.stdout.strip().splitlines()[-1])
  config = configs.load_config_file(os.path.join(REPO, 'experiments/quickstart.py:smoke'))
  model = configs.load_module('models', config.model_name).Model(**config.model)
  shape = (1, config.input.sampling.num_frames, config.input.pp.crop_size,
           config.input.pp.crop_size, 3)  # fmt: skip
  variables = model_size.abstract_variables(model, jax.ShapeDtypeStruct(shape, jnp.float32))
  assert row['params_m'] == pytest.approx(model_size.count_params(variables['params']) / 1e6)
  assert row['gflops'] > 0


def test_unknown_model_name_lists_the_known_ones():
  result = _run('--models', 'resnet9000')
  assert result.returncode != 0
  assert 'resnet9000' in result.stderr and 'slowfast_r50_8x8' in result.stderr
