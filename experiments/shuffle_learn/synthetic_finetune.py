r"""Shuffle & Learn transfer on the embedded data: the siamese network fine-tuned for actions.

The network of an experiments/shuffle_learn/synthetic.py run (init_from= its checkpoint:
the trunk and the order head's hidden layers load, its one-logit output is left out) or a
random initialisation (init_from='') is trained as an action classifier of three frames
in order, 8 frames (1 s) apart, on `labelled_percent` % of the `events` training videos,
and tested on their validation videos (top-1 over 2 tuples per video). The three frames
go through the shared trunk, their features are concatenated in order and the hidden
layers end in 10 logits: the pretraining's network with a 10-way output.

The paper fine-tunes the trunk alone as a single-frame classifier (the real-data recipe
does: experiments/transfer/finetune.py with network=resnet18-frames, in
experiments/shuffle_learn/ucf101.py's docstring). On the embedded data one frame cannot name
an action by design (each action has its reverse among the classes), and a single-frame
classifier of what one frame does show, the object's shape on `shapes` videos, stayed at
chance from either initialisation in 400 steps, with 10 % or 100 % of the labels
(docs/shuffle_learn.md, "Transfer"), so the miniature keeps the frames' order.

  python -m vidjax.main --workdir workdirs/shuffle_learn/finetune --config \
      experiments/shuffle_learn/synthetic_finetune.py:init_from=workdirs/shuffle_learn/checkpoints/1000
  python -m vidjax.main --workdir workdirs/shuffle_learn/scratch \
      --config experiments/shuffle_learn/synthetic_finetune.py

Arguments: init_from, labelled_percent (10).
Hardware: 2 CPU cores; 3.5 minutes (400 steps of 32 tuples), sharing the cores with
another study.
Expected: docs/results.md, "Temporal pretext tasks in miniature".
Smoke test: experiments/shuffle_learn/synthetic_finetune.py:smoke
"""

from vidjax import configs
from vidjax.data.builders import synthetic_scenes

pretraining = configs.load_experiment_module('synthetic.py', relative_to=__file__)


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, init_from='', labelled_percent=10)
  if not 0 < arg.labelled_percent <= 100:
    raise ValueError(f'labelled_percent={arg.labelled_percent}: a percentage in (0, 100].')
  config = configs.base_config()
  config.total_steps = 400
  config.log_every = 25
  config.ckpt_every = 200
  config.input.dataset = 'vidjax_synthetic/events'
  config.input.split = f'train[:{arg.labelled_percent}%]'
  config.input.batch_size = 32
  config.input.sampling.update(num_frames=3, stride=pretraining.TUPLE_STRIDE, policy='pad')
  config.input.pp.crop_size = 32
  config.input.pp.flip_label_swaps = configs.SYNTHETIC_FLIP_SWAPS
  config.model_name = 'tuple_order'
  trunk = dict(pretraining.TRUNK, width=8) if arg.smoke else pretraining.TRUNK
  config.model = dict(trunk, num_classes=len(synthetic_scenes.ACTION_NAMES))
  if arg.init_from:
    config.init_from.path = arg.init_from
    config.init_from.dont_load = ('order/logits/.*',)  # the order logit
  config.optim.schedule = dict(name='cosine', base_lr=0.05, warmup_steps=25)
  config.evals.val = dict(
    type='multiview', split='validation', batch_size=60, num_clips=2, num_crops=1, every_steps=200
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
  return config
