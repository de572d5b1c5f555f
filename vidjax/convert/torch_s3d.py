"""Plain-torch reference: S3D-G as `vidjax.models.s3d` builds it ([torch] extra).

SpeedNet's backbone has no PyTorch implementation that can be imported here (torchvision's
`s3d` has no feature gating, and torchvision cannot be installed beside the pinned CPU
torch), so tools/benchmark.py compares `vidjax.models.s3d` with this restatement of the same
network in PyTorch: the TF-Slim S3D-G (`s3dg.py`) layer for layer, the same widths, strides,
pools, gates and global pooling, so that both frameworks run the same convolutions on the
same shapes. TF's 'SAME' padding is reproduced for the max-pools, whose padding changes
the output size; the convolutions' symmetric padding gives TF's output sizes on the
even-sized inputs the benchmark uses. There is no checkpoint in this layout, so there is
no conversion to it.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from vidjax.models.s3d import MIXED, POOLS


class MaxPoolSame(nn.Module):
  """TF 'SAME' max-pool: pads with -inf, more at the end when the total is odd."""

  def __init__(self, kernel, stride):
    super().__init__()
    self.kernel, self.stride = kernel, stride

  def forward(self, x):
    pads = []
    for size, k, s in zip(x.shape[2:], self.kernel, self.stride, strict=True):
      total = max((math.ceil(size / s) - 1) * s + k - size, 0)
      pads.append((total // 2, total - total // 2))
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad: last dimension first
    return F.max_pool3d(F.pad(x, flat, value=-math.inf), self.kernel, self.stride)


class Unit(nn.Sequential):
  """Conv (no bias), BN, ReLU."""

  def __init__(self, inplanes, planes, kernel, stride=(1, 1, 1)):
    super().__init__(
      nn.Conv3d(inplanes, planes, kernel, stride, [k // 2 for k in kernel], bias=False),
      nn.BatchNorm3d(planes),
      nn.ReLU(inplace=True),
    )


class SepConv(nn.Sequential):
  """1 x k x k then k x 1 x 1."""

  def __init__(self, inplanes, planes, k, stride=(1, 1, 1)):
    st, sh, sw = stride
    super().__init__(
      Unit(inplanes, planes, (1, k, k), (1, sh, sw)), Unit(planes, planes, (k, 1, 1), (st, 1, 1))
    )


class Gating(nn.Module):
  def __init__(self, channels):
    super().__init__()
    self.dense = nn.Linear(channels, channels)

  def forward(self, x):
    gate = torch.sigmoid(self.dense(x.mean(dim=(2, 3, 4))))
    return x * gate[:, :, None, None, None]


class Inception(nn.Module):
  def __init__(self, inplanes, widths, gating):
    super().__init__()
    w0, (r1, w1), (r2, w2), w3 = widths
    one = (1, 1, 1)
    self.branches = nn.ModuleList(
      [
        Unit(inplanes, w0, one),
        nn.Sequential(Unit(inplanes, r1, one), SepConv(r1, w1, 3)),
        nn.Sequential(Unit(inplanes, r2, one), SepConv(r2, w2, 3)),
        nn.Sequential(MaxPoolSame((3, 3, 3), one), Unit(inplanes, w3, one)),
      ]
    )
    self.gates = nn.ModuleList([Gating(w) for w in (w0, w1, w2, w3)] if gating else [])
    self.planes = w0 + w1 + w2 + w3

  def forward(self, x):
    outputs = [branch(x) for branch in self.branches]
    if self.gates:
      outputs = [gate(y) for gate, y in zip(self.gates, outputs, strict=True)]
    return torch.cat(outputs, dim=1)


class S3D(nn.Module):
  """`vidjax.models.s3d.Model` with the same arguments, on [B, C, T, H, W] clips."""

  def __init__(
    self,
    num_classes,
    variant='s3d-g',
    width_multiplier=1.0,
    temporal_downsampling=True,
    global_pool='mean',
  ):
    super().__init__()

    def w(c):
      return max(1, int(round(c * width_multiplier)))

    def stride(strides):
      return strides if temporal_downsampling else (1, *strides[1:])

    gating = variant == 's3d-g'
    layers = [
      SepConv(3, w(64), 7, stride((2, 2, 2))),
      MaxPoolSame((1, 3, 3), (1, 2, 2)),
      Unit(w(64), w(64), (1, 1, 1)),
      SepConv(w(64), w(192), 3),
    ]
    if gating:
      layers.append(Gating(w(192)))
    planes = w(192)
    for name, (w0, (r1, w1), (r2, w2), w3) in MIXED.items():
      if name in POOLS:
        kernel, strides = POOLS[name]
        layers.append(MaxPoolSame(kernel, stride(strides)))
      block = Inception(planes, (w(w0), (w(r1), w(w1)), (w(r2), w(w2)), w(w3)), gating)
      layers.append(block)
      planes = block.planes
    self.features = nn.Sequential(*layers)
    self.global_pool = global_pool
    self.fc = nn.Linear(planes, num_classes)

  def forward(self, x):
    x = self.features(x)
    pooled = x.mean(dim=(2, 3, 4))
    if self.global_pool == 'max+mean':
      pooled = pooled + x.amax(dim=(2, 3, 4))
    return self.fc(pooled)
