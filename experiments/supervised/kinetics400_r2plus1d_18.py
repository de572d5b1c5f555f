r"""R(2+1)D-18 trained from scratch on Kinetics-400 (Tran et al. CVPR 2018; torchvision recipe).

Prepare the dataset once (official CSVs + the clips you downloaded, see
vidjax/data/builders/kinetics.py), then train:

  python tools/prepare_dataset.py --dataset kinetics --config k400 \
      --manual_dir ~/data/kinetics400 --data_dir ~/tensorflow_datasets
  python -m vidjax.main --config experiments/supervised/kinetics400_r2plus1d_18.py \
      --workdir workdirs/k400_r2plus1d_18

16 frames at stride 2 from videos resized to a short side of 128, random 112x112 crops and
flips; SGD with Nesterov momentum, 45 epochs of about 940 steps at batch 256 with 10 warm-up
epochs and a cosine decay; 10 clips x 1 centre crop at test time.
Hardware: 8 GPUs (A100-class) or a TPU v4-8; the batch is split over every device.
Expected: torchvision's reference training of this network reaches 67.5 % video@1 (its
model card, 16x112x112); not yet reproduced with vidjax (no accelerator time yet).
The published weights instead: tools/convert_checkpoint.py --source torchvision
--arch r2plus1d_18 (then evaluate with --mode evaluate --config.init_from.path=DIR).
Smoke test: experiments/supervised/kinetics400_r2plus1d_18.py:smoke
"""

from vidjax import configs

STEPS_PER_EPOCH = 940  # 240k training clips / 256


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False)
  config = configs.base_config()
  config.total_steps = 45 * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2000
  config.input.dataset = 'kinetics/k400'
  config.input.batch_size = 256
  config.input.num_threads = 16
  config.input.sampling.update(num_frames=16, stride=2, policy='loop')
  config.input.pp.update(resize_short_side=128, crop_size=112)
  config.model_name = 'video_resnet'
  config.model = dict(num_classes=400, depth=18, block='r2plus1d', dropout_rate=0.0)
  config.optim.update(weight_decay=1e-4)
  config.optim.schedule = dict(name='cosine', base_lr=0.4, warmup_steps=10 * STEPS_PER_EPOCH)
  config.evals.val = dict(
    type='multiview',
    split='validation',
    batch_size=64,
    num_clips=10,
    num_crops=1,
    every_steps=5 * STEPS_PER_EPOCH,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.pp.resize_short_side = 0
    config.model.update(num_classes=10, depth=10, width=8)
  return config
