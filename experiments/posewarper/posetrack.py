r"""PoseWarper on PoseTrack 2018: the warping module trained on a frozen HRNet-W48.

Bertasius, Feichtenhofer, Tran, Shi & Torresani, "Learning Temporal Pose Estimation from
Sparsely-Labeled Videos" (NeurIPS 2019), as facebookresearch/PoseWarper trains it
(`../shared/REFERENCE.md` §9). PoseTrack is prepared once and the HRNet converted once:

  python tools/prepare_dataset.py --dataset posetrack \
      --manual_dir ~/data/posetrack_data --data_dir ~/tensorflow_datasets
  python tools/convert_checkpoint.py --source hrnet --arch pose_hrnet_w48_384x288 \
      --input pose_hrnet_w48_384x288.pth --output ~/checkpoints/hrnet_w48
  python -m vidjax.main \
      --config experiments/posewarper/posetrack.py:hrnet=~/checkpoints/hrnet_w48 \
      --workdir workdirs/posewarper_posetrack

Arguments: hrnet (the converted HRNet-W48 to start from: the paper's is trained on
PoseTrack; COCO's official one also loads; required outside smoke mode).

The recipe: person crops of 384 x 288 (`data/loaders/person_crops.py`: a labelled frame A
and a supporting frame B within 2 frames, the same crop; scale +-0.35, rotation +-45
degrees with probability 0.6, half body with probability 0.3, flips exchanging PoseTrack's
left and right joints), ImageNet normalisation; the HRNet-W48 (`models/hrnet.py`) frozen,
its 96 x 72 heatmaps of A and B feeding the warping module (20 residual blocks of 128
channels, offsets and deformable convolutions at dilations 3, 6, 12, 18, 24); the joints
MSE to Gaussians of sigma 3 (cells) at A's joints, weighted by visibility; Adam 1e-4, batch
64, 20 epochs, x0.1 after epochs 10 and 15. An epoch is counted as TRAIN_PEOPLE crops (the
labelled people of PoseTrack 2018 train, about; the official code passes over them once
an epoch, this loader draws a video, then a labelled frame and a person in it).
Evaluation: 'pose', PCK@0.2 (of the person's joint extent) of A's heatmaps warped from B,
on 8 (frame, person) pairs of every validation video. The paper's PoseTrack mAP: the
prediction files of `tools/posetrack_predict.py` (on the annotations' person boxes; the
paper's use detections) scored by `tools/posetrack_eval.py`.
Hardware: 8 GPUs (8 crop pairs each). Time: not measured (no accelerator run).
Expected (paper, PoseTrack 2018 val): 79.7 mAP (PoseTrack 2017 val: 81.2); its PCK is not
published.
Smoke test: experiments/posewarper/posetrack.py:smoke (crops of the embedded keypoint
videos, a small pose network)
"""

from vidjax import configs

TRAIN_PEOPLE = 100_000
BATCH = 64
EPOCHS = 20
STEPS_PER_EPOCH = TRAIN_PEOPLE // BATCH
# PoseTrack's left / right joints (shoulders, elbows, wrists, hips, knees, ankles and ears).
FLIP_PAIRS = ((3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
# The warping module's variables: a converted HRNet has none of them.
WARPING = (r'blocks_\d+/.*', r'offsets_d\d+/.*', r'warp_d\d+/.*')
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, hrnet='')
  if not (arg.hrnet or arg.smoke):
    raise ValueError(
      'hrnet=<the converted HRNet-W48> is required (see the docstring of '
      'experiments/posewarper/posetrack.py for the conversion command).'
    )
  config = configs.base_config()
  config.total_steps = EPOCHS * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = STEPS_PER_EPOCH
  config.input.dataset = 'posetrack/2018'
  config.input.loader = 'person_crops'
  config.input.batch_size = BATCH
  config.input.num_threads = 16
  config.input.sampling = dict(mode='posewarper', num_frames=2, max_delta=2)
  config.input.person_crop.update(size=(384, 288), num_keypoints=17, flip_pairs=FLIP_PAIRS)
  config.input.pp.update(flip=True, mean=IMAGENET_MEAN, std=IMAGENET_STD)
  config.model_name = 'posewarper'
  config.model = dict(
    num_keypoints=17,
    heatmaps=dict(network='hrnet', width=48),
    channels=128,
    num_blocks=20,
    dilations=(3, 6, 12, 18, 24),
    freeze_heatmaps=True,
  )
  config.init_from.update(path=arg.hrnet, rename=((r'pose_net/(.+)', r'\1'),), dont_load=WARPING)
  config.task = 'posewarper'
  config.task_kwargs = dict(objective='warp', sigma=3.0, heatmap_stride=4, pck_threshold=0.2)
  config.optim.update(name='adamw', b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0)
  config.optim.schedule = dict(
    name='step',
    base_lr=1e-4,
    warmup_steps=0,
    boundaries=(10 / EPOCHS, 15 / EPOCHS),
    decay_factor=0.1,
  )
  config.optim.param_groups = (('pose_net/.*', 'frozen'),)
  config.evals.pose = dict(
    type='pretext',
    split='val',
    pred='aux/pose/',
    batch_size=BATCH // 8,
    num_clips=8,
    every_steps=STEPS_PER_EPOCH,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.dataset = 'vidjax_synthetic/tiny_keypoints'
    config.input.num_threads = 2
    config.input.person_crop.update(size=(32, 32), num_keypoints=5, flip_pairs=())
    config.model.update(
      num_keypoints=5,
      heatmaps=dict(network='heatmap_net', width=8, depth=2),
      channels=8,
      num_blocks=1,
      dilations=(3, 6),
      freeze_heatmaps=False,
    )
    config.task_kwargs.update(sigma=1.0, heatmap_stride=2)
    config.optim.param_groups = ()
    config.evals.pose.update(split='validation', num_clips=2)
  return config
