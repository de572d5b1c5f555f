r"""Gradient Blending on Kinetics-400 RGB + audio (arXiv 1905.12681, VMZ's AV settings).

Prepare Kinetics-400 with its audio tracks (the prepared videos keep them):

  python tools/prepare_dataset.py --dataset kinetics --config k400 \
      --manual_dir ~/data/kinetics400 --data_dir ~/tensorflow_datasets

then train one of (variant=):
  fixed    VMZ's published weights for the backbone (preset=k400_ip_csn_152, the default,
           or k400_r3d_50 / k400_ip_csn_152_ig65m with backbone to match), fixed;
  online   weights re-estimated every 5 epochs (one window) on held-out V = 10 % of train;
  naive    the fused head's loss alone (the paper's baseline).

  python -m vidjax.main --config experiments/gblend/kinetics400_av.py:variant=fixed \
      --workdir workdirs/gblend_k400_csn152_fixed
  python -m vidjax.main --workdir workdirs/gblend_k400_r2plus1d_online \
      --config experiments/gblend/kinetics400_av.py:variant=online,backbone=r2plus1d_34

Backbones: ip-CSN-152 (VMZ, 32x224x224) or R(2+1)D-34 (VMZ, 32x112x112); the audio tower is
VMZ's on a 100 x 40 log-mel of the clip's span. Training reads train[:90%]; V is
train[90%:], T is train[:10%]; video@1 over 10 clips on validation.
Hardware: 32 GPUs (A100-class) or a TPU v4-64 for ip-CSN-152. Time: not measured yet (no
accelerator run).
Expected: the paper reports 79.1 % video@1 for G-Blend ip-CSN-152 RGB+audio trained on
Kinetics from scratch, above both its RGB-only model and naive RGB+audio training.
Smoke test: experiments/gblend/kinetics400_av.py:smoke
"""

from vidjax import configs
from vidjax.tasks import gblend

STEPS_PER_EPOCH = 940  # 240k training clips / 256
HEADS = ('audio', 'video', 'fused')
BACKBONES = {
  'ip_csn_152': (dict(model_name='csn', variant='ip', depth=152), 32, 224),
  'r2plus1d_34': (
    dict(
      model_name='video_resnet', depth=34, block='r2plus1d', midplanes_rule='conv', bn_epsilon=1e-3
    ),
    32,
    112,
  ),
}


def get_config(arg: str | None = None):
  arg = configs.parse_arg(
    arg, smoke=False, variant='fixed', backbone='ip_csn_152', preset='k400_ip_csn_152'
  )
  if arg.backbone not in BACKBONES:
    raise ValueError(f'backbone={arg.backbone!r}; choose one of {tuple(BACKBONES)}.')
  if arg.preset not in gblend.PRESETS:
    raise ValueError(f'preset={arg.preset!r}; choose one of {tuple(gblend.PRESETS)}.')
  tower, num_frames, crop = BACKBONES[arg.backbone]
  config = configs.base_config()
  config.total_steps = 45 * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2000
  config.input.dataset = 'kinetics/k400'
  config.input.split = 'train[:90%]'
  config.input.batch_size = 256
  config.input.num_threads = 16
  config.input.sampling.update(num_frames=num_frames, stride=2, policy='loop')
  config.input.pp.update(resize_short_side=int(crop * 8 / 7), crop_size=crop)
  config.input.audio.update(enabled=True, num_mels=40, spectrogram_frames=100)
  config.model_name = 'multimodal'
  config.model = dict(
    towers=dict(video=dict(tower), audio=dict(model_name='audio_resnet', depth=18)),
    num_classes=400,
  )
  config.task = 'gblend'
  weights = {
    'fixed': gblend.PRESETS[arg.preset],
    'naive': dict(audio=0.0, video=0.0, fused=1.0),
    'online': dict(audio=1.0, video=1.0, fused=1.0),
  }[arg.variant]
  estimate = 'online' if arg.variant == 'online' else 'none'
  config.task_kwargs = dict(heads=HEADS, weights=weights, estimate=estimate)
  config.optim.schedule = dict(name='cosine', base_lr=0.4, warmup_steps=10 * STEPS_PER_EPOCH)
  window = 5 * STEPS_PER_EPOCH
  config.evals.val = dict(
    type='multiview',
    split='validation',
    batch_size=64,
    num_clips=10,
    num_crops=1,
    every_steps=window,
  )
  for name, split in (('gblend_v', 'train[90%:]'), ('gblend_t', 'train[:10%]')):
    config.evals[name] = dict(
      type='head_losses', split=split, batch_size=256, every_steps=window, at_start=True
    )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
    config.input.pp.resize_short_side = 0
    config.model.towers = dict(
      video=dict(model_name='video_resnet', depth=10, block='r2plus1d', width=8),
      audio=dict(model_name='audio_resnet', depth=10, width=8),
    )
    config.model.num_classes = 10
    config.evals.val.num_clips = 2
    for name in ('gblend_v', 'gblend_t'):
      config.evals[name].split = 'validation'
  return config
