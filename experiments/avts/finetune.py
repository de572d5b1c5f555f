r"""Fine-tunes an AVTS-pretrained video network on UCF101 or HMDB51 (the paper's transfer).

  python tools/prepare_dataset.py --dataset ucf101 --config split1 \
      --manual_dir ~/data/ucf101 --data_dir ~/tensorflow_datasets
  python -m vidjax.main --workdir workdirs/avts_ucf101 --config \
      experiments/avts/finetune.py:dataset=ucf101,init_from=workdirs/avts_k400/checkpoints/84600
  # the baseline: the same network from a random initialisation
  python -m vidjax.main --workdir workdirs/scratch_ucf101 \
      --config experiments/avts/finetune.py:dataset=ucf101

Arguments: dataset (ucf101 or hmdb51), split (1-3), init_from (an
experiments/avts/kinetics400.py checkpoint step directory: its 'video_tower/...'
variables load into the classifier's MC3-18 backbone, the classifier starts fresh).
Recipe: 25-frame 112x112 clips as in pretraining, SGD lr 0.01 with a cosine schedule for
30 epochs at batch 64, dropout 0.5; test: 10 clips x 3 crops.
Hardware: one GPU (V100-class) for a few hours. Time: not measured (no accelerator run).
Expected: the paper reports 85.8 % (UCF101) and 56.9 % (HMDB51) for MC3 pretrained with
AVTS on Kinetics, above training from scratch.
Smoke test: experiments/avts/finetune.py:smoke
"""

from vidjax import configs
from vidjax.models import video_resnet

DATASETS = {'ucf101': (101, 150), 'hmdb51': (51, 55)}  # classes, steps per epoch at batch 64


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, dataset='ucf101', split=1, init_from='')
  if arg.dataset not in DATASETS:
    raise ValueError(f'dataset={arg.dataset!r}; choose one of {tuple(DATASETS)}.')
  num_classes, steps_per_epoch = DATASETS[arg.dataset]
  config = configs.base_config()
  config.total_steps = 30 * steps_per_epoch
  config.log_every = 50
  config.ckpt_every = 1000
  config.input.dataset = f'{arg.dataset}/split{arg.split}'
  config.input.batch_size = 64
  config.input.num_threads = 8
  config.input.sampling.update(num_frames=25, stride=1, policy='loop')
  config.input.pp.update(resize_short_side=128, crop_size=112)
  config.model_name = 'video_resnet'
  config.model = dict(depth=18, block='mc3', num_classes=num_classes, dropout_rate=0.5)
  if arg.init_from:
    config.init_from.path = arg.init_from
    config.init_from.rename = ((r'(.+)', r'video_tower/\1'),)
    config.init_from.dont_load = (video_resnet.CLASSIFIER,)
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
    config.input.pp.resize_short_side = 0
    config.evals.test.update(split='validation', num_clips=1, num_crops=1)
    config.model.update(depth=10, width=8, num_classes=10)
  return config
