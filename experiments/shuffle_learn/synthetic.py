r"""Shuffle & Learn on the embedded data: are three frames in temporal order? No labels.

`vidjax_synthetic/default`: 16-frame videos in which every object's action (a position,
an angle, a scale or an opacity) changes steadily, so that the order of three frames is
visible. Each example is a tuple of three frames from five ordered ones a < b < c < d < e of
the video: (b, c, d) forwards or backwards (in order), or (b, a, d) / (b, e, d) (shuffled),
one in four in order (`data/samplers/tuples.py`); the siamese network is the zoo's 2D
ResNet-10 at width 16 on each frame, its features concatenated, 128 -> 64 -> one logit
(`models/tuple_order.py`), trained with the binary cross-entropy
(`tasks/shuffle_learn.py`), AdamW 1e-3.

  python -m vidjax.main --config experiments/shuffle_learn/synthetic.py \
      --workdir workdirs/shuffle_learn

Evaluations: 'order', the accuracy of the order decision on the last tenth of the training
videos, held out (each gives an in-order and a shuffled tuple); 'probe', a linear probe of
the three frames' trunk features in order on the action labels of 10 % of the `events`
videos (the fine-tuning's target), at initialisation and at the end.
experiments/shuffle_learn/study.py adds the fine-tuning against a random initialisation
over seeds (experiments/shuffle_learn/synthetic_finetune.py).
The paper uses CaffeNet towers on 227 x 227 frames of UCF101 from windows of high motion;
here 32 x 32 frames of videos that move throughout.
Hardware: 2 CPU cores; 5 minutes for seed 0, sharing the cores with another study.
Expected (the paper's qualitative result): the order told above chance on held-out videos,
and a trunk that transfers better than a random one; measured: docs/results.md.
Smoke test: experiments/shuffle_learn/synthetic.py:smoke
"""

from vidjax import configs

# The optimiser of the temporal pretext tasks in miniature.
transfer = configs.load_experiment_module('../transfer/synthetic_finetune.py', relative_to=__file__)
# The trunk: experiments/shuffle_learn/synthetic_finetune.py fine-tunes the same one.
TRUNK = dict(depth=10, width=16)
# The transfer's tuples (fine-tuning and probe): three frames of `events` 8 frames (1 s)
# apart, since an action's motion spans the whole 4 s video (docs/avts.md).
TUPLE_STRIDE = 8


def probe_evaluation(every_steps: int, smoke: bool = False) -> dict:
  """A linear probe of the network's features (the three frames' trunk features in order,
  what the order head reads) on the action labels of 10 % of the `events` videos, scored
  on its validation videos, at initialisation and every `every_steps`: the fine-tuning's
  tuples (experiments/shuffle_learn/synthetic_finetune.py), three frames 1 s apart."""
  probe = dict(
    type='linear_probe',
    split='validation',
    fit_split='train[:10%]',
    pred='aux/features',
    batch_size=60,
    every_steps=every_steps,
    at_start=True,
    input=dict(
      dataset='vidjax_synthetic/events',
      sampling=dict(mode='stride', num_frames=3, stride=TUPLE_STRIDE, policy='pad'),
    ),
  )
  if smoke:
    probe.update(
      fit_split='train',
      at_start=False,
      input=dict(dataset='vidjax_synthetic/tiny', sampling=dict(mode='stride', num_frames=3)),
    )
  return probe


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False)
  config = configs.base_config()
  config.total_steps = 1000
  config.log_every = 50
  config.ckpt_every = 250
  config.input.dataset = 'vidjax_synthetic/default'
  config.input.split = 'train[:90%]'
  config.input.batch_size = 32
  config.input.sampling.update(mode='tuples', num_frames=3, window=16, negative_fraction=0.75)
  config.input.pp.crop_size = 32
  config.model_name = 'tuple_order'
  config.model = dict(TRUNK, num_classes=1, width=8 if arg.smoke else TRUNK['width'])
  config.task = 'shuffle_learn'
  config.task_kwargs = {}
  config.optim = transfer.pretext_optimiser()
  config.evals.order = transfer.held_out_evaluation('aux/order/', smoke=arg.smoke)
  config.evals.probe = probe_evaluation(config.total_steps, smoke=arg.smoke)
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
    config.input.sampling.num_frames = 3
  return config
