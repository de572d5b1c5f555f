r"""DistInit's image teacher on the embedded data: a 2D ResNet-10 classifying object shapes.

The miniature's stand-in for an ImageNet network: `single_frame` (a torchvision ResNet-10 of
width 16) trained on the 2,000 single images of `vidjax_synthetic/images`, labelled by
the shape of their one object (8 classes). Its last checkpoint is the teacher that
experiments/distinit/synthetic.py distils into a video network, and the 2D network that
experiments/transfer/synthetic_finetune.py:backbone=r3d,inflate inflates.

  python -m vidjax.main --config experiments/distinit/teacher.py \
      --workdir workdirs/distinit/teacher

Crops: boxes of 25-100 % of the image's area resized to 64 x 64 pixels (Inception-style
crops: with whole images only, the network fits its training images and reaches 30 % on
the validation images; from 32-pixel crops, 19 %); tested on whole images, the frames the
video student sees.
Hardware: 2 CPU cores; 6 minutes (seed 1, alone on the machine).
Expected: eval/val/clip_top1 65.2 %, 58.0 % and 64.2 % (seeds 0, 1, 2) on the 500
validation images (chance 12.5 %).
Smoke test: experiments/distinit/teacher.py:smoke
"""

from vidjax import configs


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False)
  config = configs.base_config()
  config.total_steps = 3000
  config.log_every = 100
  config.ckpt_every = 1000
  config.input.dataset = 'vidjax_synthetic/images'
  config.input.loader = 'image'
  config.input.batch_size = 64
  config.input.pp.crop_size = 64
  config.input.pp.train_crop = 'random_resized'
  config.input.pp.random_resized_crop = dict(area=(0.25, 1.0), aspect_ratio=(3 / 4, 4 / 3))
  config.model_name = 'single_frame'
  config.model = dict(num_classes=8, depth=10, width=16)
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=50)
  config.evals.val = dict(
    type='classification', split='validation', batch_size=100, every_steps=1000
  )
  if arg.smoke:
    config.total_steps = 4
    config.log_every = 2
    config.ckpt_every = 2
    config.input.split = 'train[:64]'
    config.input.batch_size = 8
    config.model.width = 8
    config.optim.schedule.warmup_steps = 1
    config.evals.val.update(split='validation[:32]', batch_size=8, every_steps=4)
  return config
