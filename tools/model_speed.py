"""Model mode of `tools/benchmark.py`: train-step and forward speed of zoo models, vidjax
against the source's PyTorch module in the same run, and the roofline references (the
machine's fp32 matmul rate; a device's dense peak for MFU). See benchmark.py for usage."""

import functools
import json
import os
import time

import jax
import jax.numpy as jnp
import optax

from vidjax import model_size
from vidjax.convert import torch_checkpoint
from vidjax.models import ava, unidual, video_resnet


def _torch_s3d(**kwargs):
  from vidjax.convert import torch_s3d  # noqa: PLC0415 (the [torch] extra)

  return torch_s3d.S3D(**kwargs)


# Zoo models that no checkpoint source covers, by model-mode name, against a PyTorch
# restatement of the same network. SpeedNet's S3D-G on its clips (64 frames at 224 x 224,
# no temporal striding, max + mean pooling); two outputs for the benchmark's
# cross-entropy, where SpeedNet has one logit.
_SPEEDNET_S3D_G = dict(
  num_classes=2, variant='s3d-g', temporal_downsampling=False, global_pool='max+mean'
)
ZOO_ARCHS = {
  'speednet/s3d_g': torch_checkpoint.Arch(
    's3d',
    _SPEEDNET_S3D_G,
    (64, 224, 224, 3),
    dict,
    torch_model=functools.partial(_torch_s3d, **_SPEEDNET_S3D_G),
  ),
  # No published checkpoint, so no PyTorch reference: the bottleneck R(2+1)D on VMZ's
  # 32 x 112 x 112 clips, and ViViT-B factorised encoder on Scenic's 32 x 224 x 224.
  'zoo/r2plus1d_50': torch_checkpoint.Arch(
    'video_resnet', dict(num_classes=400, depth=50, block='r2plus1d'), (32, 112, 112, 3), dict
  ),
  'zoo/vivit_b': torch_checkpoint.Arch(
    'vivit', dict(num_classes=400, variant='B'), (32, 224, 224, 3), dict
  ),
}

# Model mode: the zoo models whose PyTorch implementation (the one their published
# checkpoints come from) is importable here, so that both are measured in the same run.
DEFAULT_MODELS = (
  'torchvision/r3d_18',
  'torchvision/mc3_18',
  'torchvision/r2plus1d_18',
  'vmz/r2plus1d_34_8_kinetics',
  'vmz/ir_csn_152_ig_ft_kinetics_32frms',
  'pytorchvideo/slow_r50',
  'pytorchvideo/slowfast_r50',
  'pytorchvideo/x3d_s',
  'pytorchvideo/x3d_m',
  'pytorchvideo/csn_r101',
  'speednet/s3d_g',
)

# Dense peak TFLOP/s by (device_kind prefix, dtype), from the vendors' data sheets, for MFU.
PEAK_TFLOPS = {
  ('NVIDIA H100', 'bfloat16'): 989.0,  # SXM; the PCIe card is 756 (pass --peak_tflops).
  ('NVIDIA H100', 'float32'): 67.0,
  ('NVIDIA H200', 'bfloat16'): 989.0,
  ('NVIDIA H200', 'float32'): 67.0,
  ('NVIDIA A100', 'bfloat16'): 312.0,
  ('NVIDIA A100', 'float32'): 19.5,
  ('TPU v4', 'bfloat16'): 275.0,
  ('TPU v5 lite', 'bfloat16'): 197.0,
  ('TPU v5', 'bfloat16'): 459.0,
}


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
  """The machine's measured fp32 matmul throughput under XLA (the roofline reference)."""
  a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
  matmul = jax.jit(lambda a: a @ a)
  calls = {'xla': {'matmul': lambda: jax.block_until_ready(matmul(a))}}
  seconds = best_seconds(calls, rounds=1, repeats=repeats)['xla']['matmul']
  return 2 * size**3 / seconds / 1e9


