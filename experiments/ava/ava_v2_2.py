r"""AVA v2.2 with a Kinetics-400 SlowFast R50: the linear head and ACAR-Net's (Pan et al.,
CVPR 2021; the AVA-Kinetics 2020 winner).

Prepare AVA (the 15-minute segments, the v2.2 CSVs and label map, and a person detector's
boxes as PySlowFast ships them; docs/ava.md):

  python tools/prepare_dataset.py --dataset ava --config v2.2 \
      --manual_dir ~/data/ava --data_dir ~/tensorflow_datasets

convert the Kinetics-400 SlowFast R50 8x8 (PyTorchVideo's `slowfast_r50`):

  python tools/convert_checkpoint.py --source pytorchvideo --arch slowfast_r50 \
      --input SLOWFAST_8x8_R50.pyth --output ~/checkpoints/slowfast_r50_k400

then train:

  python -m vidjax.main --workdir workdirs/ava_slowfast_r50_acar --config \
      experiments/ava/ava_v2_2.py:variant=acar,init_from=~/checkpoints/slowfast_r50_k400

and, for ACAR + ACFB (the actor-context feature bank), extract the banks of the training
and validation keyframes with that model, on the detector's boxes, then train the `acfb`
variant from the Kinetics backbone (as LFB trains its second stage):

  for split in train validation; do python tools/extract_feature_bank.py \
      --config experiments/ava/ava_v2_2.py:variant=acar \
      --workdir workdirs/ava_slowfast_r50_acar --split $split \
      --output ~/banks/ava_r50_acar_$split.npz; done
  python -m vidjax.main --workdir workdirs/ava_slowfast_r50_acfb --config \
      experiments/ava/ava_v2_2.py:variant=acfb,init_from=~/checkpoints/slowfast_r50_k400,bank=$HOME/banks/ava_r50_acar_train.npz,eval_bank=$HOME/banks/ava_r50_acar_validation.npz

The bank window is 30 seconds either side of the keyframe (`window`), LFB's 60-second
window; its two feature bank operators are LFB's (docs/ava.md, "The actor-context feature
bank"). The training bank is about 4 GB of host memory (float16).

The backbone with res5 dilated (output stride 16, as ACAR's and PySlowFast's AVA models),
32 frames 2 apart around each keyframe (ACAR's 64-frame window at 30 fps; the slow pathway
takes 8), the frame resized to 256 x 256; ACAR's head at the official widths (1024, 512,
two HR2O layers for R50) or the linear head; ACAR's loss (softmax over the 13
PERSON_MOVEMENT classes, sigmoid over the other 47), box jitter 0.075, flips; trained on
the ground-truth boxes, evaluated on the detector's boxes scoring at least 0.85 (ACAR's
validation threshold) and on the ground-truth boxes. ACAR's R50 recipe
(`configs/AVA/SLOWFAST_R50_ACAR_HR2O.yaml`): 6 epochs of the 211k training keyframes, SGD
with Nesterov momentum 0.9 and weight decay 1e-7, a learning rate of 0.064 for 32 clips
reached by a linear warm-up over the first epoch, then tenfold steps at 5.6 and 5.8
epochs.
Differences from ACAR: the warm-up starts at 0, not at 0.008; BatchNorm statistics are
updated in training (ACAR freezes them, `freeze_bn`); training reads the ground-truth
boxes alone (ACAR adds detector boxes scoring 0.9 or more); the test is one scale and the
flip (num_crops=2; the evaluators' `scales` adds sizes), on the frame resized to a square
instead of the short side to 256. To start from ACAR's own trained model instead of the
Kinetics backbone, convert it (`--source acar --arch slowfast_r50_acar`, docs/ava.md) and
pass `init_from=<it>,init=acar` (every variable read, none renamed); `--mode evaluate`
with a fresh workdir evaluates it as converted.
Hardware: 8 GPUs (A100-class) or a TPU v4-32. Time: not measured (no accelerator run).
Expected (ACAR's model zoo, AVA v2.2 val frame-mAP with detected boxes): SlowFast R50
K400 + ACAR 27.83 (27.74 re-measured with torch 1.8.1 and ffmpeg 4.4). ACFB has no
published R50 figure (the seed: +1.26 over ACAR on AVA-Kinetics with R101).
Smoke test: experiments/ava/ava_v2_2.py:smoke
"""

