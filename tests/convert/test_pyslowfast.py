"""PySlowFast's Caffe2 AVA checkpoints: the blob names PySlowFast gives, every published
architecture's table against the model, a safe reader, and logits through a `.pkl`.

The parity reference is PyTorchVideo's AVA network (PySlowFast's SlowFast with the RoI
head, module for module; tests/convert/test_pytorchvideo.py): its random weights are
written as a Caffe2 pickle under the blob names of the Caffe2 SlowFast code (the table
`_caffe2_name` below), converted, and the logits of every box compared.
"""

import dataclasses
import functools
import os
import pickle
import re

import jax
import numpy as np
import pytest
from flax import traverse_util

from vidjax.convert import pyslowfast, torch_checkpoint
from vidjax.models import slowfast

# Blob names of the Caffe2 checkpoints and the PySlowFast parameters they load into.
NAMES = {
  'conv1_w': 's1.pathway0_stem.conv.weight',
  't_conv1_w': 's1.pathway1_stem.conv.weight',
  'res_conv1_bn_riv': 's1.pathway0_stem.bn.running_var',
  't_res_conv1_bn_s': 's1.pathway1_stem.bn.weight',
  'res2_0_branch1_w': 's2.pathway0_res0.branch1.weight',
  'res2_0_branch1_bn_b': 's2.pathway0_res0.branch1_bn.bias',
  't_res4_5_branch2a_bn_riv': 's4.pathway1_res5.branch2.a_bn.running_var',
  'res5_2_branch2c_w': 's5.pathway0_res2.branch2.c.weight',
  'res4_22_branch2b_bn_rm': 's4.pathway0_res22.branch2.b_bn.running_mean',
  't_pool1_subsample_w': 's1_fuse.conv_f2s.weight',
  't_pool1_subsample_bn_rm': 's1_fuse.bn.running_mean',
  't_res3_3_branch2c_bn_subsample_w': 's3_fuse.conv_f2s.weight',
  't_res3_3_branch2c_bn_subsample_bn_s': 's3_fuse.bn.weight',
  'nonlocal_conv4_6_theta_w': 's4.pathway0_nonlocal6.conv_theta.weight',
  'nonlocal_conv4_13_out_b': 's4.pathway0_nonlocal13.conv_out.bias',
  'nonlocal_conv4_20_bn_riv': 's4.pathway0_nonlocal20.bn.running_var',
  'pred_w': 'head.projection.weight',
  'pred_b': 'head.projection.bias',
}


@pytest.mark.parametrize('blob', sorted(NAMES))
def test_blobs_get_pyslowfasts_names(blob):
  assert pyslowfast.pyslowfast_name(blob) == NAMES[blob]
  # PySlowFast's own names (a .pyth) are kept.
  assert pyslowfast.pyslowfast_name(NAMES[blob]) == NAMES[blob]


def test_an_unknown_blob_keeps_its_name():
  assert pyslowfast.pyslowfast_name('fc7_w') == 'fc7_w'


def _native(arch):
  """`arch` with the native convolution lowering, which traces fastest (shapes only)."""
  kwargs = dict(arch.model_kwargs, backbone=dict(arch.model_kwargs['backbone'], lowering='native'))
  return dataclasses.replace(arch, model_kwargs=kwargs)


def _layout_back(value_shape, flax_path):
  """A torch-layout shape for a flax weight shape (conv and linear kernels reversed)."""
  if flax_path[-1] == 'kernel':
    return (value_shape[-1], value_shape[-2], *value_shape[:-2])
  return value_shape


@pytest.mark.parametrize('name', sorted(pyslowfast.ARCHS))
def test_every_weight_of_a_published_architecture_has_a_blob(name):
  """Every flax weight has one PySlowFast name, and each name one weight: a state dict
  built from the table, weight for weight, converts without a problem."""
  arch = _native(pyslowfast.ARCHS[name])
  _, abstract = torch_checkpoint.build_model(arch)
  expected = traverse_util.flatten_dict(dict(abstract))
  state = {}
  for module_path, source in arch.module_maps().items():
    for torch_key, flax_path, _ in torch_checkpoint._moves(module_path, source):
      if flax_path in expected:
        shape = _layout_back(expected[flax_path].shape, flax_path)
        state[torch_key] = np.zeros(shape, np.float32)
  variables = torch_checkpoint.convert(state, arch.module_maps(), abstract)
  assert sum(v.size for v in jax.tree.leaves(variables)) == sum(
    v.size for v in jax.tree.leaves(abstract)
  )
  non_local = arch.model_kwargs['backbone'].get('non_local_location', ((),) * 4)
  assert sum(len(blocks) for blocks in non_local) == sum(
    1 for key in state if key.endswith('conv_theta.weight')
  )


def test_the_reader_refuses_objects_other_than_arrays(tmp_path):
  class Payload:
    def __reduce__(self):
      return (os.getcwd, ())

  path = str(tmp_path / 'evil.pkl')
  with open(path, 'wb') as f:
    pickle.dump({'blobs': {'conv1_w': Payload()}}, f)
  with pytest.raises(torch_checkpoint.ConversionError, match='refused to load posix.getcwd'):
    torch_checkpoint.load_caffe2_blobs(path)
  with open(path, 'wb') as f:
    pickle.dump({'blobs': {}}, f)
  with pytest.raises(torch_checkpoint.ConversionError, match='no Caffe2 blobs'):
    torch_checkpoint.load_caffe2_blobs(path)


