r"""Shuffle & Learn pretraining on UCF101 without labels (Misra et al., ECCV 2016).

  python tools/prepare_dataset.py --dataset ucf101 --manual_dir ~/data/ucf101 \
      --data_dir ~/tensorflow_datasets
  python -m vidjax.main --config experiments/shuffle_learn/ucf101.py \
      --workdir workdirs/shuffle_learn_ucf101

then the trunk fine-tuned as a single-frame action classifier, as in the paper:

  python -m vidjax.main --workdir workdirs/shuffle_learn_ucf101_ft --config \
      experiments/transfer/finetune.py:dataset=ucf101,network=resnet18-frames,init_from=workdirs/shuffle_learn_ucf101/checkpoints/25000

Like the paper, it pretrains on the training videos of UCF101 split 1 (their labels
unused). Each example is a tuple of three frames of a 60-frame window (the tuple rule of
docs/shuffle_learn.md: one in four in order), 224 x 224 crops of frames resized to 256 on
the short side, one crop box for the three frames; the siamese network is a shared
ResNet-18 trunk (`models/tuple_order.py`) in place of the paper's CaffeNet, its three
frames' features concatenated, 128 -> 64 -> one logit. In place of the paper's windows
of high optical-flow magnitude and its rejection of tuples whose middle frame nearly
repeats an end, a tuple whose consecutive frames differ by less than MIN_MOTION is drawn
again (`sampling.min_motion`, docs/shuffle_learn.md, "Tuples"). The window, threshold,
schedule and batch are this config's choices; the paper's are not among the sources
here.
Hardware: 8 A100-class GPUs for the batch of 128 tuples of 224^2. Time: not measured (no
accelerator run).
Expected (paper, CaffeNet): the trunk fine-tuned on UCF101 reaches 50.2 % against 38.6 %
from a random initialisation.
Smoke test: experiments/shuffle_learn/ucf101.py:smoke
"""

from vidjax import configs

STEPS_PER_EPOCH = 75  # 9,537 training videos of split 1 / 128 tuples
EPOCHS = 300  # 8 tuples per video and epoch as in TCC's implementation: about 2,400 each
# Mean absolute difference (0-255) each consecutive pair of a tuple's frames must reach: above
# the codec's noise between two frames of a still shot. This config's choice.
MIN_MOTION = 3.0


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False)
  config = configs.base_config()
  config.total_steps = EPOCHS * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2500
  config.input.dataset = 'ucf101/split1'
  config.input.batch_size = 128
  config.input.num_threads = 16
  # Tuples of still moments, or whose middle frame nearly repeats an end, are drawn again.
  config.input.sampling.update(
    mode='tuples', num_frames=3, window=60, negative_fraction=0.75, min_motion=MIN_MOTION
  )
  config.input.pp.update(resize_short_side=256, crop_size=224)
  config.model_name = 'tuple_order'
  config.model = dict(depth=18, width=64, num_classes=1)
  config.task = 'shuffle_learn'
  config.task_kwargs = {}
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=5 * STEPS_PER_EPOCH)
  config.evals.order = dict(
    type='pretext',
    split='test',
    pred='aux/order/',
    batch_size=64,
    num_clips=2,
    every_steps=50 * STEPS_PER_EPOCH,
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.pp.resize_short_side = 0
    config.input.sampling.update(num_frames=3, window=16)
    config.model.update(depth=10, width=8)
    config.evals.order.split = 'validation'
  return config
