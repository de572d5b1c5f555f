"""torchvision and VMZ checkpoints: every architecture converts, and logits match.

The references are plain-torch restatements of torchvision's and VMZ's modules
(vidjax/convert/torch_video_resnet.py), with random weights and BatchNorm statistics, saved to a
file and read back by `torch_checkpoint.convert_file`. They run with one block per stage
(the same modules, module tables and vidjax code as the published depths, which take 10-45 s
each to compile on CPU; their parity at full size is measured in docs/models.md), and the
published networks' full state dicts are converted shape-for-shape. The reference logits
are computed in float64, so that the tolerance bounds vidjax's float32 error; vidjax runs
with the native convolution lowering, which compiles fastest (the CPU lowerings compute the
same function, tests/models/test_layers.py).
"""

import dataclasses

import jax
import numpy as np
import pytest

torch = pytest.importorskip('torch')


from vidjax.convert import torch_checkpoint, torchvision, vmz  # noqa: E402
from vidjax.convert import torch_resnet as image_ref  # noqa: E402
from vidjax.convert import torch_video_resnet as ref  # noqa: E402

FAST_COMPILE = {'xla_backend_optimization_level': 0}
TOLERANCE = 1e-4
NUM_CLASSES = 400
# Two clips, so that every BatchNorm has more than one value per channel in train mode; the
# VMZ stems max-pool, hence their larger frames.
BATCH, FRAMES, SIZE, POOLED_SIZE = 2, 4, 32, 64

# One arch per distinct network (the VMZ names differ otherwise only in the class count).
PUBLISHED = {
  ('torchvision', 'r3d_18'): ref.r3d_18,
  ('torchvision', 'mc3_18'): ref.mc3_18,
  ('torchvision', 'r2plus1d_18'): ref.r2plus1d_18,
  ('vmz', 'r2plus1d_34_32_ig65m'): lambda: ref.r2plus1d_34(num_classes=359),
  ('vmz', 'r2plus1d_152_sports1m_32frms'): lambda: ref.r2plus1d_152(num_classes=487),
  ('vmz', 'ir_csn_152_ig65m_32frms'): lambda: ref.ir_csn_152(num_classes=359),
  ('vmz', 'ip_csn_152_ig_ft_kinetics_32frms'): ref.ip_csn_152,
  ('torchvision', 'resnet18'): image_ref.resnet18,
  ('torchvision', 'resnet50'): image_ref.resnet50,
}
VIDEO_ARCHS = sorted(k for k, v in torchvision.ARCHS.items() if v.model_name == 'video_resnet')


def _native(arch: torch_checkpoint.Arch) -> torch_checkpoint.Arch:
  return dataclasses.replace(arch, model_kwargs={**arch.model_kwargs, 'lowering': 'native'})


def randomize(model, seed: int = 0) -> None:
  """Random weights and BatchNorm statistics, so that every weight and statistic matters.

  Convolution and linear weights ~ N(0, 1 / fan_in), linear bias ~ N(0, 0.1); BatchNorm
  weight ~ U(0.5, 1.5), bias ~ N(0, 0.1), running_mean ~ N(0, 0.1), running_var ~ U(0.5,
  1.5). The last BatchNorm of every residual branch gets weight ~ U(0.1, 0.3), as in trained
  ResNets: with weights ~ 1 there, a random 34-layer network in train mode amplifies float32
  rounding by ~2x a block, to 1e-3 in the logits (a float64 run of both sides agrees to 1e-7).
  """
  generator = torch.Generator().manual_seed(seed)

  def normal(tensor, std):
    tensor.copy_(std * torch.randn(tensor.shape, generator=generator))

  def uniform(tensor, low, high):
    tensor.copy_(low + (high - low) * torch.rand(tensor.shape, generator=generator))

  with torch.no_grad():
    for module in model.modules():
      if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
        uniform(module.weight, 0.5, 1.5)
        normal(module.bias, 0.1)
        normal(module.running_mean, 0.1)
        uniform(module.running_var, 0.5, 1.5)
      elif isinstance(module, (torch.nn.modules.conv._ConvNd, torch.nn.Linear)):
        normal(module.weight, module.weight[0].numel() ** -0.5)
        if module.bias is not None:
          normal(module.bias, 0.1)
    for module in model.modules():
      if isinstance(module, ref.BasicBlock):
        uniform(module.conv2[1].weight, 0.1, 0.3)
      elif isinstance(module, ref.Bottleneck):
        uniform(module.conv3[1].weight, 0.1, 0.3)
      elif isinstance(module, image_ref.BasicBlock):
        uniform(module.bn2.weight, 0.1, 0.3)
      elif isinstance(module, image_ref.Bottleneck):
        uniform(module.bn3.weight, 0.1, 0.3)


