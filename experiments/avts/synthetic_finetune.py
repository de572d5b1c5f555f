r"""AVTS transfer on the embedded data: the video tower fine-tuned for action recognition.

The video network of an `experiments/avts/synthetic.py` run (init_from= its checkpoint)
or a random initialisation (init_from='') is trained on `labelled_percent` % of the
`events` training videos with their action labels and tested on the validation videos:
pretraining helps when the pretrained network beats the random one with few labels.

  python -m vidjax.main --workdir workdirs/avts/finetune --config \
      experiments/avts/synthetic_finetune.py:init_from=workdirs/avts/curriculum/checkpoints/900
  python -m vidjax.main --workdir workdirs/avts/scratch \
      --config experiments/avts/synthetic_finetune.py

Arguments: init_from (an AVTS checkpoint step directory; its 'video_tower/...' variables
load into the classifier's backbone, the classifier starts fresh), labelled_percent (10),
video_tower ('r2plus1d' or 'mc3': the pretraining's, experiments/avts/synthetic.py).
Hardware: 2 CPU cores. Wall-clock and result: not measured yet (the pretraining does not
learn synchronisation yet on the embedded data, docs/avts.md).
Smoke test: experiments/avts/synthetic_finetune.py:smoke
"""

from vidjax import configs
from vidjax.models import video_resnet

# The pretraining experiment's video tower, so that the two stay the same network.
avts_synthetic = configs.load_experiment_module('synthetic.py', relative_to=__file__)


def get_config(arg: str | None = None):
  arg = configs.parse_arg(
    arg, smoke=False, init_from='', labelled_percent=10, video_tower='r2plus1d'
  )
  if not 0 < arg.labelled_percent <= 100:
    raise ValueError(f'labelled_percent={arg.labelled_percent}: a percentage in (0, 100].')
  config = configs.base_config()
  config.total_steps = 400
  config.log_every = 25
  config.ckpt_every = 200
  config.input.dataset = 'vidjax_synthetic/events'
  config.input.split = f'train[:{arg.labelled_percent}%]'
  config.input.batch_size = 32
  # The pretraining's 2 s clips (1 s clips hide the action: docs/avts.md).
  config.input.sampling.update(num_frames=16, stride=1, policy='pad')
  config.input.pp.crop_size = 56
  config.input.pp.flip_label_swaps = configs.SYNTHETIC_FLIP_SWAPS
  tower = dict(avts_synthetic.video_tower(arg.video_tower, smoke=arg.smoke))
  config.model_name = tower.pop('model_name')
  config.model = dict(tower, num_classes=10)
  if arg.init_from:
    config.init_from.path = arg.init_from
    config.init_from.rename = ((r'(.+)', r'video_tower/\1'),)
    config.init_from.dont_load = (video_resnet.CLASSIFIER,)
  config.optim.schedule = dict(name='cosine', base_lr=0.05, warmup_steps=25)
  config.evals.val = dict(
    type='multiview', split='validation', batch_size=60, num_clips=2, num_crops=1, every_steps=200
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
  return config
