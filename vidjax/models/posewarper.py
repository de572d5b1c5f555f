"""PoseWarper (Bertasius et al., NeurIPS 2019, arXiv 1906.04016): a pose in frame A from the
heatmaps of frame B, warped by deformable convolutions whose offsets come from the
difference of the two frames' heatmaps.

    heatmaps(A), heatmaps(B)   <- the pose network (frozen in the paper: an HRNet-W48)
    diff = heatmaps(A) - heatmaps(B)
    x = 20 residual basic blocks of 128 channels (diff)
    for d in 3, 6, 12, 18, 24:
      offsets_d = conv3x3(x, dilation d)                       -> 2 * 9 * K channels
      warped_d  = deform_conv3x3(heatmaps(B), offsets_d, dilation d, K groups)
    prediction(A) = (1/5) sum_d warped_d

as the official `pose_hrnet.py` does (`../shared/REFERENCE.md` §9): the warping acts on
the K-channel output heatmaps, the offset convolutions start at zero and the deformable
ones as the identity (so the untrained module copies B's heatmaps), every other
convolution is drawn from N(0, 0.001). `tasks/posewarper.py` trains it on labelled frames
A with a supporting frame B within 2 frames; at test it propagates a labelled frame's
pose (`warp_heatmaps`, the ground truth's Gaussians in place of B's heatmaps) and
aggregates neighbouring frames' warped heatmaps.

The pose network is the paper's HRNet (`heatmaps=dict(network='hrnet', width=48)`,
`models/hrnet.py`: heatmaps at a quarter of the frame, initialised from the official
checkpoints through `tools/convert_checkpoint.py --source hrnet`), or `HeatmapNet`, a
small stride-2 residual network that stands in for it in miniature (the default).

config.model = dict(num_keypoints=17, heatmaps=dict(network='hrnet', width=48),
                    channels=128, num_blocks=20, dilations=(3, 6, 12, 18, 24))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import deformable, hrnet

# The official initialisation of the warping module's ordinary convolutions.
_SMALL = nn.initializers.normal(stddev=0.001)


class BasicBlock(nn.Module):
  """ResNet's basic block, with a 1x1 projection when the width changes."""

  features: int
  dilation: int = 1
  kernel_init: Any = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    norm = lambda name: nn.BatchNorm(use_running_average=not train, name=name)  # noqa: E731
    conv = lambda size, name, dilation=1: nn.Conv(  # noqa: E731
      self.features,
      (size, size),
      kernel_dilation=dilation,
      use_bias=False,
      kernel_init=self.kernel_init,
      name=name,
    )
    y = nn.relu(norm('bn1')(conv(3, 'conv1', self.dilation)(x)))
    y = norm('bn2')(conv(3, 'conv2', self.dilation)(y))
    if x.shape[-1] != self.features:
      x = norm('downsample_bn')(conv(1, 'downsample')(x))
    return nn.relu(x + y)


class HeatmapNet(nn.Module):
  """Frames [B, H, W, 3] -> heatmaps [B, H / 2, W / 2, K]: a stride-2 stem and `depth`
  basic blocks whose dilations grow (1, 2, 4, ...) so the receptive field spans an object."""

  num_keypoints: int
  width: int = 32
  depth: int = 4

  @nn.compact
  def __call__(self, frames: jax.Array, *, train: bool) -> jax.Array:
    x = nn.Conv(self.width, (3, 3), strides=2, use_bias=False, name='stem')(frames)
    x = nn.relu(nn.BatchNorm(use_running_average=not train, name='stem_bn')(x))
    for i in range(self.depth):
      x = BasicBlock(self.width, dilation=2 ** (i % 3), name=f'block{i}')(x, train=train)
    # The official pose networks' final layer starts at N(0, 0.001): near-zero heatmaps,
    # whose error is then the targets' peaks. With the default initialisation the
    # miniature spent its first 250 steps shrinking O(1) outputs (PCK 5 %).
    return nn.Conv(self.num_keypoints, (1, 1), kernel_init=_SMALL, name='final')(x)


