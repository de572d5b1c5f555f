"""PyTorchVideo checkpoints: every published architecture converts, and logits match.

The reference networks come from pytorchvideo itself (random weights and BatchNorm
statistics). Numerical parity is checked on reduced versions (fewer blocks and channels, 10
classes) built by the same PyTorchVideo builders and converted with the same module tables;
the published sizes are converted shape-for-shape without being run. The reference logits
are computed in float64, so that the tolerance bounds vidjax's float32 error alone (in train
mode, BatchNorm over a few values per channel makes float32 torch itself differ from
float64 by up to 2e-4). vidjax runs with the native convolution lowering, which compiles
fastest; the CPU lowerings compute the same function (tests/models/test_layers.py).
"""

import dataclasses
import functools

import jax
import numpy as np
import pytest

torch = pytest.importorskip('torch')

from torch_reference import import_pytorchvideo_models, randomize  # noqa: E402

from tests.models import roi_align_reference  # noqa: E402
from vidjax.convert import pytorchvideo, torch_checkpoint  # noqa: E402
from vidjax.models import ava, slowfast  # noqa: E402

hub = import_pytorchvideo_models()
from pytorchvideo.models import resnet as pv_resnet  # noqa: E402
from pytorchvideo.models import slowfast as pv_slowfast  # noqa: E402
from pytorchvideo.models.csn import create_csn  # noqa: E402
from pytorchvideo.models.x3d import create_x3d  # noqa: E402

FAST_COMPILE = {'xla_backend_optimization_level': 0}
NUM_CLASSES = 10
TOLERANCE = 1e-4
# Two clips, so that every BatchNorm has more than one value per channel in train mode.
BATCH, FRAMES, SIZE = 2, 8, 32
RES5 = SIZE // 32  # Height and width of the last stage's maps.


# The published networks, built as PyTorchVideo's hub does (head_activation=None: logits).
PUBLISHED = {
  'x3d_xs': lambda: hub.x3d_xs(head_activation=None),
  'x3d_s': lambda: hub.x3d_s(head_activation=None),
  'x3d_m': lambda: hub.x3d_m(head_activation=None),
  'x3d_l': lambda: hub.x3d_l(head_activation=None),
  'slow_r50': hub.slow_r50,
  'slow_4x16_r50': lambda: pv_resnet.create_resnet(
    stem_conv_kernel_size=(1, 7, 7), head_pool_kernel_size=(4, 7, 7)
  ),
  'slowfast_r50': hub.slowfast_r50,
  'slowfast_4x16_r50': lambda: pv_slowfast.create_slowfast(
    slowfast_fusion_conv_kernel_size=(5, 1, 1),
    slowfast_fusion_conv_stride=(8, 1, 1),
    head_pool_kernel_sizes=((4, 7, 7), (32, 7, 7)),
  ),
  'slowfast_r101': hub.slowfast_r101,
  'slowfast_16x8_r101_50_50': hub.slowfast_16x8_r101_50_50,
  'csn_r101': hub.csn_r101,
  'slowfast_r50_detection': lambda: _detection_model(),
}


class _RoIAlign(torch.nn.Module):
  """torchvision's RoIAlign (aligned=False, the detection head's), by the NumPy
  restatement of its kernel (tests/models/roi_align_reference.py): no torchvision here."""

  def __init__(self, output_size, spatial_scale, sampling_ratio):
    super().__init__()
    self.output_size, self.scale, self.ratio = output_size, spatial_scale, sampling_ratio

  def forward(self, x, rois):  # x [B, C, H, W], rois [K, 5] (index, x1, y1, x2, y2)
    if x.device.type == 'meta':
      return x.new_empty((len(rois), x.shape[1], *self.output_size))
    features = x.detach().numpy().transpose(0, 2, 3, 1)
    index, boxes = rois[:, 0].numpy().astype(int), rois[:, 1:].numpy()
    pooled = roi_align_reference.roi_align(
      features, boxes, index, self.output_size, self.scale, self.ratio, False
    )
    return torch.from_numpy(pooled.transpose(0, 3, 1, 2)).to(x.dtype)