def test_the_training_state_is_left_out(tmp_path):
  path = str(tmp_path / 'model.pkl')
  blobs = {'conv1_w': np.ones((2, 3), np.float64), 'conv1_w_momentum': np.ones(2), 'lr': np.ones(1)}
  with open(path, 'wb') as f:
    pickle.dump({'blobs': blobs, 'model_iter': 10}, f, protocol=2)
  loaded = torch_checkpoint.load_caffe2_blobs(path)
  assert list(loaded) == ['conv1_w'] and loaded['conv1_w'].dtype == np.float32


def _caffe2_name(torch_name: str, last_blocks: dict[int, int]) -> str:
  """The Caffe2 blob name of a parameter of PyTorchVideo's AVA SlowFast (written from the
  Caffe2 SlowFast code's naming: 't_' marks the fast pathway, stages count from res2, a
  lateral is named after the fast pathway's last block before it)."""
  bn = {'weight': 's', 'bias': 'b', 'running_mean': 'rm', 'running_var': 'riv'}
  param = {'weight': 'w', 'bias': 'b'}
  if torch_name.startswith('detection_head.proj.'):
    return 'pred_' + param[torch_name.rsplit('.', 1)[1]]
  match = re.fullmatch(
    r'model\.blocks\.(\d)\.multipathway_fusion\.(conv_fast_to_slow|norm)\.(\w+)', torch_name
  )
  if match:
    stage, layer, leaf = int(match[1]), match[2], match[3]
    lateral = (
      't_pool1_subsample'
      if stage == 0
      else (f't_res{stage + 1}_{last_blocks[stage]}_branch2c_bn_subsample')
    )
    return f'{lateral}_bn_{bn[leaf]}' if layer == 'norm' else f'{lateral}_{param[leaf]}'
  match = re.fullmatch(
    r'model\.blocks\.0\.multipathway_blocks\.(\d)\.(conv|norm)\.(\w+)', torch_name
  )
  if match:
    fast = 't_' if match[1] == '1' else ''
    return f'{fast}res_conv1_bn_{bn[match[3]]}' if match[2] == 'norm' else f'{fast}conv1_w'
  match = re.fullmatch(
    r'model\.blocks\.(\d)\.multipathway_blocks\.(\d)\.res_blocks\.(\d+)\.(.+)\.(\w+)', torch_name
  )
  stage, fast, block, layer, leaf = int(match[1]), match[2] == '1', match[3], match[4], match[5]
  prefix = f'{"t_" if fast else ""}res{stage + 1}_{block}_'
  layers = {'branch1_conv': 'branch1', 'branch1_norm': 'branch1_bn'}
  for x in 'abc':
    layers[f'branch2.conv_{x}'] = f'branch2{x}'
    layers[f'branch2.norm_{x}'] = f'branch2{x}_bn'
  name = prefix + layers[layer]
  return f'{name}_{bn[leaf]}' if name.endswith('_bn') else f'{name}_{param[leaf]}'


@pytest.mark.slow
def test_logits_match_through_a_caffe2_pickle(tmp_path, monkeypatch):
  pytest.importorskip('torch')
  test_pytorchvideo = pytest.importorskip('test_pytorchvideo')
  from torch_reference import randomize

  from vidjax.models import ava

  # Depth 14: one block per stage, in vidjax's table and PyTorchVideo's.
  monkeypatch.setitem(slowfast.STAGE_DEPTHS, 14, (1, 1, 1, 1))
  monkeypatch.setitem(test_pytorchvideo.pv_slowfast._MODEL_STAGE_DEPTH, 14, (1, 1, 1, 1))
  size, frames, alpha, num_classes = 64, 8, 4, 10
  torch_model = test_pytorchvideo._detection_model(
    model_depth=14, model_num_class=num_classes, dropout_rate=0.0,
    slowfast_channel_reduction_ratio=4, stem_dim_outs=(16, 4),
    slowfast_fusion_conv_kernel_size=(7, 1, 1),
    head_pool_kernel_sizes=((frames // alpha, 1, 1), (frames, 1, 1)), head_activation=None,
  )  # fmt: skip
  randomize(torch_model)
  torch_model.eval().double()
  blobs = {
    _caffe2_name(k, last_blocks={1: 0, 2: 0, 3: 0}): v.double().numpy()
    for k, v in torch_model.state_dict().items()
    if 'num_batches' not in k
  }
  blobs['conv1_w_momentum'] = np.zeros_like(blobs['conv1_w'])
  path = str(tmp_path / 'SLOWFAST_TINY.pkl')
  with open(path, 'wb') as f:
    pickle.dump({'blobs': blobs}, f, protocol=2)
  arch = dataclasses.replace(
    pyslowfast.ARCHS['slowfast_32x2_r50_ava'],
    model_kwargs=dict(
      backbone=dict(
        model_name='slowfast',
        depth=14,
        variant='8x8',
        width=16,
        beta_inv=4,
        res5_dilation=2,
        fusion_kernel=7,
        lowering='native',
      ),
      num_classes=num_classes,
      head='linear',
      context_maps=2,
    ),  # fmt: skip
    input_shape=(frames, size, size, 3),
    module_maps=functools.partial(pyslowfast.module_maps, 14, 'slowfast', ((),) * 4),
  )
  monkeypatch.setitem(pyslowfast.ARCHS, 'tiny', arch)
  _, variables = torch_checkpoint.convert_file('pyslowfast', 'tiny', path)

  inputs, expected = test_pytorchvideo.detection_case(torch_model, frames, size, alpha)
  model = ava.Model(**arch.model_kwargs)
  logits, _ = jax.jit(lambda v: model.apply(v, inputs, train=False))(variables)
  assert np.abs(expected).max() > 0.1
  np.testing.assert_allclose(np.asarray(logits)[inputs['box_mask']], expected, atol=1e-4)
