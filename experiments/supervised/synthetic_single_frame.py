r"""Single-frame baseline (Karpathy et al. CVPR 2014) on the embedded synthetic dataset.

A 2D ResNet-10 classifies every frame independently (trained with a per-frame loss);
at test time the per-frame probabilities of a clip are averaged.

  python -m vidjax.main --config experiments/supervised/synthetic_single_frame.py \
      --workdir workdirs/single_frame

Hardware: 2 CPU cores, no accelerator. Wall-clock: 2.2 min (131 s; dataset already built
by the quickstart).
Measured: eval/val/video_top1_2x1 = 9.3 % (chance is 10 %; the target is <= 40 %): single
frames carry no information on the direction of motion, rotation sense, growing or
fading. The quickstart's R(2+1)D gets 94-99 % on the same data. Earlier runs: CHANGELOG.md.
Smoke test: experiments/supervised/synthetic_single_frame.py:smoke
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
  config.model_name = 'single_frame'
  config.model = dict(num_classes=10, depth=10, width=16)
  config.task_kwargs.frame_level_loss = True
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
