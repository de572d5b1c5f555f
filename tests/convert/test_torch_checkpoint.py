"""The torch checkpoint reader and converter: safe loading, wrappers, errors, the CLI tool.

A tiny PyTorchVideo X3D (depth factor 0.5, width 4) is the checkpoint throughout; its
conversion is only compared leaf by leaf here (logit parity: test_pytorchvideo.py).
"""

import functools
import importlib.util
import json
import os

import jax
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from torch_reference import import_pytorchvideo_models, randomize  # noqa: E402

from vidjax import checkpoint  # noqa: E402
from vidjax.convert import pytorchvideo, torch_checkpoint  # noqa: E402

import_pytorchvideo_models()
from pytorchvideo.models.x3d import create_x3d  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tools', 'convert_checkpoint.py')

TINY_X3D = torch_checkpoint.Arch(
  'x3d',
  dict(num_classes=10, variant='xs', width=4, depth_factor=0.5, head_features=32),
  (4, 64, 64, 3),
  functools.partial(pytorchvideo.x3d_module_maps, 0.5),
)


@pytest.fixture(scope='module')
def state_dict():
  """The randomised state dict of the PyTorchVideo network TINY_X3D describes."""
  model = create_x3d(
    input_clip_length=4, input_crop_size=64, model_num_class=10, depth_factor=0.5,
    stem_dim_in=4, head_dim_out=32,
  )  # fmt: skip
  randomize(model)
  return model.state_dict()


@pytest.fixture
def tiny_arch(monkeypatch):
  """Registers TINY_X3D as the pytorchvideo arch 'tiny_x3d'."""
  monkeypatch.setitem(pytorchvideo.ARCHS, 'tiny_x3d', TINY_X3D)
  return 'tiny_x3d'


def _save(tmp_path, obj, name='model.pyth') -> str:
  path = str(tmp_path / name)
  torch.save(obj, path)
  return path


def _assert_converted(variables, state_dict):
  """Spot-checks the layout changes: conv kernel, linear kernel and BN statistics."""
  params, stats = variables['params'], variables['batch_stats']
  np.testing.assert_array_equal(
    params['blocks_0_conv_xy']['kernel'],
    state_dict['blocks.0.conv.conv_t.weight'].numpy().transpose(2, 3, 4, 1, 0),
  )
  np.testing.assert_array_equal(
    params['blocks_5_proj']['kernel'], state_dict['blocks.5.proj.weight'].numpy().T
  )
  np.testing.assert_array_equal(
    stats['blocks_0_norm']['var'], state_dict['blocks.0.norm.running_var'].numpy()
  )
  num_weights = sum(v.size for v in jax.tree.leaves(variables))
  assert num_weights == sum(
    v.numel() for k, v in state_dict.items() if not k.endswith('num_batches_tracked')
  )


@pytest.mark.parametrize(
  'wrap',
  [
    lambda sd: sd,
    lambda sd: {'model_state': sd, 'epoch': 196},  # PySlowFast / PyTorchVideo .pyth
    lambda sd: {'state_dict': {f'module.{k}': v for k, v in sd.items()}},  # DataParallel
  ],
  ids=['plain', 'model_state', 'module_prefix'],
)
def test_wrappers_load(wrap, state_dict, tiny_arch, tmp_path):
  path = _save(tmp_path, wrap(state_dict))
  spec, variables = torch_checkpoint.convert_file('pytorchvideo', tiny_arch, path)
  assert spec is TINY_X3D
  _assert_converted(variables, state_dict)


def test_mismatch_names_every_problem(state_dict, tiny_arch, tmp_path):
  bad = dict(state_dict)
  del bad['blocks.5.proj.bias']
  bad['blocks.6.extra.weight'] = torch.zeros(3)
  bad['blocks.0.norm.running_mean'] = torch.zeros(7)
  path = _save(tmp_path, {'model_state': bad})
  with pytest.raises(torch_checkpoint.ConversionError) as error:
    torch_checkpoint.convert_file('pytorchvideo', tiny_arch, path)
  message = str(error.value)
  assert path in message and 'tiny_x3d' in message
  assert 'torch key blocks.5.proj.bias missing' in message
  assert 'blocks.6.extra.weight: torch key not used' in message
  assert 'blocks.0.norm.running_mean (7,) -> batch_stats/blocks_0_norm/mean' in message