def peak_tflops(device_kind: str, dtype: str) -> float | None:
  """The device's dense peak at `dtype` from `PEAK_TFLOPS` (longest matching prefix)."""
  matches = [
    (len(prefix), peak)
    for (prefix, peak_dtype), peak in PEAK_TFLOPS.items()
    if device_kind.startswith(prefix) and peak_dtype == dtype
  ]
  return max(matches)[1] if matches else None


def jax_model_calls(
  arch, batch: int, shape: tuple[int, ...], dtype: str = 'float32', lowering: str = 'auto'
) -> dict:
  """The vidjax model's train step and forward pass as calls that block until done, and its
  FLOPs per clip and the lowering used (`layers.LOWERINGS`; None for a model without one)."""
  model, _ = torch_checkpoint.build_model(arch)
  model = model.clone(dtype=dtype)
  if 'lowering' in model.__dataclass_fields__:
    model = model.clone(lowering=lowering)
  else:
    lowering = None
  video = jax.random.normal(jax.random.key(1), (batch, *shape), jnp.float32)
  return {**_jax_calls(model, video, lambda outputs: outputs), 'lowering': lowering}


def _jax_calls(model, inputs, logits_of) -> dict:
  """Train step (SGD with momentum on a cross-entropy) and forward pass of `model` on
  `inputs` (a batch, or a dict of batches), and its FLOPs per example."""
  first = jax.tree.map(lambda x: x[:1], inputs)
  batch = jax.tree.leaves(inputs)[0].shape[0]
  variables = model.init(
    {'params': jax.random.key(0), 'dropout': jax.random.key(0)}, first, train=False
  )
  labels = jnp.arange(batch) % 2
  tx = optax.sgd(0.01, momentum=0.9)
  opt_state = tx.init(variables['params'])

  @functools.partial(jax.jit, donate_argnums=(0, 1, 2))
  def train_step(params, batch_stats, opt_state, inputs):
    def loss_fn(params):
      (outputs, _), new_state = model.apply(
        {'params': params, 'batch_stats': batch_stats},
        inputs,
        train=True,
        rngs={'dropout': jax.random.key(0)},
        mutable=['batch_stats'],
      )
      logits = logits_of(outputs)
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), new_state

    grads, new_state = jax.grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), new_state['batch_stats'], opt_state

  state = [variables['params'], variables.get('batch_stats', {}), opt_state]

  def train():
    state[:] = train_step(*state, inputs)
    jax.block_until_ready(state[0])

  forward_fn = jax.jit(lambda v, x: logits_of(model.apply(v, x, train=False)[0]))

  def forward():
    jax.block_until_ready(forward_fn({'params': state[0], 'batch_stats': state[1]}, inputs))

  return {
    'train': train,
    'forward': forward,
    'gflops_per_clip': model_size.flops(model, variables, first) / 1e9,
  }


def torch_model_calls(arch, batch: int, shape: tuple[int, ...], dtype: str = 'float32') -> dict:
  """The same calls for the source's PyTorch module, on the same machine: on its CPU, or
  on its GPU when JAX runs on one (then bf16 under autocast, as is usual there)."""
  import torch  # noqa: PLC0415 (the [torch] extra)

  torch.set_num_threads(os.cpu_count())
  device = 'cpu' if jax.default_backend() == 'cpu' else 'cuda'
  # cuDNN's own autotuning (the warm-up calls run it), as XLA autotunes its convolutions.
  torch.backends.cudnn.benchmark = device == 'cuda'
  model = arch.torch_model().to(device)
  video = torch.randn(batch, shape[-1], *shape[:-1], device=device)  # [B, C, T, H, W]
  labels = torch.arange(batch, device=device) % 2
  optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
  autocast = torch.autocast(device, torch.bfloat16, enabled=dtype == 'bfloat16')

  def synchronize():
    if device == 'cuda':
      torch.cuda.synchronize()

  def train():
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with autocast:
      loss = torch.nn.functional.cross_entropy(model(video), labels)
    loss.backward()
    optimizer.step()
    synchronize()

  def forward():
    model.eval()
    with torch.inference_mode(), autocast:
      model(video)
    synchronize()

  return {'train': train, 'forward': forward}


