r"""Quickstart: R(2+1)D on the embedded synthetic dataset (the README's first command).

  python -m vidjax.main --config experiments/quickstart.py --workdir workdirs/quickstart

Hardware: 2 CPU cores, no accelerator. Wall-clock: 5.7 min (342 s) from a fresh clone,
including the 56 s build of the embedded dataset on first use (400 steps at 1.3-1.8
steps/s); docs/results.md has the profile.
Measured: eval/val/video_top1_2x1 = 98.0 % on the 300 validation videos (90.0 % at step
200). CPU training runs are not bit-reproducible across machines, so expect 94-99 %
(CHANGELOG.md lists earlier runs). The single-frame baseline
(experiments/supervised/synthetic_single_frame.py) is at chance on the same data: the
classes differ only in how the objects change over time, so temporal modelling is required.
Smoke test (tiny data, model and steps): experiments/quickstart.py:smoke
"""

from vidjax import configs


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False)
  config = configs.base_config()
  config.total_steps = 400
  config.log_every = 25
  config.ckpt_every = 200
  config.input.dataset = 'vidjax_synthetic/default'
  config.input.batch_size = 32
  config.input.sampling.update(num_frames=8, stride=2, policy='loop')
  config.input.pp.crop_size = 56
  config.input.pp.flip_label_swaps = configs.SYNTHETIC_FLIP_SWAPS
  config.model_name = 'video_resnet'
  config.model = dict(num_classes=10, depth=10, block='r2plus1d', width=16, dropout_rate=0.0)
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=50)
  config.evals.val = dict(
    type='multiview',
    split='validation',
    batch_size=64,
    num_clips=2,
    num_crops=1,
    every_steps=200,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.model.width = 8
  return config
