r"""Gradient Blending on the embedded data: RGB + audio, where the audio is an easy but
imperfect cue (its tone names the action in 80 % of the videos).

An R(2+1)D-10 video tower and VMZ's audio tower (a 2D ResNet-10 on a 100 x 40 log-mel of
the clip), late fusion with a head per modality and the fused head
(`models/multimodal.py`), trained with `tasks/gblend.py` on 90 % of the training videos;
the other 10 % is Gradient Blending's held-out split V, and 10 % of the trained-on videos
its T, both scored every `WINDOW` steps by `head_losses` evaluations.

  python -m vidjax.main --config experiments/gblend/synthetic.py:variant=online \
      --workdir workdirs/gblend/online
  # offline G-Blend is a pair: a short estimating run, then training with its weights
  python -m vidjax.main --config experiments/gblend/synthetic.py:variant=estimate \
      --workdir workdirs/gblend/estimate
  python -m vidjax.main --workdir workdirs/gblend/offline --config \
      experiments/gblend/synthetic.py:variant=offline,weights_from=workdirs/gblend/estimate

Variants: rgb and audio (each modality alone: its zoo model and the classification task),
naive (the fused model trained with the fused head's loss alone, the paper's baseline),
estimate (one window from initialisation with uniform weights and one OGR estimate,
recorded in the run's results.json as task_state.weights), offline (the fused model with
those weights, fixed), online (re-estimated every window).
Hardware: 2 CPU cores: 5-20 minutes per 400-step run, depending on what else shared the
cores (experiments/gblend/study.py ran its 18 runs beside other jobs).
Expected (docs/results.md, 3 seeds): naive joint well below RGB alone (about 84 against
99 % top-1); offline G-Blend recovers most of it (about 96 %) with a small audio weight
(about 0.06), online G-Blend all of it (98.0 %); RGB alone is at the ceiling, so G-Blend
does not beat it here.
Smoke test: experiments/gblend/synthetic.py:smoke (any variant)
"""

import json
import os

from vidjax import configs

VARIANTS = ('rgb', 'audio', 'naive', 'estimate', 'offline', 'online')
HEADS = ('audio', 'video', 'fused')
WINDOW = 100  # steps between OGR measurements (the super-epoch)


def _weights_from(workdir: str) -> dict[str, float]:
  """The weights an `estimate` run ended with (its results.json's task_state)."""
  path = os.path.join(workdir, 'results.json')
  if not os.path.exists(path):
    raise FileNotFoundError(
      f'weights_from={workdir!r}: no results.json there; run variant=estimate into that '
      'workdir first.'
    )
  with open(path) as f:
    weights = json.load(f)['task_state']['weights']
  return dict(zip(HEADS, weights, strict=True))


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, variant='online', weights_from='')
  if arg.variant not in VARIANTS:
    raise ValueError(f'variant={arg.variant!r}; choose one of {VARIANTS}.')
  if (arg.variant == 'offline') != bool(arg.weights_from):
    raise ValueError("weights_from= (the estimate run's workdir) goes with variant=offline.")
  config = configs.base_config()
  config.total_steps = WINDOW if arg.variant == 'estimate' else 4 * WINDOW
  config.log_every = 25
  config.ckpt_every = WINDOW
  config.input.dataset = 'vidjax_synthetic/default'
  config.input.split = 'train[:90%]'
  config.input.batch_size = 32
  config.input.sampling.update(num_frames=8, stride=2, policy='loop')
  config.input.pp.crop_size = 56
  config.input.pp.flip_label_swaps = configs.SYNTHETIC_FLIP_SWAPS
  # VMZ's 100 x 40 log-mel over the clip's 2 s.
  config.input.audio.update(
    enabled=True, num_mels=40, spectrogram_frames=100, window_ms=40.0, hop_ms=20.0
  )
  video_tower = dict(depth=10, block='r2plus1d', width=8 if arg.smoke else 16)
  audio_tower = dict(depth=10, width=16)
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=50)
  config.evals.val = dict(
    type='multiview',
    split='validation',
    batch_size=64,
    num_clips=2,
    num_crops=1,
    every_steps=2 * WINDOW,
  )
  if arg.variant in ('rgb', 'audio'):
    config.model_name = 'video_resnet' if arg.variant == 'rgb' else 'audio_resnet'
    config.model = dict(num_classes=10, **(video_tower if arg.variant == 'rgb' else audio_tower))
  else:
    config.model_name = 'multimodal'
    config.model = dict(
      towers=dict(
        video=dict(model_name='video_resnet', **video_tower),
        audio=dict(model_name='audio_resnet', **audio_tower),
      ),
      num_classes=10,
    )
    config.task = 'gblend'
    weights = dict(audio=1.0, video=1.0, fused=1.0)
    if arg.variant == 'naive':
      weights = dict(audio=0.0, video=0.0, fused=1.0)
    elif arg.variant == 'offline':
      weights = _weights_from(arg.weights_from)
    estimate = {'estimate': 'offline', 'online': 'online'}.get(arg.variant, 'none')
    config.task_kwargs = dict(heads=HEADS, weights=weights, estimate=estimate)
    # Each head's validation accuracy at the end, next to the fused head's multiview.
    config.evals.val_heads = dict(
      type='head_losses', split='validation', batch_size=64, every_steps=config.total_steps
    )
    for name, split in (('gblend_v', 'train[90%:]'), ('gblend_t', 'train[:10%]')):
      config.evals[name] = dict(
        type='head_losses', split=split, batch_size=60, every_steps=WINDOW, at_start=True
      )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.split = 'train[:48]'
    config.ckpt_every = 2
    for name, eval_config in config.evals.items():
      if name.startswith('gblend'):  # a G-Blend window of 2 steps; the rest at the end
        eval_config.update(every_steps=2, split='validation')
  return config
