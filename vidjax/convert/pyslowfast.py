"""PySlowFast's AVA models (facebookresearch/SlowFast MODEL_ZOO) -> `vidjax.models.ava`.

  python tools/convert_checkpoint.py --source pyslowfast --arch slowfast_32x2_r101_nl_ava \
      --input SLOWFAST_32x2_R101_50_50.pkl --output ~/checkpoints/pyslowfast_r101_ava

PySlowFast publishes its AVA detectors as Caffe2 pickles (`.pkl`: {'blobs': {name: array}},
written by the Caffe2 code the SlowFast paper trained with); PySlowFast reads them with
`CHECKPOINT_TYPE: caffe2`, renaming each blob to its PyTorch module's name. Here a `.pkl`
is read without running pickled code (numpy arrays only,
`torch_checkpoint.load_caffe2_blobs`), its blobs get the names PySlowFast gives them
(`pyslowfast_name`), and PySlowFast's module names are mapped onto vidjax's
(`module_maps`); a `.pyth` / `.pth` in PySlowFast's own names is read the same way, without
the renaming.

Architectures (`ARCHS`), from the model zoo's configs (configs/AVA/c2/):

  slow_4x16_r50_ava          SLOW_8x8_R50.yaml: Slow-only R50, 4 frames every 16
  slowfast_32x2_r50_ava      SLOWFAST_32x2_R50.yaml: SlowFast R50, laterals of kernel 7
  slowfast_32x2_r101_nl_ava  SLOWFAST_32x2_R101_50_50[_v2.1].yaml: SlowFast R101, temporal
                             kernels in the first 6 res4 blocks, non-local blocks after
                             res4 blocks 6, 13 and 20 of the slow pathway
  slowfast_64x2_r101_nl_ava  SLOWFAST_64x2_R101_50_50.yaml: the same on 64 frames

All of them: res5 dilated (output stride 16), the RoI head on 256-pixel test frames
(RoIAlign 7 x 7 with `aligned=False`, max-pooled; dropout 0.5; 80 classes with sigmoid
scores: evaluate with `task_kwargs.pose_classes=0`), the R101s' non-local blocks in the
'dot_product' instantiation with (2, 2, 2) pooling, and PySlowFast's default
normalisation (mean 0.45, std 0.225 on [0, 1] RGB; `AVA.BGR: False`), which is
`config.input.pp`'s default.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from vidjax.convert.torch_checkpoint import Arch, ModuleMap
from vidjax.models import slowfast

Maps = dict[tuple[str, ...], ModuleMap]
NUM_CLASSES = 80  # AVA's full label map; the evaluation scores its 60 classes
# Caffe2's BatchNorm blobs: scale, bias, running mean and running variance (Caffe2 names
# the last one 'riv', but it holds the variance: PySlowFast loads it as running_var).
_BN_PARAMS = {'s': 'weight', 'b': 'bias', 'rm': 'running_mean', 'riv': 'running_var'}
_PARAMS = {'w': 'weight', 'b': 'bias'}


def _pathway(fast_prefix: str | None) -> int:
  return 1 if fast_prefix else 0


def _bn(module: str, suffix: str) -> str:
  return f'{module}.{_BN_PARAMS[suffix]}'


# (pattern, the PySlowFast name of a match). Caffe2 prefixes the fast pathway's blobs
# with 't_'; a lateral connection is named after the last fast block before it.
_BN = r'(?P<bn>s|b|rm|riv)'
_PARAM = r'(?P<param>w|b)'
_RULES = (
  (
    rf'nonlocal_conv(?P<stage>\d+)_(?P<block>\d+)_bn_{_BN}',
    lambda m: _bn(f's{m["stage"]}.pathway0_nonlocal{m["block"]}.bn', m['bn']),
  ),
  (
    rf'nonlocal_conv(?P<stage>\d+)_(?P<block>\d+)_(?P<conv>theta|phi|g|out)_{_PARAM}',
    lambda m: (
      f's{m["stage"]}.pathway0_nonlocal{m["block"]}.conv_{m["conv"]}.' + _PARAMS[m['param']]
    ),
  ),
  (rf't_pool1_subsample_bn_{_BN}', lambda m: _bn('s1_fuse.bn', m['bn'])),
  (rf't_pool1_subsample_{_PARAM}', lambda m: f's1_fuse.conv_f2s.{_PARAMS[m["param"]]}'),
  (
    rf't_res(?P<stage>\d+)_\d+_branch2c_bn_subsample_bn_{_BN}',
    lambda m: _bn(f's{m["stage"]}_fuse.bn', m['bn']),
  ),
  (
    rf't_res(?P<stage>\d+)_\d+_branch2c_bn_subsample_{_PARAM}',
    lambda m: f's{m["stage"]}_fuse.conv_f2s.{_PARAMS[m["param"]]}',
  ),
  (
    rf'(?P<fast>t_)?res(?P<stage>\d+)_(?P<block>\d+)_branch2(?P<layer>[abc])_bn_{_BN}',
    lambda m: _bn(
      f's{m["stage"]}.pathway{_pathway(m["fast"])}_res{m["block"]}.branch2.{m["layer"]}_bn',
      m['bn'],
    ),
  ),
  (
    rf'(?P<fast>t_)?res(?P<stage>\d+)_(?P<block>\d+)_branch2(?P<layer>[abc])_{_PARAM}',
    lambda m: (
      f's{m["stage"]}.pathway{_pathway(m["fast"])}_res{m["block"]}.branch2.'
      f'{m["layer"]}.{_PARAMS[m["param"]]}'
    ),
  ),
  (
    rf'(?P<fast>t_)?res(?P<stage>\d+)_(?P<block>\d+)_branch1_bn_{_BN}',
    lambda m: _bn(
      f's{m["stage"]}.pathway{_pathway(m["fast"])}_res{m["block"]}.branch1_bn', m['bn']
    ),
  ),
  (
    rf'(?P<fast>t_)?res(?P<stage>\d+)_(?P<block>\d+)_branch1_{_PARAM}',
    lambda m: (
      f's{m["stage"]}.pathway{_pathway(m["fast"])}_res{m["block"]}.branch1.' + _PARAMS[m['param']]
    ),
  ),
  (
    rf'(?P<fast>t_)?res_conv1_bn_{_BN}',
    lambda m: _bn(f's1.pathway{_pathway(m["fast"])}_stem.bn', m['bn']),
  ),
  (
    rf'(?P<fast>t_)?(res_)?conv1_{_PARAM}',
    lambda m: f's1.pathway{_pathway(m["fast"])}_stem.conv.{_PARAMS[m["param"]]}',
  ),
  (rf'pred_{_PARAM}', lambda m: f'head.projection.{_PARAMS[m["param"]]}'),
)


def pyslowfast_name(blob: str) -> str:
  """The PySlowFast parameter name of a Caffe2 blob ('t_res4_5_branch2a_bn_riv' ->
  's4.pathway1_res5.branch2.a_bn.running_var'); a blob no rule knows keeps its name, so
  that the conversion names it as unused."""
  for pattern, name in _RULES:
    match = re.fullmatch(pattern, blob)
    if match:
      return name(match)
  return blob


def _stage_path(pathway: str, p: int, s: int) -> tuple[str, ...]:
  """The flax path of pathway p's stage s (0: the stem, 1-4: res2-res5)."""
  if pathway == 'slow':
    return ('backbone', f'blocks_{s}')
  return ('backbone', f'blocks_{s}', f'multipathway_blocks_{p}')


