r"""SpeedNet transfer on the embedded data: the S3D-G fine-tuned for action recognition.

The network of an `experiments/speednet/synthetic.py` run (init_from= its checkpoint;
every variable but the one-logit classifier loads) or a random initialisation
(init_from='') is trained on `labelled_percent` % of the `events` training videos with
their action labels and tested on the validation videos. `events` videos are 32 frames
long, so their motion runs at the `speed` training videos' natural speed. Pretraining
helps when the pretrained network beats the random one with few labels.

  python -m vidjax.main --workdir workdirs/speednet/finetune --config \
      experiments/speednet/synthetic_finetune.py:init_from=workdirs/speednet/checkpoints/1000
  python -m vidjax.main --workdir workdirs/speednet/scratch \
      --config experiments/speednet/synthetic_finetune.py

Arguments: init_from, labelled_percent (10).
Clips: 16 frames (2 s) at stride 1: an action's motion spans the whole 4 s video, and 1 s
clips hide it (docs/avts.md).
Hardware: 2 CPU cores. Wall-clock and result: not measured yet (the pretraining has not
learned yet on the embedded data, docs/speednet.md).
Smoke test: experiments/speednet/synthetic_finetune.py:smoke
"""

import importlib.util
import os

from vidjax import configs
from vidjax.models import s3d

# The pretraining experiment's network, so that the two stay the same.
_spec = importlib.util.spec_from_file_location(
  'speednet_synthetic', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'synthetic.py')
)
speednet_synthetic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(speednet_synthetic)


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
  config.input.sampling.update(num_frames=16, stride=1, policy='pad')
  config.input.pp.crop_size = 32
  config.input.pp.flip_label_swaps = configs.SYNTHETIC_FLIP_SWAPS
  model = speednet_synthetic.backbone(smoke=arg.smoke)
  config.model_name = model.pop('model_name')
  config.model = dict(model, num_classes=10)
  if arg.init_from:
    config.init_from.path = arg.init_from
    config.init_from.dont_load = (s3d.CLASSIFIER,)
  config.optim.schedule = dict(name='cosine', base_lr=0.05, warmup_steps=25)
  config.evals.val = dict(
    type='multiview', split='validation', batch_size=60, num_clips=2, num_crops=1, every_steps=200
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
  return config
