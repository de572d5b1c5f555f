r"""SCSampler on Sports-1M-style untrimmed videos: a light sampler in front of VMZ's
ir-CSN-152 trained on Sports-1M.

  python tools/convert_checkpoint.py --source vmz --arch ir_csn_152_sports1m_32frms \
      --input irCSN_152_Sports1M_from_scratch_f99918785.pth --output ~/checkpoints/csn_sports1m
  python tools/prepare_dataset.py --dataset video_folder --config sports1m \
      --manual_dir ~/data/sports1m --data_dir ~/tensorflow_datasets --short_side 128
  python -m vidjax.main --workdir workdirs/scsampler_sports1m \
      --config experiments/scsampler/sports1m.py:classifier=$HOME/checkpoints/csn_sports1m

The videos: `video_folder` CSV files (train.csv and test.csv, rows 'path,label' with the
487 Sports-1M classes) of the videos you downloaded; Sports-1M videos last 5.5 minutes on
average. The classifier (`role=classifier`: this file's configuration of the converted
ir-CSN-152, 32 frames at stride 2, 112-pixel crops of a 128 short side, as VMZ's 32-frame
Sports-1M models) is never trained here. The sampler is an R(2+1)D-10 of width 16 on the
same clips at 32 pixels, trained as a clip classifier on random clips of the training
videos (its saliency: the top class probability); the paper's samplers read the
compressed video's motion vectors and residuals, or the audio, which vidjax does not
decode. `loss=ranking` or `loss=combined` trains it by the paper's saliency ranking
instead (tasks/scsampler.py): 128 pairs of clips a step, each at the classifier's input,
which the classifier scores in the step: a forward pass of the ir-CSN-152 per training
clip, far more than the sampler's own training costs.
Test: 64 clips spread over each video, the classifier on the top 10.
Hardware: 8 GPUs; the sampler trains in a few hours; the evaluation runs the classifier
on every clip (for the all-clips baseline), 64 x 152-layer passes per video.
Expected (the paper, Sports-1M, with its compressed-domain sampler): +7 % video accuracy
over the classifier on all clips at 15 times fewer FLOPs. Not yet reproduced with vidjax.
Smoke test: experiments/scsampler/sports1m.py:smoke,classifier=CHECKPOINT of
experiments/quickstart.py:smoke (the smoke run swaps in the quickstart's classifier)
"""

from vidjax import configs
from vidjax.convert import vmz

synthetic = configs.load_experiment_module('synthetic.py', relative_to=__file__)

ROLES = ('sampler', 'classifier')
STEPS_PER_EPOCH = 4000  # the sampler's epoch: 1M training videos, one clip each / 256
SMOKE_CLASSIFIER = 'experiments/quickstart.py:smoke'
SYNTHETIC = 'experiments/scsampler/synthetic.py'  # its smoke run


def _classifier_config():
  config = configs.base_config()
  config.input.dataset = 'video_folder/sports1m'
  config.input.sampling.update(num_frames=32, stride=2, policy='loop')
  config.input.pp.update(resize_short_side=128, crop_size=112)
  arch = vmz.ARCHS['ir_csn_152_sports1m_32frms']
  config.model_name = arch.model_name
  config.model = dict(arch.model_kwargs)
  return config


def get_config(arg: str | None = None):
  arg = configs.parse_arg(arg, smoke=False, role='sampler', classifier='', loss='classification')
  if arg.role not in ROLES:
    raise ValueError(f'role={arg.role!r}: one of {ROLES}.')
  if arg.role == 'classifier':
    return _classifier_config()
  classifier_spec = (
    SMOKE_CLASSIFIER if arg.smoke else 'experiments/scsampler/sports1m.py:role=classifier'
  )
  classifier = configs.load_config_file(classifier_spec)
  config = configs.base_config()
  config.total_steps = 10 * STEPS_PER_EPOCH
  config.log_every = 100
  config.ckpt_every = 2000
  config.input.dataset = 'video_folder/sports1m'
  config.input.batch_size = 256
  config.input.num_threads = 16
  config.input.sampling.update(num_frames=32, stride=2, policy='loop')
  config.input.pp.update(resize_short_side=36, crop_size=32)
  config.model_name = 'video_resnet'
  config.model = dict(num_classes=487, depth=10, block='r2plus1d', width=16, dropout_rate=0.0)
  config.optim.schedule = dict(name='cosine', base_lr=0.4, warmup_steps=STEPS_PER_EPOCH)
  config.evals.scsampler = dict(
    type='scsampler',
    split='test',
    batch_size=8,
    num_clips=64,
    num_crops=1,
    top_k=10,
    every_steps=5 * STEPS_PER_EPOCH,
    classifier_config=classifier_spec,
    classifier_checkpoint=arg.classifier,
    input=dict(sampling=classifier.input.sampling.to_dict(), pp=classifier.input.pp.to_dict()),
  )
  if arg.smoke:
    # The embedded miniature's smoke run (experiments/scsampler/synthetic.py), so that the
    # two share their compiled programs in the tests.
    smoke = configs.load_config_file(f'{SYNTHETIC}:smoke,classifier={arg.classifier}')
    for key in ('total_steps', 'log_every', 'ckpt_every', 'input', 'model', 'optim'):
      config[key] = smoke[key]
    config.evals.scsampler = smoke.evals.scsampler
  if arg.loss not in synthetic.LOSSES:
    raise ValueError(f'loss={arg.loss!r}: one of {synthetic.LOSSES}.')
  if arg.loss != 'classification':
    synthetic.rank_by_classifier(config, classifier, classifier_spec, arg)
  return config