def _pathway_maps(pathway: str, p: int, depth: int) -> Maps:
  """The stem and the res2-res5 blocks of pathway p."""
  stem = _stage_path(pathway, p, 0)
  maps = {
    (*stem, 'conv'): ModuleMap(f's1.pathway{p}_stem.conv', 'conv'),
    (*stem, 'norm'): ModuleMap(f's1.pathway{p}_stem.bn', 'bn'),
  }
  for s, stage_depth in enumerate(slowfast.STAGE_DEPTHS[depth], start=1):
    for b in range(stage_depth):
      block = (*_stage_path(pathway, p, s), f'res_blocks_{b}')
      torch = f's{s + 1}.pathway{p}_res{b}'
      for layer in ('a', 'b', 'c'):
        maps[(*block, 'branch2', f'conv_{layer}')] = ModuleMap(f'{torch}.branch2.{layer}', 'conv')
        maps[(*block, 'branch2', f'norm_{layer}')] = ModuleMap(f'{torch}.branch2.{layer}_bn', 'bn')
      if b == 0:
        maps[(*block, 'branch1_conv')] = ModuleMap(f'{torch}.branch1', 'conv')
        maps[(*block, 'branch1_norm')] = ModuleMap(f'{torch}.branch1_bn', 'bn')
  return maps


