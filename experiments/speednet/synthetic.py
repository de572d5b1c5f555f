r"""SpeedNet on the embedded data: is a clip at normal speed or sped up twice? No labels.

`vidjax_synthetic/speed`: 48-frame videos of the default scenes. The training videos play
at their natural speed throughout; the validation videos alternate segments at normal
speed and at twice the speed, with the true speed of every frame stored, so that the
speediness curves and the adaptive speed-up can be scored (docs/speednet.md). Each
training example is a pair of 8-frame clips of the same moment, one at normal speed (a
skip factor of 0.75-1.25 frames a step) and one sped up (1.5-2.5), cropped with one random
box whose size varies by a factor of two, so that how far an object moves per frame in
pixels does not by itself give the speed away (`data/samplers/speed.py`). Both clips go
into one batch, and SpeedNet's S3D-G without temporal striding, with max + average
pooling and one logit, is trained with the binary cross-entropy (`tasks/speednet.py`).

  python -m vidjax.main --config experiments/speednet/synthetic.py --workdir workdirs/speednet

Evaluation 'speed': the accuracy of the speed decision on the last tenth of the training
videos, held out from training (each gives a test pair at its centre, normal and sped up).
The paper's setting is 64-frame clips of Kinetics at a random size of 64-336 pixels
(test 224) with the published S3D-G; here the clips are 8 frames of 32 x 32 pixels and the
S3D-G is a quarter wide.
Hardware: 2 CPU cores. Wall-clock and result: not measured yet.
Smoke test: experiments/speednet/synthetic.py:smoke
"""

from vidjax import configs


def backbone(smoke: bool = False) -> dict:
  """SpeedNet's S3D-G (one logit here; a classifier when fine-tuned)."""
  return dict(
    model_name='s3d',
    variant='s3d-g',
    width_multiplier=0.125 if smoke else 0.25,
    temporal_downsampling=False,
    global_pool='max+mean',
  )


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False)
  config = configs.base_config()
  config.total_steps = 1000
  config.log_every = 50
  config.ckpt_every = 250
  config.input.dataset = 'vidjax_synthetic/speed'
  config.input.split = 'train[:90%]'
  config.input.batch_size = 16  # pairs: 32 clips a step
  config.input.sampling.update(
    mode='speed', num_frames=8, stride=1, policy='pad', speedup=2.0, skip_jitter=0.25
  )
  config.input.pp.crop_size = 32
  config.input.pp.train_crop = 'random_resized'
  config.input.pp.random_resized_crop = dict(area=(0.25, 1.0), aspect_ratio=(3 / 4, 4 / 3))
  model = backbone(smoke=arg.smoke)
  config.model_name = model.pop('model_name')
  config.model = dict(model, num_classes=1)
  config.task = 'speednet'
  config.task_kwargs = {}
  config.optim.schedule = dict(name='cosine', base_lr=0.05, warmup_steps=50)
  config.evals.speed = dict(
    type='pretext',
    split='train[90%:]',
    pred='aux/speed/',
    batch_size=60,
    num_clips=2,
    every_steps=250,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
    config.evals.speed.split = 'validation'
  return config
