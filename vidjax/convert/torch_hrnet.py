"""Plain-torch reference: deep-high-resolution-net's pose HRNet ([torch] extra).

The network that the official HRNet pose checkpoints (pose_hrnet_w32_256x192.pth,
pose_hrnet_w48_384x288.pth, and PoseWarper's backbone) come from, restated module for
module with the official attribute names, hence the same state-dict keys: the stem
(`conv1`, `bn1`, `conv2`, `bn2`), `layer1` (4 bottlenecks), `transition1..3` (a
Sequential(conv, BN, ReLU) where a width changes, None where it does not, and the new
branch as a Sequential of one such Sequential), `stage2..4` (HighResolutionModules with
`branches` and `fuse_layers`) and `final_layer`. Used by the parity tests of
`vidjax.convert.hrnet`; initialisation is PyTorch's default (the tests set every weight).
"""

import torch
import torch.nn as nn

from vidjax.convert.torch_resnet import BasicBlock, Bottleneck
from vidjax.models.hrnet import BLOCKS, STAGES


def _conv_bn(inplanes, planes, stride, relu=True):
  layers = [nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)]
  return nn.Sequential(*layers, *([nn.ReLU(inplace=True)] if relu else []))


class HighResolutionModule(nn.Module):
  def __init__(self, widths, multi_scale_output, blocks=BLOCKS):
    super().__init__()
    self.branches = nn.ModuleList(
      nn.Sequential(*(BasicBlock(width, width) for _ in range(blocks))) for width in widths
    )
    fuse_layers = []
    for i in range(len(widths) if multi_scale_output else 1):
      row = []
      for j in range(len(widths)):
        if j > i:
          row.append(
            nn.Sequential(
              nn.Conv2d(widths[j], widths[i], 1, 1, 0, bias=False),
              nn.BatchNorm2d(widths[i]),
              nn.Upsample(scale_factor=2 ** (j - i), mode='nearest'),
            )
          )
        elif j == i:
          row.append(None)
        else:
          row.append(
            nn.Sequential(
              *(
                _conv_bn(widths[j], widths[i] if k == i - j - 1 else widths[j], 2, k < i - j - 1)
                for k in range(i - j)
              )
            )
          )
      fuse_layers.append(nn.ModuleList(row))
    self.fuse_layers = nn.ModuleList(fuse_layers)

  def forward(self, branches):
    branches = [branch(x) for branch, x in zip(self.branches, branches, strict=True)]
    fused = []
    for i, row in enumerate(self.fuse_layers):
      total = branches[i]
      for j, layer in enumerate(row):
        if layer is not None:
          total = total + layer(branches[j])
      fused.append(torch.relu(total))
    return fused


class PoseHighResolutionNet(nn.Module):
  def __init__(self, width=48, num_keypoints=17, stages=STAGES, blocks=BLOCKS):
    super().__init__()
    self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(64)
    self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(64)
    downsample = nn.Sequential(nn.Conv2d(64, 256, 1, bias=False), nn.BatchNorm2d(256))
    self.layer1 = nn.Sequential(
      Bottleneck(64, 64, 1, downsample), *(Bottleneck(256, 64) for _ in range(3))
    )
    previous = [256]
    self.num_stages = len(stages)
    for stage, (num_modules, num_branches) in enumerate(stages, start=2):
      widths = [width * 2**b for b in range(num_branches)]
      transition = [
        _conv_bn(previous[b], widths[b], 1) if previous[b] != widths[b] else None
        for b in range(len(previous))
      ]
      transition.append(nn.Sequential(_conv_bn(previous[-1], widths[-1], 2)))
      setattr(self, f'transition{stage - 1}', nn.ModuleList(transition))
      modules = [
        HighResolutionModule(
          widths, not (stage == len(stages) + 1 and m == num_modules - 1), blocks
        )
        for m in range(num_modules)
      ]
      setattr(self, f'stage{stage}', nn.Sequential(*modules))
      previous = widths
    self.final_layer = nn.Conv2d(width, num_keypoints, 1, 1, 0)

  def forward(self, x):
    x = torch.relu(self.bn1(self.conv1(x)))
    x = self.layer1(torch.relu(self.bn2(self.conv2(x))))
    branches = [x]
    for stage in range(2, self.num_stages + 2):
      transition = getattr(self, f'transition{stage - 1}')
      new = transition[-1](branches[-1])
      branches = [
        layer(branch) if layer is not None else branch
        for layer, branch in zip(transition[:-1], branches, strict=True)
      ] + [new]
      for module in getattr(self, f'stage{stage}'):
        branches = module(branches)
    return self.final_layer(branches[0])
