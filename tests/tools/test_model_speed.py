"""tools/model_speed.py (`tools/benchmark.py --mode=model`): the measurements run and report
what they claim (no timing asserts)."""

import functools
import os
import sys

import numpy as np
import pytest

from vidjax.convert import torch_checkpoint

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'tools'))
import model_speed  # noqa: E402


def test_model_benchmark_measures_vidjax_and_torch():
  pytest.importorskip('torch')
  from vidjax.convert import torch_video_resnet, torchvision  # noqa: PLC0415 (needs torch)

  tiny = torch_checkpoint.Arch(
    'video_resnet',
    {'num_classes': 4, 'depth': 10, 'block': 'r3d'},
    (4, 32, 32, 3),
    functools.partial(torchvision.video_resnet_module_maps, 10, 'r3d'),
    torch_model=functools.partial(torch_video_resnet.r3d_18, layers=(1, 1, 1, 1), num_classes=4),
  )
  results = model_speed.model_benchmark({'tiny_r3d': tiny}, batch=2, shape='', repeats=1)
  assert results['matmul_fp32_gflops_per_s'] > 0
  (row,) = results['models']
  assert row['model'] == 'tiny_r3d' and row['input'] == [4, 32, 32, 3]
  for key in ('vidjax_train_clips_per_s', 'torch_train_clips_per_s', 'train_ratio_vs_torch'):
    assert row[key] > 0
  np.testing.assert_allclose(
    row['train_ratio_vs_torch'],
    row['vidjax_train_clips_per_s'] / row['torch_train_clips_per_s'],
    rtol=0.05,
  )


@pytest.mark.slow
def test_model_benchmark_reports_mfu_in_bfloat16():
  tiny = torch_checkpoint.Arch(
    'video_resnet',
    {'num_classes': 4, 'depth': 10, 'block': 'r2plus1d', 'width': 8},
    (4, 32, 32, 3),
    dict,
  )
  results = model_speed.model_benchmark(
    {'tiny': tiny},
    batch=2,
    shape='',
    repeats=1,
    rounds=1,
    dtype='bfloat16',
    device_peak_tflops=0.5,
  )
  (row,) = results['models']
  assert row['dtype'] == 'bfloat16' and results['device_peak_tflops'] == 0.5
  np.testing.assert_allclose(row['train_mfu'], row['vidjax_train_gflops_per_s'] / 500, rtol=0.01)


def test_best_seconds_alternates_the_order_and_keeps_the_best_round(monkeypatch):
  clock, log = [0.0], []
  monkeypatch.setattr(model_speed.time, 'perf_counter', lambda: clock[0])
  durations = {'vidjax': iter([0, 0, 2, 1]), 'torch': iter([0, 0, 1, 3])}

  def call(name):
    def run():
      log.append(name)
      clock[0] += next(durations[name])

    return run

  calls = {name: {'train': call(name)} for name in durations}
  best = model_speed.best_seconds(calls, rounds=2, repeats=1)
  assert log == ['vidjax', 'vidjax', 'torch', 'torch', 'vidjax', 'torch', 'torch', 'vidjax']
  assert best == {'vidjax': {'train': 1}, 'torch': {'train': 1}}


def test_peak_tflops_by_device_kind_and_dtype():
  assert model_speed.peak_tflops('NVIDIA H100 80GB HBM3', 'bfloat16') == 989.0
  assert model_speed.peak_tflops('TPU v5 lite', 'bfloat16') == 197.0
  assert model_speed.peak_tflops('TPU v5p', 'bfloat16') == 459.0
  assert model_speed.peak_tflops('cpu', 'float32') is None


def test_default_models_all_have_a_pytorch_reference():
  for name in model_speed.DEFAULT_MODELS:
    assert model_speed.find_arch(name).torch_model is not None, name


@pytest.mark.slow
def test_unidual_is_measured_against_plain_r2plus1d_on_the_same_videos():
  """unidual/r2plus1d_<depth>: both train steps in the same rounds; a video takes exactly
  R(2+1)D's computation in UniDual, so the FLOPs per clip are equal."""
  results = model_speed.model_benchmark(
    {'unidual/r2plus1d_10': None}, batch=2, shape='4x32x32', repeats=1, rounds=1
  )
  (row,) = results['models']
  assert row['input'] == [4, 32, 32, 3]
  assert row['unidual_gflops_per_clip'] == row['r2plus1d_gflops_per_clip'] > 0
  np.testing.assert_allclose(
    row['unidual_train_overhead_percent'],
    100 * (row['r2plus1d_train_clips_per_s'] / row['unidual_train_clips_per_s'] - 1),
    atol=0.5,
  )


@pytest.mark.parametrize(
  'kwargs',
  [
    dict(variant='s3d-g', temporal_downsampling=False, global_pool='max+mean'),
    dict(variant='s3d', temporal_downsampling=True, global_pool='mean'),
  ],
)
def test_the_s3d_reference_is_vidjax_s3d_in_torch(kwargs):
  """speednet/s3d_g compares like with like: the PyTorch restatement has the vidjax
  network's parameters (gates included) and gives its feature-map and output shapes."""
  torch = pytest.importorskip('torch')
  import jax  # noqa: PLC0415
  import jax.numpy as jnp  # noqa: PLC0415

  from vidjax import model_size  # noqa: PLC0415
  from vidjax.convert import torch_s3d  # noqa: PLC0415
  from vidjax.models import s3d  # noqa: PLC0415

  kwargs = dict(kwargs, num_classes=3, width_multiplier=0.25)
  reference = torch_s3d.S3D(**kwargs)
  model = s3d.Model(**kwargs)
  clip = jax.ShapeDtypeStruct((1, 16, 64, 64, 3), jnp.float32)
  variables = model_size.abstract_variables(model, clip)
  assert sum(np.prod(x.shape) for x in jax.tree.leaves(variables['params'])) == sum(
    p.numel() for p in reference.parameters()
  )
  frames = 16 if kwargs['variant'] == 's3d-g' else 2  # three temporal strides of 2
  with torch.no_grad():
    features = reference.features(torch.zeros(1, 3, 16, 64, 64))
    assert tuple(features.shape) == (1, 256, frames, 2, 2)
    assert tuple(reference(torch.zeros(1, 3, 16, 64, 64)).shape) == (1, 3)
  assert 'speednet/s3d_g' in model_speed.DEFAULT_MODELS


def test_ava_batching_measures_batch_1_and_the_batch():
  row = model_speed.ava_batching(
    'ava/slowfast_r50_linear', 2, (4, 32, 32, 3), 'float32', rounds=1, repeats=1,
    backbone=dict(model_name='slowfast', depth=14, width=8, variant='8x8', res5_dilation=2),
    actors=3,
  )  # fmt: skip
  assert row['train_clips_per_s_batch_1'] > 0 and row['train_clips_per_s_batch_2'] > 0
  np.testing.assert_allclose(
    row['batch_2_over_batch_1_per_clip'],
    row['train_clips_per_s_batch_2'] / row['train_clips_per_s_batch_1'],
    rtol=0.01,
  )
