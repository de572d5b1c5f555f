"""videowalk's released CRW checkpoint: its layout converts to `crw.Model` with the same
layer3 features (what labels are propagated with) and node embeddings."""

import argparse

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from test_crw_encoder import videowalk_modify  # noqa: E402
from torch_reference import randomize  # noqa: E402

from vidjax.convert import torch_checkpoint, videowalk  # noqa: E402
from vidjax.convert import torch_resnet as image_ref  # noqa: E402
from vidjax.models import crw  # noqa: E402


def videowalk_checkpoint(torch_model, head, path) -> None:
  """Saves torch_model + head as videowalk's train.py does: {'model': CRW.state_dict(),
  'args', ...}, the trunk under 'encoder.model.', a reflect-padded conv's weight under
  '<conv>.1.weight' (the Conv2d after its ReflectionPad2d)."""
  state = {}
  for name, value in torch_model.state_dict().items():
    if name.endswith(('conv1.weight', 'conv2.weight')):
      name = name[: -len('.weight')] + '.1.weight'
    state['encoder.model.' + name] = value.float()
  state['selfsim_fc.0.weight'] = head.weight.float()
  state['selfsim_fc.0.bias'] = head.bias.float()
  args = argparse.Namespace(model_type='scratch', temp=0.05, dropout=0.1)
  torch.save({'model': state, 'optimizer': {}, 'epoch': 3, 'args': args}, path)


def test_the_released_layout_converts_with_the_same_features(tmp_path):
  torch_model = image_ref.resnet18()
  randomize(torch_model)
  videowalk_modify(torch_model, 'reflect')
  head = torch.nn.Linear(512, 128)
  torch_model.double().eval()
  head.double()
  path = tmp_path / 'pretrained.pth'
  videowalk_checkpoint(torch_model, head, path)

  spec, variables = torch_checkpoint.convert_file('videowalk', 'crw_resnet18', str(path))
  model = crw.Model(**spec.model_kwargs, lowering='native')
  images = np.random.default_rng(0).normal(size=(2, 64, 64, 3))
  with torch.no_grad():
    x = torch.from_numpy(images.transpose(0, 3, 1, 2))
    x = torch_model.maxpool(torch_model.relu(torch_model.bn1(torch_model.conv1(x))))
    layer3 = torch_model.layer3(torch_model.layer2(torch_model.layer1(x)))
    node = head(torch_model.layer4(layer3).mean(dim=(2, 3)))
    node = torch.nn.functional.normalize(node, dim=1).numpy()

  got = model.apply(variables, images.astype(np.float32), method=crw.Model.frame_features)
  np.testing.assert_allclose(got, layer3.numpy().transpose(0, 2, 3, 1), atol=1e-4)
  # One patch per image: the node embedding of the pooled layer4 map through the head.
  embeddings, _ = model.apply(variables, images[:, None, None].astype(np.float32), train=False)
  np.testing.assert_allclose(embeddings[:, 0, 0], node, atol=1e-5)


def test_another_architecture_is_named_in_the_error(tmp_path):
  torch_model = image_ref.resnet18(layers=(1, 1, 1, 1))
  path = tmp_path / 'small.pth'
  videowalk_checkpoint(torch_model, torch.nn.Linear(512, 128), path)
  with pytest.raises(torch_checkpoint.ConversionError, match='small.pth as videowalk crw_resnet18'):
    torch_checkpoint.convert_file('videowalk', 'crw_resnet18', str(path))


def test_rename_keeps_other_keys():
  state = {
    'encoder.model.layer1.1.conv1.1.weight': 1,
    'encoder.model.layer2.0.downsample.1.weight': 2,
    'selfsim_fc.0.weight': 3,
  }
  assert videowalk.rename(state) == {
    'encoder.model.layer1.1.conv1.weight': 1,
    'encoder.model.layer2.0.downsample.1.weight': 2,
    'selfsim_fc.0.weight': 3,
  }