def best_seconds(calls: dict[str, dict], rounds: int, repeats: int) -> dict[str, dict]:
  """Seconds per call of every {framework: {kind: call}}, warmed up twice, then timed over
  `repeats` calls in each of `rounds` rounds that alternate the frameworks; the best round
  is kept (as timeit does), so that a slow spell of a shared machine hits neither side.
  Every other round runs the frameworks in reverse order: on the development machine the
  position alone moved a train step by up to 10 % (`docs/models.md`)."""
  for kinds in calls.values():
    for call in kinds.values():
      call()
      call()
  best = {name: {kind: float('inf') for kind in kinds} for name, kinds in calls.items()}
  for round_index in range(rounds):
    order = list(calls.items())
    for name, kinds in order[::-1] if round_index % 2 else order:
      for kind, call in kinds.items():
        start = time.perf_counter()
        for _ in range(repeats):
          call()
        best[name][kind] = min(best[name][kind], (time.perf_counter() - start) / repeats)
  return best


def model_benchmark(
  archs: dict[str, torch_checkpoint.Arch],
  batch: int,
  shape: str,
  repeats: int,
  json_path: str | None = None,
  dtype: str = 'float32',
  device_peak_tflops: float | None = None,
  rounds: int = 2,
  lowering: str = 'auto',
  torch_reference: bool = True,
) -> dict:
  """Per model: clips/s and GFLOP/s of train step and forward, vidjax vs PyTorch, and on
  accelerators the train step's MFU (model FLOPs utilisation against the device peak).
  `lowering` is the convolutions' (`layers.LOWERINGS`); without `torch_reference`, vidjax
  alone is measured.

  With `json_path`, the results so far are written after every model (a long run that is
  stopped keeps what it measured)."""
  try:
    import torch  # noqa: PLC0415
  except ImportError:
    has_torch = False
  else:
    has_torch = torch_reference and (jax.default_backend() == 'cpu' or torch.cuda.is_available())
  device_kind = str(jax.devices()[0].device_kind)
  if device_peak_tflops is None and jax.default_backend() != 'cpu':
    device_peak_tflops = peak_tflops(device_kind, dtype)
  peak = matmul_gflops()
  rows = []

  def _results(rows):
    return {
      'mode': 'model',
      'backend': jax.default_backend(),
      'device': device_kind,
      'cpus': os.cpu_count(),
      'matmul_fp32_gflops_per_s': round(peak, 1),
      'device_peak_tflops': device_peak_tflops,
      'rounds': rounds,
      'repeats': repeats,
      'models': rows,
    }

  for name, arch in archs.items():
    if name.startswith((UNIDUAL_PREFIX, AVA_PREFIX)):
      if name.startswith(UNIDUAL_PREFIX):
        clip_shape = parse_shape(shape, (16, 112, 112, 3))
        row = unidual_overhead(name, batch, clip_shape, dtype, rounds, repeats)
      else:
        row = ava_batching(name, batch, parse_shape(shape, AVA_CLIP), dtype, rounds, repeats)
      print(json.dumps(row), flush=True)
      rows.append(row)
      _write(_results(rows), json_path)
      continue
    clip_shape = parse_shape(shape, arch.input_shape)
    vidjax_calls = jax_model_calls(arch, batch, clip_shape, dtype, lowering)
    gflops_per_clip = vidjax_calls.pop('gflops_per_clip')
    model_lowering = vidjax_calls.pop('lowering')
    calls = {'vidjax': vidjax_calls}
    if has_torch and arch.torch_model is not None:
      calls['torch'] = torch_model_calls(arch, batch, clip_shape, dtype)
    seconds = best_seconds(calls, rounds, repeats)
    del calls, vidjax_calls
    timings = seconds['vidjax']
    gflops = gflops_per_clip * batch
    row = {
      'model': name,
      'dtype': dtype,
      'lowering': model_lowering,
      'input': list(clip_shape),
      'batch': batch,
      'gflops_per_clip': round(gflops_per_clip, 2),
      'vidjax_train_clips_per_s': round(batch / timings['train'], 2),
      'vidjax_forward_clips_per_s': round(batch / timings['forward'], 2),
      # A train step costs about 3 forward passes (forward, input and weight gradients).
      'vidjax_train_gflops_per_s': round(3 * gflops / timings['train'], 1),
      'vidjax_forward_gflops_per_s': round(gflops / timings['forward'], 1),
    }
    row['train_fraction_of_matmul'] = round(row['vidjax_train_gflops_per_s'] / peak, 3)
    if device_peak_tflops:
      row['train_mfu'] = round(row['vidjax_train_gflops_per_s'] / (1e3 * device_peak_tflops), 4)
    if 'torch' in seconds:
      reference = seconds['torch']
      row['torch_train_clips_per_s'] = round(batch / reference['train'], 2)
      row['torch_forward_clips_per_s'] = round(batch / reference['forward'], 2)
      row['train_ratio_vs_torch'] = round(reference['train'] / timings['train'], 2)
      row['forward_ratio_vs_torch'] = round(reference['forward'] / timings['forward'], 2)
    print(json.dumps(row), flush=True)
    rows.append(row)
    _write(_results(rows), json_path)
  return _results(rows)


