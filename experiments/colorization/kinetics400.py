r"""Colourisation tracking on Kinetics-400 without labels (Vondrick et al., ECCV 2018).

  python tools/prepare_dataset.py --dataset kinetics --config k400 \
      --manual_dir ~/data/kinetics400 --data_dir ~/tensorflow_datasets
  python tools/colour_clusters.py --config experiments/colorization/kinetics400.py \
      --out weights/kinetics_colour_centres.json
  python -m vidjax.main --workdir workdirs/colorization_k400 --config \
      experiments/colorization/kinetics400.py:colour_centres=weights/kinetics_colour_centres.json,davis_root=$HOME/data/DAVIS

The paper's setting as far as it is known (REFERENCE.md §5, the paper's text where the
third-party port differs): 4 grayscale frames (3 references, 1 target) at 256 x 256,
Kinetics at 6 fps, embeddings of 32 x 32 x 64 from a ResNet-18 with output stride 8, the
cells' positions and a 3D convolutional network (`models/colorizer.py`), the ab plane in
16 k-means colours fitted on Kinetics frames (the first command), attention temperature 1
in training, Adam 1e-3 and batch 32 for 400k iterations. At test time the paper propagates
masks with temperature 0.5; the 'davis' evaluation here uses videowalk's protocol, the one
the CRW paper scored colourisation with, so the two methods are compared alike
(`config.evals.davis.temperature` and `topk` change it).
Hardware: 8 A100-class GPUs or 16 TPU v4 chips. Time: not measured (no accelerator run).
Expected: DAVIS-2017 val J&F about 34 (the CRW paper's table; REFERENCE.md marks it
unverified). JHMDB PCK@0.1 / 0.2 45.2 / 69.6 (keypoint propagation is not built yet).
Smoke test: experiments/colorization/kinetics400.py:smoke
"""

from vidjax import configs

STEPS = 400_000
BATCH = 32


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, colour_centres='', davis_root='')
  if arg.smoke:  # four colours in place of the fitted Kinetics centres
    arg.colour_centres = '[[-20, 20], [0, 0], [20, -20], [20, 20]]'
  config = configs.base_config()
  config.total_steps = STEPS
  config.log_every = 100
  config.ckpt_every = 10_000
  config.input.dataset = 'kinetics/k400'
  config.input.batch_size = BATCH
  config.input.num_threads = 16
  config.input.sampling = dict(mode='fps', num_frames=4, target_fps=6.0, policy='pad')
  config.input.pp.update(resize_short_side=256, crop_size=256, train_crop='random', flip=False)
  config.model_name = 'colorizer'
  config.model = dict(depth=18, width=64, conv3d_layers=5, conv3d_width=256, embed_dim=64)
  config.task = 'colorization'
  # Empty until the first command has fitted them: tools/colour_clusters.py reads this
  # config without them, training refuses to start without them.
  config.task_kwargs = dict(colour_centres=arg.colour_centres, temperature=1.0, feature_stride=8)
  config.optim.update(name='adamw', b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0)
  config.optim.schedule = dict(name='constant', base_lr=1e-3, warmup_steps=0)
  config.evals.colour = dict(
    type='pretext',
    split='validation',
    pred='aux/colour/',
    batch_size=BATCH,
    num_clips=1,
    every_steps=20_000,
  )
  if arg.davis_root or arg.smoke:
    config.evals.davis = dict(
      type='label_propagation', source=arg.davis_root, davis_set='val', every_steps=20_000
    )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.pp.update(resize_short_side=0, crop_size=32)
    config.model.update(depth=10, width=8, conv3d_width=8, embed_dim=16)
    config.evals.davis.update(source='vidjax_synthetic/tiny', num_sequences=2)
  return config
