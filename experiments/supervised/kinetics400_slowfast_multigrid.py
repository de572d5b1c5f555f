r"""SlowFast R50 8x8 on Kinetics-400 from scratch with multigrid training and precise BN
(PySlowFast's configs/Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml).

  python tools/prepare_dataset.py --dataset kinetics --config k400 \
      --manual_dir ~/data/kinetics400 --data_dir ~/tensorflow_datasets
  python -m vidjax.main --config experiments/supervised/kinetics400_slowfast_multigrid.py \
      --workdir workdirs/k400_slowfast_multigrid

Recipe: 32 frames at stride 2 (the fast pathway; the slow one takes every 4th), scale
jitter 256-320 and 224 crops, batch 64, SGD with momentum 0.9 and weight decay 1e-4, the
step schedule of stages [0, 94, 154, 196, 239] epochs (rates 0.1 x 0.1^stage) after a
linear warm-up over the first 34 (from 0; PySlowFast starts it at 0.01), dropout 0.5;
BatchNorm statistics re-estimated from 200 training batches before every evaluation.
Multigrid (vidjax/data/multigrid.py): the long cycle (clips of 8 and 16 frames at 158 and
224 pixels with 8, 4 and 2 times the batch, the rate scaled alike) in the first three
stages, the short cycle (112 and 158 pixel crops) throughout. PySlowFast runs the
schedule's 239 epochs times its EPOCH_FACTOR of 1.5 at about 5.75 times fewer iterations
than a plain run of the same epochs; `total_steps` below is that count of steps.
Test: 10 clips x 3 crops.
Hardware: 8 GPUs (V100-class) in PySlowFast; the batch is split over every device.
Expected: PySlowFast's model zoo lists this recipe at 76.6 % top-1 (30 views) against
76.8 % for the plain stepwise run, at a fraction of its training time; not yet reproduced
with vidjax (no accelerator time yet).
Smoke test: experiments/supervised/kinetics400_slowfast_multigrid.py:smoke
"""

from vidjax import configs
from vidjax.convert import pytorchvideo

STEPS_PER_EPOCH = 3750  # 240k training clips / 64
# The step schedule's stage ends, in epochs of the plain run (PySlowFast's SOLVER.STEPS and
# MAX_EPOCH); multigrid keeps them as fractions of its iterations.
STAGE_ENDS = (94, 154, 196)
EPOCHS = 239
WARMUP_EPOCHS = 34
# PySlowFast's MULTIGRID.EPOCH_FACTOR, and its iteration saving with the default factors
# (the mean over the long cycle of the mean short-cycle batch factor: 23 / 4).
EPOCH_FACTOR = 1.5
ITERATION_SAVING = 5.75


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False)
  config = configs.base_config()
  config.total_steps = int(EPOCHS * STEPS_PER_EPOCH * EPOCH_FACTOR / ITERATION_SAVING)
  config.log_every = 100
  config.ckpt_every = 2000
  config.input.dataset = 'kinetics/k400'
  config.input.batch_size = 64
  config.input.num_threads = 16
  config.input.sampling.update(num_frames=32, stride=2, policy='loop')
  config.input.pp.update(
    train_crop='scale_jitter', scale_jitter=(256, 320), resize_short_side=256, crop_size=224
  )
  arch = pytorchvideo.ARCHS['slowfast_r50']
  config.model_name = arch.model_name
  config.model = dict(arch.model_kwargs, dropout_rate=0.5)
  config.optim.update(momentum=0.9, nesterov=False, weight_decay=1e-4)
  config.optim.schedule = dict(
    name='step',
    base_lr=0.1,
    warmup_steps=int(config.total_steps * WARMUP_EPOCHS / EPOCHS),
    boundaries=tuple(end / EPOCHS for end in STAGE_ENDS),
    decay_factor=0.1,
  )
  config.multigrid.update(long_cycle=True, short_cycle=True)
  config.precise_bn.num_batches = 200
  config.evals.val = dict(
    type='multiview',
    split='validation',
    batch_size=32,
    num_clips=10,
    num_crops=3,
    every_steps=10 * STEPS_PER_EPOCH,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.sampling.num_frames = 8
    config.input.pp.update(scale_jitter=(32, 40), resize_short_side=32)
    config.optim.schedule.update(boundaries=(0.5,), warmup_steps=1)
    # Eight frames have no quarter a SlowFast can take (the slow pathway needs a frame).
    # Each shape compiles the step anew, so the smoke run takes two (the long cycle's);
    # tests/data/test_multigrid.py checks the short cycle's stream.
    config.multigrid.update(long_cycle_factors=((0.5, 0.5**0.5), (1.0, 1.0)), short_cycle=False)
    config.precise_bn.num_batches = 2
    config.model.update(num_classes=10, depth=14, width=8)
  return config
