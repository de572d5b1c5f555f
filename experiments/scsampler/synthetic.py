r"""SCSampler on the embedded untrimmed videos: a light sampler picks the clips that the
heavy classifier (the quickstart's R(2+1)D, trained on trimmed videos) runs on.

  python -m vidjax.main --config experiments/quickstart.py --workdir workdirs/quickstart
  python -m vidjax.main --workdir workdirs/scsampler \
    --config experiments/scsampler/synthetic.py:classifier=$PWD/workdirs/quickstart/checkpoints/400

The `untrimmed` videos last 64 frames (8 s); the action takes 16 of them at a random
place, and the objects stand still the rest of the time. The classifier sees clips of 8
frames at stride 2 (16 frames, 56 pixels), 4 non-overlapping clips per video; the sampler,
an R(2+1)D-10 of width 8 on the same clips at 32 pixels (0.025 GFLOPs a clip, 1/12 of the
classifier's), is trained as a clip classifier on random clips of the untrimmed training videos
(each labelled with its video's class), and a clip's saliency is its top class
probability. The evaluation reports video accuracy with the classifier on all 4 clips, on
the top_k = 1 most salient, on 1 evenly spaced clip, 1 random clip, and the oracle clip,
with the FLOPs per video of each (vidjax/evaluators/scsampler.py). `sampler=audio`: the
sampler is a small 2D ResNet on each clip's log-mel instead (the paper's audio sampler;
the `untrimmed` tone sounds only during the action). `loss=ranking` trains the sampler by
the paper's saliency ranking instead (tasks/scsampler.py: pairs of clips of a video,
16 pairs a step at the classifier's input, ordered by the classifier's probability of the
video's class); `loss=combined` adds the clip classification.
Hardware: 2 CPU cores; about 3 min for a sampler (after the quickstart's 5).
Expected (the paper's ordering: SCSampler's few clips more accurate than all clips, at a
fraction of the cost), measured over seeds 0-2 (docs/results.md): the classifier on the
visual sampler's clip 57.2 % video top-1 at 0.40 GFLOPs a video, on the audio sampler's
60.3 % at 0.50, on all 4 clips 22.2 % at 1.20, on one random clip 31.9 %.
Smoke test: experiments/scsampler/synthetic.py:smoke,classifier=CHECKPOINT of
experiments/quickstart.py:smoke
"""

from vidjax import configs

CLASSIFIER_CONFIG = 'experiments/quickstart.py'
SAMPLERS = ('video', 'audio')
LOSSES = ('classification', 'ranking', 'combined')


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, classifier='', sampler='video', loss='classification')
  if arg.sampler not in SAMPLERS:
    raise ValueError(f'sampler={arg.sampler!r}: one of {SAMPLERS}.')
  if arg.loss not in LOSSES:
    raise ValueError(f'loss={arg.loss!r}: one of {LOSSES}.')
  classifier_spec = CLASSIFIER_CONFIG + (':smoke' if arg.smoke else '')
  classifier = configs.load_config_file(classifier_spec)
  config = configs.base_config()
  config.total_steps = 400
  config.log_every = 25
  config.ckpt_every = 200
  config.input.dataset = 'vidjax_synthetic/untrimmed'
  config.input.batch_size = 32
  config.input.sampling.update(num_frames=8, stride=2, policy='loop')
  config.input.pp.update(resize_short_side=36, crop_size=32)
  config.input.pp.flip_label_swaps = configs.SYNTHETIC_FLIP_SWAPS
  config.model_name = 'video_resnet'
  config.model = dict(num_classes=10, depth=10, block='r2plus1d', width=8, dropout_rate=0.0)
  config.optim.schedule = dict(name='cosine', base_lr=0.1, warmup_steps=50)
  config.evals.scsampler = dict(
    type='scsampler',
    split='validation',
    batch_size=64,
    num_clips=4,
    num_crops=1,
    top_k=1,
    every_steps=200,
    classifier_config=classifier_spec,
    classifier_checkpoint=arg.classifier,
    # The classifier's clip: its sampling and preprocessing, on this dataset.
    input=dict(sampling=classifier.input.sampling.to_dict(), pp=classifier.input.pp.to_dict()),
  )
  if arg.sampler == 'audio':
    # The clip's 2 s as a coarse log-mel (40 ms hops, 40 bands: 50 x 40) through a small 2D
    # ResNet: 0.05 GFLOPs a clip, a sixth of the classifier's.
    audio = dict(enabled=True, num_mels=40, hop_ms=40.0, spectrogram_frames=50)
    config.input.audio.update(audio)
    config.evals.scsampler.input.audio = audio
    config.model_name = 'audio_resnet'
    config.model = dict(num_classes=10, depth=10, width=4)
  if arg.smoke:
    configs.smoke_on_tiny_synthetic(config)
    config.input.dataset = 'vidjax_synthetic/tiny_untrimmed'
    config.input.pp.update(resize_short_side=10, crop_size=8)
  if arg.loss != 'classification':
    rank_by_classifier(config, classifier, classifier_spec, arg)
  return config


def rank_by_classifier(config, classifier, classifier_spec: str, arg) -> None:
  """SCSampler's ranking objective (`tasks/scsampler.py`): pairs of clips of a video at
  the classifier's input, which the task shows the classifier and, resized, the sampler."""
  sampler_size = config.input.pp.crop_size
  config.task = 'scsampler'
  config.task_kwargs = dict(
    classifier_config=classifier_spec,
    classifier_checkpoint=arg.classifier,
    loss=arg.loss,
    sampler_size=sampler_size,
  )
  config.input.batch_size //= 2  # pairs: as many clips a step as the clip classifier's
  config.input.sampling = classifier.input.sampling.to_dict()
  config.input.sampling.mode = 'two_clips'
  config.input.pp = classifier.input.pp.to_dict()
  config.model.num_classes = 1 if arg.loss == 'ranking' else config.model.num_classes + 1
