r"""AVTS pretraining on Kinetics-400 without labels (Korbar, Tran & Torresani, arXiv 1807.00230).

Prepare Kinetics-400 with its audio tracks (the prepared videos keep them):

  python tools/prepare_dataset.py --dataset kinetics --config k400 \
      --manual_dir ~/data/kinetics400 --data_dir ~/tensorflow_datasets
  python -m vidjax.main --config experiments/avts/kinetics400.py --workdir workdirs/avts_k400

then fine-tune the video network on UCF101 or HMDB51 (experiments/avts/finetune.py).

An MC3-18 video network on 25-frame 112x112 clips (1 s at 25 fps) and VMZ's audio
ResNet-18 on the 100 x 40 log-mel of the same second, each to a 128-d unit embedding;
half the pairs in sync, the other half other videos' sound (easy) or, once the curriculum
allows them, for a quarter of them the same video's sound at least 0.5 s away (hard).
The paper's text is not available here: the clip length, the embedding and the step at
which hard negatives come in are this config's choices, stated above; the margin (0.99),
the 0.5 s shift and the easy-then-hard schedule are the paper's as summarised in
docs/avts.md.
Hardware: 8 GPUs (A100-class) or a TPU v4-32. Time: not measured (no accelerator run).
Expected: the paper reports, for MC3 pretrained with AVTS on Kinetics, 85.8 % on UCF101 and
56.9 % on HMDB51 after fine-tuning (split 1), against lower numbers from scratch.
Smoke test: experiments/avts/kinetics400.py:smoke
"""

from vidjax import configs

STEPS_PER_EPOCH = 940  # 240k training videos / 256
EPOCHS = 90


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False)
  config = configs.base_config()
  config.total_steps = EPOCHS * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2000
  config.input.dataset = 'kinetics/k400'
  config.input.batch_size = 256
  config.input.num_threads = 16
  config.input.sampling.update(mode='avts', num_frames=25, stride=1, policy='pad', min_shift_s=0.5)
  config.input.pp.update(resize_short_side=128, crop_size=112)
  config.input.audio.update(
    enabled=True, num_mels=40, spectrogram_frames=100, window_ms=25.0, hop_ms=10.0
  )
  config.model_name = 'avts'
  config.model = dict(
    towers=dict(
      video=dict(model_name='video_resnet', depth=18, block='mc3'),
      audio=dict(model_name='audio_resnet', depth=18),
    ),
    embed_dim=128,
  )
  config.task = 'avts'
  config.task_kwargs = dict(
    margin=0.99,
    positive_fraction=0.5,
    hard_fraction=0.25,
    curriculum_steps=(EPOCHS // 2) * STEPS_PER_EPOCH,
  )
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=5 * STEPS_PER_EPOCH)
  config.evals.sync = dict(
    type='synchronisation', split='validation', batch_size=256, every_steps=10 * STEPS_PER_EPOCH
  )
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.sampling.num_frames = 4
    config.input.pp.resize_short_side = 0
    config.input.audio.spectrogram_frames = 50
    config.model.towers = dict(
      video=dict(model_name='video_resnet', depth=10, block='mc3', width=8),
      audio=dict(model_name='audio_resnet', depth=10, width=8),
    )
    config.task_kwargs.curriculum_steps = 2
  return config
