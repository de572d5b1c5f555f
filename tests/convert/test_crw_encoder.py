"""The contrastive random walk's encoder: ResNet2D with videowalk's changes to torchvision's
ResNet (layer3 and layer4 at stride 1, reflect padding, layer4 removed for propagation)
computes the same feature map as the modified torchvision module."""

import jax
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from torch_reference import randomize  # noqa: E402

from vidjax.convert import torch_checkpoint, torchvision  # noqa: E402
from vidjax.convert import torch_resnet as image_ref  # noqa: E402
from vidjax.models.resnet import ResNet2D  # noqa: E402


def videowalk_modify(model, padding: str) -> None:
  """videowalk's resnet.ResNet.modify: every conv of layer3 and layer4 at stride 1
  (downsampling shortcuts included), and `padding` for every padded conv."""
  for layer in (model.layer3, model.layer4):
    for module in layer.modules():
      if isinstance(module, torch.nn.Conv2d):
        module.stride = tuple(1 for _ in module.stride)
  if padding:
    for module in model.modules():
      if isinstance(module, torch.nn.Conv2d) and sum(module.padding) > 0:
        module.padding_mode = padding


@pytest.mark.parametrize('padding_mode', ['reflect', 'zeros'])
def test_layer3_features_match_videowalks_encoder(padding_mode):
  torch_model = image_ref.resnet18(layers=(1, 1, 1, 1))
  randomize(torch_model)
  videowalk_modify(torch_model, '' if padding_mode == 'zeros' else padding_mode)
  torch_model.double().eval()
  images = np.random.default_rng(0).normal(size=(2, 48, 64, 3))
  with torch.no_grad():
    x = torch.from_numpy(images.transpose(0, 3, 1, 2))
    x = torch_model.maxpool(torch_model.relu(torch_model.bn1(torch_model.conv1(x))))
    expected = torch_model.layer3(torch_model.layer2(torch_model.layer1(x))).numpy()

  model = ResNet2D(
    depth=10,
    stage_strides=(1, 2, 1, 1),
    num_stages=3,
    pool=False,
    padding_mode=padding_mode,
    lowering='native',
  )
  abstract = jax.eval_shape(lambda: model.init(jax.random.key(0), images, train=False))
  maps = {
    path[1:]: source
    for path, source in torchvision.resnet_module_maps(10).items()
    if path[0] == 'resnet' and not path[1].startswith('layer4')
  }
  state = {
    k: v.float().numpy()
    for k, v in torch_model.state_dict().items()
    if not k.endswith('num_batches_tracked')  # dropped by load_state_dict too
  }
  variables = torch_checkpoint.convert(state, maps, abstract, ignore=('layer4.', 'fc.'))
  got = model.apply(variables, images.astype(np.float32), train=False)
  # Output stride 8 at 48 x 64: a 6 x 8 map of 256 channels.
  assert got.shape == (2, 6, 8, 256) and expected.shape == (2, 256, 6, 8)
  np.testing.assert_allclose(got, expected.transpose(0, 2, 3, 1), atol=1e-4)
