r"""SpeedNet on the embedded data: is a clip at normal speed or sped up twice? No labels.

`vidjax_synthetic/speed`: 48-frame videos of the default scenes. The training videos play
at their natural speed throughout; the validation videos alternate segments at normal
speed and at twice the speed, with the true speed of every frame stored, so that the
speediness curves and the adaptive speed-up can be scored (docs/speednet.md). Each
training example is a pair of 8-frame clips of the same moment, one at normal speed (a
skip factor of 0.75-1.25 frames a step) and one sped up (1.5-2.5), cropped with one random
box whose size varies by a factor of two, so that how far an object moves per frame in
pixels does not by itself give the speed away (`data/samplers/speed.py`). Both clips go
into one batch, one logit, the binary cross-entropy (`tasks/speednet.py`), on the network
that experiments/transfer/synthetic_finetune.py fine-tunes: the zoo's R(2+1)D-10 at width
16 with AdamW 1e-3, where SpeedNet's S3D-G a quarter wide (`backbone=s3d-g`) and SGD
learned nothing at this size (docs/speednet.md, "Which network and optimiser").

  python -m vidjax.main --config experiments/speednet/synthetic.py --workdir workdirs/speednet

Evaluations: 'speed', the accuracy of the speed decision on the last tenth of the training
videos, held out from training (each gives a test pair at its centre, normal and sped up);
'probe', a linear probe of the frozen features on the action labels of 10 % of the
`events` training videos, scored on its validation videos, at initialisation and at the
end. Then `experiments/speednet/speediness_study.py` scores the speediness curves and the
adaptive speed-up on the `speed` validation videos, and `experiments/speednet/study.py`
runs the pretraining and the fine-tuning against a random initialisation over seeds.
The paper's setting is 64-frame clips of Kinetics at a random size of 64-336 pixels
(test 224) with the published S3D-G; here the clips are 8 frames of 32 x 32 pixels.
Arguments: backbone ('r2plus1d' or 's3d-g').
Hardware: 2 CPU cores; about 10 minutes with the evaluations (11 for seed 0, sharing
the cores with another study).
Expected (the paper's qualitative result): the speed told well above chance on held-out
videos, and features that transfer; measured: docs/results.md, "Temporal pretext tasks in
miniature" (72 % held-out speed accuracy at step 1,000 for seed 0).
Smoke test: experiments/speednet/synthetic.py:smoke
"""

from vidjax import configs

# The network that experiments/transfer/synthetic_finetune.py fine-tunes.
transfer = configs.load_experiment_module('../transfer/synthetic_finetune.py', relative_to=__file__)


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, backbone='r2plus1d')
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
  model = transfer.backbone(arg.backbone, smoke=arg.smoke)
  config.model_name = model.pop('model_name')
  config.model = dict(model, num_classes=1)
  config.task = 'speednet'
  config.task_kwargs = {}
  config.optim = transfer.pretext_optimiser()
  config.evals.speed = transfer.held_out_evaluation('aux/speed/', smoke=arg.smoke)
  config.evals.probe = transfer.probe_evaluation(config.total_steps, smoke=arg.smoke)
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
  return config
