r"""Shuffle & Learn transfer on the embedded data: the trunk fine-tuned as a single-frame
classifier, as the paper does.

The trunk of an experiments/shuffle_learn/synthetic.py run (init_from= its checkpoint: the
'resnet' variables load, the order head is left out) or a random initialisation
(init_from='') in `single_frame.Model` (the 2D ResNet on every frame, class probabilities
averaged over the frames) is trained on `labelled_percent` % of the `shapes` videos, whose
label is what one frame shows (the object's shape), and tested on their validation videos.
The actions of the other configs are not the target: one frame of them cannot tell the
class by design.

  python -m vidjax.main --workdir workdirs/shuffle_learn/finetune --config \
      experiments/shuffle_learn/synthetic_finetune.py:init_from=workdirs/shuffle_learn/checkpoints/1000
  python -m vidjax.main --workdir workdirs/shuffle_learn/scratch \
      --config experiments/shuffle_learn/synthetic_finetune.py

Arguments: init_from, labelled_percent (10).
Hardware: 2 CPU cores; about 3.5 minutes (400 steps of 32 clips), sharing the cores with
two other studies.
Expected: docs/results.md, "Temporal pretext tasks in miniature".
Smoke test: experiments/shuffle_learn/synthetic_finetune.py:smoke
"""

from vidjax import configs

pretraining = configs.load_experiment_module('synthetic.py', relative_to=__file__)


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, init_from='', labelled_percent=10)
  if not 0 < arg.labelled_percent <= 100:
    raise ValueError(f'labelled_percent={arg.labelled_percent}: a percentage in (0, 100].')
  config = configs.base_config()
  config.total_steps = 400
  config.log_every = 25
  config.ckpt_every = 200
  config.input.dataset = 'vidjax_synthetic/shapes'
  config.input.split = f'train[:{arg.labelled_percent}%]'
  config.input.batch_size = 32
  config.input.sampling.update(num_frames=4, stride=4, policy='pad')
  config.input.pp.crop_size = 32
  config.model_name = 'single_frame'
  trunk = dict(pretraining.TRUNK, width=8) if arg.smoke else pretraining.TRUNK
  config.model = dict(trunk, num_classes=10)
  if arg.init_from:
    config.init_from.path = arg.init_from
    config.init_from.dont_load = ('fc/.*',)  # the single-frame classifier
  config.optim.schedule = dict(name='cosine', base_lr=0.05, warmup_steps=25)
  config.evals.val = dict(
    type='multiview', split='validation', batch_size=60, num_clips=2, num_crops=1, every_steps=200
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
  return config
