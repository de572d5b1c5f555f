r"""Temporal cycle-consistency on Pouring (or a Penn Action action), the official recipe.

Dwibedi et al., "Temporal Cycle-Consistency Learning" (CVPR 2019), as google-research
`tcc/config.py` trains it. The TFRecords of TCC's release (Pouring) or of its
`dataset_preparation` scripts (Penn Action, whose phase labels were never released) are
prepared once, and the ImageNet ResNet-50 converted once:

  python tools/prepare_dataset.py --dataset tcc --config pouring \
      --manual_dir ~/data/tcc/pouring --data_dir ~/tensorflow_datasets
  python tools/convert_checkpoint.py --source torchvision --arch resnet50 \
      --input resnet50-11ad3fa6.pth --output ~/checkpoints/resnet50_imagenet
  python -m vidjax.main \
      --config experiments/tcc/pouring.py:imagenet=~/checkpoints/resnet50_imagenet \
      --workdir workdirs/tcc_pouring

Arguments: imagenet (the converted ResNet-50; required outside smoke mode), dataset
('pouring' or one of the Penn Action actions of `data/builders/tcc.py`).

The recipe: per video 20 timesteps (`tcc` sampler), each with 2 context frames 15 frames
apart, at 224 x 224 with random flips and brightness / contrast jitter; the embedder
(`models/tcc.py`) on the ResNet-50 cut after its third stage (conv4), two 3D convolutions
of 512 channels, two fully connected layers of 512, a 128-dimensional embedding; only the
trunk's BatchNorm trains (`TRAIN_BASE: only_bn`: its convolution kernels are frozen);
regression_mse_var with l2 similarity, temperature 0.1, lambda 0.001; batch 2, Adam 1e-4,
150,000 steps. Evaluation: the cycle-back accuracy of held-out and of training videos (`cycle`,
`cycle_train`); the `alignment` evaluator on all validation videos (Kendall's tau
at stride 2 for Pouring, 5 for Penn Action; phase classification with a classifier fitted
on all training videos; phase progression). Differences from the official code: its trunk
is Keras's ResNet-50 v2, this one torchvision's v1.5 (the ImageNet weights users have for
vidjax); the phase classifier is a logistic regression, the official an RBF SVM; the
official L2 regulariser of 1e-5 on the kernels is left out (vidjax's Adam has decoupled
weight decay only).
Hardware: one GPU (batch 2 of 40 frames). Time: not measured (no accelerator run).
Expected (paper, Pouring and Penn Action): TCC's phase classification, phase progression
and Kendall's tau above those of the ImageNet features alone; users of the original report
figures below the paper's (google-research issue 88).
Smoke test: experiments/tcc/pouring.py:smoke (the embedded phased videos in Pouring's place)
"""

from vidjax import configs
from vidjax.data.builders import tcc

STEPS = 150_000
EVAL_EVERY = 10_000
# ImageNet statistics, on the 0..1 scale, for the torchvision trunk.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, imagenet='', dataset='pouring')
  if arg.dataset not in tcc.NUM_PHASES:
    raise ValueError(f'dataset={arg.dataset!r}; one of {sorted(tcc.NUM_PHASES)}.')
  if not (arg.imagenet or arg.smoke):
    raise ValueError(
      'imagenet=<the converted ResNet-50> is required (see the docstring of '
      'experiments/tcc/pouring.py for the conversion command).'
    )
  config = configs.base_config()
  config.total_steps = STEPS
  config.log_every = 100
  config.ckpt_every = EVAL_EVERY
  config.input.dataset = f'tcc/{arg.dataset}'
  config.input.batch_size = 2
  config.input.sampling = dict(mode='tcc', num_frames=20, num_context=2, context_stride=15)
  config.input.pp.update(
    resize_short_side=224,
    crop_size=224,
    flip=True,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    color_jitter=dict(prob=1.0, brightness=0.125, contrast=0.5, saturation=0.0, hue=0.0),
  )
  config.model_name = 'tcc'
  config.model = dict(
    depth=50, width=64, trunk_stages=3, num_context=2, conv_width=512, fc_width=512, embed_dim=128
  )
  config.init_from.update(
    path=arg.imagenet,
    rename=((r'ResNet2D_0/(.+)', r'\1'),),
    dont_load=(r'conv3d_.*', r'bn3d_.*', r'fc_.*', r'embedding/.*'),
  )
  config.task = 'tcc'
  config.task_kwargs = dict(
    loss='regression_mse_var', similarity='l2', temperature=0.1, variance_lambda=0.001
  )
  config.optim.update(name='adamw', b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0)
  config.optim.schedule = dict(name='constant', base_lr=1e-4, warmup_steps=0)
  config.optim.param_groups = ((r'ResNet2D_0/.*/kernel', 'frozen'),)
  config.evals.cycle = dict(
    type='pretext', split='val', pred='aux/cycle/', batch_size=2, every_steps=EVAL_EVERY
  )
  # The training videos embedded as the held-out ones (no dropout, running statistics):
  # whether the embeddings align them, or only the dropout noise does in training.
  config.evals.cycle_train = dict(config.evals.cycle, split='train')
  config.evals.alignment = dict(
    type='alignment',
    source=f'tcc/{arg.dataset}',
    test_split='val',
    num_videos=1_000,
    fit_videos=1_000,
    stride=2 if arg.dataset == 'pouring' else 5,
    every_steps=EVAL_EVERY,
    at_start=True,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.dataset = 'vidjax_synthetic/tiny_phases'
    config.input.sampling.update(num_frames=4, context_stride=2)
    config.input.pp.update(resize_short_side=0, crop_size=32)
    config.model.update(depth=10, width=8, conv_width=8, fc_width=8, embed_dim=16)
    config.evals.cycle.update(split='validation', batch_size=8)
    config.evals.cycle_train.update(split='train[:32]', batch_size=8)
    config.evals.alignment.update(
      source='vidjax_synthetic/tiny_phases',
      test_split='validation',
      num_videos=3,
      fit_videos=4,
      chunk=8,
    )
  return config