def test_every_arch_has_a_reference():
  """Every network (model kwargs but the class count) of both sources is in PUBLISHED."""

  def network(source, name):
    arch = torch_checkpoint.find_arch(source, name)
    kwargs = {k: v for k, v in arch.model_kwargs.items() if k != 'num_classes'}
    return arch.model_name, sorted(kwargs.items())

  archs = [('torchvision', name) for name in torchvision.ARCHS]
  archs += [('vmz', name) for name in vmz.ARCHS]
  assert len(archs) == 3 + 2 + 4 + 3 * 4
  published = [network(*key) for key in PUBLISHED]
  assert len(published) == len(PUBLISHED)  # One reference per network.
  assert all(network(*key) in published for key in archs)


@pytest.mark.parametrize(('source', 'name'), sorted(PUBLISHED))
def test_published_architecture_converts(source, name):
  """The full state dict of the reference network fills every weight with its shape."""
  with torch.device('meta'):  # Shapes only: no memory, no initialisation.
    torch_model = PUBLISHED[source, name]()
  state = {
    k: np.broadcast_to(np.float32(0), v.shape)
    for k, v in torch_model.state_dict().items()
    if 'num_batches' not in k
  }
  arch = _native(torch_checkpoint.find_arch(source, name))
  _, abstract = torch_checkpoint.build_model(arch)
  variables = torch_checkpoint.convert(state, arch.module_maps(), abstract)
  num_weights = sum(v.size for v in jax.tree.leaves(variables))
  assert num_weights == sum(v.size for v in state.values())


def _check_parity(torch_model, source, arch, size, tmp_path, monkeypatch) -> float:
  """Converts `torch_model` through a checkpoint file; returns max |logit diff| (eval, train).

  Args:
    torch_model: the reference network (randomised here).
    source: 'torchvision' or 'vmz'.
    arch: the matching `Arch` (registered under a test name for `convert_file`).
    size: height and width of the clip.
  """
  randomize(torch_model)
  path = str(tmp_path / 'model.pth')
  torch.save(torch_model.state_dict(), path)
  archs = torchvision.ARCHS if source == 'torchvision' else vmz.ARCHS
  monkeypatch.setitem(archs, 'under_test', _native(arch))
  spec, variables = torch_checkpoint.convert_file(source, 'under_test', path)
  model, _ = torch_checkpoint.build_model(spec)
  video = np.random.default_rng(0).normal(size=(BATCH, FRAMES, size, size, 3)).astype(np.float32)
  torch_video = torch.from_numpy(video.transpose(0, 4, 1, 2, 3).astype(np.float64))
  torch_model.double()

  def forward(variables, video):
    logits_eval, _ = model.apply(variables, video, train=False)
    (logits_train, _), _ = model.apply(variables, video, train=True, mutable=['batch_stats'])
    return logits_eval, logits_train

  got = jax.jit(forward, compiler_options=FAST_COMPILE)(variables, video)
  diffs = []
  for train, logits in zip((False, True), got, strict=True):
    torch_model.train(train)
    with torch.no_grad():
      expected = torch_model(torch_video).numpy()
    assert logits.shape == expected.shape == (BATCH, arch.model_kwargs['num_classes'])
    assert np.abs(expected).max() > 0.1  # Not trivially zero.
    diffs.append(float(np.abs(np.asarray(logits) - expected).max()))
  assert max(diffs) <= TOLERANCE, diffs
  return max(diffs)


@pytest.mark.parametrize('name', VIDEO_ARCHS)
def test_torchvision_logits_match(name, tmp_path, monkeypatch):
  # Depth 10: the 18-layer network's modules with one block per stage.
  torch_model = PUBLISHED['torchvision', name](layers=(1, 1, 1, 1))
  published = torchvision.ARCHS[name]
  arch = torch_checkpoint.Arch(
    'video_resnet',
    {**published.model_kwargs, 'depth': 10},
    (FRAMES, SIZE, SIZE, 3),
    lambda: torchvision.video_resnet_module_maps(10, published.model_kwargs['block']),
  )
  _check_parity(torch_model, 'torchvision', arch, SIZE, tmp_path, monkeypatch)


def test_vmz_r2plus1d_34_logits_match(tmp_path, monkeypatch):
  # Depth 10: the 34-layer network's basic blocks with one block per stage. The first block
  # of stages 2-4 widens, so the per-conv mid widths differ from torchvision's there.
  torch_model = ref.r2plus1d_34(layers=(1, 1, 1, 1), num_classes=487)
  arch = torch_checkpoint.Arch(
    'video_resnet',
    vmz.r2plus1d_kwargs(10, 487),
    (FRAMES, SIZE, SIZE, 3),
    lambda: torchvision.video_resnet_module_maps(10, 'r2plus1d'),
  )
  _check_parity(torch_model, 'vmz', arch, SIZE, tmp_path, monkeypatch)


