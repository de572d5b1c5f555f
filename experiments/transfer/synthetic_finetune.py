r"""Transfer on the embedded data: a pretext-pretrained network fine-tuned for actions.

The transfer protocol of the temporal pretext tasks (SpeedNet, Arrow of Time): the
network of a pretraining run (init_from= its checkpoint; every variable but the one-logit
classifier loads) or a random initialisation (init_from='') is trained on
`labelled_percent` % of the `events` training videos with their action labels and tested
on the validation videos. Pretraining helps when the pretrained network beats the random
one with few labels.

  python -m vidjax.main --workdir workdirs/speednet/finetune --config \
      experiments/transfer/synthetic_finetune.py:init_from=workdirs/speednet/checkpoints/1000
  python -m vidjax.main --workdir workdirs/speednet/scratch \
      --config experiments/transfer/synthetic_finetune.py

Arguments: init_from, labelled_percent (10), backbone ('r2plus1d': the zoo's R(2+1)D-10,
width 16; 's3d-g': SpeedNet's S3D-G a quarter wide; 'r3d': the R3D-10 of width 16 that a
2D ResNet-10 inflates to, DistInit's, on whole frames with Inception-style crops),
inflate (init_from is a 2D `single_frame` image classifier, whose kernels are inflated
(I3D's 'mean') into the 'r3d' backbone: DistInit's inflation baseline). The pretraining
experiments take their network from `backbone()` here, so that the two stay the same.
Clips: 16 frames (2 s) at stride 1 of the 32-frame `events` videos, whose motion runs at
the `speed` training videos' natural speed: an action's motion spans the whole 4 s video,
and 1 s clips hide it (docs/avts.md).
Hardware: 2 CPU cores; 10 minutes for SpeedNet's seed 0 (400 steps of 32 clips), sharing the
cores with two other studies.
Expected: docs/results.md, "Temporal pretext tasks in miniature".
Smoke test: experiments/transfer/synthetic_finetune.py:smoke
"""

from vidjax import configs
from vidjax.convert import inflate
from vidjax.models import s3d, video_resnet

# The miniatures' network. The paper's S3D-G (SpeedNet), a quarter wide, did not learn the
# speed of 8-frame 32 x 32 clips in 1,000 steps, where the zoo's R(2+1)D-10 at width 16
# did (docs/speednet.md, "Which network").
BACKBONES = {
  'r2plus1d': dict(model_name='video_resnet', depth=10, block='r2plus1d', width=16),
  's3d-g': dict(
    model_name='s3d',
    variant='s3d-g',
    width_multiplier=0.25,
    temporal_downsampling=False,
    global_pool='max+mean',
  ),
  # A 2D ResNet-10 (`single_frame`) inflated: 3D convolutions, torchvision's max-pool.
  'r3d': dict(model_name='video_resnet', depth=10, block='r3d', width=16, stem_pool=True),
}
# Each backbone's input of the 64 x 64 videos (config.input.pp): a random 32 x 32 crop, or
# for the R3D, whose stem and max-pool divide its input by 4 before the first stage, the
# whole frame with Inception-style crops of 25-100 % of its area (its 2D teacher's training
# crops). With whole frames and flips only, an R3D fine-tuned from DistInit fitted its 120
# training clips and scored 15 % on the validation videos; with these crops, 45 % from
# scratch (docs/distinit.md).
INPUTS = {
  'r2plus1d': dict(crop_size=32),
  's3d-g': dict(crop_size=32),
  'r3d': dict(
    crop_size=64, train_crop='random_resized', random_resized_crop=dict(area=(0.25, 1.0))
  ),
}
# Each backbone's classifier: what fine-tuning does not load from the pretrained network.
CLASSIFIERS = {
  'r2plus1d': video_resnet.CLASSIFIER,
  's3d-g': s3d.CLASSIFIER,
  'r3d': video_resnet.CLASSIFIER,
}


def backbone(name: str = 'r2plus1d', smoke: bool = False) -> dict:
  """The miniature's network, `model_name` included (one logit for the pretext tasks, a
  classifier when fine-tuned)."""
  if name not in BACKBONES:
    raise ValueError(f'backbone={name!r}; allowed values: {tuple(BACKBONES)}.')
  model = dict(BACKBONES[name])
  if smoke and name in ('r2plus1d', 'r3d'):
    model['width'] = 8
  elif smoke:
    model['width_multiplier'] = 0.125
  return model


