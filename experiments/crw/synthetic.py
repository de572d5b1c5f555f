r"""The contrastive random walk on the embedded videos, without labels.

Jabri, Owens & Efros, "Space-Time Correspondence as a Contrastive Random Walk" (NeurIPS
2020). Each example is a clip of 4 consecutive frames of `vidjax_synthetic/default`
(8 fps: half a second, as the paper's 4 frames at 8 fps); each frame is cropped on its
own, cut into a 7 x 7 grid of overlapping patches and every patch jittered on its own
(`tasks/crw.py`, the paper's 256 / 64 / 32 pixels scaled to the 64-pixel frames: 64 / 16 /
8). The patches are embedded by the CRW network (`models/crw.py`, a ResNet at width 16
here) and the walks out to frames 2 and 3 and back are trained to return where they
started, with the paper's temperature 0.05 and edge dropout 0.1, Adam without weight decay.

  python -m vidjax.main --config experiments/crw/synthetic.py --workdir workdirs/crw

Evaluations: 'davis' propagates the first frame's masks through the first 30 embedded
validation videos with the network's layer3 features (videowalk's protocol,
`evaluators/label_propagation.py`) and reports the official J&F, at step 0 too (the random
network, a baseline) and, as 'copy/J&F-Mean', that of repeating the first frame's masks;
'walk' scores the walks on 2 clips of each validation video (without edge dropout): the
fraction of nodes whose walk out to frame k and back ends most likely where it started
(walk_<k>/accuracy, in percent; chance 1/49) and its cross-entropy (walk_<k>/xent), as
the training metrics train/walk_<k>/*.
Hardware: 2 CPU cores. Time: 500 steps in 13 minutes with another training job on the cores.
Expected (the paper's claim): walks that return to their start far above chance (1/49),
and features that propagate masks better than a random network's (docs/davis.md).
Measured (500 steps, `experiments/crw/study.py`, 3 seeds, docs/results.md): walks return
25.9 % of the time out to frame 3; J&F 0.664, above copying (0.453) but below the
untrained network (0.760). Seed 0 at 1,000 steps: J&F 0.649 (0.654 at 500).
Smoke test: experiments/crw/synthetic.py:smoke
"""

from vidjax import configs

# Training steps; steps=0 evaluates the initial, random network (a baseline).
STEPS = 2000


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, steps=STEPS)
  config = configs.base_config()
  config.total_steps = arg.steps
  config.log_every = 50
  config.ckpt_every = 500
  config.input.dataset = 'vidjax_synthetic/default'
  config.input.batch_size = 16
  config.input.sampling.update(mode='stride', num_frames=4, stride=1, policy='pad')
  config.input.pp.update(crop_size=64, flip=False)  # whole frames: the task crops
  config.model_name = 'crw'
  config.model = dict(depth=18, width=16, embed_dim=128, padding_mode='reflect')
  config.task = 'crw'
  config.task_kwargs = dict(
    temperature=0.05,
    edge_dropout=0.1,
    image_size=64,
    patch_size=16,
    patch_stride=8,
    frame_scale=(0.8, 0.95),
    frame_ratio=(0.7, 1.3),
    patch_scale=(0.7, 0.9),
  )
  config.optim.update(name='adamw', b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0)
  config.optim.schedule = dict(name='constant', base_lr=1e-4, warmup_steps=0)
  # The walks on held-out clips: their return accuracy and cross-entropy, without dropout.
  config.evals.walk = dict(
    type='pretext',
    split='validation',
    pred='aux/walk/',
    batch_size=60,
    num_clips=2,
    every_steps=500,
  )
  # Propagation of the first frame's masks through the 30 first validation videos, and
  # at step 0 the random network's: the paper's evaluation, in miniature.
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
    config.model.update(depth=10, width=8, embed_dim=16)
    config.task_kwargs.update(image_size=32, patch_size=16, patch_stride=8)
    config.evals.davis.update(source='vidjax_synthetic/tiny', num_sequences=2)
  return config
