"""ACAR-Net's checkpoints: a restatement of the official SlowFast backbone and ACAR head
(vidjax/convert/torch_acar.py, the official parameter names) converted to
`vidjax.models.ava` gives the same logits for every actor."""

import jax
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from tests.models.test_acar import _torch_roi_align  # noqa: E402
from vidjax.convert import acar, torch_acar, torch_checkpoint  # noqa: E402
from vidjax.models import ava  # noqa: E402

HEAD = dict(reduce_dim=16, hidden_dim=8)


# The official R50 configs' backbone and head, and the R101 ones' (laterals without BN,
# slow frames by stride, one HR2O layer with 1x1 output convs).
VARIANTS = {
  'r50': (dict(fuse_kernel_size=7), {}, dict(depth=2)),
  'r101': (
    dict(fuse_kernel_size=5, fuse_only_conv=True, slow_full_span=False),
    dict(fusion_kernel=5, fusion_norm=False, slow_frames='stride'),
    dict(depth=1, mlp_1x1=True),
  ),
}


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_logits_match_the_official_backbone_and_head(variant):
  official, backbone_kwargs, head_kwargs = VARIANTS[variant]
  torch.manual_seed(0)
  backbone = torch_acar.SlowFast(layers=(1, 1, 1, 1), alpha=4, **official).double()
  head_config = dict(HEAD, **head_kwargs)
  head = torch_acar.ACARHead(
    width=2048 + 256, roi_align=_torch_roi_align, num_classes=5, **head_config
  ).double()
  with torch.no_grad():
    for module in (backbone, head):
      for name, tensor in module.state_dict().items():
        if name.endswith('num_batches_tracked'):
          continue
        scale = 0.5 if 'running_var' in name or name.endswith(('bn1.weight', 'bn2.weight')) else 0.1
        positive = 'running_var' in name
        values = torch.rand(tensor.shape) + 0.5 if positive else torch.randn(tensor.shape) * scale
        tensor.copy_(values.double())
  backbone.eval()
  head.eval()
  rng = np.random.default_rng(0)
  video = rng.normal(size=(2, 8, 64, 64, 3))
  boxes = np.array(
    [[[0.1, 0.1, 0.6, 0.9], [0.4, 0.2, 0.9, 0.7]], [[0.2, 0.3, 0.7, 0.8], [0, 0, 0, 0]]],
    np.float32,
  )
  mask = np.array([[True, True], [True, False]])
  with torch.no_grad():
    pathways = backbone(torch.from_numpy(video.transpose(0, 4, 1, 2, 3)))
    expected = head(
      pathways, [torch.from_numpy(boxes[0]).double(), torch.from_numpy(boxes[1][:1]).double()]
    )
  state = {f'backbone.{k}': v.float().numpy() for k, v in backbone.state_dict().items()}
  state |= {f'head.{k}': v.float().numpy() for k, v in head.state_dict().items()}
  state = {k: v for k, v in state.items() if not k.endswith('num_batches_tracked')}
  model = ava.Model(
    backbone=dict(model_name='slowfast', depth=14, variant='8x8', res5_dilation=2,
                  **backbone_kwargs),
    num_classes=5, head='acar', context_maps=2, head_config=head_config,
  )  # fmt: skip
  inputs = dict(video=video.astype(np.float32), boxes=boxes, box_mask=mask)
  abstract = jax.eval_shape(lambda: model.init(jax.random.key(0), inputs, train=False))
  maps = acar.backbone_module_maps(14, fusion_norm=variant == 'r50')
  maps |= acar.acar_head_module_maps(head_config['depth'])
  variables = torch_checkpoint.convert(state, maps, abstract)
  logits, _ = jax.jit(lambda v: model.apply(v, inputs, train=False))(variables)
  np.testing.assert_allclose(np.asarray(logits)[mask], expected.numpy(), rtol=2e-3, atol=2e-4)
