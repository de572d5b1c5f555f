r"""Weakly-supervised pretraining on your own hashtag-labelled web videos (IG-65M's recipe
shape: Ghadiyaram et al., CVPR 2019), of VMZ's R(2+1)D-34 or ir-CSN-152, then transfer.

List the videos (local paths or gs:// / s3:// URIs) with their hashtags in JSON Lines
(vidjax/data/builders/web_videos.py), prepare them, choose the label space, pretrain:

  python tools/prepare_dataset.py --dataset web_videos --config my_web_videos \
      --manual_dir ~/data/web --data_dir ~/tensorflow_datasets --short_side 128
  # or, for millions of videos, on Apache Beam (Dataflow here; Flink, Spark alike):
  python tools/prepare_dataset.py --dataset web_videos --config my_web_videos \
      --manual_dir gs://my-bucket/web --data_dir gs://my-bucket/tfds --short_side 128 \
      --beam_runner DataflowRunner --beam_options='--project=P --region=R --temp_location=gs://my-bucket/tmp'
  python tools/label_space.py --dataset web_videos/my_web_videos --kind verb_noun \
      --min_count 100 --vocabulary ~/data/web/verbs_nouns.json
  python -m vidjax.main --workdir workdirs/web_r2plus1d_34 --config \
      experiments/weak_supervision/web_videos.py:space=verb_noun,min_count=100,num_classes=NUM,vocabulary=$HOME/data/web/verbs_nouns.json

then fine-tune on Kinetics from the last checkpoint, the classifier fresh
(`--config.init_from.path=workdirs/web_r2plus1d_34/checkpoints/STEP` with
`--config.init_from.dont_load` naming the classifier, `head` for R(2+1)D and CSN).

Arguments: network ('r2plus1d_34': 32 x 112 x 112 clips of a 128 short side; 'ir_csn_152':
32 x 224 x 224 of a 256 one, VMZ's IG-65M models), space ('hashtag', 'verb', 'noun' or
'verb_noun'), min_count (100), num_classes (the space's size: tools/label_space.py prints
it), vocabulary (a JSON file of verbs and nouns), resample ('sqrt', as the paper), dataset
('web_videos/my_web_videos'), eval_split (the split of `validation.jsonl`; mAP on it),
steps (500000).
Recipe: sigmoid cross-entropy per class, SGD with Nesterov momentum, a cosine schedule
from 0.4 at batch 1024 after 10k warm-up steps, weight decay 1e-4, 32-frame clips at
stride 2 with random crops and flips. The paper's exact pretraining schedule is not among
the sources here: these are this config's choices.
Hardware: 64+ GPUs or a TPU v5p pod slice (docs/scaling.md); days at IG-65M's scale.
Expected (the paper): pretraining on 65M web videos lifts Kinetics-400 to 81.3 % top-1
(R(2+1)D-152; VMZ's IG-65M R(2+1)D-34 and ir-CSN-152 checkpoints convert with
tools/convert_checkpoint.py --source vmz). Not yet reproduced with vidjax.
Smoke test: experiments/weak_supervision/web_videos.py:smoke (the embedded miniature's, on
`tiny_tags`)
"""

from vidjax import configs
from vidjax.convert import vmz
from vidjax.data import label_space

# network -> (VMZ's IG-65M architecture, frames, crop, short side)
NETWORKS = {
  'r2plus1d_34': ('r2plus1d_34_32_ig65m', 32, 112, 128),
  'ir_csn_152': ('ir_csn_152_ig65m_32frms', 32, 224, 256),
}
SYNTHETIC = 'experiments/weak_supervision/synthetic.py'


def get_config(arg: str | None = None):
  arg = configs.parse_arg(
    arg,
    smoke=False,
    network='r2plus1d_34',
    space='hashtag',
    min_count=100,
    num_classes=0,
    vocabulary='',
    resample='sqrt',
    dataset='web_videos/my_web_videos',
    eval_split='validation',
    steps=500_000,
  )
  if arg.network not in NETWORKS:
    raise ValueError(f'network={arg.network!r}; allowed values: {tuple(NETWORKS)}.')
  if arg.space not in label_space.KINDS:
    raise ValueError(f'space={arg.space!r}; allowed values: {label_space.KINDS}.')
  if arg.smoke:
    # The embedded miniature's own smoke configuration, so that the two smoke runs share
    # their compiled programs.
    return configs.load_config_file(f'{SYNTHETIC}:smoke')
  if arg.num_classes <= 0:
    raise ValueError(
      'num_classes= the label space size: run tools/label_space.py with the same dataset, '
      'space, min_count and vocabulary, and pass the number of classes it prints.'
    )
  arch_name, frames, crop, short_side = NETWORKS[arg.network]
  config = configs.base_config()
  config.total_steps = arg.steps
  config.log_every = 100
  config.ckpt_every = 5000
  config.input.dataset = arg.dataset
  config.input.batch_size = 1024
  config.input.num_threads = 32
  config.input.sampling.update(num_frames=frames, stride=2, policy='loop')
  config.input.pp.update(resize_short_side=short_side, crop_size=crop)
  config.input.label_space.update(
    kind=arg.space,
    min_count=arg.min_count,
    resample=arg.resample,
    vocabulary=arg.vocabulary,
    num_classes=arg.num_classes,
  )
  arch = vmz.ARCHS[arch_name]
  config.model_name = arch.model_name
  config.model = dict(arch.model_kwargs, num_classes=arg.num_classes, dtype='bfloat16')
  config.task_kwargs.multi_label = True
  config.optim.update(weight_decay=1e-4)
  config.optim.schedule = dict(name='cosine', base_lr=0.4, warmup_steps=10_000)
  config.evals.val = dict(
    type='mean_ap',
    split=arg.eval_split,
    batch_size=256,
    num_clips=1,
    num_crops=1,
    every_steps=25_000,
  )
  return config