def _detection_model(**kwargs):
  """`create_slowfast_with_roi_head` with the RoIAlign above (the builder takes no RoI
  layer: its head builder's default is patched while it runs)."""
  builder = pv_slowfast.create_res_roi_pooling_head
  pv_slowfast.create_res_roi_pooling_head = functools.partial(builder, roi=_RoIAlign)
  try:
    return pv_slowfast.create_slowfast_with_roi_head(**kwargs)
  finally:
    pv_slowfast.create_res_roi_pooling_head = builder


def test_every_arch_has_a_reference():
  assert set(PUBLISHED) == set(pytorchvideo.ARCHS)


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_published_architecture_converts(name):
  """The full state dict of PyTorchVideo's network fills every weight with its shape."""
  with torch.device('meta'):  # Shapes only: no memory, no initialisation.
    torch_model = PUBLISHED[name]()
  state = {
    k: np.broadcast_to(np.float32(0), v.shape)
    for k, v in torch_model.state_dict().items()
    if 'num_batches' not in k
  }
  arch = pytorchvideo.ARCHS[name]
  # Shapes do not depend on the lowering; the native one traces fastest.
  kwargs = dict(arch.model_kwargs)
  if 'backbone' in kwargs:  # an AVA model: the backbone's lowering
    kwargs['backbone'] = dict(kwargs['backbone'], lowering='native')
  else:
    kwargs['lowering'] = 'native'
  arch = dataclasses.replace(arch, model_kwargs=kwargs)
  _, abstract = torch_checkpoint.build_model(arch)
  variables = torch_checkpoint.convert(state, arch.module_maps(), abstract)
  num_weights = sum(v.size for v in jax.tree.leaves(variables))
  assert num_weights == sum(v.size for v in state.values())


def _check_parity(torch_model, arch, video, torch_inputs, tmp_path, monkeypatch):
  """Converts `torch_model` through a checkpoint file; logits match in eval and train mode.

  Args:
    torch_model: the reference network (randomised here).
    arch: the matching `Arch` (registered under a test name for `convert_file`).
    video: the vidjax input [B, T, H, W, C].
    torch_inputs: what `torch_model` takes for the same clip.
  """
  randomize(torch_model)
  path = str(tmp_path / 'model.pyth')
  torch.save({'model_state': torch_model.state_dict()}, path)
  arch = dataclasses.replace(arch, model_kwargs={**arch.model_kwargs, 'lowering': 'native'})
  monkeypatch.setitem(pytorchvideo.ARCHS, 'under_test', arch)
  spec, variables = torch_checkpoint.convert_file('pytorchvideo', 'under_test', path)
  model, _ = torch_checkpoint.build_model(spec)
  torch_model.double()
  torch_inputs = jax.tree.map(lambda x: x.double(), torch_inputs)

  def forward(variables, video, train):
    if train:
      (logits, _), _ = model.apply(variables, video, train=True, mutable=['batch_stats'])
    else:
      logits, _ = model.apply(variables, video, train=False)
    return logits

  diffs = []
  for train in (False, True):
    torch_model.train(train)
    with torch.no_grad():
      # A fresh list each call: PyTorchVideo's multi-pathway blocks replace its items.
      inputs = list(torch_inputs) if isinstance(torch_inputs, list) else torch_inputs
      expected = torch_model(inputs).numpy()
    got = jax.jit(
      functools.partial(forward, train=train), compiler_options=FAST_COMPILE
    )(variables, video)  # fmt: skip
    assert got.shape == expected.shape == (BATCH, NUM_CLASSES)
    assert np.abs(expected).max() > 0.1  # Not trivially zero.
    diffs.append(float(np.abs(np.asarray(got) - expected).max()))
  assert max(diffs) <= TOLERANCE, diffs


def _video(frames: int = FRAMES, size: int = SIZE):
  """The same random clip as vidjax input [B, T, H, W, C] and torch input [B, C, T, H, W]."""
  video = np.random.default_rng(0).normal(size=(BATCH, frames, size, size, 3))
  video = video.astype(np.float32)
  return video, torch.from_numpy(np.ascontiguousarray(video.transpose(0, 4, 1, 2, 3)))