def _write(results: dict, json_path: str | None) -> None:
  if json_path:
    with open(json_path, 'w') as f:
      json.dump(results, f, indent=1)


# Model mode names 'unidual/r2plus1d_<depth>': UniDual's train step on a video batch against
# the zoo's plain R(2+1)D of that depth, measured in the same rounds (its overhead per clip).
UNIDUAL_PREFIX = 'unidual/r2plus1d_'


def unidual_overhead(
  name: str, batch: int, clip_shape: tuple[int, ...], dtype: str, rounds: int, repeats: int
) -> dict:
  """UniDual R(2+1)D against R(2+1)D on the same video batch: clips/s of both and the
  overhead of UniDual per clip, (its time / R(2+1)D's) - 1."""
  depth = int(name[len(UNIDUAL_PREFIX) :])
  video = jax.random.normal(jax.random.key(1), (batch, *clip_shape), jnp.float32)
  dual = unidual.Model(num_classes={'video': 400, 'image': 1000}, depth=depth, dtype=dtype)
  plain = video_resnet.Model(num_classes=400, depth=depth, block='r2plus1d', dtype=dtype)
  calls = {
    'unidual': _jax_calls(dual, {'video': video}, lambda outputs: outputs['video']),
    'r2plus1d': _jax_calls(plain, video, lambda outputs: outputs),
  }
  gflops = {key: kinds.pop('gflops_per_clip') for key, kinds in calls.items()}
  seconds = best_seconds(calls, rounds, repeats)
  row = {'model': name, 'dtype': dtype, 'input': list(clip_shape), 'batch': batch}
  for key in calls:
    row[f'{key}_gflops_per_clip'] = round(gflops[key], 2)
    for kind in ('train', 'forward'):
      row[f'{key}_{kind}_clips_per_s'] = round(batch / seconds[key][kind], 2)
  for kind in ('train', 'forward'):
    overhead = seconds['unidual'][kind] / seconds['r2plus1d'][kind] - 1
    row[f'unidual_{kind}_overhead_percent'] = round(100 * overhead, 1)
  return row


