r"""Arrow of Time pretraining on Kinetics-400 without labels (Wei et al., CVPR 2018).

  python tools/prepare_dataset.py --dataset kinetics --config k400 \
      --manual_dir ~/data/kinetics400 --data_dir ~/tensorflow_datasets
  python -m vidjax.main --config experiments/arrow_of_time/kinetics400.py \
      --workdir workdirs/arrow_k400

then fine-tune on UCF101 or HMDB51 (experiments/transfer/finetune.py, the same S3D-G).

Each example is a 16-frame clip (every second frame: about a second) and the same frames
reversed, both in the batch (`data/samplers/arrow.py`), on SpeedNet's S3D-G with one
logit and the binary cross-entropy. The paper trains a VGG-16 on stacks of optical flow
with temporal class-activation maps, on videos from which it removed the cues that give
the direction away without the scene's physics: black borders (letterboxing, whose
codec artefacts differ at the two ends of a shot) and camera motion (mostly forward
zooms and pans). Both are removed here: the borders are cut in training and evaluation
(`pp.crop_black_borders`: the edge rows and columns that stay black over the clip), and a
training clip whose camera moves by more than 1 % of the frame's width per frame (the
median over its frames of a homography fitted to tracked corners, `data/camera_motion.py`)
is drawn again elsewhere in its video (`sampling.max_camera_motion=0.01`, a choice of this
config: a pan that crosses the frame in 4 s at 25 fps); TensorBoard's
data/rejected_samples_kept counts the clips kept after 5 draws that all moved. The
network, clip and schedule are this config's choices; the paper's are not among the
sources here.
Hardware: 16 A100-class GPUs or 32 TPU v4 chips for the batch of 64 clips of 224^2.
Time: not measured (no accelerator run).
Expected (paper): a direction accuracy well above chance on held-out videos (the paper's
figures for its own network and data are not among the sources here).
Smoke test: experiments/arrow_of_time/kinetics400.py:smoke (a tiny R3D in the S3D-G's place)
"""

from vidjax import configs

STEPS_PER_EPOCH = 7500  # 240k training videos / 32 pairs
EPOCHS = 10


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False)
  config = configs.base_config()
  config.total_steps = EPOCHS * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2500
  config.input.dataset = 'kinetics/k400'
  config.input.batch_size = 32  # pairs: 64 clips a step
  config.input.num_threads = 16
  config.input.sampling.update(
    mode='arrow', num_frames=16, stride=2, policy='pad', max_camera_motion=0.01
  )
  config.input.pp.update(
    resize_short_side=256,
    crop_size=224,
    train_crop='random_resized',
    random_resized_crop=dict(area=(0.25, 1.0), aspect_ratio=(3 / 4, 4 / 3)),
    crop_black_borders=True,
  )
  config.model_name = 's3d'
  config.model = dict(
    variant='s3d-g', num_classes=1, temporal_downsampling=False, global_pool='max+mean'
  )
  config.task = 'arrow_of_time'
  config.task_kwargs = {}
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=STEPS_PER_EPOCH // 2)
  config.evals.arrow = dict(
    type='pretext',
    split='validation',
    pred='aux/arrow/',
    batch_size=32,
    num_clips=2,
    every_steps=STEPS_PER_EPOCH,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.pp.resize_short_side = 0
    # A tiny R3D in the S3D-G's place: an S3D-G train step compiles for a minute on 2 CPU
    # cores, and experiments/speednet/kinetics400.py:smoke runs the same network.
    config.model_name = 'video_resnet'
    config.model = dict(depth=10, width=8, block='r3d', num_classes=1)
  return config
