r"""Arrow of Time on the embedded data: is a clip playing forward or backward? No labels.

`vidjax_synthetic/arrow` (default): the `events` scenes, whose flashes start abruptly and
fade over a few frames as their clicks do, so that time has a direction that reversal
breaks. The scenes' actions alone have none: every action's reverse is another action
(move left / right, grow / shrink, appear / disappear, ...), so a reversed clip of them is
as likely as a forward one; `dataset=events` (one-frame flashes, time-symmetric) is that
control. Each training example is an 8-frame clip and the same frames reversed
(`data/samplers/arrow.py`), both in one batch, one logit, the binary cross-entropy
(`tasks/arrow_of_time.py`), on the network that experiments/transfer/synthetic_finetune.py
fine-tunes.

  python -m vidjax.main --config experiments/arrow_of_time/synthetic.py \
      --workdir workdirs/arrow_of_time

Arguments: dataset ('arrow' or the control 'events'), backbone (see
experiments/transfer/synthetic_finetune.py).
Evaluations: 'arrow', the accuracy of the direction on the last tenth of the training
videos, held out (each gives a test pair at its centre, forward and reversed); 'probe', the
linear probe of the frozen features on 10 % of the `events` action labels, at
initialisation and at the end. experiments/arrow_of_time/study.py adds the fine-tuning
against a random initialisation over seeds.
The paper (Wei et al., CVPR 2018) trains a flow-stack network on real videos from which
black borders and camera motion were removed; here RGB clips of 32 x 32 pixels, whose
data has neither.
Hardware: 2 CPU cores; 14 minutes for seed 0 (1,000 steps of 16 pairs), sharing the
cores with another study.
Expected: docs/results.md, "Temporal pretext tasks in miniature".
Smoke test: experiments/arrow_of_time/synthetic.py:smoke
"""

from vidjax import configs

# The network that experiments/transfer/synthetic_finetune.py fine-tunes.
transfer = configs.load_experiment_module('../transfer/synthetic_finetune.py', relative_to=__file__)
DATASETS = ('arrow', 'events')


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, dataset='arrow', backbone='r2plus1d')
  if arg.dataset not in DATASETS:
    raise ValueError(f'dataset={arg.dataset!r}; choose one of {DATASETS}.')
  config = configs.base_config()
  config.total_steps = 1000
  config.log_every = 50
  config.ckpt_every = 250
  config.input.dataset = f'vidjax_synthetic/{arg.dataset}'
  config.input.split = 'train[:90%]'
  config.input.batch_size = 16  # pairs: 32 clips a step
  config.input.sampling.update(mode='arrow', num_frames=8, stride=1, policy='pad')
  config.input.pp.crop_size = 32
  config.input.pp.train_crop = 'random_resized'
  config.input.pp.random_resized_crop = dict(area=(0.25, 1.0), aspect_ratio=(3 / 4, 4 / 3))
  model = transfer.backbone(arg.backbone, smoke=arg.smoke)
  config.model_name = model.pop('model_name')
  config.model = dict(model, num_classes=1)
  config.task = 'arrow_of_time'
  config.task_kwargs = {}
  config.optim = transfer.pretext_optimiser()
  config.evals.arrow = transfer.held_out_evaluation('aux/arrow/', smoke=arg.smoke)
  config.evals.probe = transfer.probe_evaluation(config.total_steps, smoke=arg.smoke)
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train'
  return config