POSE_NETWORKS = {'heatmap_net': HeatmapNet, 'hrnet': hrnet.Model}


class Model(nn.Module):
  """The pose network and the warping module.

  Attributes:
    num_keypoints: K, the heatmaps' channels (17 on PoseTrack).
    heatmaps: the pose network: `network` 'heatmap_net' (the default; `width`, `depth`)
      or 'hrnet' (`width`: 32 or 48).
    channels: of the residual blocks on the heatmap difference (official: 128).
    num_blocks: of those blocks (official: 20).
    dilations: of the offset and deformable convolutions (official: 3, 6, 12, 18, 24).
    freeze_heatmaps: run the pose network in inference mode without gradients, as the
      paper trains the warping on a frozen, pretrained HRNet.
  """

  num_keypoints: int
  heatmaps: Mapping[str, Any]
  channels: int = 128
  num_blocks: int = 20
  dilations: Sequence[int] = (3, 6, 12, 18, 24)
  freeze_heatmaps: bool = False
  input_keys = ('video',)

  def setup(self):
    settings = dict(self.heatmaps)
    network = settings.pop('network', 'heatmap_net')
    if network not in POSE_NETWORKS:
      raise ValueError(
        f'config.model.heatmaps.network={network!r}; allowed values: {sorted(POSE_NETWORKS)}.'
      )
    self.pose_net = POSE_NETWORKS[network](
      num_keypoints=self.num_keypoints, **settings, name='pose_net'
    )
    blocks = [BasicBlock(self.channels, kernel_init=_SMALL) for _ in range(self.num_blocks)]
    self.blocks = blocks
    k = self.num_keypoints
    self.offset_convs = [
      nn.Conv(
        2 * 9 * k,
        (3, 3),
        kernel_dilation=d,
        kernel_init=nn.initializers.zeros,
        name=f'offsets_d{d}',
      )
      for d in self.dilations
    ]
    self.deform_convs = [
      deformable.DeformConv(
        k,
        dilation=d,
        deformable_groups=k,
        kernel_init=deformable.identity_kernel_init,
        name=f'warp_d{d}',
      )
      for d in self.dilations
    ]

  def pose_heatmaps(self, frames: jax.Array, *, train: bool) -> jax.Array:
    """Frames [..., H, W, 3] -> heatmaps [..., h, w, K] of the pose network."""
    lead = frames.shape[:-3]
    flat = frames.reshape(-1, *frames.shape[-3:])
    heatmaps = self.pose_net(flat, train=train and not self.freeze_heatmaps)
    if isinstance(heatmaps, tuple):  # hrnet.Model: (heatmaps, aux)
      heatmaps = heatmaps[0]
    if self.freeze_heatmaps:
      heatmaps = jax.lax.stop_gradient(heatmaps)
    return heatmaps.reshape(*lead, *heatmaps.shape[1:])

  def warp_heatmaps(
    self, target: jax.Array, support: jax.Array, warped: jax.Array, *, train: bool
  ) -> jax.Array:
    """`warped` [B, h, w, K] moved from the supporting frame to the target, by offsets
    from the difference of the two frames' heatmaps (target, support: [B, h, w, K])."""
    x = target - support
    for block in self.blocks:
      x = block(x, train=train)
    outputs = [
      warp(warped, offsets(x))
      for offsets, warp in zip(self.offset_convs, self.deform_convs, strict=True)
    ]
    return sum(outputs) / len(outputs)

  def __call__(
    self, inputs: Mapping[str, jax.Array], *, train: bool
  ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """{'video': [B, 2, H, W, 3], the target frame then the supporting frame} ->
    (the target's heatmaps warped from the supporting frame's [B, h, w, K],
    aux {'heatmaps': the pose network's heatmaps of both frames [B, 2, h, w, K]})."""
    heatmaps = self.pose_heatmaps(inputs['video'].astype(jnp.float32), train=train)
    target, support = heatmaps[:, 0], heatmaps[:, 1]
    return self.warp_heatmaps(target, support, support, train=train), {'heatmaps': heatmaps}