# Model mode names 'ava/slowfast_r50_<head>' ('acar' or 'linear'): the AVA model of
# experiments/ava/ava_v2_2.py (SlowFast R50 8x8, res5 dilated, 32 x 256 x 256 clips with 8
# actor boxes each) at batch 1, ACAR-Net's batch per GPU, and at --batch in the same rounds.
AVA_PREFIX = 'ava/slowfast_r50_'
AVA_BACKBONE = dict(model_name='slowfast', depth=50, variant='8x8', res5_dilation=2)
AVA_HEADS = {'acar': dict(reduce_dim=1024, hidden_dim=512, depth=2), 'linear': {}}
AVA_CLIP = (32, 256, 256, 3)


def ava_batching(
  name: str,
  batch: int,
  clip_shape: tuple[int, ...],
  dtype: str,
  rounds: int,
  repeats: int,
  *,
  backbone: dict = AVA_BACKBONE,
  actors: int = 8,
) -> dict:
  """Train-step clips/s of an AVA model at batch 1 and at `batch` (static actor slots
  make both one compiled program), and the gain per clip of the larger batch."""
  head = name[len(AVA_PREFIX) :]
  if head not in AVA_HEADS:
    raise ValueError(f'{name!r}: the head after {AVA_PREFIX!r} is one of {tuple(AVA_HEADS)}.')
  head_config = dict(AVA_HEADS[head], dtype=dtype) if head == 'acar' else {}
  model = ava.Model(
    backbone=dict(backbone, dtype=dtype), num_classes=60, head=head, head_config=head_config
  )

  def inputs(size):
    corners = jax.random.uniform(jax.random.key(2), (size, actors, 2), maxval=0.5)
    boxes = jnp.concatenate([corners, corners + 0.4], axis=-1)
    video = jax.random.normal(jax.random.key(1), (size, *clip_shape), jnp.float32)
    return {'video': video, 'boxes': boxes, 'box_mask': jnp.ones((size, actors), bool)}

  first_actor = lambda outputs: outputs[:, 0]  # noqa: E731  (one actor's logits for the loss)
  calls = {size: _jax_calls(model, inputs(size), first_actor) for size in (1, batch)}
  gflops = calls[1].pop('gflops_per_clip')
  calls[batch].pop('gflops_per_clip')
  for kinds in calls.values():
    del kinds['forward']
  seconds = best_seconds(calls, rounds, repeats)
  row = {'model': name, 'dtype': dtype, 'input': list(clip_shape), 'actors': actors}
  row['gflops_per_clip'] = round(gflops, 2)
  for size in calls:
    row[f'train_clips_per_s_batch_{size}'] = round(size / seconds[size]['train'], 3)
  gain = row[f'train_clips_per_s_batch_{batch}'] / row['train_clips_per_s_batch_1']
  row[f'batch_{batch}_over_batch_1_per_clip'] = round(gain, 2)
  return row


def find_arch(name: str) -> torch_checkpoint.Arch | None:
  """A model-mode name's Arch: SOURCE/ARCH of a checkpoint source, a `ZOO_ARCHS` name, or
  None for 'unidual/r2plus1d_<depth>' and 'ava/...' (measured by `unidual_overhead` and
  `ava_batching`)."""
  if name.startswith((UNIDUAL_PREFIX, AVA_PREFIX)):
    return None
  if name in ZOO_ARCHS:
    return ZOO_ARCHS[name]
  source, _, arch_name = name.partition('/')
  return torch_checkpoint.find_arch(source, arch_name)


def parse_shape(shape: str, default: tuple[int, ...]) -> tuple[int, ...]:
  """'16x112x112' -> (16, 112, 112, C); 'HxW' keeps the model's own frame count and
  channels, '' its whole input shape."""
  if not shape:
    return tuple(default)
  try:
    sizes = tuple(int(v) for v in shape.split('x'))
  except ValueError:
    sizes = ()
  if len(sizes) not in (2, 3):
    raise ValueError(f'--shape={shape!r}: expected TxHxW or HxW, e.g. 16x112x112 or 112x112.')
  if len(sizes) == 2:
    sizes = (default[0], *sizes)
  return (*sizes, default[-1])
