"""HRNet for top-down pose estimation (Sun et al., CVPR 2019; deep-high-resolution-net's
`pose_hrnet.py`), the pose network PoseWarper warps the heatmaps of.

    stem: two 3x3 stride-2 convs of 64 (BN, ReLU)                    -> 1/4 of the input
    layer1: 4 bottlenecks of 64 (256 out)
    stage 2: branches at 1/4 and 1/8, widths C, 2C;      1 module
    stage 3: + 1/16, 4C;                                  4 modules
    stage 4: + 1/32, 8C;                                  3 modules, the last fusing to 1/4
    final_layer: 1x1 conv to the K heatmaps (with bias)               -> 1/4 of the input

Each module runs 4 basic blocks on every branch, then fuses: branch i receives every
branch j, upsampled (1x1 conv, BN, nearest x 2^(j-i)) when coarser, or downsampled (i-j
3x3 stride-2 convs with BN, ReLU between them) when finer, summed, ReLU. A transition
adds the next coarser branch from the last one (3x3 stride 2) and adapts widths that
change (stage 2's first branch: 256 -> C). C = 32 (HRNet-W32) or 48 (W48, PoseWarper's);
every convolution starts at N(0, 0.001), the official initialisation.

Names follow the official modules' (`stage3_2/branch1_3/conv1` is
`stage3.2.branches.1.3.conv1`), so that `vidjax/convert/hrnet.py` maps the official
checkpoints one to one. Parameters: 28.5 M (W32), 63.6 M (W48), as published.

config.model = dict(width=48, num_keypoints=17) on images [B, H, W, 3] (PoseTrack: 384 x
288, heatmaps 96 x 72).
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models.layers import make_conv_norm
from vidjax.models.resnet import BasicBlock2D, Bottleneck2D

# (modules, branches) of stages 2-4; every branch of every module has BLOCKS basic blocks.
STAGES = ((1, 2), (4, 3), (3, 4))
BLOCKS = 4
# The official initialisation of every convolution.
_SMALL = nn.initializers.normal(stddev=0.001)


def upsample(x: jax.Array, factor: int) -> jax.Array:
  """Nearest-neighbour upsampling of [B, H, W, C] by an integer factor."""
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


class ConvBN(nn.Module):
  """A 3x3 conv (no bias) and BatchNorm, with a ReLU unless `relu` is False: one official
  Sequential(conv, BN[, ReLU]) (names `conv`, `bn`)."""

  features: int
  stride: int
  conv: Any
  norm: Any
  relu: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = self.conv(self.features, (3, 3), self.stride, ((1, 1), (1, 1)), name='conv')(x)
    x = self.norm(name='bn')(x)
    return nn.relu(x) if self.relu else x


class HighResolutionModule(nn.Module):
  """Basic blocks on every branch, then the fusion of every branch into each output
  branch (only the finest when not `multi_scale_output`)."""

  widths: tuple[int, ...]
  multi_scale_output: bool
  conv: Any
  norm: Any
  blocks: int = BLOCKS

  @nn.compact
  def __call__(self, branches: list[jax.Array]) -> list[jax.Array]:
    branches = list(branches)
    for b, width in enumerate(self.widths):
      for k in range(self.blocks):
        branches[b] = BasicBlock2D(width, 1, self.conv, self.norm, name=f'branch{b}_{k}')(
          branches[b]
        )
    fused = []
    for i in range(len(self.widths) if self.multi_scale_output else 1):
      total = branches[i]
      for j, branch in enumerate(branches):
        if j > i:  # coarser: 1x1 conv, BN, nearest upsampling
          y = self.conv(self.widths[i], (1, 1), 1, 'VALID', name=f'fuse{i}_{j}_conv')(branch)
          total = total + upsample(self.norm(name=f'fuse{i}_{j}_bn')(y), 2 ** (j - i))
        elif j < i:  # finer: i - j stride-2 convs, the last to the output width, no ReLU
          for k in range(i - j):
            final = k == i - j - 1
            branch = ConvBN(
              self.widths[i] if final else self.widths[j],
              2,
              self.conv,
              self.norm,
              relu=not final,
              name=f'fuse{i}_{j}_{k}',
            )(branch)
          total = total + branch
      fused.append(nn.relu(total))
    return fused


class Model(nn.Module):
  """HRNet: images [B, H, W, 3] -> heatmaps [B, H / 4, W / 4, num_keypoints].

  Attributes:
    width: C, the channels of the finest branch (32, 48).
    num_keypoints: K.
    stages, blocks: the layout (`STAGES`, `BLOCKS`: the published networks'; the tests
      run a reduced one through the same code).
  """

  width: int = 48
  num_keypoints: int = 17
  stages: tuple[tuple[int, int], ...] = STAGES
  blocks: int = BLOCKS
  dtype: Any = 'float32'
  lowering: str = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    dtype = jnp.dtype(self.dtype)
    conv, norm = make_conv_norm(train, dtype, self.lowering)
    conv = functools.partial(conv, kernel_init=_SMALL)
    same = ((1, 1), (1, 1))
    x = jnp.asarray(x, dtype)
    x = nn.relu(norm(name='bn1')(conv(64, (3, 3), 2, same, name='conv1')(x)))
    x = nn.relu(norm(name='bn2')(conv(64, (3, 3), 2, same, name='conv2')(x)))
    for k in range(4):
      x = Bottleneck2D(64, 1, conv, norm, name=f'layer1_{k}')(x)
    branches = [x]
    for stage, (num_modules, num_branches) in enumerate(self.stages, start=2):
      widths = tuple(self.width * 2**b for b in range(num_branches))
      transition = f'transition{stage - 1}'
      # The new coarsest branch, from the last one as it was; then widths that change.
      new = ConvBN(widths[-1], 2, conv, norm, name=f'{transition}_{num_branches - 1}_0')(
        branches[-1]
      )
      for b, branch in enumerate(branches):
        if branch.shape[-1] != widths[b]:
          branches[b] = ConvBN(widths[b], 1, conv, norm, name=f'{transition}_{b}')(branch)
      branches.append(new)
      for module in range(num_modules):
        last = stage == len(self.stages) + 1 and module == num_modules - 1
        branches = HighResolutionModule(
          widths, not last, conv, norm, self.blocks, name=f'stage{stage}_{module}'
        )(branches)
    heatmaps = nn.Conv(
      self.num_keypoints, (1, 1), kernel_init=_SMALL, dtype=dtype, name='final_layer'
    )(branches[0])
    heatmaps = jnp.asarray(heatmaps, jnp.float32)
    return heatmaps, {'heatmaps': heatmaps}
