"""Plain-torch reference: ACAR-Net's head and backbone ([torch] extra), restated from the
official `models/heads/acar.py` and `models/backbones/slowfast.py` with the same module
names (hence state-dict keys): the head's `conv_reduce`, `conv1`, `conv2`,
`hr2o.<i>.{conv_q, conv_k, conv_v, conv, norm}`, `fc1`, `fc2`; the backbone's
`{fast,slow}_conv1`, `{fast,slow}_bn1`, `{fast,slow}_res<s>.<b>.{conv1..3, bn1..3,
downsample.0, downsample_bn}` and the laterals `Tconv<s>.{0, 1}` (conv, BN; the R50
configs' `fuse_only_conv: False`) or `Tconv<s>` (the conv alone, R101's). Clips are
lists of actors without padding, as the official code runs them; `roi_align` is passed in
(torchvision's where it is installed), so that the parity tests run without torchvision.
Used by `tests/models/test_acar.py` and `tests/convert/test_acar_checkpoint.py`.
"""

import torch
import torch.nn as nn


class HR2O_NL(nn.Module):  # noqa: N801 (the official name)
  def __init__(self, hidden_dim=512, kernel_size=3, mlp_1x1=False):
    super().__init__()
    self.hidden_dim = hidden_dim
    padding = kernel_size // 2
    conv = lambda size, pad: nn.Conv2d(hidden_dim, hidden_dim, size, padding=pad, bias=False)  # noqa: E731
    self.conv_q, self.conv_k, self.conv_v = (conv(kernel_size, padding) for _ in range(3))
    self.conv = conv(1, 0) if mlp_1x1 else conv(kernel_size, padding)
    self.norm = nn.GroupNorm(1, hidden_dim, affine=True)
    self.dp = nn.Dropout(0.2)

  def forward(self, x):  # [actors, C, h, w] of one clip
    attention = (self.conv_q(x).unsqueeze(1) * self.conv_k(x).unsqueeze(0)).sum(2)
    attention = torch.softmax(attention / self.hidden_dim**0.5, dim=1)
    virtual = (attention.unsqueeze(2) * self.conv_v(x)).sum(1)
    virtual = self.dp(self.conv(torch.relu(self.norm(virtual))))
    return x + virtual


class ACARHead(nn.Module):
  def __init__(
    self,
    width,
    roi_align,
    num_classes=60,
    reduce_dim=1024,
    hidden_dim=512,
    depth=2,
    kernel_size=3,
    mlp_1x1=False,
  ):
    super().__init__()
    self.roi_align = roi_align
    self.conv_reduce = nn.Conv2d(width, reduce_dim, 1, bias=False)
    self.conv1 = nn.Conv2d(reduce_dim * 2, hidden_dim, 1, bias=False)
    self.conv2 = nn.Conv2d(hidden_dim, hidden_dim, 3, bias=False)
    self.downsample = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    self.hr2o = nn.Sequential(*(HR2O_NL(hidden_dim, kernel_size, mlp_1x1) for _ in range(depth)))
    self.fc1 = nn.Linear(reduce_dim, hidden_dim, bias=False)
    self.fc2 = nn.Linear(hidden_dim * 2, num_classes, bias=False)

  def forward(self, pathways, boxes_per_clip):
    """pathways: [B, C_i, T_i, H, W]; boxes_per_clip: per clip a [n, 4] tensor of
    normalised (x1, y1, x2, y2). Returns the logits of every actor, clip after clip."""
    h, w = pathways[0].shape[3:]
    maps = self.conv_reduce(torch.cat([p.mean(dim=2) for p in pathways], dim=1))
    scale = torch.tensor([w, h, w, h], dtype=maps.dtype)
    rois = torch.cat(
      [
        torch.cat([torch.full((len(b), 1), float(i), dtype=maps.dtype), b * scale], 1)
        for i, b in enumerate(boxes_per_clip)
      ]
    )
    actors = self.roi_align(maps, rois, (7, 7)).amax(dim=(2, 3))
    relations, start = [], 0
    for i, boxes in enumerate(boxes_per_clip):
      own = actors[start : start + len(boxes)]
      start += len(boxes)
      context = maps[i].unsqueeze(0).repeat(len(boxes), 1, 1, 1)
      x = torch.cat([context, own[:, :, None, None].expand_as(context)], dim=1)
      x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
      x = self.hr2o(self.downsample(x))
      relations.append(x.mean(dim=(2, 3)))
    outputs = torch.cat([torch.relu(self.fc1(actors)), torch.cat(relations)], dim=1)
    return self.fc2(outputs)


