"""ajabri/videowalk's released CRW checkpoint -> `vidjax.models.crw`.

  python tools/convert_checkpoint.py --source videowalk --arch crw_resnet18 \
      --input pretrained.pth --output weights/crw_videowalk

`pretrained.pth` (the README's link) holds {'model': CRW.state_dict(), 'optimizer', ...,
'args'}: the encoder, a torchvision ResNet-18 wrapped as `encoder.model` (videowalk's
`From3D`), with videowalk's `modify`: layer3 and layer4 at stride 1, and, for the
`scratch` model it trains, every padded convolution replaced by a (ReflectionPad2d,
Conv2d) pair, so those weights are named `<conv>.1.weight` (test.py renames them back
before loading). The embedding head `selfsim_fc.0` is a Linear(512, 128). The converted
model is `crw.Model(depth=18, width=64, embed_dim=128, padding_mode='reflect')`; its
`frame_features` (layer3) are what videowalk's test code propagates labels with.
"""

from vidjax.convert import torchvision
from vidjax.convert.torch_checkpoint import Arch, ModuleMap

ENCODER = 'encoder.model.'


def crw_module_maps() -> dict[tuple[str, ...], ModuleMap]:
  """`crw.Model` <- videowalk's CRW state dict: the trunk under 'encoder.model.' and the
  head 'selfsim_fc.0' (the reflect-padded convolutions' '.1' is removed by `rename`)."""
  maps = {
    path: ModuleMap(ENCODER + source.prefix, source.kind)
    for path, source in torchvision.resnet_module_maps(18).items()
    if path[0] == 'resnet'
  }
  maps[('head',)] = ModuleMap('selfsim_fc.0', 'linear')
  return maps


def rename(state: dict) -> dict:
  """videowalk's scratch encoder names a reflect-padded conv's weight '<conv>.1.weight'
  (its second module, after the padding); the plain name is '<conv>.weight'."""
  renamed = {}
  for name, value in state.items():
    if name.startswith(ENCODER) and name.endswith(('conv1.1.weight', 'conv2.1.weight')):
      name = name[: -len('.1.weight')] + '.weight'
    renamed[name] = value
  return renamed


ARCHS = {
  'crw_resnet18': Arch(
    'crw',
    {'depth': 18, 'width': 64, 'embed_dim': 128, 'padding_mode': 'reflect'},
    (1, 64, 64, 3),
    crw_module_maps,
    ignore=(ENCODER + 'fc.',),
    rename=rename,
  ),
}
