r"""DistInit on Kinetics-400 without labels: an ImageNet ResNet-50 teaches a Res3D-18.

The paper's setting (Girdhar et al., ICCV 2019, Table 3): the teacher is torchvision's
ImageNet ResNet-50, converted once,

  python tools/convert_checkpoint.py --source torchvision --arch resnet50 \
      --input resnet50-11ad3fa6.pth --output ~/checkpoints/resnet50_imagenet

the student an R3D-18 (the paper's Res3D-18, with a 2D ResNet's max-pool after the stem
so that the inflation baseline starts the same network) on 16-frame clips of 112 x 112 pixels of the
Kinetics-400 training videos, whose labels are not read. The teacher classifies 4 frames
of each clip, drawn at random, upsampled to 224 x 224 and normalised with ImageNet's
statistics; the student matches the average of its softmaxes over the 1,000 ImageNet
classes (vidjax/tasks/distinit.py). Then fine-tune on UCF101 or HMDB51
(experiments/transfer/finetune.py:network=r3d-18), against the same R3D-18 from scratch
and inflated from an ImageNet ResNet-18 (finetune.py's `inflate`).

  python tools/prepare_dataset.py --dataset kinetics --config k400 \
      --manual_dir ~/data/kinetics400 --data_dir ~/tensorflow_datasets
  python -m vidjax.main --workdir workdirs/distinit_k400 --config \
      experiments/distinit/kinetics400.py:teacher=~/checkpoints/resnet50_imagenet

Arguments: teacher (the converted checkpoint; required), temperature (1.0). The paper's
temperature and its schedule are not among the sources here: these are this config's
choices.
Hardware: 8 A100s or a TPU v4-16 for the batch of 256 clips (the teacher's 4 frames at 224
pixels cost about as much as the student's clip). Time: not measured (no accelerator run).
Expected (paper, its table of Res3D-18 initialisations fine-tuned, clip top-1): scratch
25.4 %, ImageNet-inflated 35.8 %, DistInit above inflation (its abstract: by 16 %). The
exact DistInit entry and the fine-tuning set of that table are not among the sources
here; no run of this config has reproduced them.
Smoke test: experiments/distinit/kinetics400.py:smoke,teacher=CHECKPOINT (a teacher.py:smoke
checkpoint)
"""

from vidjax import configs

teacher_experiment = configs.load_experiment_module('teacher.py', relative_to=__file__)

STEPS_PER_EPOCH = 937  # 240k training videos / 256 clips
EPOCHS = 45
# torchvision's ImageNet normalisation, for the teacher (0..1 scale).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, teacher='', temperature=1.0)
  config = configs.base_config()
  config.total_steps = EPOCHS * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2000
  config.input.dataset = 'kinetics/k400'
  config.input.batch_size = 256
  config.input.num_threads = 16
  config.input.sampling.update(num_frames=16, stride=2, policy='loop')
  config.input.pp.update(resize_short_side=128, crop_size=112)
  config.model_name = 'video_resnet'
  # experiments/transfer/finetune.py's 'r3d-18': what an ImageNet ResNet-18 inflates to.
  config.model = dict(num_classes=1000, depth=18, block='r3d', stem_pool=True)
  config.task = 'distinit'
  config.task_kwargs = dict(
    teacher_checkpoint=arg.teacher,
    teacher_model_name='single_frame',
    teacher_model=dict(num_classes=1000, depth=50, width=64),
    temperature=arg.temperature,
    teacher_frames=4,
    teacher_size=224,
    teacher_mean=IMAGENET_MEAN,
    teacher_std=IMAGENET_STD,
  )
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=2 * STEPS_PER_EPOCH)
  config.evals.distill = dict(
    type='pretext',
    split='validation',
    pred='aux/distill/',
    batch_size=64,
    num_clips=1,
    every_steps=5 * STEPS_PER_EPOCH,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.pp.resize_short_side = 0
    teacher = teacher_experiment.get_config('smoke')
    config.model.update(num_classes=teacher.model.num_classes, depth=10, width=8)
    config.task_kwargs.update(teacher_model=dict(teacher.model), teacher_size=32)
  return config