from vidjax import configs
from vidjax.data.builders.synthetic_interactions import ACTOR_ACTIONS, POSE_CLASSES

HEADS = ('linear', 'acar', 'acfb')
# What init_from holds: a Kinetics SlowFast R50 (its classifier left out, its names under
# 'backbone/') or a converted ACAR AVA model (every variable, the same names).
INITS = ('kinetics', 'acar')
STEPS_PER_EPOCH = 6600  # 211k training keyframes / 32
# AVA's PERSON_MOVEMENT classes come first in the label map: ACAR's softmax group.
AVA_POSE_CLASSES = 13


def get_config(arg: str | None = None):
  arg = configs.parse_arg(
    arg,
    smoke=False,
    variant='acar',
    init_from='',
    init='kinetics',
    bank='',
    eval_bank='',
    window=30,
  )
  if arg.variant not in HEADS:
    raise ValueError(f'variant={arg.variant!r}: the head, one of {HEADS}.')
  if (arg.variant == 'acfb') != bool(arg.bank and arg.eval_bank):
    raise ValueError(
      'variant=acfb reads feature banks, and only it: give bank=<train bank .npz> and '
      'eval_bank=<validation bank .npz> (tools/extract_feature_bank.py) with variant=acfb.'
    )
  if arg.init not in INITS:
    raise ValueError(f'init={arg.init!r}: what init_from holds, one of {INITS}.')
  config = configs.base_config()
  config.total_steps = 6 * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2000
  config.input.dataset = 'ava/v2.2'
  config.input.batch_size = 32
  config.input.num_threads = 16
  config.input.loader = 'keyframe'
  config.input.sampling = dict(mode='stride', num_frames=32, stride=2)
  config.input.keyframe.update(max_actors=32, box_jitter=0.075, detection_threshold=0.85)
  config.input.keyframe.bank.update(path=arg.bank, window=arg.window)
  config.input.pp.update(crop_size=256, flip=True)
  config.model_name = 'ava'
  config.model = dict(
    backbone=dict(model_name='slowfast', depth=50, variant='8x8', res5_dilation=2),
    num_classes=60,
    head=arg.variant,
    context_maps=2,
    head_config={} if arg.variant == 'linear' else dict(reduce_dim=1024, hidden_dim=512, depth=2),
  )
  if arg.init_from:
    config.init_from.path = arg.init_from
    if arg.init == 'kinetics':
      config.init_from.dont_load = ('head/.*',)
      config.init_from.rename = ((r'backbone/(.*)', r'\1'),)
  config.task = 'ava'
  config.task_kwargs = dict(pose_classes=AVA_POSE_CLASSES)
  config.optim.update(name='sgd', momentum=0.9, nesterov=True, weight_decay=1e-7)
  config.optim.schedule = dict(
    name='step',
    base_lr=0.064,
    warmup_steps=STEPS_PER_EPOCH,
    boundaries=(5.6 / 6, 5.8 / 6),
    decay_factor=0.1,
  )
  for name, boxes in (('detected', 'detections'), ('gt', 'ground_truth')):
    config.evals[name] = dict(
      type='ava',
      split='validation',
      batch_size=32,
      num_crops=2,
      every_steps=STEPS_PER_EPOCH,
      input=dict(keyframe=dict(boxes=boxes, bank=dict(path=arg.eval_bank))),
    )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.dataset = 'vidjax_synthetic/tiny_interactions'
    config.input.sampling.update(num_frames=8, stride=1)
    config.input.keyframe.max_actors = 6
    config.input.pp.crop_size = 64
    config.init_from.update(path='', dont_load=(), rename=())
    config.model.num_classes = len(ACTOR_ACTIONS)
    config.model.backbone.update(depth=14, width=8)
    config.model.head_config = (
      {} if arg.variant == 'linear' else dict(reduce_dim=16, hidden_dim=8, depth=1)
    )
    config.task_kwargs.pose_classes = POSE_CLASSES
    for eval_config in config.evals.values():
      eval_config.split = 'validation[:32]'
  return config
