"""PyTorchVideo hub / model-zoo checkpoints (PySlowFast `.pyth`) -> vidjax models.

Architectures (`ARCHS`), with the PyTorchVideo builder and checkpoint they match:

  x3d_xs, x3d_s, x3d_m, x3d_l   hub x3d_*                    X3D_{XS,S,M,L}.pyth
  slow_r50                      hub slow_r50                 SLOW_8x8_R50.pyth
  slow_4x16_r50                 model zoo                    SLOW_4x16_R50.pyth
  slowfast_r50                  hub slowfast_r50             SLOWFAST_8x8_R50.pyth
  slowfast_4x16_r50             model zoo (fusion 5, alpha 8) SLOWFAST_4x16_R50.pyth
  slowfast_r101                 hub slowfast_r101            SLOWFAST_8x8_R101.pyth
  slowfast_16x8_r101_50_50      hub slowfast_16x8_r101_50_50 SLOWFAST_16x8_R101_50_50.pyth
  csn_r101                      hub csn_r101 (ir-CSN-101)    CSN_32x2_R101.pyth
  slowfast_r50_detection        hub slowfast_r50_detection   ava/SLOWFAST_8x8_R50_DETECTION.pyth
                                (AVA v2.2, 80 classes: `vidjax.models.ava`, linear head)

PyTorchVideo's i3d_r50 and c2d_r50 (ResNet-50s with a temporal max-pool after res2; vidjax's
`i3d` is the Inception one) and r2plus1d_r50 (bottleneck (2+1)D blocks) have no vidjax
model. The module tables follow the naming the vidjax models share with PyTorchVideo (see
the docstrings of `vidjax.models.x3d`, `slowfast` and `csn`); they are generated from the
stage depths, so one function serves every depth of a family.

The networks compute what PyTorchVideo's do with these weights at the clip size each was
trained on (`Arch.input_shape`): PyTorchVideo's heads average-pool with a fixed kernel,
vidjax's globally, which is the same there. Logits are those before PyTorchVideo's
optional head activation (X3D's builder applies a softmax by default).
"""

import functools
import importlib.machinery
import importlib.util
import sys
import types

from vidjax.convert.torch_checkpoint import Arch, ModuleMap
from vidjax.models import csn, slowfast, x3d

Maps = dict[tuple[str, ...], ModuleMap]

NUM_CLASSES = 400  # Every checkpoint here is a Kinetics-400 classifier.


class _RoIAlignUnavailable:
  """Stands for torchvision.ops.RoIAlign; detection heads are not available without it."""

  def __init__(self, *args, **kwargs):
    raise ImportError('torchvision is not installed; RoIAlign (detection heads) is unavailable.')


def _stub(name: str) -> types.ModuleType:
  """An empty module registered as `name`, with a spec so that find_spec() accepts it."""
  module = types.ModuleType(name)
  module.__spec__ = importlib.machinery.ModuleSpec(name, None)
  sys.modules[name] = module
  return module


def torch_hub() -> types.ModuleType:
  """`pytorchvideo.models.hub` (the [torch] extra), the reference networks.

  pytorchvideo.models imports `torchvision.ops.RoIAlign` (for its detection heads) at import
  time, and only a CUDA build of torchvision exists for the pinned CPU torch; when
  torchvision is not importable, a stand-in is registered whose RoIAlign refuses to be
  built: the classification networks never construct one.
  """
  if 'torchvision' not in sys.modules and importlib.util.find_spec('torchvision') is None:
    torchvision, ops = _stub('torchvision'), _stub('torchvision.ops')
    ops.RoIAlign = _RoIAlignUnavailable
    torchvision.ops = ops
  import pytorchvideo.models.hub as hub  # noqa: PLC0415 (optional dependency)

  return hub


