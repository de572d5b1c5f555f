"""ACAR-Net's AVA checkpoints (Siyu-C/ACAR-Net's model zoo) -> `vidjax.models.ava`.

  python tools/convert_checkpoint.py --source acar --arch slowfast_r50_acar \
      --input AVA_SLOWFAST_R50_ACAR_HR2O.pth.tar --output ~/checkpoints/acar_r50_ava

Architectures (`ARCHS`): SlowFast R50 8x8 with ACAR's head (two HR2O layers) and with the
linear baseline head, as the official R50 configs build them (`fuse_only_conv: False`,
`fuse_kernel_size: 7`, `slow_full_span: True`, res5 dilated), and SlowFast R101 8x8 with
ACAR's head of one HR2O layer and 1x1 output convs, as the R101 configs build it (the
backbone's defaults: laterals of kernel 5 without BN, the slow frames every fourth):
module for module the layout of `vidjax.models.slowfast` (res5_dilation=2) and
`vidjax.models.acar`. Each arch carries the normalisation its checkpoints were trained
with (`R50_NORMALISATION`, `R101_NORMALISATION`), which tools/convert_checkpoint.py writes
into the converted checkpoint's arch.json (`pp`) for `config.input.pp`. The parity
reference is `vidjax/convert/torch_acar.py`.
"""

from vidjax.convert.torch_checkpoint import Arch, ModuleMap
from vidjax.models import slowfast

Maps = dict[tuple[str, ...], ModuleMap]
# The keyframe clip of the official configs: 32 frames (64 at step 2), short side 256.
INPUT_SHAPE = (32, 256, 256, 3)
NUM_CLASSES = 60


def backbone_module_maps(depth: int, fusion_norm: bool = True) -> Maps:
  """('backbone', ...) <- 'backbone.<official name>' of ACAR's SlowFast, whose laterals
  have BN (R50) or are the conv alone (`fusion_norm=False`, R101)."""
  maps = {}
  for p, pathway in enumerate(('slow', 'fast')):
    stem = ('backbone', 'blocks_0', f'multipathway_blocks_{p}')
    maps[(*stem, 'conv')] = ModuleMap(f'backbone.{pathway}_conv1', 'conv')
    maps[(*stem, 'norm')] = ModuleMap(f'backbone.{pathway}_bn1', 'bn')
    for s, stage_depth in enumerate(slowfast.STAGE_DEPTHS[depth], start=1):
      for b in range(stage_depth):
        flax = ('backbone', f'blocks_{s}', f'multipathway_blocks_{p}', f'res_blocks_{b}')
        torch = f'backbone.{pathway}_res{s}.{b}'
        for layer, i in (('a', 1), ('b', 2), ('c', 3)):
          maps[(*flax, 'branch2', f'conv_{layer}')] = ModuleMap(f'{torch}.conv{i}', 'conv')
          maps[(*flax, 'branch2', f'norm_{layer}')] = ModuleMap(f'{torch}.bn{i}', 'bn')
        if b == 0:
          maps[(*flax, 'branch1_conv')] = ModuleMap(f'{torch}.downsample.0', 'conv')
          maps[(*flax, 'branch1_norm')] = ModuleMap(f'{torch}.downsample_bn', 'bn')
  for s in range(4):
    fusion = ('backbone', f'blocks_{s}', 'multipathway_fusion')
    if fusion_norm:
      maps[(*fusion, 'conv_fast_to_slow')] = ModuleMap(f'backbone.Tconv{s + 1}.0', 'conv')
      maps[(*fusion, 'norm')] = ModuleMap(f'backbone.Tconv{s + 1}.1', 'bn')
    else:
      maps[(*fusion, 'conv_fast_to_slow')] = ModuleMap(f'backbone.Tconv{s + 1}', 'conv')
  return maps


def acar_head_module_maps(depth: int) -> Maps:
  """('head', ...) <- 'head.<official name>' of ACAR's head with `depth` HR2O layers."""
  maps = {('head', n): ModuleMap(f'head.{n}', 'conv') for n in ('conv_reduce', 'conv1', 'conv2')}
  maps |= {('head', n): ModuleMap(f'head.{n}', 'linear') for n in ('fc1', 'fc2')}
  for i in range(depth):
    for name in ('conv_q', 'conv_k', 'conv_v', 'conv'):
      maps[('head', f'hr2o_{i}', name)] = ModuleMap(f'head.hr2o.{i}.{name}', 'conv')
    maps[('head', f'hr2o_{i}', 'norm')] = ModuleMap(f'head.hr2o.{i}.norm', 'layer_norm')
  return maps


def _maps(head: str, depth: int, head_depth: int, fusion_norm: bool):
  def maps() -> Maps:
    if head == 'acar':
      heads = acar_head_module_maps(head_depth)
    else:
      heads = {('head', 'fc'): ModuleMap('head.fc', 'linear')}
    return backbone_module_maps(depth, fusion_norm) | heads

  return maps


def _arch(head: str, depth: int = 50) -> Arch:
  r101 = depth == 101
  backbone = dict(model_name='slowfast', depth=depth, variant='8x8', res5_dilation=2)
  if r101:  # the official defaults: fuse_kernel_size 5, fuse_only_conv, slow by stride
    backbone.update(fusion_kernel=5, fusion_norm=False, slow_frames='stride')
  head_depth = 1 if r101 else 2  # HR2O layers (unused by the linear head)
  head_config = {}
  if head == 'acar':
    head_config = dict(reduce_dim=1024, hidden_dim=512, depth=head_depth, mlp_1x1=r101)
  return Arch(
    'ava',
    {
      'backbone': backbone,
      'num_classes': NUM_CLASSES,
      'head': head,
      'context_maps': 2,
      'head_config': head_config,
    },
    INPUT_SHAPE,
    _maps(head, depth, head_depth, fusion_norm=not r101),
    extra_inputs={'boxes': (1, 4), 'box_mask': (1,)},
    normalisation=R101_NORMALISATION if r101 else R50_NORMALISATION,
  )


# The frames the checkpoints were trained on, on the [0, 1] scale (config.input.pp): the
# R50 configs' /255, mean 0.45, std 0.225; the R101 configs' mean and std on 0-255 pixels.
R50_NORMALISATION = dict(mean=(0.45, 0.45, 0.45), std=(0.225, 0.225, 0.225))
R101_NORMALISATION = dict(
  mean=tuple(v / 255 for v in (110.63666788, 103.16065604, 96.29023126)),
  std=tuple(v / 255 for v in (38.7568578, 37.88248729, 40.02898126)),
)

ARCHS = {
  # model_zoo: AVA_SLOWFAST_R50_ACAR_HR2O.pth.tar, AVA v2.2 val 27.83 mAP.
  'slowfast_r50_acar': _arch('acar'),
  # configs/AVA/SLOWFAST_R50_baseline.yaml's linear head.
  'slowfast_r50_linear': _arch('linear'),
  # model_zoo: AVA_SLOWFAST_R101_ACAR_HR2O_DEPTH1.pth.tar (Kinetics-700 backbone, AVA v2.2
  # val 31.69 mAP), and the AVA-Kinetics model of the same layout (AVA val 33.74).
  'slowfast_r101_acar': _arch('acar', depth=101),
}
