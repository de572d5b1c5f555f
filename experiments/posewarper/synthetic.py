r"""PoseWarper on the embedded keypoint videos: poses of unlabelled frames from sparse labels.

Bertasius, Torresani, Yu, Shi & Torresani, "Learning Temporal Pose Estimation from
Sparsely-Labeled Videos" (NeurIPS 2019). `vidjax_synthetic/keypoints`: 16-frame videos of
one object doing one of the 10 actions, with five keypoints fixed to its body and one
frame in four labelled. Two runs, as the paper trains:

  # 1. the pose network on the labelled frames (the paper starts from a trained HRNet)
  python -m vidjax.main --config experiments/posewarper/synthetic.py:stage=pose \
      --workdir workdirs/posewarper/pose
  # 2. the warping module, the pose network frozen: a labelled frame's heatmaps predicted
  #    from a frame up to 2 away, which is never labelled-read
  python -m vidjax.main --workdir workdirs/posewarper/warp --config \
      experiments/posewarper/synthetic.py:stage=warp,init_from=workdirs/posewarper/pose/checkpoints/1000

`experiments/posewarper/study.py` runs both over seeds and prints the table.
The model (`models/posewarper.py`): a stride-2 residual pose network (width 32, 4 blocks;
32 x 32 heatmaps, Gaussians of std 1 cell) for the paper's HRNet-W48, and the official
warping module at a quarter of its width and a fifth of its depth (32 channels, 4 blocks
where the official has 128 and 20) with the official dilations 3, 6, 12, 18, 24 and
initialisation. Adam 1e-3 (the official 1e-4 over 20 epochs of PoseTrack), no
augmentation (the official flips, rotates and scales; a flip would need the keypoints'
left-right pairs).
Evaluation ('propagation', `evaluators/keypoint_propagation.py`): on the unlabelled frames
of 100 validation videos, PCK of the labelled frames' poses propagated by the model
('posewarper'), copied from the nearest labelled frame ('copy') and moved by the DIS
optical flow ('flow'), and of the pose network alone ('single_frame') and with the
temporal aggregation of frames t-2..t+2 ('aggregated').
Hardware: 2 CPU cores; each stage 1000 steps in about 30 minutes with another training job
on the cores.
Expected (the paper's pose propagation, PoseTrack17 val mAP): PoseWarper 88.7 > optical
flow 83.8 > copying the nearest labelled frame; aggregation above the single frame.
Measured (3 seeds, docs/results.md), PCK@0.2: PoseWarper 89.8 ± 0.7, optical flow 93.8,
copying 78.8; the pose network alone 40.4 ± 1.1, with aggregation 42.3 ± 1.4.
Smoke test: experiments/posewarper/synthetic.py:smoke
"""

from vidjax import configs

STAGES = ('pose', 'warp')
STEPS = 1000
# The warping module's variables: a pose-stage checkpoint has them untrained.
WARPING = r'(blocks_\d+|offsets_d\d+|warp_d\d+)/.*'


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, stage='warp', init_from='', steps=STEPS)
  if arg.stage not in STAGES:
    raise ValueError(f'stage={arg.stage!r}; one of {STAGES}.')
  if arg.stage == 'warp' and not arg.init_from and not arg.smoke:
    raise ValueError(
      'stage=warp trains the warping module on a trained pose network: pass '
      'init_from=<the pose run>/checkpoints/<step> (stage=pose trains one).'
    )
  config = configs.base_config()
  config.total_steps = arg.steps
  config.log_every = 50
  config.ckpt_every = 500
  config.input.dataset = 'vidjax_synthetic/keypoints'
  config.input.batch_size = 32
  config.input.sampling = dict(mode='posewarper', num_frames=2, max_delta=2)
  config.input.pp.update(crop_size=64, flip=False)
  config.model_name = 'posewarper'
  config.model = dict(
    num_keypoints=5,
    heatmaps=dict(width=32, depth=4),
    channels=32,
    num_blocks=4,
    dilations=(3, 6, 12, 18, 24),
    freeze_heatmaps=arg.stage == 'warp',
  )
  config.task = 'posewarper'
  config.task_kwargs = dict(objective=arg.stage, sigma=1.0, heatmap_stride=2, pck_threshold=0.2)
  config.optim.update(name='adamw', b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0)
  config.optim.schedule = dict(name='cosine', base_lr=1e-3, warmup_steps=50)
  if arg.stage == 'warp':
    config.optim.param_groups = (('pose_net/.*', 'frozen'),)
    if arg.init_from:
      config.init_from.path = arg.init_from
      config.init_from.dont_load = (WARPING,)
  config.evals.propagation = dict(
    type='keypoint_propagation',
    split='validation',
    num_videos=100,
    every_steps=arg.steps,
    at_start=arg.stage == 'warp',
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.dataset = 'vidjax_synthetic/tiny_keypoints'
    config.input.sampling.num_frames = 2  # the keyframe and its supporting frame
    config.input.pp.crop_size = 32
    # Two of the five dilations: each deformable convolution is a gather that compiles slowly.
    config.model.update(heatmaps=dict(width=8, depth=2), channels=8, num_blocks=1, dilations=(3, 6))
    config.evals.propagation.update(num_videos=0, every_steps=config.total_steps, at_start=False)
  return config
