"""torchvision checkpoints -> `vidjax.models.video_resnet` and `vidjax.models.single_frame`.

Architectures (`ARCHS`): torchvision.models.video's Kinetics-400 classifiers, trained on
16x112x112 clips,

  r3d_18        torchvision r3d_18        r3d_18-b3b3357e.pth
  mc3_18        torchvision mc3_18        mc3_18-a90a0ba3.pth
  r2plus1d_18   torchvision r2plus1d_18   r2plus1d_18-91a641e6.pth

and torchvision.models' ImageNet classifiers (224x224 images), as `single_frame` models,
which classify images and every frame of a clip (DistInit's teachers, 2D -> 3D inflation):

  resnet18      torchvision resnet18      resnet18-f37072fd.pth
  resnet50      torchvision resnet50      resnet50-11ad3fa6.pth (IMAGENET1K_V2) or
                                          resnet50-0676ba61.pth (IMAGENET1K_V1)

The module table is generated from the stage sizes and the convolution kinds, so it serves
every depth and `block` of `video_resnet`, and VMZ's R(2+1)D checkpoints (`vidjax.convert.vmz`),
which are torchvision VideoResNets too. See `video_resnet`'s docstring for the name mapping.
"""

import functools

from vidjax.convert.torch_checkpoint import Arch, ModuleMap
from vidjax.models import video_resnet
from vidjax.models.resnet import BASIC_STAGE_SIZES, BOTTLENECK_STAGE_SIZES

Maps = dict[tuple[str, ...], ModuleMap]

NUM_CLASSES = 400


def _conv3x3(flax: tuple[str, ...], torch: str, kind: str) -> Maps:
  """A 3x3x3-equivalent conv: one Conv3d, or Conv2Plus1D's Sequential (conv, BN, ReLU, conv)."""
  if kind == '2plus1d':
    return {
      (*flax, 'spatial'): ModuleMap(f'{torch}.0', 'conv'),
      (*flax, 'spatial_bn'): ModuleMap(f'{torch}.1', 'bn'),
      (*flax, 'temporal'): ModuleMap(f'{torch}.3', 'conv'),
    }
  return {flax: ModuleMap(torch, 'conv')}


def video_resnet_module_maps(depth: int, block: str) -> Maps:
  """`video_resnet.Model(depth=depth, block=block)` <- torchvision's VideoResNet state dict.

  Each torchvision block holds `conv{i}` = Sequential(conv, BN[, ReLU]): conv1, conv2 in a
  basic block; conv1 (1x1x1), conv2, conv3 (1x1x1) in a bottleneck.
  """
  kinds = video_resnet.BLOCK_CONVS[block]
  if kinds[0] == '2plus1d':
    maps = _conv3x3(('stem',), 'stem', '2plus1d')
    maps[('stem', 'bn')] = ModuleMap('stem.4', 'bn')
  else:
    maps = {
      ('stem', 'conv'): ModuleMap('stem.0', 'conv'),
      ('stem', 'bn'): ModuleMap('stem.1', 'bn'),
    }
  bottleneck = depth in BOTTLENECK_STAGE_SIZES
  stage_sizes = BOTTLENECK_STAGE_SIZES[depth] if bottleneck else BASIC_STAGE_SIZES[depth]
  for s, num_blocks in enumerate(stage_sizes):
    for b in range(num_blocks):
      flax, torch = f'layer{s + 1}_{b}', f'layer{s + 1}.{b}'
      for i in (1, 2, 3) if bottleneck else (1, 2):
        if bottleneck and i != 2:
          maps[(flax, f'conv{i}')] = ModuleMap(f'{torch}.conv{i}.0', 'conv')
        else:
          maps |= _conv3x3((flax, f'conv{i}'), f'{torch}.conv{i}.0', kinds[s + 1])
        maps[(flax, f'bn{i}')] = ModuleMap(f'{torch}.conv{i}.1', 'bn')
      # A stage's first block changes the shape, except stage 1's basic block (64 -> 64).
      if b == 0 and (s > 0 or bottleneck):
        maps[(flax, 'downsample_conv')] = ModuleMap(f'{torch}.downsample.0', 'conv')
        maps[(flax, 'downsample_bn')] = ModuleMap(f'{torch}.downsample.1', 'bn')
  maps[('fc',)] = ModuleMap('fc', 'linear')
  return maps


def resnet_module_maps(depth: int) -> Maps:
  """`single_frame.Model(depth=depth)` <- torchvision's 2D ResNet state dict (the trunk is
  the flax module 'resnet'; see `vidjax.models.resnet.ResNet2D`)."""
  maps = {
    ('resnet', 'conv1'): ModuleMap('conv1', 'conv'),
    ('resnet', 'bn1'): ModuleMap('bn1', 'bn'),
  }
  bottleneck = depth in BOTTLENECK_STAGE_SIZES
  stage_sizes = BOTTLENECK_STAGE_SIZES[depth] if bottleneck else BASIC_STAGE_SIZES[depth]
  for s, num_blocks in enumerate(stage_sizes):
    for b in range(num_blocks):
      flax, torch = ('resnet', f'layer{s + 1}_{b}'), f'layer{s + 1}.{b}'
      for i in (1, 2, 3) if bottleneck else (1, 2):
        maps[(*flax, f'conv{i}')] = ModuleMap(f'{torch}.conv{i}', 'conv')
        maps[(*flax, f'bn{i}')] = ModuleMap(f'{torch}.bn{i}', 'bn')
      if b == 0 and (s > 0 or bottleneck):
        maps[(*flax, 'downsample_conv')] = ModuleMap(f'{torch}.downsample.0', 'conv')
        maps[(*flax, 'downsample_bn')] = ModuleMap(f'{torch}.downsample.1', 'bn')
  maps[('fc',)] = ModuleMap('fc', 'linear')
  return maps


def _image_arch(depth: int) -> Arch:
  # The 2D reference (vidjax/convert/torch_resnet.py) takes images, not the clips that
  # tools/benchmark.py feeds `torch_model`: the parity tests build it themselves.
  return Arch(
    'single_frame',
    {'num_classes': 1000, 'depth': depth, 'width': 64},
    (1, 224, 224, 3),
    functools.partial(resnet_module_maps, depth),
  )


def torch_reference(name: str, **kwargs):
  """Builds `vidjax.convert.torch_video_resnet.<name>(**kwargs)`, a torchvision / VMZ net."""
  from vidjax.convert import torch_video_resnet  # noqa: PLC0415 (needs the [torch] extra)

  return getattr(torch_video_resnet, name)(**kwargs)


def _arch(block: str, name: str) -> Arch:
  return Arch(
    'video_resnet',
    {'num_classes': NUM_CLASSES, 'depth': 18, 'block': block},
    (16, 112, 112, 3),
    functools.partial(video_resnet_module_maps, 18, block),
    torch_model=functools.partial(torch_reference, name, num_classes=NUM_CLASSES),
  )


ARCHS: dict[str, Arch] = {
  'r3d_18': _arch('r3d', 'r3d_18'),
  'mc3_18': _arch('mc3', 'mc3_18'),
  'r2plus1d_18': _arch('r2plus1d', 'r2plus1d_18'),
  'resnet18': _image_arch(18),
  'resnet50': _image_arch(50),
}
