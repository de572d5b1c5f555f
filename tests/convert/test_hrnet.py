"""The official pose HRNet checkpoints -> `vidjax.models.hrnet`: the published W32 and W48
state dicts convert shape for shape, and a converted network's heatmaps match the PyTorch
reference's (vidjax/convert/torch_hrnet.py) in eval and train mode. The parity check runs a
narrow, shallow network (width 4, one block a branch, stages of 1, 1 and 2 modules: every
kind of module and fusion the published layout has, through the same code and tables) on
64 x 64 images, whose coarsest branch is 2 x 2."""

import jax
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from vidjax.convert import hrnet, torch_checkpoint  # noqa: E402
from vidjax.convert import torch_hrnet as ref  # noqa: E402

FAST_COMPILE = {'xla_backend_optimization_level': 0}
REDUCED = dict(stages=((1, 2), (1, 3), (2, 4)), blocks=1)


def _randomize(model, seed: int = 0) -> None:
  """Weights ~ N(0, 1 / fan_in), biases and BN shifts ~ N(0, 0.1), BN scales ~ U(0.5, 1),
  running variances ~ U(0.5, 1.5): every weight and statistic matters."""
  generator = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for module in model.modules():
      if isinstance(module, torch.nn.Conv2d):
        fan_in = int(np.prod(module.weight.shape[1:]))
        module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * fan_in**-0.5)
        if module.bias is not None:
          module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
      elif isinstance(module, torch.nn.BatchNorm2d):
        module.weight.copy_(0.5 + 0.5 * torch.rand(module.weight.shape, generator=generator))
        module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
        module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape, generator=generator))
        module.running_var.copy_(0.5 + torch.rand(module.running_var.shape, generator=generator))


@pytest.mark.parametrize('name', sorted(hrnet.ARCHS))
def test_published_hrnet_converts(name):
  arch = hrnet.ARCHS[name]
  with torch.device('meta'):
    torch_model = ref.PoseHighResolutionNet(**arch.model_kwargs)
  state = {
    k: np.broadcast_to(np.float32(0), v.shape)
    for k, v in torch_model.state_dict().items()
    if 'num_batches' not in k
  }
  _, abstract = torch_checkpoint.build_model(arch)
  variables = torch_checkpoint.convert(state, arch.module_maps(), abstract)
  assert sum(v.size for v in jax.tree.leaves(variables)) == sum(v.size for v in state.values())


@pytest.mark.slow
def test_hrnet_heatmaps_match_the_reference(tmp_path, monkeypatch):
  torch_model = ref.PoseHighResolutionNet(width=4, num_keypoints=5, **REDUCED)
  _randomize(torch_model)
  path = str(tmp_path / 'hrnet.pth')
  torch.save({'state_dict': torch_model.state_dict()}, path)
  arch = torch_checkpoint.Arch(
    'hrnet',
    {'width': 4, 'num_keypoints': 5, 'lowering': 'native', **REDUCED},
    (64, 64, 3),
    lambda: hrnet.hrnet_module_maps(**REDUCED),
  )
  monkeypatch.setitem(hrnet.ARCHS, 'under_test', arch)
  spec, variables = torch_checkpoint.convert_file('hrnet', 'under_test', path)
  model, _ = torch_checkpoint.build_model(spec)
  images = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype(np.float32)

  def forward(variables, images):
    evaluated, _ = model.apply(variables, images, train=False)
    (trained, _), _ = model.apply(variables, images, train=True, mutable=['batch_stats'])
    return evaluated, trained

  got = jax.jit(forward, compiler_options=FAST_COMPILE)(variables, images)
  torch_model.double()
  for train, heatmaps in zip((False, True), got, strict=True):
    torch_model.train(train)
    with torch.no_grad():
      expected = torch_model(torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float64)))
    expected = expected.numpy().transpose(0, 2, 3, 1)
    assert heatmaps.shape == expected.shape == (2, 16, 16, 5)
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(heatmaps, expected, atol=1e-4 * np.abs(expected).max())


def test_posewarper_starts_from_a_converted_hrnet(tmp_path):
  """PoseWarper with the HRNet pose network (`heatmaps.network='hrnet'`) reads a converted
  HRNet under 'pose_net', the warping module keeping its own initialisation. (Variables
  from shapes alone: nothing is compiled.)"""
  import jax.numpy as jnp

  from vidjax import checkpoint
  from vidjax.models import hrnet as hrnet_model
  from vidjax.models import posewarper

  rng = np.random.default_rng(0)

  def filled(abstract, fill):
    return jax.tree.map(lambda s: fill(s.shape).astype(s.dtype), abstract)

  pose_net = hrnet_model.Model(width=4, num_keypoints=5, **REDUCED)
  images = jnp.zeros((1, 64, 64, 3))
  pose_variables = filled(
    jax.eval_shape(lambda: pose_net.init(jax.random.key(1), images, train=False)),
    rng.standard_normal,
  )
  checkpoint.save_variables(str(tmp_path / 'hrnet'), pose_variables)
  model = posewarper.Model(
    num_keypoints=5,
    heatmaps=dict(network='hrnet', width=4, **REDUCED),
    channels=8,
    num_blocks=1,
    dilations=(3,),
  )
  video = {'video': jnp.zeros((1, 2, 64, 64, 3))}
  variables = filled(
    jax.eval_shape(lambda: model.init(jax.random.key(0), video, train=False)), np.zeros
  )
  restored = checkpoint.restore_variables(
    str(tmp_path / 'hrnet'),
    variables,
    rename=((r'pose_net/(.+)', r'\1'),),
    dont_load=(r'blocks_.*', r'offsets_.*', r'warp_.*'),
  )
  for collection in ('params', 'batch_stats'):
    got, stored = restored[collection]['pose_net'], pose_variables[collection]
    assert jax.tree.structure(got) == jax.tree.structure(stored)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(stored), strict=True):
      np.testing.assert_array_equal(a, b)
  assert not np.any(restored['params']['offsets_d3']['kernel'])
  bad = posewarper.Model(num_keypoints=5, heatmaps=dict(network='hrnet48'))
  with pytest.raises(ValueError, match="heatmaps.network='hrnet48'"):
    jax.eval_shape(lambda: bad.init(jax.random.key(0), video, train=False))
