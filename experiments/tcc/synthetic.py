r"""Temporal cycle-consistency on the embedded phased videos, without labels.

Dwibedi, Aytar, Tompson, Sermanet & Zisserman, "Temporal Cycle-Consistency Learning"
(CVPR 2019). Each example is a video of `vidjax_synthetic/phases` (one object moves right,
grows, turns and rises, in phases whose lengths differ from video to video) seen at 16
timesteps spread over its 32 frames, each with a context frame 2 frames before it
(`data/samplers/tcc.py`); the embedder (`models/tcc.py`: a ResNet-18 at width 16 up to
layer3, two 3D convolutions over the context, max-pool, two fully connected layers, 128
dimensions) is trained so that every pair of the batch's videos cycles back to itself
through soft nearest neighbours (`tasks/tcc.py`: the official regression_mse_var loss,
l2 similarity, temperature 0.1, lambda 0.001), Adam 1e-4 as the official config.

  python -m vidjax.main --config experiments/tcc/synthetic.py --workdir workdirs/tcc

`trunk=CHECKPOINT` starts the per-frame ResNet (then of depth 10) from a pretrained image
network, the shape classifier of experiments/distinit/teacher.py in ImageNet's place, and
trains only its BatchNorm layers (the official TRAIN_BASE: only_bn); `lr=` sets Adam's rate.
Evaluations: 'cycle', each validation video aligned with the next of its batch (the
fraction of timesteps that cycle back to themselves, and the loss); 'cycle_train', the
same on 300 training videos, embedded as the held-out ones (no dropout, BatchNorm's
running statistics); 'alignment'
(`evaluators/alignment.py`), at step 0 (the untrained embedder,
the baseline) and at the end: Kendall's tau of nearest-neighbour alignments between the
first 30 validation videos, phase classification of their frames (a classifier fitted on
60 training videos' frames; chance 25 % for 4 balanced phases) and phase progression (R^2).
Hardware: 2 CPU cores. Time: 500 steps in 23 minutes with the test suite and another
training job on the cores.
Expected (the paper's claim): a higher Kendall's tau and phase accuracy than the untrained
embedder's. Measured (docs/results.md, seeds 0-2, 500 steps at lr=1e-3): from scratch,
not reliably (tau 0.060 against 0.048; the dropout noise, not the embedding, cycles back);
with `trunk=` the pretrained image network, in every seed (tau 0.188 against 0.069, phase
accuracy 48.1 % against 36.7 %).
Smoke test: experiments/tcc/synthetic.py:smoke
"""

from vidjax import configs

# Training steps; steps=0 evaluates the initial, random embedder (the baseline).
STEPS = 2000


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, steps=STEPS, trunk='', lr=1e-4)
  config = configs.base_config()
  config.total_steps = arg.steps
  config.log_every = 50
  config.ckpt_every = 500
  config.input.dataset = 'vidjax_synthetic/phases'
  config.input.batch_size = 8
  config.input.sampling = dict(mode='tcc', num_frames=16, num_context=2, context_stride=2)
  config.input.pp.update(crop_size=64, flip=False)
  config.model_name = 'tcc'
  config.model = dict(
    depth=18, width=16, trunk_stages=3, num_context=2, conv_width=64, fc_width=64, embed_dim=128
  )
  config.task = 'tcc'
  config.task_kwargs = dict(
    loss='regression_mse_var', similarity='l2', temperature=0.1, variance_lambda=0.001
  )
  config.optim.update(name='adamw', b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0)
  config.optim.schedule = dict(name='constant', base_lr=arg.lr, warmup_steps=0)
  # The pretext task on held-out videos: each aligned with the next one of its batch; and
  # on training videos, whose embeddings are computed as the held-out ones (BatchNorm's
  # running statistics, no dropout), unlike train/cycle_accuracy.
  config.evals.cycle = dict(
    type='pretext',
    split='validation',
    pred='aux/cycle/',
    batch_size=60,
    num_clips=1,
    every_steps=500,
  )
  config.evals.cycle_train = dict(config.evals.cycle, split='train[:300]')
  if arg.trunk:
    pretrained_trunk(config, arg.trunk)
  config.evals.alignment = dict(
    type='alignment',
    source='vidjax_synthetic/phases',
    num_videos=30,
    fit_videos=60,
    every_steps=500,
    at_start=True,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.sampling.num_frames = 4
    config.input.pp.crop_size = 32
    config.model.update(depth=10, width=8, conv_width=8, fc_width=8, embed_dim=16)
    config.evals.alignment.update(source='vidjax_synthetic/tiny_phases', num_videos=3, fit_videos=4)
    config.evals.cycle_train.split = 'train[:32]'
  return config


def pretrained_trunk(config, checkpoint: str) -> None:
  """The paper's setting in miniature: the per-frame trunk is a pretrained image network
  (the shape classifier of experiments/distinit/teacher.py, a ResNet-10 of width 16, in
  place of ImageNet's ResNet-50) of which only the BatchNorm layers train (the official
  TRAIN_BASE: only_bn); the embedder above it starts fresh."""
  config.model.depth = 10
  config.init_from.update(
    path=checkpoint,
    rename=((r'ResNet2D_0/(.+)', r'resnet/\1'),),
    dont_load=(r'conv3d_.*', r'bn3d_.*', r'fc_.*', r'embedding/.*'),
  )
  config.optim.param_groups = ((r'ResNet2D_0/.*/kernel', 'frozen'),)