def module_maps(depth: int, pathway: str, non_local_location: tuple) -> Maps:
  """`vidjax.models.ava.Model` (a SlowFast or Slow-only backbone, the linear head) <-
  PySlowFast's SlowFast / ResNet with `ResNetRoIHead`."""
  maps = {}
  for p in range(1 if pathway == 'slow' else 2):
    maps |= _pathway_maps(pathway, p, depth)
  if pathway == 'slowfast':
    for s in range(4):  # the laterals after the stem and res2-res4
      fusion = ('backbone', f'blocks_{s}', 'multipathway_fusion')
      maps[(*fusion, 'conv_fast_to_slow')] = ModuleMap(f's{s + 1}_fuse.conv_f2s', 'conv')
      maps[(*fusion, 'norm')] = ModuleMap(f's{s + 1}_fuse.bn', 'bn')
  # Non-local blocks follow the listed blocks of the slow pathway.
  for s, blocks in enumerate(non_local_location, start=1):
    for b in blocks:
      flax, torch = (
        (*_stage_path(pathway, 0, s), f'non_local_{b}'),
        f's{s + 1}.pathway0_nonlocal{b}',
      )
      for conv in ('conv_theta', 'conv_phi', 'conv_g', 'conv_out'):
        maps[(*flax, conv)] = ModuleMap(f'{torch}.{conv}', 'conv')
      maps[(*flax, 'bn')] = ModuleMap(f'{torch}.bn', 'bn')
  maps[('head', 'fc')] = ModuleMap('head.projection', 'linear')
  return maps


def rename(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """A checkpoint's names as PySlowFast's modules have them: Caffe2 blobs renamed,
  PySlowFast's own names kept."""
  return {pyslowfast_name(name): value for name, value in state.items()}


def _arch(depth: int, variant: str, pathway: str = 'slowfast', **backbone) -> Arch:
  frames, alpha = slowfast.VARIANTS[variant]
  backbone = dict(
    model_name='slowfast',
    depth=depth,
    variant=variant,
    pathway=pathway,
    res5_dilation=2,
    **backbone,
  )
  return Arch(
    'ava',
    {
      'backbone': backbone,
      'num_classes': NUM_CLASSES,
      'head': 'linear',
      'context_maps': 1 if pathway == 'slow' else 2,
      'head_config': dict(dropout_rate=0.5),
    },
    (frames if pathway == 'slow' else frames * alpha, 256, 256, 3),
    functools.partial(
      module_maps, depth, pathway, backbone.get('non_local_location', ((), (), (), ()))
    ),
    rename=rename,
    extra_inputs={'boxes': (1, 4), 'box_mask': (1,)},
  )


# res4's first 6 blocks with temporal kernels ('50_50'), non-local after 6, 13 and 20.
_R101_NL = dict(
  res4_temporal_blocks=6,
  non_local_location=((), (), (6, 13, 20), ()),
  non_local_pool=(2, 2, 2),
  non_local_instantiation='dot_product',
)

ARCHS = {
  'slow_4x16_r50_ava': _arch(50, '4x16', pathway='slow'),
  'slowfast_32x2_r50_ava': _arch(50, '8x8', fusion_kernel=7),
  'slowfast_32x2_r101_nl_ava': _arch(101, '8x8', fusion_kernel=5, **_R101_NL),
  'slowfast_64x2_r101_nl_ava': _arch(101, '16x8', fusion_kernel=5, **_R101_NL),
}