class _Config:
  """Stands for a training config pickled next to the weights (as some scripts do)."""


def test_pickled_objects_are_refused(state_dict, tiny_arch, tmp_path):
  path = _save(tmp_path, {'model_state': state_dict, 'cfg': _Config()})
  with pytest.raises(torch_checkpoint.ConversionError, match='weights only'):
    torch_checkpoint.load_state_dict(path)


def test_missing_file_and_empty_checkpoint(tmp_path):
  with pytest.raises(FileNotFoundError, match='no_such.pyth'):
    torch_checkpoint.load_state_dict(str(tmp_path / 'no_such.pyth'))
  with pytest.raises(torch_checkpoint.ConversionError, match='no state dict'):
    torch_checkpoint.load_state_dict(_save(tmp_path, {'epoch': 3}))


def test_unknown_source_and_arch():
  with pytest.raises(ValueError, match='--source'):
    torch_checkpoint.find_arch('caffe2', 'x3d_s')
  with pytest.raises(ValueError, match="known: .*'x3d_s'"):
    torch_checkpoint.find_arch('pytorchvideo', 'x3d_xxl')


@functools.cache  # Its absl flags can be defined once per process.
def _load_tool():
  spec = importlib.util.spec_from_file_location('convert_checkpoint_tool', TOOL)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_tool_writes_a_checkpoint_init_from_restores(state_dict, tiny_arch, tmp_path):
  path = _save(tmp_path, {'model_state': state_dict})
  output = str(tmp_path / 'converted')
  description = _load_tool().convert('pytorchvideo', tiny_arch, path, output)
  with open(os.path.join(output, 'arch.json')) as f:
    assert json.load(f) == description
  assert description['model_name'] == 'x3d' and description['model'] == TINY_X3D.model_kwargs

  _, abstract = torch_checkpoint.build_model(TINY_X3D)
  fresh = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), abstract)
  restored = checkpoint.restore_variables(output, fresh)
  _, expected = torch_checkpoint.convert_file('pytorchvideo', tiny_arch, path)
  assert set(restored) == {'params', 'batch_stats'}
  jax.tree.map(np.testing.assert_array_equal, restored, expected)


def test_another_label_set_converts_with_num_classes(state_dict, tiny_arch, monkeypatch, tmp_path):
  # TINY_X3D's name implies 7 classes here; the checkpoint's classifier has 10.
  seven = torch_checkpoint.with_num_classes(TINY_X3D, 7)
  monkeypatch.setitem(pytorchvideo.ARCHS, 'tiny_x3d_7', seven)
  path = _save(tmp_path, state_dict)
  with pytest.raises(torch_checkpoint.ConversionError, match='--num_classes=10'):
    torch_checkpoint.convert_file('pytorchvideo', 'tiny_x3d_7', path)

  output = str(tmp_path / 'converted')
  description = _load_tool().convert('pytorchvideo', 'tiny_x3d_7', path, output, num_classes=10)
  assert description['model'] == {**seven.model_kwargs, 'num_classes': 10}
  # The same variables as converting under the arch whose name implies 10 classes.
  _, expected = torch_checkpoint.convert_file('pytorchvideo', tiny_arch, path)
  _, abstract = torch_checkpoint.build_model(TINY_X3D)
  restored = checkpoint.restore_variables(
    output, jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), abstract)
  )
  jax.tree.map(np.testing.assert_array_equal, restored, expected)


def test_num_classes_must_be_positive():
  with pytest.raises(ValueError, match='--num_classes=0'):
    torch_checkpoint.with_num_classes(TINY_X3D, 0)
