"""facebookresearch/VMZ PyTorch checkpoints -> `vidjax.models.video_resnet` / `csn`.

VMZ's PyTorch models (pt/vmz/models) are torchvision VideoResNets with three differences
that the vidjax models take as arguments: BatchNorm epsilon 1e-3 (Caffe2's), the (2+1)D mid
width computed per convolution (`midplanes_rule='conv'`; torchvision computes it per block),
and a max-pool after the stem of the 152-layer models (`use_pool1`). ip-CSN's
IPConv3DDepthwise is 1x1x1 conv, BN (no ReLU), depthwise 3x3x3.

Architectures (`ARCHS`) are named by VMZ's checkpoint names (its `model_urls`); the name
fixes the classifier's width:

  r2plus1d_34_{8,32}_{ig65m,kinetics}         R(2+1)D-34, ig65m-pytorch's conversions
  {r2plus1d,ir_csn,ip_csn}_152_{pretraining}  pretraining: ig65m_32frms, sports1m_32frms,
                                              ig_ft_kinetics_32frms, sports1m_ft_kinetics_32frms

Class counts: Kinetics 400, Sports-1M 487; IG-65M 487 for the 8-frame and 359 for the
32-frame R(2+1)D-34 (the counts ig65m-pytorch's hub entry points assert and its CI converts
with; its README had them swapped until its PR #31); 359 (IG-Kinetics' hashtags) for the
152-layer IG-65M models, which no public source states. A checkpoint with another class
count is refused with the shape of `fc` named and the `--num_classes` that converts it.
"""

import functools

from vidjax.convert.torch_checkpoint import Arch, ModuleMap
from vidjax.convert.torchvision import torch_reference, video_resnet_module_maps
from vidjax.models import csn

Maps = dict[tuple[str, ...], ModuleMap]

BN_EPSILON = 1e-3

# R(2+1)D-34 checkpoint suffix -> (frames, classes).
R2PLUS1D_34_CHECKPOINTS = {
  '8_ig65m': (8, 487),
  '32_ig65m': (32, 359),
  '8_kinetics': (8, 400),
  '32_kinetics': (32, 400),
}

# Pretraining of the 152-layer checkpoints (32 frames of 224x224) -> classes.
PRETRAININGS_152 = {
  'ig65m_32frms': 359,
  'ig_ft_kinetics_32frms': 400,
  'sports1m_32frms': 487,
  'sports1m_ft_kinetics_32frms': 400,
}


def csn_module_maps(depth: int, variant: str) -> Maps:
  """`csn.Model(depth=depth, variant=variant)` <- VMZ's ir_csn / ip_csn state dict.

  VMZ's CSNs are VideoResNets with torchvision's Bottleneck (conv{1,2,3} = Sequential(conv,
  BN[, ReLU])) whose conv2 is Conv3DDepthwise (ir) or IPConv3DDepthwise (ip: Sequential(1x1x1
  conv, BN, depthwise conv)).
  """
  maps = {
    ('blocks_0', 'conv'): ModuleMap('stem.0', 'conv'),
    ('blocks_0', 'norm'): ModuleMap('stem.1', 'bn'),
  }
  for s, num_blocks in enumerate(csn.STAGE_DEPTHS[depth]):
    for b in range(num_blocks):
      flax, torch = (f'blocks_{s + 1}', f'res_blocks_{b}'), f'layer{s + 1}.{b}'
      branch2 = (*flax, 'branch2')
      maps[(*branch2, 'conv_a')] = ModuleMap(f'{torch}.conv1.0', 'conv')
      maps[(*branch2, 'norm_a')] = ModuleMap(f'{torch}.conv1.1', 'bn')
      if variant == 'ip':
        maps[(*branch2, 'conv_b_pw')] = ModuleMap(f'{torch}.conv2.0.0', 'conv')
        maps[(*branch2, 'norm_b_pw')] = ModuleMap(f'{torch}.conv2.0.1', 'bn')
        maps[(*branch2, 'conv_b')] = ModuleMap(f'{torch}.conv2.0.2', 'conv')
      else:
        maps[(*branch2, 'conv_b')] = ModuleMap(f'{torch}.conv2.0', 'conv')
      maps[(*branch2, 'norm_b')] = ModuleMap(f'{torch}.conv2.1', 'bn')
      maps[(*branch2, 'conv_c')] = ModuleMap(f'{torch}.conv3.0', 'conv')
      maps[(*branch2, 'norm_c')] = ModuleMap(f'{torch}.conv3.1', 'bn')
      if b == 0:  # Every stage's first block changes the width.
        maps[(*flax, 'branch1_conv')] = ModuleMap(f'{torch}.downsample.0', 'conv')
        maps[(*flax, 'branch1_norm')] = ModuleMap(f'{torch}.downsample.1', 'bn')
  maps[('blocks_5_proj',)] = ModuleMap('fc', 'linear')
  return maps


def r2plus1d_kwargs(depth: int, num_classes: int) -> dict:
  """`video_resnet.Model` kwargs of VMZ's r2plus1d_34 (no stem pool) / r2plus1d_152 (pool)."""
  return {
    'num_classes': num_classes,
    'depth': depth,
    'block': 'r2plus1d',
    'midplanes_rule': 'conv',
    'stem_pool': depth == 152,
    'bn_epsilon': BN_EPSILON,
  }


def csn_kwargs(variant: str, num_classes: int) -> dict:
  """`csn.Model` kwargs of VMZ's ir_csn_152 / ip_csn_152."""
  return {'num_classes': num_classes, 'depth': 152, 'variant': variant, 'bn_epsilon': BN_EPSILON}


def _archs() -> dict[str, Arch]:
  archs = {}
  for suffix, (frames, classes) in R2PLUS1D_34_CHECKPOINTS.items():
    archs[f'r2plus1d_34_{suffix}'] = Arch(
      'video_resnet',
      r2plus1d_kwargs(34, classes),
      (frames, 112, 112, 3),
      functools.partial(video_resnet_module_maps, 34, 'r2plus1d'),
      torch_model=functools.partial(torch_reference, 'r2plus1d_34', num_classes=classes),
    )
  for pretraining, classes in PRETRAININGS_152.items():
    archs[f'r2plus1d_152_{pretraining}'] = Arch(
      'video_resnet',
      r2plus1d_kwargs(152, classes),
      (32, 224, 224, 3),
      functools.partial(video_resnet_module_maps, 152, 'r2plus1d'),
      torch_model=functools.partial(torch_reference, 'r2plus1d_152', num_classes=classes),
    )
    for variant in csn.VARIANTS:
      archs[f'{variant}_csn_152_{pretraining}'] = Arch(
        'csn',
        csn_kwargs(variant, classes),
        (32, 224, 224, 3),
        functools.partial(csn_module_maps, 152, variant),
        torch_model=functools.partial(torch_reference, f'{variant}_csn_152', num_classes=classes),
      )
  return archs


ARCHS: dict[str, Arch] = _archs()
