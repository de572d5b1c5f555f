r"""Fine-tunes a pretext-pretrained S3D-G on UCF101 or HMDB51 (SpeedNet's transfer).

The network of experiments/speednet/kinetics400.py or experiments/arrow_of_time/kinetics400.py
(the same S3D-G), or a random initialisation.

  python -m vidjax.main --workdir workdirs/speednet_ucf101 --config \
      experiments/transfer/finetune.py:dataset=ucf101,init_from=workdirs/speednet_k400/checkpoints/75000
  # the baseline: the same network from a random initialisation
  python -m vidjax.main --workdir workdirs/s3dg_scratch_ucf101 \
      --config experiments/transfer/finetune.py:dataset=ucf101

Arguments: dataset (ucf101 or hmdb51), split (1-3), init_from (a pretraining checkpoint
step directory: every variable but the one-logit classifier loads; the classifier starts
fresh), labelled_percent (100).
Recipe: the pretraining's network (S3D-G without temporal striding, max + average
pooling) on 32-frame 224x224 clips, SGD lr 0.01 with a cosine schedule for 30 epochs at
batch 32, dropout 0.5; test: 10 clips x 3 crops. The paper's fine-tuning recipe is not
among the sources here: these are this config's choices.
Hardware: 8 GPUs (A100-class) for about a day. Time: not measured (no accelerator run).
Expected (SpeedNet paper): UCF101 81.1 %, HMDB51 48.8 %; from a random initialisation
73.8 % / 46.4 %. The Arrow of Time paper's transfer used another network (a flow-stack
VGG-16), so its numbers do not apply to this one.
Smoke test: experiments/transfer/finetune.py:smoke
"""

from vidjax import configs
from vidjax.models import s3d

DATASETS = {'ucf101': (101, 300), 'hmdb51': (51, 110)}  # classes, steps per epoch at batch 32


def get_config(arg: str | None = None):
  arg = configs.parse_arg(
    arg, smoke=False, dataset='ucf101', split=1, init_from='', labelled_percent=100
  )
  if arg.dataset not in DATASETS:
    raise ValueError(f'dataset={arg.dataset!r}; choose one of {tuple(DATASETS)}.')
  if not 0 < arg.labelled_percent <= 100:
    raise ValueError(f'labelled_percent={arg.labelled_percent}: a percentage in (0, 100].')
  num_classes, steps_per_epoch = DATASETS[arg.dataset]
  config = configs.base_config()
  config.total_steps = 30 * steps_per_epoch
  config.log_every = 50
  config.ckpt_every = 1000
  config.input.dataset = f'{arg.dataset}/split{arg.split}'
  config.input.split = f'train[:{arg.labelled_percent}%]'
  config.input.batch_size = 32
  config.input.num_threads = 8
  config.input.sampling.update(num_frames=32, stride=1, policy='loop')
  config.input.pp.update(resize_short_side=256, crop_size=224)
  config.model_name = 's3d'
  config.model = dict(
    variant='s3d-g',
    num_classes=num_classes,
    temporal_downsampling=False,
    global_pool='max+mean',
    dropout_rate=0.5,
  )
  if arg.init_from:
    config.init_from.path = arg.init_from
    config.init_from.dont_load = (s3d.CLASSIFIER,)
  config.optim.schedule = dict(name='cosine', base_lr=0.01, warmup_steps=steps_per_epoch)
  config.evals.test = dict(
    type='multiview',
    split='test',
    batch_size=32,
    num_clips=10,
    num_crops=3,
    every_steps=10 * steps_per_epoch,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
    config.input.pp.resize_short_side = 0
    config.evals.test.update(split='validation', num_clips=1, num_crops=1)
    config.model.update(width_multiplier=0.125, num_classes=10)
  return config
