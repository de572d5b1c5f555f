r"""The contrastive random walk on Kinetics-400 without labels (Jabri et al., NeurIPS 2020).

  python tools/prepare_dataset.py --dataset kinetics --config k400 \
      --manual_dir ~/data/kinetics400 --data_dir ~/tensorflow_datasets
  python -m vidjax.main --config experiments/crw/kinetics400.py --workdir workdirs/crw_k400

with `davis_root` pointing at DAVIS-2017 (trainval, 480p), the 'davis' evaluation
propagates the val set's first-frame masks with the network's features once an epoch and
reports the official J&F (`evaluators/label_propagation.py`); without it that evaluation
is left out. A user's own video:

  python tools/propagate.py ~/data/DAVIS/JPEGImages/480p/bike-packing \
      --first_mask ~/data/DAVIS/Annotations/480p/bike-packing/00000.png \
      --checkpoint workdirs/crw_k400/checkpoints/1500000 --out results/bike-packing

videowalk's README command: clips of 4 frames at 8 fps (torchvision's Kinetics400 with
frame_rate=8), each frame cropped on its own and cut into 7 x 7 patches of 64 pixels every
32, each jittered (`tasks/crw.py`); ResNet-18 from scratch with reflect padding, layers 3
and 4 at stride 1, a linear head to 128; temperature 0.05, edge dropout 0.1, batch 20,
Adam 1e-4 without weight decay; the code's defaults for the rest: 25 epochs of 5 clips per
video, the learning rate times 0.3 after epoch 20 (its milestones 20, 30, 40). One
difference: the loader gives the task a 256 x 256 crop of the frame resized to a short
side of 256 (static shapes), in which each frame's RandomResizedCrop is drawn; the official
code draws it in the whole frame.
Hardware: 8 A100-class GPUs or 16 TPU v4 chips for the batch of 20 clips (4 frames, 49
patches each). Time: not measured (no accelerator run).
Expected (paper): DAVIS-2017 val J&F 67.6 (J 64.6, F 70.6) with videowalk's released
model; users of the original report 61.4 and 40.8 (REFERENCE.md, videowalk issues 32, 5).
Smoke test: experiments/crw/kinetics400.py:smoke (the embedded tiny videos in DAVIS's place)
"""

from vidjax import configs

VIDEOS = 240_000
CLIPS_PER_VIDEO = 5
BATCH = 20
EPOCHS = 25
STEPS_PER_EPOCH = VIDEOS * CLIPS_PER_VIDEO // BATCH


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, davis_root='')
  config = configs.base_config()
  config.total_steps = EPOCHS * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 10_000
  config.input.dataset = 'kinetics/k400'
  config.input.batch_size = BATCH
  config.input.num_threads = 16
  config.input.sampling = dict(mode='fps', num_frames=4, target_fps=8.0, policy='pad')
  config.input.pp.update(resize_short_side=256, crop_size=256, train_crop='random', flip=False)
  config.model_name = 'crw'
  config.model = dict(depth=18, width=64, embed_dim=128, padding_mode='reflect')
  config.task = 'crw'
  config.task_kwargs = dict(temperature=0.05, edge_dropout=0.1)
  config.optim.update(name='adamw', b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0)
  config.optim.schedule = dict(
    name='step', base_lr=1e-4, warmup_steps=0, boundaries=(20 / EPOCHS,), decay_factor=0.3
  )
  config.evals.walk = dict(
    type='pretext',
    split='validation',
    pred='aux/walk/',
    batch_size=20,
    num_clips=2,
    every_steps=STEPS_PER_EPOCH,
  )
  if arg.davis_root or arg.smoke:
    # videowalk's DAVIS command: context 20, radius 12, top-10, temperature 0.05, 480p.
    config.evals.davis = dict(
      type='label_propagation', source=arg.davis_root, davis_set='val', every_steps=STEPS_PER_EPOCH
    )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.evals.davis.update(source='vidjax_synthetic/tiny', num_sequences=2)
    config.input.pp.update(resize_short_side=0, crop_size=32)
    config.model.update(depth=10, width=8, embed_dim=16)
    config.task_kwargs.update(image_size=32, patch_size=16, patch_stride=8)
  return config
