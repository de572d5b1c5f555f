"""PyTorch state dicts (and Caffe2 blob pickles) -> flax variables, without executing
pickled code.

A converter for one architecture family lists, for every flax module that holds
weights, the torch module it comes from and its kind:

  {('stem', 'conv'): ModuleMap('blocks.0.conv.conv_t', 'conv'), ...}

`convert` then moves each weight with the layout change of its kind and checks the
result against the flax model's own shapes (from `jax.eval_shape`, nothing allocated).
Every torch key left over, every flax weight with no source and every shape that does
not match is named in one error, so a wrong architecture or variant is diagnosed at
once instead of by a silent accuracy drop.

Layouts: torch convolutions are [out, in/groups, *kernel], flax [*kernel, in/groups, out];
torch linear layers [out, in], flax Dense [in, out]; BatchNorm weight/bias/running_mean/
running_var become params scale/bias and batch_stats mean/var.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import pickle
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from vidjax import configs, model_size, models

# Keys of containers that PyTorchVideo / PySlowFast / VMZ / torchvision training scripts
# wrap the state dict in, tried in this order.
_CONTAINER_KEYS = ('model_state', 'state_dict', 'model')

# Torch buffers that carry no weights.
_IGNORED_SUFFIXES = ('num_batches_tracked',)

KINDS = ('conv', 'bn', 'linear', 'layer_norm', 'tensor')


@dataclasses.dataclass(frozen=True)
class ModuleMap:
  """The torch module (`prefix`, dotted) that fills one flax module, and its `kind`.

  kind: 'conv' (weight [+ bias]), 'bn' (BatchNorm), 'linear' (weight [+ bias]),
  'layer_norm' (weight, bias), or 'tensor' (the single torch tensor `prefix` itself, for
  flax params such as position embeddings; `name` is the flax param name).
  """

  prefix: str
  kind: str
  name: str = ''

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ValueError(f'ModuleMap kind {self.kind!r}; choose one of {KINDS}.')


@dataclasses.dataclass(frozen=True)
class Arch:
  """A published architecture a source's checkpoints can be converted to.

  Attributes:
    model_name: the vidjax model module (`vidjax.models.<model_name>`).
    model_kwargs: `config.model` for it, the exact variant of the checkpoint.
    input_shape: one example's input [T, H, W, C] (builds the model's shapes only).
    module_maps: returns the flax module path -> torch source table.
    ignore: torch key prefixes the conversion may leave unused.
    torch_model: builds the source's own PyTorch module (random weights), the reference
      of the parity tests and of tools/benchmark.py; None where there is none to import.
    rename: maps the checkpoint's names to those `module_maps` reads, where the source
      saves some under other names (videowalk's reflect-padded convolutions).
    extra_inputs: the model's inputs besides the video, {batch key: shape of one example}
      (an AVA model's 'boxes' and 'box_mask').
    normalisation: {'mean', 'std'} on the [0, 1] scale (`config.input.pp`) the checkpoints
      were trained with, where a source's differ from the Kinetics defaults.
  """

  model_name: str
  model_kwargs: dict[str, Any]
  input_shape: tuple[int, ...]
  module_maps: Callable[[], dict[tuple[str, ...], ModuleMap]]
  ignore: tuple[str, ...] = ()
  torch_model: Callable[[], Any] | None = None
  rename: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None
  extra_inputs: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)
  normalisation: dict[str, tuple[float, ...]] | None = None


class ConversionError(ValueError):
  """The checkpoint does not fit the architecture; the message names every bad key."""


def load_state_dict(path: str) -> dict[str, np.ndarray]:
  """Reads a .pth / .pyth / .pt file into {dotted torch name: float32 numpy array}.

  Uses `torch.load(weights_only=True)`: tensors and plain containers are read, any other
  pickled object is refused, so a checkpoint from the internet cannot run code. Wrappers
  ('model_state' of PySlowFast/PyTorchVideo, 'state_dict', 'model') and the 'module.'
  prefix of DataParallel are removed.
  """
  try:
    import torch
  except ImportError:
    raise ImportError(
      "Reading PyTorch checkpoints needs the [torch] extra: pip install -e '.[torch]'."
    ) from None
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No checkpoint file {path!r}.')
  try:
    # Training scripts also save their argparse.Namespace (videowalk's 'args'): a plain
    # attribute holder, allowed; any other object is still refused.
    with torch.serialization.safe_globals([argparse.Namespace]):
      loaded = torch.load(path, map_location='cpu', weights_only=True)
  except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
    raise ConversionError(
      f'{path}: not a PyTorch checkpoint that can be read safely (weights only): {e}'
    ) from e
  for key in _CONTAINER_KEYS:
    if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
      loaded = loaded[key]
      break
  if not isinstance(loaded, Mapping) or not loaded:
    raise ConversionError(f'{path}: holds no state dict (found {type(loaded).__name__}).')
  state = {}
  for name, value in loaded.items():
    if not isinstance(value, torch.Tensor):
      continue
    name = name.removeprefix('module.')
    if name.endswith(_IGNORED_SUFFIXES):
      continue
    state[name] = value.detach().to(torch.float32).numpy()
  if not state:
    raise ConversionError(
      f'{path}: holds no state dict (no tensors among the keys {sorted(loaded)[:10]}).'
    )
  return state


# Blobs of the Caffe2 training state, not of the network.
_TRAINING_BLOBS = re.compile(r'.*_momentum|lr|model_iter')


class _ArraysOnly(pickle.Unpickler):
  """Unpickles numpy arrays, scalars and plain containers; refuses any other object, so that
  a checkpoint from the internet cannot run code."""

  _ALLOWED = {
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('collections', 'OrderedDict'),
    ('_codecs', 'encode'),  # Python 2 pickles' byte strings
  }

  def find_class(self, module: str, name: str):
    if (module, name) not in self._ALLOWED:
      raise pickle.UnpicklingError(f'refused to load {module}.{name}: not a numpy array')
    return super().find_class(module, name)


def load_caffe2_blobs(path: str) -> dict[str, np.ndarray]:
  """A Caffe2 `.pkl` checkpoint ({'blobs': {name: array}}, as the Caffe2 video codebases
  saved them) -> {blob name: float32 array}, without the training state's blobs (momenta,
  learning rate, iteration). Only numpy arrays and plain containers are unpickled."""
  try:
    with open(path, 'rb') as f:
      loaded = _ArraysOnly(f, encoding='latin1').load()
  except FileNotFoundError:
    raise FileNotFoundError(f'No checkpoint file {path!r}.') from None
  except Exception as e:  # UnpicklingError, EOFError, ValueError, ...
    raise ConversionError(f'{path}: not a Caffe2 checkpoint that can be read safely: {e}') from e
  blobs = loaded.get('blobs', loaded) if isinstance(loaded, dict) else None
  if not isinstance(blobs, dict) or not blobs:
    raise ConversionError(f'{path}: holds no Caffe2 blobs (found {type(loaded).__name__}).')
  return {
    name: np.asarray(value, np.float32)
    for name, value in blobs.items()
    if isinstance(value, np.ndarray) and not _TRAINING_BLOBS.fullmatch(name)
  }


def load_checkpoint(path: str) -> dict[str, np.ndarray]:
  """A checkpoint's weights by name: a Caffe2 `.pkl` (`load_caffe2_blobs`), else a PyTorch
  file (`load_state_dict`)."""
  return load_caffe2_blobs(path) if path.endswith('.pkl') else load_state_dict(path)


def _conv_kernel(weight: np.ndarray) -> np.ndarray:
  # [out, in, *kernel] -> [*kernel, in, out]
  return np.transpose(weight, (*range(2, weight.ndim), 1, 0))


def _moves(module_path: tuple[str, ...], source: ModuleMap) -> list[tuple[str, tuple, str]]:
  """(torch key, flax (collection, *path), layout) for every weight of one module."""
  p, params, stats = source.prefix, ('params', *module_path), ('batch_stats', *module_path)
  if source.kind == 'conv':
    return [(f'{p}.weight', (*params, 'kernel'), 'conv'), (f'{p}.bias', (*params, 'bias'), '')]
  if source.kind == 'linear':
    return [(f'{p}.weight', (*params, 'kernel'), 'linear'), (f'{p}.bias', (*params, 'bias'), '')]
  if source.kind == 'bn':
    return [
      (f'{p}.weight', (*params, 'scale'), ''),
      (f'{p}.bias', (*params, 'bias'), ''),
      (f'{p}.running_mean', (*stats, 'mean'), ''),
      (f'{p}.running_var', (*stats, 'var'), ''),
    ]
  if source.kind == 'layer_norm':
    return [(f'{p}.weight', (*params, 'scale'), ''), (f'{p}.bias', (*params, 'bias'), '')]
  return [(p, (*params, source.name), '')]


def convert(
  state_dict: Mapping[str, np.ndarray],
  module_maps: Mapping[tuple[str, ...], ModuleMap],
  abstract_variables: Mapping,
  *,
  ignore: Iterable[str] = (),
) -> dict:
  """Builds flax variables {'params': ..., 'batch_stats': ...} from a torch state dict.

  Args:
    state_dict: from `load_state_dict`.
    module_maps: flax module path (tuple of names under 'params') -> its torch source.
    abstract_variables: the model's variables, e.g. `jax.eval_shape(model.init, ...)`;
      only shapes are read.
    ignore: torch key prefixes that are allowed to stay unused (e.g. an auxiliary head).

  Raises:
    ConversionError: naming every torch key left over, every flax weight without a
      source and every shape mismatch.
  """
  expected = {
    path: leaf.shape
    for path, leaf in traverse_util.flatten_dict(dict(abstract_variables)).items()
    if path[0] in ('params', 'batch_stats')
  }
  flat, used, problems = {}, set(), []
  for module_path, source in module_maps.items():
    for torch_key, flax_path, layout in _moves(tuple(module_path), source):
      if flax_path not in expected:
        # An optional weight (a conv bias) absent on both sides is fine.
        if torch_key in state_dict:
          problems.append(f'{torch_key}: no flax weight {"/".join(flax_path)} to receive it')
        continue
      if torch_key not in state_dict:
        problems.append(f'{"/".join(flax_path)}: torch key {torch_key} missing')
        continue
      value = state_dict[torch_key]
      if layout == 'conv':
        value = _conv_kernel(value)
      elif layout == 'linear':
        value = value.T
      if value.shape != expected[flax_path]:
        problems.append(
          f'{torch_key} {tuple(state_dict[torch_key].shape)} -> {"/".join(flax_path)}: '
          f'expected {expected[flax_path]}, got {value.shape} after the layout change'
        )
        continue
      flat[flax_path] = np.ascontiguousarray(value, np.float32)
      used.add(torch_key)
  ignore = tuple(ignore)
  unused = sorted(k for k in state_dict if k not in used and not k.startswith(ignore or ('\0',)))
  problems += [f'{k}: torch key not used by any flax weight' for k in unused]
  problems += [
    f'{"/".join(path)}: flax weight has no torch source' for path in expected if path not in flat
  ]
  if problems:
    problems = _classifier_hints(state_dict, module_maps, expected) + problems
    shown = '\n  '.join(problems[:60])
    more = f'\n  ... and {len(problems) - 60} more' if len(problems) > 60 else ''
    raise ConversionError(
      f'The checkpoint does not match the architecture ({len(problems)} problems); check '
      f'--arch and the variant:\n  {shown}{more}'
    )
  return traverse_util.unflatten_dict(flat)


def _classifier_hints(
  state_dict: Mapping[str, np.ndarray],
  module_maps: Mapping[tuple[str, ...], ModuleMap],
  expected: Mapping[tuple[str, ...], tuple[int, ...]],
) -> list[str]:
  """For a linear layer that differs only in its output width, the class count that fits.

  A checkpoint fine-tuned on another label set is the usual cause, and `with_num_classes`
  (tools/convert_checkpoint.py --num_classes) converts it.
  """
  hints = []
  for module_path, source in module_maps.items():
    torch_key, flax_path = f'{source.prefix}.weight', ('params', *module_path, 'kernel')
    if source.kind != 'linear' or torch_key not in state_dict or flax_path not in expected:
      continue
    if len(state_dict[torch_key].shape) != 2:
      continue
    (out, in_), (flax_in, flax_out) = state_dict[torch_key].shape, expected[flax_path]
    if in_ == flax_in and out != flax_out:
      hints.append(
        f'{torch_key} has {out} outputs where the architecture has {flax_out}; if it is the '
        f'classifier of another label set, convert with num_classes={out} '
        f'(tools/convert_checkpoint.py --num_classes={out})'
      )
  return hints


SOURCES = ('acar', 'hrnet', 'pyslowfast', 'pytorchvideo', 'torchvision', 'videowalk', 'vmz')


def source_archs(source: str) -> dict[str, Arch]:
  """The architectures `source` has checkpoints of: `vidjax.convert.<source>.ARCHS`."""
  if source not in SOURCES:
    raise ValueError(f'--source={source!r}; choose one of {SOURCES}.')
  return importlib.import_module(f'vidjax.convert.{source}').ARCHS


def find_arch(source: str, arch: str) -> Arch:
  """The `Arch` named `arch` of `source`; an unknown name lists the known ones."""
  archs = source_archs(source)
  if arch not in archs:
    raise ValueError(f'--arch={arch!r} is not a {source} architecture; known: {sorted(archs)}.')
  return archs[arch]


def with_num_classes(arch: Arch, num_classes: int) -> Arch:
  """`arch` with a classifier of `num_classes` outputs (a checkpoint fine-tuned elsewhere)."""
  if num_classes < 1:
    raise ValueError(f'--num_classes={num_classes}: the classifier needs at least one class.')
  return dataclasses.replace(arch, model_kwargs={**arch.model_kwargs, 'num_classes': num_classes})


def build_model(arch: Arch):
  """(flax model, abstract variables) of `arch`; nothing is allocated."""
  model = configs.load_module('models', arch.model_name).Model(**arch.model_kwargs)
  shapes = {'video': arch.input_shape, **arch.extra_inputs}
  inputs = models.model_inputs(
    model, {key: jax.ShapeDtypeStruct((1, *shape), jnp.float32) for key, shape in shapes.items()}
  )
  return model, model_size.abstract_variables(model, inputs)


def convert_file(
  source: str, arch: str, path: str, num_classes: int | None = None
) -> tuple[Arch, dict]:
  """Reads the torch checkpoint at `path` as `source`'s `arch`: (Arch, flax variables).

  `num_classes` replaces the class count the arch's name implies.
  """
  spec = find_arch(source, arch)
  if num_classes is not None:
    spec = with_num_classes(spec, num_classes)
  _, abstract = build_model(spec)
  try:
    state = load_checkpoint(path)
    if spec.rename:
      state = spec.rename(state)
    variables = convert(state, spec.module_maps(), abstract, ignore=spec.ignore)
  except ConversionError as e:
    raise ConversionError(f'{path} as {source} {arch}: {e}') from None
  return spec, variables
