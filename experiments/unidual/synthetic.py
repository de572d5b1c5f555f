r"""UniDual on the embedded data: actions in videos and shapes in images, jointly or not.

The miniature of the paper's comparison (arXiv 1906.03857, Tables 1-3): a UniDual
R(2+1)D-10 of width 16 classifies the 10 actions of `vidjax_synthetic/default` videos and
the 8 object shapes of `vidjax_synthetic/images` images. The regime is data-poor on both
sides, where one task can lend the other what it learns: a quarter of the video training
set (300 videos) and a tenth of the image training set (200 images), 300 steps.

  python -m vidjax.main --config experiments/unidual/synthetic.py:variant=joint \
      --workdir workdirs/unidual/joint
  # the baselines: variant=shared | video_only | image_only, and pretrain-then-fine-tune
  python -m vidjax.main --workdir workdirs/unidual/image_then_video --config \
      experiments/unidual/synthetic.py:variant=image_then_video,init_from=CHECKPOINT
  # (CHECKPOINT: the image_only run's last step, e.g. workdirs/unidual/image_only/checkpoints/300)
  # every variant over seeds, and the table of docs/results.md:
  python experiments/unidual/study.py --workdir workdirs/unidual_study --seeds 0,1,2

Variants (vidjax/tasks/unidual.py, VARIANTS): joint UniDual; shared (traditional
multi-task learning, one trunk); video_only / image_only (separate models); and
image_then_video / video_then_image (pretrain, then fine-tune from its checkpoint).
Every run evaluates both tasks at its end: eval/video/video_top1_2x1 on the 300
validation videos, eval/image/clip_top1 on the 500 validation images.
Hardware: 2 CPU cores, no accelerator. Wall-clock: 1-2.5 min per run (image_only is the
fastest, joint the slowest), 32 min for the study over 3 seeds (dataset built by the
quickstart).
Expected: docs/results.md, "UniDual in miniature", gives every variant's mean and spread.
Smoke test: experiments/unidual/synthetic.py:smoke (any variant)
"""

from vidjax import configs
from vidjax.tasks import unidual


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, variant='joint', init_from='', video_labels='action')
  if arg.video_labels not in ('action', 'shape'):
    raise ValueError(f"video_labels={arg.video_labels!r}: choose 'action' or 'shape'.")
  config = configs.base_config()
  config.total_steps = 300
  config.log_every = 25
  config.ckpt_every = 300
  config.input.sampling.update(num_frames=8, stride=2, policy='loop')
  config.input.pp.crop_size = 56
  video = dict(
    dataset='vidjax_synthetic/default',
    loader='clip',
    split='train[:25%]',
    batch_size=16,
    pp=dict(flip_label_swaps=configs.SYNTHETIC_FLIP_SWAPS),
  )
  if arg.video_labels == 'shape':
    # The related-task regime: videos labelled by the shape classes the images have.
    video.update(dataset='vidjax_synthetic/shapes', pp=dict(flip_label_swaps=()))
  # Shapes keep their names under a flip; the image crop is the video crop (56 of 64).
  image = dict(dataset='vidjax_synthetic/images', loader='image', split='train', batch_size=32)
  config.model_name = 'unidual'
  num_video_classes = 10 if arg.video_labels == 'action' else 8
  config.model = dict(num_classes=dict(video=num_video_classes, image=8), depth=10, width=16)
  config.task = 'unidual'
  config.task_kwargs = dict(loss_weights=dict(), source_probabilities=dict(), label_smoothing=0.0)
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=30)
  config.evals.video = dict(
    type='multiview',
    split='validation',
    batch_size=64,
    num_clips=2,
    num_crops=1,
    every_steps=config.total_steps,
    input=dict(video, split='validation'),
  )
  config.evals.image = dict(
    type='classification',
    split='validation',
    batch_size=100,
    every_steps=config.total_steps,
    input=dict(image, split='validation'),
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.model.width = 8
    tiny = 'vidjax_synthetic/tiny' + ('_shapes' if arg.video_labels == 'shape' else '')
    video.update(dataset=tiny, split='train', batch_size=8)
    image.update(split='train[:64]', batch_size=8)
    config.evals.video.input.update(dataset=tiny)
    config.evals.image.update(split='validation[:32]')
    config.evals.image.input.update(split='validation[:32]')
  unidual.configure(config, arg.variant, video=video, image=image, init_from=arg.init_from)
  return config
