"""Plain-torch reference: ACAR-Net's head ([torch] extra), restated from the official
`models/heads/acar.py` with the same module names (hence state-dict keys): `conv_reduce`,
`conv1`, `conv2`, `hr2o.<i>.{conv_q, conv_k, conv_v, conv, norm}`, `fc1`, `fc2`. Clips
are lists of actors without padding, as the official code runs them; `roi_align` is
passed in (torchvision's where it is installed), so that the parity test runs without
torchvision. Used by `tests/models/test_acar.py`.
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