def _hub_model(name: str):
  """Builds hub model `name` with random weights (a `torch_model` of `Arch`).

  The heads' fixed-size average pools become global ones, as vidjax's are: the same at the
  clip size each network was trained on, and any clip size runs (tools/benchmark.py).
  """
  import torch  # noqa: PLC0415 (the [torch] extra)

  model = getattr(torch_hub(), name)(pretrained=False)
  for module in list(model.modules()):
    for child_name, child in module.named_children():
      if isinstance(child, torch.nn.AvgPool3d):
        setattr(module, child_name, torch.nn.AdaptiveAvgPool3d(1))
  return model


def _slowfast_hub_model(name: str, alpha: int):
  """A SlowFast hub model that, like vidjax's, takes the fast pathway's clip and picks the
  slow pathway's frames from it (PyTorchVideo's PackPathway rule)."""
  import torch  # noqa: PLC0415 (the [torch] extra)

  class PackPathways(torch.nn.Module):
    def __init__(self, net):
      super().__init__()
      self.net = net

    def forward(self, video):  # [B, C, T, H, W]
      slow = video[:, :, slowfast.slow_frame_indices(video.shape[2], alpha)]
      return self.net([slow, video])

  return PackPathways(_hub_model(name))


def _bottleneck(flax: tuple[str, ...], torch: str, *, shortcut_norm: bool) -> Maps:
  """One ResNet bottleneck block (`csn.ResBlock`), its shortcut projection (if any) included.

  Args:
    flax: path of the block's module.
    torch: dotted prefix of the block in the state dict.
    shortcut_norm: whether the block has a projection shortcut (branch1 conv + BN).
  """
  maps = {}
  if shortcut_norm:
    maps[(*flax, 'branch1_conv')] = ModuleMap(f'{torch}.branch1_conv', 'conv')
    maps[(*flax, 'branch1_norm')] = ModuleMap(f'{torch}.branch1_norm', 'bn')
  for layer in ('a', 'b', 'c'):
    maps[(*flax, 'branch2', f'conv_{layer}')] = ModuleMap(f'{torch}.branch2.conv_{layer}', 'conv')
    maps[(*flax, 'branch2', f'norm_{layer}')] = ModuleMap(f'{torch}.branch2.norm_{layer}', 'bn')
  return maps


def _res_stage(flax: tuple[str, ...], torch: str, depth: int) -> Maps:
  """A `csn.ResStage` of `depth` blocks; the first one projects the shortcut."""
  maps = {}
  for b in range(depth):
    maps |= _bottleneck((*flax, f'res_blocks_{b}'), f'{torch}.res_blocks.{b}', shortcut_norm=b == 0)
  return maps


def _stem(flax: tuple[str, ...], torch: str) -> Maps:
  """A `csn.Stem` (PyTorchVideo's ResNetBasicStem): conv and BN."""
  return {
    (*flax, 'conv'): ModuleMap(f'{torch}.conv', 'conv'),
    (*flax, 'norm'): ModuleMap(f'{torch}.norm', 'bn'),
  }