def test_vmz_r2plus1d_152_logits_match(tmp_path, monkeypatch):
  torch_model = ref.r2plus1d_152(layers=(1, 1, 1, 1))
  arch = torch_checkpoint.Arch(
    'video_resnet',
    {**vmz.r2plus1d_kwargs(14, NUM_CLASSES), 'stem_pool': True},
    (FRAMES, POOLED_SIZE, POOLED_SIZE, 3),
    lambda: torchvision.video_resnet_module_maps(14, 'r2plus1d'),
  )
  _check_parity(torch_model, 'vmz', arch, POOLED_SIZE, tmp_path, monkeypatch)


@pytest.mark.parametrize('variant', ['ir', 'ip'])
def test_vmz_csn_logits_match(variant, tmp_path, monkeypatch):
  build = ref.ir_csn_152 if variant == 'ir' else ref.ip_csn_152
  torch_model = build(layers=(1, 1, 1, 1))
  arch = torch_checkpoint.Arch(
    'csn',
    {**vmz.csn_kwargs(variant, NUM_CLASSES), 'depth': 14},
    (FRAMES, POOLED_SIZE, POOLED_SIZE, 3),
    lambda: vmz.csn_module_maps(14, variant),
  )
  _check_parity(torch_model, 'vmz', arch, POOLED_SIZE, tmp_path, monkeypatch)


def test_vmz_class_counts_are_fixed_by_the_checkpoint_name():
  # ig65m-pytorch's hub entry points assert these (its README had them swapped).
  assert vmz.ARCHS['r2plus1d_34_8_ig65m'].model_kwargs['num_classes'] == 487
  assert vmz.ARCHS['r2plus1d_34_32_ig65m'].model_kwargs['num_classes'] == 359
  assert vmz.ARCHS['ir_csn_152_sports1m_32frms'].model_kwargs['num_classes'] == 487
  assert vmz.ARCHS['ip_csn_152_ig_ft_kinetics_32frms'].model_kwargs['num_classes'] == 400


def test_a_wrong_class_count_names_the_classifier(tmp_path):
  with torch.device('meta'):
    torch_model = ref.r2plus1d_34(num_classes=400)
  state = {
    k: np.broadcast_to(np.float32(0), v.shape)
    for k, v in torch_model.state_dict().items()
    if 'num_batches' not in k
  }
  arch = _native(vmz.ARCHS['r2plus1d_34_32_ig65m'])
  _, abstract = torch_checkpoint.build_model(arch)
  with pytest.raises(torch_checkpoint.ConversionError, match=r'fc.weight \(400, 512\)') as e:
    torch_checkpoint.convert(state, arch.module_maps(), abstract)
  assert 'fc.weight has 400 outputs where the architecture has 359' in str(e.value)
  assert '--num_classes=400' in str(e.value)


@pytest.mark.parametrize(('name', 'depth'), [('resnet18', 10), ('resnet50', 14)])
def test_torchvision_image_resnet_logits_match(name, depth, tmp_path, monkeypatch):
  """The ImageNet ResNets as `single_frame` models: on one-frame clips their frame logits
  are torchvision's image logits, in eval and train mode. Depth 10 / 14: the published
  network's blocks, one per stage; 64-pixel images, so that the last stage's train-mode
  BatchNorm has 8 values per channel."""
  torch_model = PUBLISHED['torchvision', name](layers=(1, 1, 1, 1))
  randomize(torch_model)
  path = str(tmp_path / 'model.pth')
  torch.save(torch_model.state_dict(), path)
  published = torchvision.ARCHS[name]
  arch = torch_checkpoint.Arch(
    'single_frame',
    {**published.model_kwargs, 'depth': depth, 'lowering': 'native'},
    (1, POOLED_SIZE, POOLED_SIZE, 3),
    lambda: torchvision.resnet_module_maps(depth),
  )
  monkeypatch.setitem(torchvision.ARCHS, 'under_test', arch)
  spec, variables = torch_checkpoint.convert_file('torchvision', 'under_test', path)
  model, _ = torch_checkpoint.build_model(spec)
  images = (
    np.random.default_rng(0).normal(size=(BATCH, POOLED_SIZE, POOLED_SIZE, 3)).astype(np.float32)
  )
  torch_images = torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float64))
  torch_model.double()

  def forward(variables, video):
    _, aux_eval = model.apply(variables, video, train=False)
    (_, aux_train), _ = model.apply(variables, video, train=True, mutable=['batch_stats'])
    return aux_eval['frame_logits'][:, 0], aux_train['frame_logits'][:, 0]

  got = jax.jit(forward, compiler_options=FAST_COMPILE)(variables, images[:, None])
  for train, logits in zip((False, True), got, strict=True):
    torch_model.train(train)
    with torch.no_grad():
      expected = torch_model(torch_images).numpy()
    assert logits.shape == expected.shape == (BATCH, 1000)
    assert np.abs(expected).max() > 0.1  # Not trivially zero.
    np.testing.assert_allclose(logits, expected, atol=TOLERANCE, err_msg=f'train={train}')
