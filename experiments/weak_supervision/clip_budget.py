r"""A budget of clips from long videos: many videos with one clip each, or fewer with several?

IG-65M (Ghadiyaram et al., CVPR 2019) asks how to spend a fixed budget of training clips
when the videos are long and their label holds for only part of them. This runs the
question on the embedded `untrimmed` videos (64 frames, the action in 16 of them at a
random place, idle scenes around): the first `videos` training videos, each with `clips`
fixed training clips, the centres of equal stretches of the video
(`config.input.sampling.clips_per_video`), so `videos x clips` distinct clips in all;
`clips=0` draws a clip anywhere in each video every time (no budget). The network is the
quickstart's R(2+1)D-10 (width 16, 8-frame clips at stride 2, 56 pixels), 400 steps of
32 clips; video accuracy on the validation videos from 4 clips spread over each.

  python -m vidjax.main --workdir workdirs/budget_1200x1 \
      --config experiments/weak_supervision/clip_budget.py:videos=1200,clips=1
  python experiments/weak_supervision/clip_budget_study.py --workdir workdirs/budget_study

Arguments: videos (1200), clips (1), width (16) and pixels (56): the network's width and
its input's size (`width=8,pixels=32` is the SCSampler miniature's small visual network).
Hardware: 2 CPU cores; 3 to 7 minutes a run beside other jobs.
Expected: the paper found more videos with fewer clips each better than fewer videos with
more clips, at the same budget. Measured (seeds 0, 1 and 2, docs/results.md), a budget of
1,200 clips: video top-1 66.2 ± 5.2 % as 1,200 videos x 1 clip, 45.1 ± 5.5 % as 600 x
2, 24.4 ± 1.8 % as 300 x 4 and 11.8 ± 2.3 % (chance 10 %) as 150 x 8, falling with every
halving of the videos in each seed, the paper's finding; a clip anywhere in each of the
1,200 videos every time, 57.4 ± 2.4 %.
Smoke test: experiments/weak_supervision/clip_budget.py:smoke
"""

from vidjax import configs


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, videos=1200, clips=1, width=16, pixels=56)
  if arg.videos <= 0 or arg.clips < 0:
    raise ValueError(f'videos={arg.videos}, clips={arg.clips}: videos > 0 and clips >= 0.')
  if arg.width <= 0 or arg.pixels <= 0:
    raise ValueError(f'width={arg.width}, pixels={arg.pixels}: both > 0.')
  config = configs.base_config()
  config.total_steps = 400
  config.log_every = 25
  config.ckpt_every = 200
  config.input.dataset = 'vidjax_synthetic/untrimmed'
  config.input.split = f'train[:{arg.videos}]'
  config.input.batch_size = 32
  config.input.sampling.update(num_frames=8, stride=2, policy='loop', clips_per_video=arg.clips)
  # Random crops of frames resized to 8/7 of the crop: the quickstart's 56 of 64.
  config.input.pp.update(resize_short_side=arg.pixels + arg.pixels // 7, crop_size=arg.pixels)
  config.input.pp.flip_label_swaps = configs.SYNTHETIC_FLIP_SWAPS
  config.model_name = 'video_resnet'
  config.model = dict(num_classes=10, depth=10, block='r2plus1d', width=arg.width, dropout_rate=0.0)
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=50)
  config.evals.val = dict(
    type='multiview', split='validation', batch_size=60, num_clips=4, num_crops=1, every_steps=200
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.dataset = 'vidjax_synthetic/tiny_untrimmed'
    config.input.split = f'train[:{min(arg.videos, 32)}]'
    config.input.pp.update(resize_short_side=10, crop_size=8)
  return config