class Bottleneck(nn.Module):
  def __init__(self, inplanes, planes, stride=1, downsample=None, dilation=1, head_conv=1):
    super().__init__()
    temporal = 3 if head_conv == 3 else 1
    self.conv1 = nn.Conv3d(
      inplanes, planes, (temporal, 1, 1), padding=(temporal // 2, 0, 0), bias=False
    )
    self.bn1 = nn.BatchNorm3d(planes)
    self.conv2 = nn.Conv3d(
      planes, planes, (1, 3, 3), stride=(1, stride, stride), padding=(0, dilation, dilation),
      dilation=(1, dilation, dilation), bias=False,
    )  # fmt: skip
    self.bn2 = nn.BatchNorm3d(planes)
    self.conv3 = nn.Conv3d(planes, planes * 4, 1, bias=False)
    self.bn3 = nn.BatchNorm3d(planes * 4)
    self.downsample = downsample
    if downsample is not None:
      self.downsample_bn = nn.BatchNorm3d(planes * 4)

  def forward(self, x):
    out = torch.relu(self.bn1(self.conv1(x)))
    out = torch.relu(self.bn2(self.conv2(out)))
    out = self.bn3(self.conv3(out))
    shortcut = x if self.downsample is None else self.downsample_bn(self.downsample(x))
    return torch.relu(out + shortcut)


class SlowFast(nn.Module):
  """ACAR's SlowFast: slow frames by linspace (`slow_full_span`) or every alpha-th, laterals
  of kernel `fuse_kernel_size` with BN + ReLU or the conv alone (`fuse_only_conv`); res5
  ('res4' here) dilated, stride 16."""

  def __init__(
    self, layers, alpha=4, beta=0.125, fuse_kernel_size=7, fuse_only_conv=False,
    slow_full_span=True,
  ):  # fmt: skip
    super().__init__()
    self.alpha, self.slow_full_span = alpha, slow_full_span
    fast, slow = int(64 * beta), 64
    self.fast_conv1 = nn.Conv3d(3, fast, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False)
    self.fast_bn1 = nn.BatchNorm3d(fast)
    self.slow_conv1 = nn.Conv3d(3, slow, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False)
    self.slow_bn1 = nn.BatchNorm3d(slow)
    self.pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
    for s, (planes, depth) in enumerate(zip((64, 128, 256, 512), layers, strict=True), 1):
      stride, dilation = (1 if s in (1, 4) else 2), (2 if s == 4 else 1)
      fast_planes = int(planes * beta)
      setattr(self, f'fast_res{s}', self._stage(fast, fast_planes, depth, stride, dilation, 3))
      fast = fast_planes * 4
      fused = slow + int(slow * beta) * 2
      head_conv = 1 if s <= 2 else 3
      setattr(self, f'slow_res{s}', self._stage(fused, planes, depth, stride, dilation, head_conv))
      slow = planes * 4
    widths = (int(64 * beta), int(256 * beta), int(512 * beta), int(1024 * beta))
    for s, width in enumerate(widths, 1):
      conv = nn.Conv3d(width, width * 2, (fuse_kernel_size, 1, 1), (alpha, 1, 1),
                       (fuse_kernel_size // 2, 0, 0), bias=False)  # fmt: skip
      bn_relu = (nn.BatchNorm3d(width * 2), nn.ReLU())
      setattr(self, f'Tconv{s}', conv if fuse_only_conv else nn.Sequential(conv, *bn_relu))

  @staticmethod
  def _stage(inplanes, planes, depth, stride, dilation, head_conv):
    downsample = nn.Conv3d(inplanes, planes * 4, 1, stride=(1, stride, stride), bias=False)
    blocks = [Bottleneck(inplanes, planes, stride, nn.Sequential(downsample), dilation, head_conv)]
    blocks += [
      Bottleneck(planes * 4, planes, 1, None, dilation, head_conv) for _ in range(depth - 1)
    ]
    return nn.Sequential(*blocks)

  def forward(self, video):  # [B, 3, T, H, W]
    x = self.pool(torch.relu(self.fast_bn1(self.fast_conv1(video))))
    laterals = []
    for s in range(1, 5):
      laterals.append(getattr(self, f'Tconv{s}')(x))
      x = getattr(self, f'fast_res{s}')(x)
    if self.slow_full_span:
      frames = torch.linspace(0, video.shape[2] - 1, video.shape[2] // self.alpha).long()
    else:
      frames = torch.arange(0, video.shape[2], self.alpha)
    slow = self.pool(torch.relu(self.slow_bn1(self.slow_conv1(video[:, :, frames]))))
    for s in range(1, 5):
      slow = getattr(self, f'slow_res{s}')(torch.cat([slow, laterals[s - 1]], dim=1))
    return [slow, x]
