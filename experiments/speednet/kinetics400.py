r"""SpeedNet pretraining on Kinetics-400 without labels (Benaim et al., CVPR 2020).

  python tools/prepare_dataset.py --dataset kinetics --config k400 \
      --manual_dir ~/data/kinetics400 --data_dir ~/tensorflow_datasets
  python -m vidjax.main --config experiments/speednet/kinetics400.py \
      --workdir workdirs/speednet_k400

then fine-tune on UCF101 or HMDB51 (experiments/transfer/finetune.py).

Each example is a 64-frame clip at normal speed and the same moment at twice the speed,
both in the batch ("same-batch training"), the skip factors jittered by +-25 % against
frame-skipping cues (`data/samplers/speed.py`); S3D-G without temporal striding, with max
+ average global pooling and one logit, trained with the binary cross-entropy. The paper
resizes each batch to a random size N in [64, 336] (test 224) so that how many pixels an
object moves does not give the speed away; one compiled program needs one shape, so here
a random box of 4-100 % of the frame's area (a zoom of up to 5x, the paper's 336 / 64) is
resized to 224 x 224 instead. The skip-factor jitter of 25 %, the batch and the schedule
are this config's choices: the paper's values are not among the sources here.
Hardware: 64 frames x 224^2 without temporal striding is heavy: 32 TPU v4 chips or
16 A100s for the batch of 64 clips. Time: not measured (no accelerator run).
Expected (paper, S3D-G fine-tuned after SpeedNet on Kinetics): UCF101 81.1 %, HMDB51
48.8 %, against 73.8 % / 46.4 % from a random initialisation.
Smoke test: experiments/speednet/kinetics400.py:smoke
"""

from vidjax import configs

STEPS_PER_EPOCH = 7500  # 240k training videos / 32 pairs
EPOCHS = 10


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False)
  config = configs.base_config()
  config.total_steps = EPOCHS * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2500
  config.input.dataset = 'kinetics/k400'
  config.input.batch_size = 32  # pairs: 64 clips a step
  config.input.num_threads = 16
  config.input.sampling.update(
    mode='speed', num_frames=64, stride=1, policy='pad', speedup=2.0, skip_jitter=0.25
  )
  config.input.pp.update(
    resize_short_side=256,
    crop_size=224,
    train_crop='random_resized',
    random_resized_crop=dict(area=(0.04, 1.0), aspect_ratio=(3 / 4, 4 / 3)),
  )
  config.model_name = 's3d'
  config.model = dict(
    variant='s3d-g', num_classes=1, temporal_downsampling=False, global_pool='max+mean'
  )
  config.task = 'speednet'
  config.task_kwargs = {}
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=STEPS_PER_EPOCH // 2)
  config.evals.speed = dict(
    type='pretext',
    split='validation',
    pred='aux/speed/',
    batch_size=32,
    num_clips=2,
    every_steps=STEPS_PER_EPOCH,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.pp.resize_short_side = 0
    config.model.width_multiplier = 0.125
  return config