def x3d_module_maps(depth_factor: float) -> Maps:
  """`vidjax.models.x3d.Model` with blocks per stage ceil(depth_factor * (1, 2, 5, 3))."""
  maps = {
    # PyTorchVideo builds the stem's Conv2plus1d with the spatial conv as `conv_t` and the
    # temporal one as `conv_xy` (and applies conv_t first), so the names cross over here.
    ('blocks_0_conv_xy',): ModuleMap('blocks.0.conv.conv_t', 'conv'),
    ('blocks_0_conv_t',): ModuleMap('blocks.0.conv.conv_xy', 'conv'),
    ('blocks_0_norm',): ModuleMap('blocks.0.norm', 'bn'),
  }
  for s, base in enumerate(x3d.BASE_DEPTHS):
    for b in range(x3d.round_repeats(base, depth_factor)):
      flax, torch = f'blocks_{s + 1}_res_blocks_{b}', f'blocks.{s + 1}.res_blocks.{b}'
      if b == 0:
        maps[(flax, 'branch1_conv')] = ModuleMap(f'{torch}.branch1_conv', 'conv')
        # res2 keeps the stem's width: its shortcut only subsamples and has no BN.
        if s > 0:
          maps[(flax, 'branch1_norm')] = ModuleMap(f'{torch}.branch1_norm', 'bn')
      branch2 = f'{torch}.branch2'
      maps[(flax, 'branch2', 'conv_a')] = ModuleMap(f'{branch2}.conv_a', 'conv')
      maps[(flax, 'branch2', 'norm_a')] = ModuleMap(f'{branch2}.norm_a', 'bn')
      maps[(flax, 'branch2', 'conv_b')] = ModuleMap(f'{branch2}.conv_b', 'conv')
      maps[(flax, 'branch2', 'norm_b_0')] = ModuleMap(f'{branch2}.norm_b.0', 'bn')
      if b % 2 == 0:  # Squeeze-excitation in every other block, the first one included.
        for i in (0, 2):
          maps[(flax, 'branch2', 'norm_b_1', f'block_{i}')] = ModuleMap(
            f'{branch2}.norm_b.1.block.{i}', 'conv'
          )
      maps[(flax, 'branch2', 'conv_c')] = ModuleMap(f'{branch2}.conv_c', 'conv')
      maps[(flax, 'branch2', 'norm_c')] = ModuleMap(f'{branch2}.norm_c', 'bn')
  maps[('blocks_5_pre_conv',)] = ModuleMap('blocks.5.pool.pre_conv', 'conv')
  maps[('blocks_5_pre_norm',)] = ModuleMap('blocks.5.pool.pre_norm', 'bn')
  maps[('blocks_5_post_conv',)] = ModuleMap('blocks.5.pool.post_conv', 'conv')
  maps[('blocks_5_proj',)] = ModuleMap('blocks.5.proj', 'linear')
  return maps


def slow_module_maps(depth: int) -> Maps:
  """`vidjax.models.slowfast.Model` with pathway='slow' (PyTorchVideo's create_resnet)."""
  maps = _stem(('blocks_0',), 'blocks.0')
  for s, stage_depth in enumerate(slowfast.STAGE_DEPTHS[depth]):
    maps |= _res_stage((f'blocks_{s + 1}',), f'blocks.{s + 1}', stage_depth)
  maps[('blocks_5_proj',)] = ModuleMap('blocks.5.proj', 'linear')
  return maps


def slowfast_module_maps(depth: int) -> Maps:
  """`vidjax.models.slowfast.Model` with pathway='slowfast' (PyTorchVideo's create_slowfast).

  Pathway 0 is the slow one, 1 the fast one; stages 0-3 end with a fast-to-slow fusion.
  """
  maps = {}
  for s in range(5):
    for p in range(2):
      flax, torch = (
        (f'blocks_{s}', f'multipathway_blocks_{p}'),
        f'blocks.{s}.multipathway_blocks.{p}',
      )
      if s == 0:
        maps |= _stem(flax, torch)
      else:
        maps |= _res_stage(flax, torch, slowfast.STAGE_DEPTHS[depth][s - 1])
    if s < 4:
      fusion, torch = (f'blocks_{s}', 'multipathway_fusion'), f'blocks.{s}.multipathway_fusion'
      maps[(*fusion, 'conv_fast_to_slow')] = ModuleMap(f'{torch}.conv_fast_to_slow', 'conv')
      maps[(*fusion, 'norm')] = ModuleMap(f'{torch}.norm', 'bn')
  maps[('blocks_6_proj',)] = ModuleMap('blocks.6.proj', 'linear')
  return maps


def slowfast_detection_module_maps(depth: int) -> Maps:
  """`vidjax.models.ava.Model` (a SlowFast backbone with res5 dilated, the linear head) <-
  PyTorchVideo's `create_slowfast_with_roi_head`: the backbone under 'model.', the RoI
  head's projection 'detection_head.proj'."""
  maps = {
    ('backbone', *flax): ModuleMap(f'model.{source.prefix}', source.kind)
    for flax, source in slowfast_module_maps(depth).items()
    if flax != ('blocks_6_proj',)
  }
  maps[('head', 'fc')] = ModuleMap('detection_head.proj', 'linear')
  return maps


