"""Config helpers shared by every `experiments/*.py` file.

Experiment files are `ml_collections` configs with a `get_config(arg)` function, as in
big_vision: `--config experiments/quickstart.py:smoke,batch_size=8` passes
`'smoke,batch_size=8'` as `arg`, which `parse_arg` turns into a typed ConfigDict.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Mapping
from typing import Any

import ml_collections

# The keys every experiment config must define (DESIGN.md, "Config schema").
REQUIRED_KEYS = (
  'seed',
  'total_steps',
  'input',
  'model_name',
  'model',
  'task',
  'task_kwargs',
  'optim',
  'evals',
  'ckpt_every',
  'log_every',
  'mesh',
)


def parse_arg(arg: str | None, **defaults: Any) -> ml_collections.ConfigDict:
  """Parses `'smoke,frames=8'` into ConfigDict(smoke=True, frames=8).

  Each default fixes the type of its key: a bare name sets a bool to True, `name=value`
  converts `value` to the default's type. Unknown names are an error listing the known ones.

  Args:
    arg: the text after ':' in `--config path:arg`, or None.
    **defaults: every accepted name with its default value.

  Returns:
    A ConfigDict with one entry per default.
  """
  result = ml_collections.ConfigDict(dict(defaults))
  for item in filter(None, (arg or '').split(',')):
    name, has_value, value = item.partition('=')
    name = name.strip()
    if name not in defaults:
      raise ValueError(
        f'Unknown config argument {name!r} in {arg!r}; known arguments: {sorted(defaults)}.'
      )
    default = defaults[name]
    if not has_value:
      if not isinstance(default, bool):
        raise ValueError(f'Config argument {name!r} needs a value ({name}=...).')
      result[name] = True
    elif isinstance(default, bool):
      result[name] = value.lower() in ('1', 'true', 'yes')
    elif default is None:
      result[name] = value
    else:
      result[name] = type(default)(value)
  return result


def default_data_dir() -> str:
  """Where tfds datasets live: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
  return os.environ.get('TFDS_DATA_DIR', os.path.expanduser('~/tensorflow_datasets'))


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks the schema of DESIGN.md and that every named module exists.

  Raises:
    ValueError: naming the missing key or the unknown module and the known names.
  """
  missing = [key for key in REQUIRED_KEYS if key not in config]
  if missing:
    raise ValueError(f'Config is missing the required keys {missing} (see DESIGN.md).')
  load_module('models', config.model_name)
  load_module('tasks', config.task)
  for name, eval_config in config.evals.items():
    if 'type' not in eval_config:
      raise ValueError(f'config.evals.{name} has no "type" (an evaluator module name).')
    load_module('evaluators', eval_config.type)


def load_module(package: str, name: str):
  """Imports `vidjax.<package>.<name>`; an unknown name lists the known ones."""
  try:
    return importlib.import_module(f'vidjax.{package}.{name}')
  except ModuleNotFoundError as e:
    if e.name != f'vidjax.{package}.{name}':
      raise
    directory = os.path.join(os.path.dirname(__file__), package)
    known = sorted(
      f[:-3] for f in os.listdir(directory) if f.endswith('.py') and not f.startswith('_')
    )
    raise ValueError(f'Unknown {package} name {name!r}; known names: {known}.') from None


def to_dict(config: Mapping[str, Any]) -> dict[str, Any]:
  """A plain nested dict of a ConfigDict (for kwargs and JSON)."""
  if isinstance(config, ml_collections.ConfigDict):
    return config.to_dict()
  return dict(config)


def base_config() -> ml_collections.ConfigDict:
  """Defaults shared by the experiment files; each file overrides what it changes.

  Every key the library reads is here, so the printed config is exactly what ran.
  """
  return ml_collections.ConfigDict(
    dict(
      seed=0,
      total_steps=1000,
      log_every=50,
      ckpt_every=500,
      keep_checkpoints=3,
      init_from='',
      mesh=dict(data=-1),
      input=dict(
        dataset='vidjax_synthetic/default',
        data_dir=default_data_dir(),
        split='train',
        batch_size=32,
        num_threads=2,
        prefetch=4,
        # mode: 'stride' | 'fps' (target_fps) | 'segments' (TSN); see data/sampling.py.
        sampling=dict(mode='stride', num_frames=8, stride=2, target_fps=4.0, policy='loop'),
        # Log-mel of each clip's time span (data/audio.py): 16 kHz, 25 ms / 10 ms, 80 mels.
        audio=dict(
          enabled=False,
          sample_rate=16000,
          num_mels=80,
          min_hz=0.0,
          max_hz=8000.0,
          window_ms=25.0,
          hop_ms=10.0,
          spectrogram_frames=200,
        ),
        # Optical flow beside the RGB clip (vidjax/data/flow.py): `stack` fields per sampled
        # frame (L, 10 in the two-stream paper), clipped to +-bound pixels.
        flow=dict(enabled=False, bound=20.0, preset='medium', stack=1),
        pp=dict(
          resize_short_side=0,
          crop_size=56,
          flip=True,
          flip_label_swaps=(),
          # Kinetics statistics (PySlowFast / PyTorchVideo), on the 0..1 scale.
          mean=(0.45, 0.45, 0.45),
          std=(0.225, 0.225, 0.225),
          color_jitter=dict(prob=0.0, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
          # Training crop (docs/data.md, "Augmentations"): 'random' (resize_short_side, then
          # a crop_size crop), 'scale_jitter' (short side uniform in scale_jitter, then a
          # crop; SlowFast uses (256, 320)) or 'random_resized' (Inception-style box).
          train_crop='random',
          scale_jitter=(256, 320),
          random_resized_crop=dict(area=(0.08, 1.0), aspect_ratio=(3 / 4, 4 / 3)),
          grayscale_prob=0.0,
          rand_augment=dict(num_ops=0, magnitude=9.0, magnitude_std=0.5, prob=0.5),
          random_erasing=dict(prob=0.0, area=(0.02, 1 / 3), aspect_ratio=(0.3, 1 / 0.3)),
          mix=dict(mixup_alpha=0.0, cutmix_alpha=0.0, prob=1.0, switch_prob=0.5),
          repeated_augmentation=1,
        ),
      ),
      model_name='video_resnet',
      model=dict(),
      task='classification',
      task_kwargs=dict(label_smoothing=0.0, multi_label=False, frame_level_loss=False),
      optim=dict(
        name='sgd',
        momentum=0.9,
        nesterov=True,
        weight_decay=1e-4,
        grad_clip_norm=0.0,
        schedule=dict(name='cosine', base_lr=0.1, warmup_steps=0),
      ),
      evals=dict(),
    )
  )


def smoke_on_tiny_synthetic(config: ml_collections.ConfigDict) -> None:
  """The `:smoke` variant of a video config: tiny data, clips, batches and steps, so that
  the tests run the real config end to end in seconds. Models shrink in the config file."""
  config.total_steps = 4
  config.log_every = 2
  config.ckpt_every = 2
  config.input.dataset = 'vidjax_synthetic/tiny'
  config.input.batch_size = 8
  config.input.sampling.num_frames = 4
  config.input.pp.crop_size = 28
  config.optim.schedule.warmup_steps = 1
  for eval_config in config.evals.values():
    eval_config.batch_size = 8
    eval_config.every_steps = 4


# Label pairs a horizontal flip exchanges in the embedded synthetic dataset.
SYNTHETIC_FLIP_SWAPS = (('move_left', 'move_right'), ('rotate_cw', 'rotate_ccw'))


def load_config_file(spec: str) -> ml_collections.ConfigDict:
  """Loads `path.py[:arg]` the way `--config` does, e.g. from a notebook.

  Example: `configs.load_config_file('experiments/quickstart.py:smoke')`.
  """
  path, _, arg = spec.partition(':')
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No experiment file {path!r}.')
  module_spec = importlib.util.spec_from_file_location('experiment_config', path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(arg or None)
