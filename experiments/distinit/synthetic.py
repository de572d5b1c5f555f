r"""DistInit on the embedded data: a video network learns from an image network, no labels.

The student, the R3D-10 of width 16 that the teacher's 2D ResNet-10 inflates to
(experiments/transfer/synthetic_finetune.py, backbone 'r3d'), sees 16-frame clips (whole
64 x 64 frames with Inception-style crops, as its teacher was trained and as it is
fine-tuned) of the `events` training videos without their
labels and learns to match what the shape teacher (experiments/distinit/teacher.py) says
of the clips' frames: the average of its per-frame softmaxes at temperature T, with
Hinton's T^2 KL loss (vidjax/tasks/distinit.py).
The teacher is frozen and is not part of the checkpoint.

  python -m vidjax.main --config experiments/distinit/teacher.py \
      --workdir workdirs/distinit/teacher
  python -m vidjax.main --workdir workdirs/distinit/student --config \
      experiments/distinit/synthetic.py:teacher=workdirs/distinit/teacher/checkpoints/1000
  # the whole comparison (fine-tuned from DistInit, from the inflated teacher, from
  # scratch) over seeds: experiments/distinit/study.py

Arguments: teacher (its checkpoint step directory; required), temperature (1.0),
teacher_frames (4 of the 16 frames, drawn at random per clip; 0: all).
Evaluations: 'distill', the student's agreement with the teacher's top class and its KL
on the last tenth of the training videos, held out; 'probe', the linear probe of the
frozen features on 10 % of the `events` action labels, at initialisation and at the end.
The paper (Girdhar et al., ICCV 2019) distils ImageNet and Places ResNets into a Res3D-18
on unlabelled Kinetics or Sports-1M clips and fine-tunes on HMDB51 and UCF101;
experiments/distinit/kinetics400.py is that setting.
Hardware: 2 CPU cores; 15 minutes (seed 1, alone on the machine).
Expected: docs/results.md, "Temporal pretext tasks in miniature".
Smoke test: experiments/distinit/synthetic.py:smoke,teacher=CHECKPOINT
"""

from vidjax import configs

transfer = configs.load_experiment_module('../transfer/synthetic_finetune.py', relative_to=__file__)
teacher_experiment = configs.load_experiment_module('teacher.py', relative_to=__file__)


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, teacher='', temperature=1.0, teacher_frames=4)
  teacher_config = teacher_experiment.get_config('smoke' if arg.smoke else None)
  config = configs.base_config()
  config.total_steps = 1000
  config.log_every = 50
  config.ckpt_every = 250
  config.input.dataset = 'vidjax_synthetic/events'
  config.input.split = 'train[:90%]'
  config.input.batch_size = 32
  config.input.sampling.update(num_frames=16, stride=1, policy='pad')
  config.input.pp.update(transfer.INPUTS['r3d'])
  model = transfer.backbone('r3d', smoke=arg.smoke)
  config.model_name = model.pop('model_name')
  config.model = dict(model, num_classes=teacher_config.model.num_classes)
  config.task = 'distinit'
  config.task_kwargs = dict(
    teacher_checkpoint=arg.teacher,
    teacher_model_name=teacher_config.model_name,
    teacher_model=dict(teacher_config.model),
    temperature=arg.temperature,
    teacher_frames=arg.teacher_frames,
    teacher_size=0,
    teacher_mean=(),
    teacher_std=(),
  )
  config.optim = transfer.pretext_optimiser()
  config.evals.distill = transfer.held_out_evaluation('aux/distill/', smoke=arg.smoke)
  config.evals.probe = transfer.probe_evaluation(config.total_steps, smoke=arg.smoke)
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
    config.task_kwargs.teacher_frames = 2
  return config