def test_x3d_logits_match(tmp_path, monkeypatch):
  # Depth factor 0.5: blocks (1, 1, 3, 2), so blocks with and without squeeze-excitation and
  # shortcuts with and without BN all occur; channels from width 4.
  torch_model = create_x3d(
    input_clip_length=4, input_crop_size=SIZE, model_num_class=NUM_CLASSES, dropout_rate=0.0,
    depth_factor=0.5, stem_dim_in=4, head_dim_out=32, head_activation=None,
  )  # fmt: skip
  arch = torch_checkpoint.Arch(
    'x3d',
    dict(num_classes=NUM_CLASSES, variant='xs', width=4, depth_factor=0.5, head_features=32),
    (4, SIZE, SIZE, 3),
    functools.partial(pytorchvideo.x3d_module_maps, 0.5),
  )
  video, torch_video = _video(4)
  _check_parity(torch_model, arch, video, torch_video, tmp_path, monkeypatch)


def test_csn_logits_match(tmp_path, monkeypatch):
  # ir-CSN-50 (create_csn knows no smaller depth) with 4 stem channels. The clip is larger
  # than elsewhere: CSN also strides time, and with res5 maps of 1 x 2 x 2 (8 frames of
  # 64^2), train-mode BatchNorm over 50 layers amplifies float32 rounding to about 1e-4.
  frames, size = 16, 64
  torch_model = create_csn(
    model_depth=50, model_num_class=NUM_CLASSES, stem_dim_out=4, stem_pool=torch.nn.MaxPool3d,
    head_pool_kernel_size=(frames // 8, size // 32, size // 32),
  )  # fmt: skip
  arch = torch_checkpoint.Arch(
    'csn',
    dict(num_classes=NUM_CLASSES, depth=50, variant='ir', width=4),
    (frames, size, size, 3),
    functools.partial(pytorchvideo.csn_module_maps, 50),
  )
  video, torch_video = _video(frames, size)
  _check_parity(torch_model, arch, video, torch_video, tmp_path, monkeypatch)


@pytest.fixture
def small_depths(monkeypatch):
  """Depth 14 (one block per stage, vidjax's tiny ResNet) and 17 (two res4 blocks) for both."""
  depths = {14: (1, 1, 1, 1), 17: (1, 1, 2, 1)}
  for table in (
    pv_resnet._MODEL_STAGE_DEPTH,
    pv_slowfast._MODEL_STAGE_DEPTH,
    slowfast.STAGE_DEPTHS,
  ):
    for depth, stage_depths in depths.items():
      monkeypatch.setitem(table, depth, stage_depths)


def test_slow_logits_match(tmp_path, monkeypatch, small_depths):
  torch_model = pv_resnet.create_resnet(
    model_depth=14, model_num_class=NUM_CLASSES, dropout_rate=0.0, stem_dim_out=8,
    stem_conv_kernel_size=(1, 7, 7), head_pool_kernel_size=(FRAMES, RES5, RES5),
  )  # fmt: skip
  arch = torch_checkpoint.Arch(
    'slowfast',
    dict(num_classes=NUM_CLASSES, depth=14, pathway='slow', width=8),
    (FRAMES, SIZE, SIZE, 3),
    functools.partial(pytorchvideo.slow_module_maps, 14),
  )
  video, torch_video = _video()
  _check_parity(torch_model, arch, video, torch_video, tmp_path, monkeypatch)


def test_slowfast_logits_match(tmp_path, monkeypatch, small_depths):
  # 8x8, PyTorchVideo's hub variant (4x16 differs in alpha and the fusion kernel, not in the
  # table), with 2 res4 blocks of which only the first has a temporal conv_a, as in
  # slowfast_16x8_r101_50_50's res4.
  variant = '8x8'
  _, alpha = slowfast.VARIANTS[variant]
  kernel = slowfast.fusion_kernel_for(50, variant)
  slow_frames = FRAMES // alpha
  conv_a_kernels = (
    ((1, 1, 1), (1, 1, 1), ((3, 1, 1), (1, 1, 1)), (3, 1, 1)),
    ((3, 1, 1), (3, 1, 1), ((3, 1, 1), (1, 1, 1)), (3, 1, 1)),
  )
  # Slow stem 16 channels, fast 4 (beta_inv 4 instead of 8 keeps the fast pathway > 1 wide).
  torch_model = pv_slowfast.create_slowfast(
    model_depth=17, model_num_class=NUM_CLASSES, dropout_rate=0.0,
    slowfast_channel_reduction_ratio=4, stem_dim_outs=(16, 4),
    slowfast_fusion_conv_kernel_size=(kernel, 1, 1), slowfast_fusion_conv_stride=(alpha, 1, 1),
    stage_conv_a_kernel_sizes=conv_a_kernels,
    head_pool_kernel_sizes=((slow_frames, RES5, RES5), (FRAMES, RES5, RES5)),
  )  # fmt: skip
  arch = torch_checkpoint.Arch(
    'slowfast',
    dict(
      num_classes=NUM_CLASSES, depth=17, variant=variant, width=16, beta_inv=4,
      res4_temporal_blocks=1,
    ),
    (FRAMES, SIZE, SIZE, 3),
    functools.partial(pytorchvideo.slowfast_module_maps, 17),
  )  # fmt: skip
  video, torch_video = _video()
  # PyTorchVideo's PackPathway picks the slow frames outside the network; vidjax inside.
  slow_video = torch_video[:, :, slowfast.slow_frame_indices(FRAMES, alpha)]
  _check_parity(torch_model, arch, video, [slow_video, torch_video], tmp_path, monkeypatch)


def detection_case(torch_model, frames: int, size: int, alpha: int):
  """(vidjax inputs, the reference's logits of the boxes the mask keeps) of two clips with
  two actor slots each, one of them padding, through a PyTorchVideo AVA network."""
  video, torch_video = _video(frames, size)
  boxes = np.array(
    [[[0.1, 0.2, 0.6, 0.9], [0.5, 0.1, 0.9, 0.5]], [[0.2, 0.2, 0.8, 0.7], [0.0] * 4]]
  )
  mask = np.array([[True, True], [True, False]])
  rois = [[b, *(boxes[b, i] * size)] for b, i in zip(*np.nonzero(mask), strict=True)]
  slow_video = torch_video[:, :, slowfast.slow_frame_indices(frames, alpha)]
  with torch.no_grad():
    expected = torch_model([slow_video.double(), torch_video.double()], torch.tensor(rois).double())
  return dict(video=video, boxes=boxes.astype(np.float32), box_mask=mask), expected.numpy()


def test_slowfast_detection_logits_match(small_depths):
  """PyTorchVideo's AVA network (SlowFast with res5 dilated and the RoI head) at depth 14,
  converted: the same logits for every box, in eval mode."""
  size, frames, alpha = 64, 8, 4
  torch_model = _detection_model(
    model_depth=14, model_num_class=NUM_CLASSES, dropout_rate=0.0,
    slowfast_channel_reduction_ratio=4, stem_dim_outs=(16, 4),
    head_pool_kernel_sizes=((frames // alpha, 1, 1), (frames, 1, 1)), head_activation=None,
  )  # fmt: skip
  randomize(torch_model)
  torch_model.eval().double()
  inputs, expected = detection_case(torch_model, frames, size, alpha)
  state = {
    k: v.float().numpy() for k, v in torch_model.state_dict().items() if 'num_batches' not in k
  }
  model = ava.Model(
    backbone=dict(model_name='slowfast', depth=14, variant='8x8', width=16, beta_inv=4,
                  res5_dilation=2, lowering='native'),
    num_classes=NUM_CLASSES, head='linear', context_maps=2,
  )  # fmt: skip
  abstract = jax.eval_shape(lambda: model.init(jax.random.key(0), inputs, train=False))
  variables = torch_checkpoint.convert(
    state, pytorchvideo.slowfast_detection_module_maps(14), abstract
  )
  logits, _ = jax.jit(lambda v: model.apply(v, inputs, train=False))(variables)
  assert np.abs(expected).max() > 0.1
  np.testing.assert_allclose(np.asarray(logits)[inputs['box_mask']], expected, atol=TOLERANCE)