def pretext_optimiser() -> dict:
  """The pretext tasks' optimiser in miniature: AdamW 1e-3. With the SGD of the fine-tuning
  (`--config.optim.name=sgd --config.optim.schedule.base_lr=0.05`: momentum 0.9, Nesterov)
  the speed task's loss was still ln 2 after 300 steps, where AdamW's held-out accuracy
  had passed 60 % (docs/speednet.md, "Which network and optimiser")."""
  return dict(
    name='adamw',
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    momentum=0.9,  # with name='sgd'
    nesterov=True,
    weight_decay=1e-4,
    grad_clip_norm=0.0,
    schedule=dict(name='cosine', base_lr=1e-3, warmup_steps=50),
    param_groups=(),
    accumulation_steps=1,
    ema_decay=0.0,
  )


def held_out_evaluation(pred: str, smoke: bool = False) -> dict:
  """A pretext task's own per-view scores (`pred`, e.g. 'aux/speed/') on the last tenth of
  the training videos, which the pretraining leaves out (its split is 'train[:90%]'),
  every 250 steps; on the tiny validation split in smoke mode."""
  return dict(
    type='pretext',
    split='validation' if smoke else 'train[90%:]',
    pred=pred,
    batch_size=60,
    num_clips=2,
    every_steps=250,
  )


def probe_evaluation(every_steps: int, smoke: bool = False) -> dict:
  """What a pretraining's features know of the actions: a linear probe of the frozen
  features on 10 % of the labelled `events` videos (2 s clips), scored on its validation
  videos, at initialisation and every `every_steps`."""
  if smoke:
    return dict(
      type='linear_probe',
      split='validation',
      fit_split='train',
      pred='aux/features',
      batch_size=60,
      every_steps=every_steps,
      input=dict(dataset='vidjax_synthetic/tiny', sampling=dict(mode='stride', num_frames=4)),
    )
  return dict(
    type='linear_probe',
    split='validation',
    fit_split='train[:10%]',
    pred='aux/features',
    batch_size=60,
    every_steps=every_steps,
    at_start=True,
    input=dict(dataset='vidjax_synthetic/events', sampling=dict(mode='stride', num_frames=16)),
  )


def get_config(arg: str | None = None):
  arg = configs.parse_arg(
    arg, smoke=False, init_from='', labelled_percent=10, backbone='r2plus1d', inflate=False
  )
  if not 0 < arg.labelled_percent <= 100:
    raise ValueError(f'labelled_percent={arg.labelled_percent}: a percentage in (0, 100].')
  if arg.inflate and (arg.backbone != 'r3d' or not arg.init_from):
    raise ValueError(
      'inflate=True inflates the 2D single_frame checkpoint init_from= into backbone=r3d; '
      f'got backbone={arg.backbone!r}, init_from={arg.init_from!r}.'
    )
  config = configs.base_config()
  config.total_steps = 400
  config.log_every = 25
  config.ckpt_every = 200
  config.input.dataset = 'vidjax_synthetic/events'
  config.input.split = f'train[:{arg.labelled_percent}%]'
  config.input.batch_size = 32
  config.input.sampling.update(num_frames=16, stride=1, policy='pad')
  config.input.pp.update(INPUTS[arg.backbone])
  config.input.pp.flip_label_swaps = configs.SYNTHETIC_FLIP_SWAPS
  model = backbone(arg.backbone, smoke=arg.smoke)
  config.model_name = model.pop('model_name')
  config.model = dict(model, num_classes=10)
  if arg.init_from:
    config.init_from.path = arg.init_from
    config.init_from.dont_load = (CLASSIFIERS[arg.backbone],)
    if arg.inflate:
      config.init_from.update(inflate='mean', rename=inflate.RESNET2D_TO_VIDEO_RESNET)
  config.optim.schedule = dict(name='cosine', base_lr=0.05, warmup_steps=25)
  config.evals.val = dict(
    type='multiview', split='validation', batch_size=60, num_clips=2, num_crops=1, every_steps=200
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
  return config
