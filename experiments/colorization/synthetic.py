r"""Colourisation tracking on the embedded videos, without labels (Vondrick et al., ECCV 2018).

Each example is a clip of 4 consecutive frames of `vidjax_synthetic/default` (8 fps); the
network sees their lightness only and learns to colour the last frame by pointing at the
first three (`tasks/colorization.py`): the ab plane quantised into the paper's 16 k-means
colours, the attention's temperature 1, cross-entropy, Adam 1e-3 (the paper's). The
network is the paper's in miniature (`models/colorizer.py`): a ResNet-18 at width 16 with
output stride 8 on each frame, the cells' positions, five 3D convolutional layers of 64
channels to a 64-dimensional embedding.

  python -m vidjax.main --config experiments/colorization/synthetic.py \
      --workdir workdirs/colorization

The colour centres below were fitted on this experiment's training clips by

  python tools/colour_clusters.py --config experiments/colorization/synthetic.py \
      --out /tmp/synthetic_colour_centres.json

(`colour_centres=FILE` uses another set). Evaluations: 'colour', the colouring of 2
held-out clips of each validation video (accuracy of the copied colour per cell, and its
cross-entropy); 'davis', the first frame's masks of
the first 30 embedded validation videos propagated with the embeddings (videowalk's
protocol, the one the CRW paper scores colourisation with; `evaluators/label_propagation.py`),
the official J&F, at step 0 too (the random network) and, as 'copy/J&F-Mean', repeating
the first frame's masks.
Hardware: 2 CPU cores. Time: 500 steps in 11 minutes with another training job on the cores.
Expected (the papers' ordering, CRW > colourisation > the baselines): J&F above the random
network's and above copying the first frame's masks.
Measured (500 steps, `experiments/crw/study.py`, 3 seeds, docs/results.md): 88.6 % of
held-out cells coloured right; J&F 0.128, above the untrained network's 0.056 but below
copying (0.453).
Smoke test: experiments/colorization/synthetic.py:smoke
"""

from vidjax import configs

# tools/colour_clusters.py on this config (20 batches of 16 clips): [a, b] of 16 centres.
COLOUR_CENTRES = (
  (9.4, -6.65),
  (-15.08, 12.92),
  (14.77, 3.87),
  (-9.45, 2.48),
  (34.44, 17.1),
  (-45.33, 39.89),
  (-20.42, 2.3),
  (20.68, -27.67),
  (-0.06, 15.02),
  (1.17, 3.11),
  (-3.5, -8.11),
  (-23.35, 21.45),
  (20.44, -11.81),
  (48.16, -43.31),
  (-5.16, 46.74),
  (5.07, -17.22),
)


# Training steps; steps=0 evaluates the initial, random network (a baseline).
STEPS = 2000


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, colour_centres='', steps=STEPS)
  config = configs.base_config()
  config.total_steps = arg.steps
  config.log_every = 50
  config.ckpt_every = 500
  config.input.dataset = 'vidjax_synthetic/default'
  config.input.batch_size = 16
  config.input.sampling.update(mode='stride', num_frames=4, stride=1, policy='pad')
  config.input.pp.update(crop_size=64, flip=False)
  config.model_name = 'colorizer'
  config.model = dict(depth=18, width=16, conv3d_layers=5, conv3d_width=64, embed_dim=64)
  config.task = 'colorization'
  config.task_kwargs = dict(
    colour_centres=arg.colour_centres or COLOUR_CENTRES, temperature=1.0, feature_stride=8
  )
  config.optim.update(name='adamw', b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0)
  config.optim.schedule = dict(name='constant', base_lr=1e-3, warmup_steps=0)
  # The pretext task on held-out clips: the copied colours' accuracy and cross-entropy.
  config.evals.colour = dict(
    type='pretext',
    split='validation',
    pred='aux/colour/',
    batch_size=60,
    num_clips=2,
    every_steps=500,
  )
  config.evals.davis = dict(
    type='label_propagation',
    source='vidjax_synthetic/default',
    num_sequences=30,
    # Frames at 4 times their size, so that the stride-8 features make 32 x 32 maps: at
    # 8 x 8 even the true masks, resized to the map and back, score only J&F 0.48 against
    # the first frame's copy's 0.45 (0.86 at 16 x 16, 0.97 at 32 x 32, the regime of
    # DAVIS's 480p frames; docs/davis.md).
    image_scale=4.0,
    every_steps=500,
    at_start=True,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.pp.crop_size = 32
    config.model.update(depth=10, width=8, conv3d_width=8, embed_dim=16)
    config.evals.davis.update(source='vidjax_synthetic/tiny', num_sequences=2)
  return config
