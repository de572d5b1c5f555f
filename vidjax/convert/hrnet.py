"""deep-high-resolution-net's pose HRNet checkpoints -> `vidjax.models.hrnet`.

  python tools/convert_checkpoint.py --source hrnet --arch pose_hrnet_w48_384x288 \
      --input pose_hrnet_w48_384x288.pth --output ~/checkpoints/hrnet_w48_coco

Architectures (`ARCHS`): the official COCO models (17 keypoints), HRNet-W32 at 256 x 192
and HRNet-W48 at 384 x 288 (PoseWarper's pose network, which PoseWarper initialises from
the COCO W48 before training on PoseTrack). The state dict's names and the flax names
(`vidjax/models/hrnet.py`) correspond module for module; the table is generated from the
same stage layout (`hrnet.STAGES`). The parity reference is `vidjax/convert/torch_hrnet.py`.
"""

from vidjax.convert.torch_checkpoint import Arch, ModuleMap
from vidjax.models.hrnet import BLOCKS, STAGES

Maps = dict[tuple[str, ...], ModuleMap]


def _conv_bn(flax: tuple[str, ...], torch: str) -> Maps:
  """A Sequential(conv, BN[, ReLU]) <- flax ConvBN."""
  return {
    (*flax, 'conv'): ModuleMap(f'{torch}.0', 'conv'),
    (*flax, 'bn'): ModuleMap(f'{torch}.1', 'bn'),
  }


def _block(flax: tuple[str, ...], torch: str, convs: int) -> Maps:
  maps = {}
  for i in range(1, convs + 1):
    maps[(*flax, f'conv{i}')] = ModuleMap(f'{torch}.conv{i}', 'conv')
    maps[(*flax, f'bn{i}')] = ModuleMap(f'{torch}.bn{i}', 'bn')
  return maps


def hrnet_module_maps(stages=STAGES, blocks: int = BLOCKS) -> Maps:
  """`hrnet.Model(stages=stages, blocks=blocks)` <- the official PoseHighResolutionNet
  state dict (the published networks' layout by default)."""
  maps = {
    ('conv1',): ModuleMap('conv1', 'conv'),
    ('bn1',): ModuleMap('bn1', 'bn'),
    ('conv2',): ModuleMap('conv2', 'conv'),
    ('bn2',): ModuleMap('bn2', 'bn'),
    ('final_layer',): ModuleMap('final_layer', 'conv'),
  }
  for k in range(4):
    maps |= _block((f'layer1_{k}',), f'layer1.{k}', 3)
  maps[('layer1_0', 'downsample_conv')] = ModuleMap('layer1.0.downsample.0', 'conv')
  maps[('layer1_0', 'downsample_bn')] = ModuleMap('layer1.0.downsample.1', 'bn')
  for stage, (num_modules, num_branches) in enumerate(stages, start=2):
    transition = f'transition{stage - 1}'
    if stage == 2:  # layer1's 256 channels -> the first branch's width
      maps |= _conv_bn((f'{transition}_0',), f'{transition}.0')
    last = num_branches - 1
    maps |= _conv_bn((f'{transition}_{last}_0',), f'{transition}.{last}.0')
    for m in range(num_modules):
      flax, torch = f'stage{stage}_{m}', f'stage{stage}.{m}'
      for b in range(num_branches):
        for k in range(blocks):
          maps |= _block((flax, f'branch{b}_{k}'), f'{torch}.branches.{b}.{k}', 2)
      outputs = 1 if stage == len(stages) + 1 and m == num_modules - 1 else num_branches
      for i in range(outputs):
        for j in range(num_branches):
          fuse = f'{torch}.fuse_layers.{i}.{j}'
          if j > i:
            maps[(flax, f'fuse{i}_{j}_conv')] = ModuleMap(f'{fuse}.0', 'conv')
            maps[(flax, f'fuse{i}_{j}_bn')] = ModuleMap(f'{fuse}.1', 'bn')
          for k in range(i - j):
            maps |= _conv_bn((flax, f'fuse{i}_{j}_{k}'), f'{fuse}.{k}')
  return maps


def _arch(width: int, height: int, image_width: int) -> Arch:
  return Arch(
    'hrnet',
    {'width': width, 'num_keypoints': 17},
    (height, image_width, 3),
    hrnet_module_maps,
  )


ARCHS: dict[str, Arch] = {
  'pose_hrnet_w32_256x192': _arch(32, 256, 192),
  'pose_hrnet_w48_384x288': _arch(48, 384, 288),
}
