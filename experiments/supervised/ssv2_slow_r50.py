r"""Slow-only R50 on Something-Something v2 with TSN segment sampling, from Kinetics weights.

SSv2's classes are told apart by direction and order ("pushing something from left to
right"), so it is sampled the way TSN / TSM / PySlowFast do: 8 equal segments, one random
frame per segment in training (the centre frame at test time), and a horizontal flip
relabels the left/right classes (`FLIP_LABEL_SWAPS` of the ssv2 builder) instead of
corrupting them.

  python tools/convert_checkpoint.py --source pytorchvideo --arch slow_r50 \
      --input SLOW_8x8_R50.pyth --output ~/checkpoints/slow_r50_k400
  python tools/prepare_dataset.py --dataset ssv2 --manual_dir ~/data/ssv2 \
      --data_dir ~/tensorflow_datasets
  python -m vidjax.main --config experiments/supervised/ssv2_slow_r50.py \
      --config.init_from.path=$HOME/checkpoints/slow_r50_k400 --workdir workdirs/ssv2_slow_r50

Recipe (PySlowFast's SSv2 Slow-R50 setting): 8 segments, scale jitter 256-320 and 224x224
crops, batch 64, SGD lr 0.1 with cosine decay over 22 epochs of 169k videos, dropout 0.5;
test: 1 temporal view (the segment centres) x 3 crops.
Hardware: 8 GPUs (V100-class), about a day.
Expected: not yet measured with vidjax; PySlowFast's model zoo lists its K400-initialised
SlowFast R50 16x8 at about 63 % top-1 on SSv2, and Slow-only is expected a few points lower.
Smoke test: experiments/supervised/ssv2_slow_r50.py:smoke
"""

from vidjax import configs
from vidjax.convert import pytorchvideo
from vidjax.data.builders import ssv2

STEPS_PER_EPOCH = 2640  # 169k training videos / 64


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False)
  config = configs.base_config()
  config.total_steps = 22 * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2000
  config.input.dataset = 'ssv2/default'
  config.input.batch_size = 64
  config.input.num_threads = 16
  config.input.sampling.update(mode='segments', num_frames=8, policy='pad')
  config.input.pp.update(
    train_crop='scale_jitter', scale_jitter=(256, 320), resize_short_side=256, crop_size=224
  )
  config.input.pp.flip_label_swaps = ssv2.FLIP_LABEL_SWAPS
  arch = pytorchvideo.ARCHS['slow_r50']
  config.model_name = arch.model_name
  config.model = dict(arch.model_kwargs, num_classes=174, dropout_rate=0.5)
  # The pretrained classifier (400 Kinetics classes) is replaced by a fresh one.
  config.init_from.dont_load = (configs.load_module('models', arch.model_name).CLASSIFIER,)
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=STEPS_PER_EPOCH)
  config.evals.val = dict(
    type='multiview',
    split='validation',
    batch_size=32,
    num_clips=1,
    num_crops=3,
    every_steps=2 * STEPS_PER_EPOCH,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.pp.update(scale_jitter=(32, 40), resize_short_side=32)
    config.input.pp.flip_label_swaps = configs.SYNTHETIC_FLIP_SWAPS
    config.model.update(num_classes=10, depth=14, width=8)
  return config
