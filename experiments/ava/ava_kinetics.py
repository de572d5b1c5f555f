r"""AVA-Kinetics with SlowFast R101 and ACAR's head: the AVA-Kinetics 2020 winning recipe
(Pan et al., CVPR 2021; the seed's ACAR-Net entry), both datasets' keyframes in one batch.

Prepare both parts (docs/ava.md):

  python tools/prepare_dataset.py --dataset ava --config v2.2 --manual_dir ~/data/ava
  python tools/prepare_dataset.py --dataset ava --config kinetics --manual_dir ~/data/ava

convert ACAR-Net's R101 (AVA's, whose backbone was pretrained on Kinetics-700):

  python tools/convert_checkpoint.py --source acar --arch slowfast_r101_acar \
      --input AVA_SLOWFAST_R101_ACAR_HR2O_DEPTH1.pth.tar --output ~/checkpoints/acar_r101

then train from it:

  python -m vidjax.main --workdir workdirs/ava_kinetics_r101_acar --config \
      experiments/ava/ava_kinetics.py:init_from=~/checkpoints/acar_r101

Each step reads 16 AVA and 16 AVA-Kinetics keyframes (`config.input.sources`; the task
concatenates them): 32 frames 2 apart around each, the frame resized to 256 x 256 and
normalised as the R101 checkpoints were (`convert/acar.py`, R101_NORMALISATION); ACAR's
head with one HR2O layer and 1x1 output convs; ACAR's loss; the seed's recipe: 6 epochs
(of AVA's 211k keyframes), a linear warm-up over the first, tenfold steps at 5.6 and 5.8,
no scale jitter, box jitter. Evaluated on AVA's and AVA-Kinetics' validation keyframes
with the detector's boxes, and with the flip test.
Differences from the seed: the test is one scale and the flip, not three scales and flips
(the evaluators' `scales` adds sizes);
BatchNorm statistics are updated in training.
Hardware: 32 GPUs (A100-class) or a TPU v4-64. Time: not measured (no accelerator run).
ACAR + ACFB (`variant=acfb`): extract the trained ACAR model's banks of both sources'
training and validation keyframes into one directory (tools/extract_feature_bank.py
--source; its docstring has the loop writing ava_train.npz, ava_validation.npz,
kinetics_train.npz and kinetics_validation.npz), then

  python -m vidjax.main --workdir workdirs/ava_kinetics_r101_acfb --config \
      experiments/ava/ava_kinetics.py:variant=acfb,init_from=~/checkpoints/acar_r101,bank_dir=$HOME/banks/ava_kinetics_r101

Each source's keyframes read their own bank, `window` seconds either side (30, LFB's
60-second window). An AVA-Kinetics clip is annotated at one keyframe, so its bank holds
that keyframe's actors alone, while an AVA keyframe reads its movie's neighbouring
seconds. [unverified: how ACAR-Net's bank covered the Kinetics clips; the paper's code
did not ship it.]
Expected (the seed, AVA-Kinetics val frame-mAP): SlowFast R101 linear head 32.98, ACAR
34.58, ACAR + ACFB 35.84; ACAR's AVA-Kinetics model on AVA val 33.74.
Smoke test: experiments/ava/ava_kinetics.py:smoke
"""

from vidjax import configs
from vidjax.convert.acar import R101_NORMALISATION
from vidjax.data.builders.synthetic_interactions import ACTOR_ACTIONS, POSE_CLASSES

ava_v2_2 = configs.load_experiment_module('ava_v2_2.py', relative_to=__file__)
SOURCES = {'ava': 'ava/v2.2', 'kinetics': 'ava/kinetics'}
HEADS = ('acar', 'acfb')


def bank_path(bank_dir: str, source: str, split: str) -> str:
  """Where tools/extract_feature_bank.py --source writes a source's bank of a split."""
  return f'{bank_dir}/{source}_{split}.npz'


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, init_from='', variant='acar', bank_dir='', window=30)
  if arg.variant not in HEADS:
    raise ValueError(f'variant={arg.variant!r}: the head, one of {HEADS}.')
  if (arg.variant == 'acfb') != bool(arg.bank_dir):
    raise ValueError(
      'variant=acfb reads feature banks, and only it: give bank_dir=<the directory of '
      "tools/extract_feature_bank.py's {ava,kinetics}_{train,validation}.npz> with "
      'variant=acfb.'
    )
  config = configs.base_config()
  config.total_steps = 6 * ava_v2_2.STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2000
  config.input.loader = 'keyframe'
  config.input.num_threads = 16
  config.input.sampling = dict(mode='stride', num_frames=32, stride=2)
  config.input.keyframe.update(max_actors=32, box_jitter=0.075, detection_threshold=0.85)
  config.input.pp.update(crop_size=256, flip=True, **R101_NORMALISATION)
  config.input.sources = {
    name: dict(dataset=dataset, split='train', batch_size=16) for name, dataset in SOURCES.items()
  }
  if arg.variant == 'acfb':
    for name, source in config.input.sources.items():
      bank = dict(path=bank_path(arg.bank_dir, name, 'train'), window=arg.window)
      source.keyframe = dict(bank=bank)
  config.model_name = 'ava'
  config.model = dict(
    backbone=dict(
      model_name='slowfast', depth=101, variant='8x8', res5_dilation=2, fusion_kernel=5,
      fusion_norm=False, slow_frames='stride',
    ),
    num_classes=60,
    head=arg.variant,
    context_maps=2,
    head_config=dict(reduce_dim=1024, hidden_dim=512, depth=1, mlp_1x1=True),
  )  # fmt: skip
  config.init_from.path = arg.init_from
  config.task = 'ava'
  config.task_kwargs = dict(pose_classes=ava_v2_2.AVA_POSE_CLASSES)
  config.optim.update(name='sgd', momentum=0.9, nesterov=True, weight_decay=1e-7)
  config.optim.schedule = dict(
    name='step',
    base_lr=0.064,
    warmup_steps=ava_v2_2.STEPS_PER_EPOCH,
    boundaries=(5.6 / 6, 5.8 / 6),
    decay_factor=0.1,
  )
  for name, dataset in SOURCES.items():
    config.evals[name] = dict(
      type='ava',
      split='validation',
      batch_size=32,
      num_crops=2,
      every_steps=ava_v2_2.STEPS_PER_EPOCH,
      input=dict(dataset=dataset, keyframe=dict(boxes='detections')),
    )
    if arg.variant == 'acfb':
      bank = dict(path=bank_path(arg.bank_dir, name, 'validation'), window=arg.window)
      config.evals[name].input.keyframe.bank = bank
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.sampling.update(num_frames=8, stride=1)
    config.input.keyframe.max_actors = 6
    config.input.pp.crop_size = 64
    for source in config.input.sources.values():
      source.update(dataset='vidjax_synthetic/tiny_interactions', batch_size=8)
    config.model.num_classes = len(ACTOR_ACTIONS)
    config.model.backbone.update(depth=14, width=8)
    config.model.head_config.update(reduce_dim=16, hidden_dim=8)
    if arg.variant == 'acfb':
      config.model.head_config.bank_latent_dim = 8
    config.task_kwargs.pose_classes = POSE_CLASSES
    for eval_config in config.evals.values():
      eval_config.update(split='validation[:32]', num_crops=1)
      eval_config.input.dataset = 'vidjax_synthetic/tiny_interactions'
  return config
