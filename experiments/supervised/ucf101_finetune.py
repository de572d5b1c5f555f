r"""Fine-tunes a converted Kinetics-400 checkpoint on UCF101 (the VMZ / R(2+1)D transfer setting).

Convert the published weights, prepare UCF101 split 1, fine-tune:

  python tools/convert_checkpoint.py --source torchvision --arch r2plus1d_18 \
      --input r2plus1d_18-91a641e6.pth --output ~/checkpoints/r2plus1d_18_k400
  python tools/prepare_dataset.py --dataset ucf101 --config split1 \
      --manual_dir ~/data/ucf101 --data_dir ~/tensorflow_datasets
  python -m vidjax.main --config experiments/supervised/ucf101_finetune.py \
      --config.init_from.path=$HOME/checkpoints/r2plus1d_18_k400 --workdir workdirs/ucf101

Arguments (`ucf101_finetune.py:arch=ir_csn_152_ig65m_32frms,source=vmz,split=2`):
`source`/`arch` (any tools/convert_checkpoint.py --list entry: the model and its kwargs
come from there, with a new 101-way classifier) and `split` (1-3). Every converted weight
is loaded except the 400-way classifier, which config.init_from.dont_load keeps fresh.
Recipe: 16 frames at stride 2, short side 128, 112x112 crops, flips, SGD lr 0.01 (the
pretrained layers need a small rate), 30 epochs of 9.5k clips at batch 32, dropout 0.5;
test: 10 clips x 3 crops.
Hardware: one GPU (V100-class) for a few hours; on 2 CPU cores about a day.
Expected: Tran et al. 2018 (Table 6) report 96.8 % on UCF101 for RGB R(2+1)D-34 with
Kinetics pre-training and 32-frame clips; the 18-layer, 16-frame network is expected a few
points lower. Not yet measured with vidjax.
Smoke test: experiments/supervised/ucf101_finetune.py:smoke (random init on tiny data).
"""

from vidjax import configs
from vidjax.convert import torch_checkpoint

STEPS_PER_EPOCH = 300  # 9.5k training videos of split 1 / 32


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, source='torchvision', arch='r2plus1d_18', split=1)
  config = configs.base_config()
  config.total_steps = 30 * STEPS_PER_EPOCH
  config.log_every = 50
  config.ckpt_every = 1000
  config.input.dataset = f'ucf101/split{arg.split}'
  config.input.batch_size = 32
  config.input.num_threads = 8
  config.input.sampling.update(num_frames=16, stride=2, policy='loop')
  config.input.pp.update(resize_short_side=128, crop_size=112)
  arch = torch_checkpoint.find_arch(arg.source, arg.arch)
  config.model_name = arch.model_name
  config.model = dict(arch.model_kwargs, num_classes=101, dropout_rate=0.5)
  # The pretrained classifier (400 Kinetics classes) is replaced by a fresh one.
  config.init_from.dont_load = (configs.load_module('models', arch.model_name).CLASSIFIER,)
  config.optim.schedule = dict(name='cosine', base_lr=0.01, warmup_steps=STEPS_PER_EPOCH)
  config.evals.test = dict(
    type='multiview',
    split='test',
    batch_size=32,
    num_clips=10,
    num_crops=3,
    every_steps=10 * STEPS_PER_EPOCH,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.pp.resize_short_side = 0
    config.evals.test.update(split='validation', num_clips=1, num_crops=1)
    config.model_name = 'video_resnet'
    config.model = dict(num_classes=10, depth=10, block='r2plus1d', width=8, dropout_rate=0.5)
  return config