def csn_module_maps(depth: int) -> Maps:
  """`vidjax.models.csn.Model` with variant='ir' (PyTorchVideo's create_csn)."""
  maps = _stem(('blocks_0',), 'blocks.0')
  for s, stage_depth in enumerate(csn.STAGE_DEPTHS[depth]):
    maps |= _res_stage((f'blocks_{s + 1}',), f'blocks.{s + 1}', stage_depth)
  maps[('blocks_5_proj',)] = ModuleMap('blocks.5.proj', 'linear')
  return maps


def _x3d(variant: str) -> Arch:
  frames, crop = x3d.INPUT_SIZES[variant]
  return Arch(
    'x3d',
    {'num_classes': NUM_CLASSES, 'variant': variant},
    (frames, crop, crop, 3),
    functools.partial(x3d_module_maps, x3d.VARIANTS[variant]),
    torch_model=functools.partial(_hub_model, f'x3d_{variant}'),
  )


def _slow(variant: str, hub_name: str | None = None) -> Arch:
  frames, _ = slowfast.VARIANTS[variant]
  return Arch(
    'slowfast',
    {'num_classes': NUM_CLASSES, 'depth': 50, 'variant': variant, 'pathway': 'slow'},
    (frames, 224, 224, 3),
    functools.partial(slow_module_maps, 50),
    torch_model=hub_name and functools.partial(_hub_model, hub_name),
  )


def _slowfast(depth: int, variant: str, hub_name: str | None = None, **kwargs) -> Arch:
  frames, alpha = slowfast.VARIANTS[variant]
  return Arch(
    'slowfast',
    {'num_classes': NUM_CLASSES, 'depth': depth, 'variant': variant, **kwargs},
    (frames * alpha, 224, 224, 3),
    functools.partial(slowfast_module_maps, depth),
    torch_model=hub_name and functools.partial(_slowfast_hub_model, hub_name, alpha),
  )


ARCHS: dict[str, Arch] = {
  'x3d_xs': _x3d('xs'),
  'x3d_s': _x3d('s'),
  'x3d_m': _x3d('m'),
  'x3d_l': _x3d('l'),
  'slow_r50': _slow('8x8', 'slow_r50'),
  'slow_4x16_r50': _slow('4x16'),
  'slowfast_r50': _slowfast(50, '8x8', 'slowfast_r50'),
  'slowfast_4x16_r50': _slowfast(50, '4x16'),
  'slowfast_r101': _slowfast(101, '8x8', 'slowfast_r101'),
  # Temporal conv_a in the first 6 of res4's 23 blocks only, in both pathways.
  'slowfast_16x8_r101_50_50': _slowfast(
    101, '16x8', 'slowfast_16x8_r101_50_50', res4_temporal_blocks=6
  ),
  # PySlowFast's SlowFast R50 8x8 fine-tuned on AVA v2.2 (80 classes, sigmoid scores),
  # `slowfast_r50_detection` of the hub: the linear RoI head (RoIAlign 7 x 7 of the
  # time-averaged pathways at stride 16, max-pooled, dropout 0.5, a linear layer).
  'slowfast_r50_detection': Arch(
    'ava',
    {
      'backbone': dict(model_name='slowfast', depth=50, variant='8x8', res5_dilation=2),
      'num_classes': 80,
      'head': 'linear',
      'context_maps': 2,
      'head_config': dict(dropout_rate=0.5),
    },
    (32, 256, 256, 3),
    functools.partial(slowfast_detection_module_maps, 50),
    extra_inputs={'boxes': (1, 4), 'box_mask': (1,)},
  ),
  'csn_r101': Arch(
    'csn',
    {'num_classes': NUM_CLASSES, 'depth': 101, 'variant': 'ir'},
    (32, 224, 224, 3),
    functools.partial(csn_module_maps, 101),
    torch_model=functools.partial(_hub_model, 'csn_r101'),
  ),
}
