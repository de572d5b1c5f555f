r"""UniDual R(2+1)D trained jointly on Kinetics-400 and ImageNet (arXiv 1906.03857).

Prepare both datasets once (official CSVs + your clips; the ImageNet train/val folders in
the `<split>/<class>/<image>` layout, resized to a short side of 128 like the videos):

  python tools/prepare_dataset.py --dataset kinetics --config k400 \
      --manual_dir ~/data/kinetics400 --data_dir ~/tensorflow_datasets
  python tools/prepare_dataset.py --dataset image_folder --config imagenet128 \
      --short_side 128 --manual_dir ~/data/imagenet --data_dir ~/tensorflow_datasets

then train (depth=18 or depth=152; variant= as in experiments/unidual/synthetic.py):

  python -m vidjax.main --config experiments/unidual/kinetics400_imagenet.py:depth=18 \
      --workdir workdirs/unidual_k400_in1k_r18
  python -m vidjax.main --config experiments/unidual/kinetics400_imagenet.py:depth=152 \
      --workdir workdirs/unidual_k400_in1k_r152

Each step reads 256 Kinetics clips (16 frames at stride 2 for R(2+1)D-18, 32 for -152;
short side 128, random 112x112 crops and flips) and 256 ImageNet images cropped to the
same 112x112 (Inception-style random-resized crops), both normalised alike, so the shared
spatial filters see one input scale. The loss is the sum of the two cross-entropies; the
image:video mix is the two batch sizes (config.input.sources.*.batch_size) and, if wanted,
config.task_kwargs.source_probabilities. The schedule is the supervised R(2+1)D-18
recipe's (experiments/supervised/kinetics400_r2plus1d_18.py): 45 Kinetics epochs of 940
steps, which is 8.5 ImageNet epochs. Evaluations: video@1 over 10 clips on Kinetics
validation and top-1 on ImageNet val (centre 112 crop of the short-side-128 image).
R(2+1)D-152 is VMZ's (bottlenecks, per-convolution mid widths, stem max-pool, BN epsilon
1e-3).
Hardware: R(2+1)D-18: 8 GPUs (A100-class) or a TPU v4-8; R(2+1)D-152: a TPU v4-32 or 32
GPUs; the batch is split over every device. Time: not measured yet (no accelerator run).
Expected: the paper reports joint UniDual above separate models, multi-task learning and
pretrain-then-fine-tune on both tasks, and +1.5 % video@1 on Kinetics for R(2+1)D-152
(abstract). Plain R(2+1)D-18 with this recipe: 67.5 % video@1 (torchvision's card).
Smoke test: experiments/unidual/kinetics400_imagenet.py:smoke
"""

from vidjax import configs
from vidjax.tasks import unidual

STEPS_PER_EPOCH = 940  # 240k Kinetics training clips / 256


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, depth=18, variant='joint', init_from='')
  if arg.depth not in (18, 152):
    raise ValueError(f'depth={arg.depth}: this experiment is set up for 18 or 152.')
  config = configs.base_config()
  config.total_steps = 45 * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2000
  config.input.num_threads = 16
  config.input.sampling.update(num_frames=16 if arg.depth == 18 else 32, stride=2, policy='loop')
  config.input.pp.update(resize_short_side=128, crop_size=112)
  video = dict(dataset='kinetics/k400', loader='clip', split='train', batch_size=256)
  image = dict(
    dataset='image_folder/imagenet128',
    loader='image',
    split='train',
    batch_size=256,
    pp=dict(train_crop='random_resized'),
  )
  config.model_name = 'unidual'
  config.model = dict(num_classes=dict(video=400, image=1000), depth=arg.depth)
  if arg.depth == 152:
    config.model.update(midplanes_rule='conv', stem_pool=True, bn_epsilon=1e-3)
  config.task = 'unidual'
  config.task_kwargs = dict(loss_weights=dict(), source_probabilities=dict(), label_smoothing=0.0)
  config.optim.update(weight_decay=1e-4)
  config.optim.schedule = dict(name='cosine', base_lr=0.4, warmup_steps=10 * STEPS_PER_EPOCH)
  config.evals.video = dict(
    type='multiview',
    split='validation',
    batch_size=64,
    num_clips=10,
    num_crops=1,
    every_steps=5 * STEPS_PER_EPOCH,
    input=dict(video, split='validation'),
  )
  config.evals.image = dict(
    type='classification',
    split='val',
    batch_size=256,
    every_steps=5 * STEPS_PER_EPOCH,
    input=dict(image, split='val'),
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.pp.resize_short_side = 0
    config.model.update(depth=10 if arg.depth == 18 else 14, width=8)
    video.update(dataset='vidjax_synthetic/tiny', batch_size=8)
    image.update(dataset='vidjax_synthetic/images', split='train[:64]', batch_size=8)
    config.evals.video.input.update(dataset='vidjax_synthetic/tiny')
    config.evals.image.update(split='validation[:32]')
    config.evals.image.input.update(dataset='vidjax_synthetic/images', split='validation[:32]')
    config.model.num_classes = dict(video=10, image=8)
  unidual.configure(config, arg.variant, video=video, image=image, init_from=arg.init_from)
  return config
