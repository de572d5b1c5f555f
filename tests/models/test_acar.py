"""ACAR-Net's head against a restatement of the official PyTorch module
(vidjax/convert/torch_acar.py) with the official state-dict names, and the padded actor
slots' independence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from tests.models import roi_align_reference  # noqa: E402
from vidjax.convert import torch_acar, torch_checkpoint  # noqa: E402
from vidjax.convert.torch_checkpoint import ModuleMap  # noqa: E402
from vidjax.models import acar  # noqa: E402

DEPTH = 2
SIZES = dict(num_classes=5, reduce_dim=8, hidden_dim=8, depth=DEPTH)


def _torch_roi_align(maps, rois, output_size):
  """torchvision's roi_align(maps [B, C, H, W], rois [K, 5]) by the NumPy kernel."""
  features = maps.detach().numpy().transpose(0, 2, 3, 1)
  boxes, index = rois[:, 1:].numpy(), rois[:, 0].numpy().astype(int)
  pooled = roi_align_reference.roi_align(features, boxes, index, output_size, 1.0, -1, False)
  return torch.from_numpy(pooled.transpose(0, 3, 1, 2)).to(maps.dtype)


def _maps() -> dict:
  """The head's flax modules <- the official names."""
  maps = {(name,): ModuleMap(name, 'conv') for name in ('conv_reduce', 'conv1', 'conv2')}
  maps |= {(name,): ModuleMap(name, 'linear') for name in ('fc1', 'fc2')}
  for i in range(DEPTH):
    for name in ('conv_q', 'conv_k', 'conv_v', 'conv'):
      maps[(f'hr2o_{i}', name)] = ModuleMap(f'hr2o.{i}.{name}', 'conv')
    maps[(f'hr2o_{i}', 'norm')] = ModuleMap(f'hr2o.{i}.norm', 'layer_norm')
  return maps


def test_logits_match_the_official_head_and_padding_changes_nothing():
  torch.manual_seed(0)
  reference = torch_acar.ACARHead(width=6 + 3, roi_align=_torch_roi_align, **SIZES).double()
  with torch.no_grad():
    for parameter in reference.parameters():
      parameter.copy_(torch.randn(parameter.shape, dtype=torch.float64) * 0.5)
  reference.eval()
  rng = np.random.default_rng(0)
  slow = rng.normal(size=(2, 2, 9, 9, 6)).astype(np.float32)  # [B, T, H, W, C]
  fast = rng.normal(size=(2, 4, 9, 9, 3)).astype(np.float32)
  boxes = np.array(
    [
      [[0.1, 0.1, 0.6, 0.9], [0.4, 0.2, 0.9, 0.7], [0.0, 0.5, 0.3, 1.0]],
      [[0.2, 0.3, 0.7, 0.8], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
    ],
    np.float32,
  )
  mask = np.array([[True, True, True], [True, False, False]])
  with torch.no_grad():
    expected = reference(
      [torch.from_numpy(p.transpose(0, 4, 1, 2, 3)).double() for p in (slow, fast)],
      [torch.from_numpy(boxes[0]).double(), torch.from_numpy(boxes[1][:1]).double()],
    ).numpy()

  head = acar.ACARHead(**SIZES)
  abstract = jax.eval_shape(
    lambda: head.init(jax.random.key(0), [slow, fast], boxes, mask, train=False)
  )
  state = {k: v.float().numpy() for k, v in reference.state_dict().items()}
  variables = torch_checkpoint.convert(state, _maps(), abstract)
  apply = jax.jit(lambda v, b: head.apply(v, [slow, fast], b, mask, train=False)[0])
  logits = np.asarray(apply(variables, boxes))
  np.testing.assert_allclose(logits[mask], expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
  # Other boxes in the padded slots change no real actor's logits.
  moved = boxes.copy()
  moved[1, 1:] = [[0.3, 0.3, 0.9, 0.9], [0.1, 0.0, 0.5, 0.4]]
  np.testing.assert_allclose(
    np.asarray(apply(variables, moved))[mask], logits[mask], rtol=1e-6, atol=1e-6
  )
  assert jnp.all(jnp.isfinite(logits))


def test_the_feature_bank_operator_reads_only_the_banks_real_entries():
  rng = np.random.default_rng(0)
  actors = rng.normal(size=(3, 2, 8)).astype(np.float32)
  bank = rng.normal(size=(3, 5, 8)).astype(np.float32)
  bank_mask = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0]], bool)
  operator = acar.FeatureBankOperator(latent_dim=4)
  variables = operator.init(jax.random.key(0), actors, bank, bank_mask, train=False)
  apply = jax.jit(lambda b: operator.apply(variables, actors, b, bank_mask, train=False))
  read = np.asarray(apply(bank))
  # An empty bank (the second keyframe) leaves the actor features as they are.
  np.testing.assert_array_equal(read[1], actors[1])
  assert not np.allclose(read[0], actors[0])
  # What the padded slots hold changes nothing.
  other = np.where(bank_mask[..., None], bank, rng.normal(size=bank.shape)).astype(np.float32)
  np.testing.assert_allclose(np.asarray(apply(other)), read, rtol=1e-6, atol=1e-6)


def test_the_acfb_head_reads_the_bank_and_needs_one():
  rng = np.random.default_rng(1)
  slow, fast = (rng.normal(size=(2, t, 6, 6, c)).astype(np.float32) for t, c in ((2, 6), (4, 3)))
  boxes = np.tile(np.array([0.1, 0.1, 0.6, 0.7], np.float32), (2, 3, 1))
  mask = np.array([[True, True, False], [True, False, False]])
  head = acar.ACARHead(**SIZES, bank_layers=2)
  bank = (rng.normal(size=(2, 4, 8)).astype(np.float32), np.ones((2, 4), bool))
  variables = head.init(jax.random.key(0), [slow, fast], boxes, mask, bank, train=False)
  assert {'fbo_0', 'fbo_1'} <= set(variables['params'])
  logits, actor_context = head.apply(variables, [slow, fast], boxes, mask, bank, train=False)
  assert logits.shape == (2, 3, 5) and actor_context.shape == (2, 3, 8)
  empty = (bank[0], np.zeros_like(bank[1]))
  unread, _ = head.apply(variables, [slow, fast], boxes, mask, empty, train=False)
  assert not np.allclose(np.asarray(unread)[mask], np.asarray(logits)[mask])
  with pytest.raises(ValueError, match='keyframe.bank.path'):
    head.init(jax.random.key(0), [slow, fast], boxes, mask, train=False)
