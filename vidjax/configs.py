"""Config helpers shared by every `experiments/*.py` file.

Experiment files are `ml_collections` configs with a `get_config(arg)` function, as in
big_vision: `--config experiments/quickstart.py:smoke,batch_size=8` passes
`'smoke,batch_size=8'` as `arg`, which `parse_arg` turns into a typed ConfigDict.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import inspect
import os
import pathlib
import re
import types
from collections.abc import Mapping, Sequence
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
  """Checks the schema of DESIGN.md: required keys, every named module, and no key that
  nothing reads (a misspelt key would otherwise be silently ignored).

  Evaluators' defaults (their module's DEFAULTS) are filled into `config.evals`, so that
  the written config shows everything that ran.

  Raises:
    ValueError: naming the missing, unknown or misspelt key and the known ones.
  """
  missing = [key for key in REQUIRED_KEYS if key not in config]
  if missing:
    raise ValueError(f'Config is missing the required keys {missing} (see DESIGN.md).')
  schema = base_config()
  _check_keys(config, schema, 'config', free_form=_FREE_FORM)
  for name, source in config.input.sources.items():
    _check_keys(source, schema.input, f'config.input.sources.{name}', free_form=('input.sources',))
  model_class = load_module('models', config.model_name).Model
  _check_names(
    config.model, _constructor_args(model_class), f'config.model (of {config.model_name})'
  )
  task_class = load_module('tasks', config.task).Task
  _check_names(
    config.task_kwargs, _constructor_args(task_class), f'config.task_kwargs ({config.task})'
  )
  sampler_class = load_module(
    'data.samplers', config.input.sampling.mode, 'config.input.sampling.mode'
  ).Sampler
  _check_names(
    config.input.sampling,
    set(schema.input.sampling) | _constructor_args(sampler_class),
    f'config.input.sampling (mode {config.input.sampling.mode!r})',
  )
  _check_names(config.optim, set(schema.optim) | _OPTIMISER_VARIANT_KEYS, 'config.optim')
  _check_names(
    config.optim.schedule,
    set(schema.optim.schedule) | _SCHEDULE_VARIANT_KEYS,
    'config.optim.schedule',
  )
  for name, eval_config in config.evals.items():
    if 'type' not in eval_config:
      raise ValueError(f'config.evals.{name} has no "type" (an evaluator module name).')
    module = load_module('evaluators', eval_config.type)
    with eval_config.unlocked():
      for key, value in module.DEFAULTS.items():
        if key not in eval_config:
          eval_config[key] = value
    _check_names(eval_config, set(module.KEYS), f'config.evals.{name} (type {eval_config.type!r})')


def finalize(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`validate`, then lock: from here on, setting a key the config does not have is an
  error. The model's and task's kwargs stay open (their constructors check them)."""
  validate(config)
  config.lock()
  for free_form in ('model', 'task_kwargs'):
    config[free_form].unlock()
  return config


# Keys whose contents are another module's constructor kwargs or a per-run choice.
_FREE_FORM = ('model', 'task_kwargs', 'optim', 'evals', 'input.sources', 'input.sampling')
_OPTIMISER_VARIANT_KEYS = {'b1', 'b2', 'eps'}  # adamw
_SCHEDULE_VARIANT_KEYS = {'boundaries', 'decay_factor'}  # 'step'


def _constructor_args(cls) -> set[str]:
  if dataclasses.is_dataclass(cls):  # flax modules
    return {f.name for f in dataclasses.fields(cls) if f.name not in ('parent', 'name')}
  return set(inspect.signature(cls.__init__).parameters) - {'self'}


def _check_names(config: ml_collections.ConfigDict, known: set[str], where: str) -> None:
  unknown = sorted(set(config) - known)
  if unknown:
    hints = {key: difflib.get_close_matches(key, known, n=1) for key in unknown}
    said = ', '.join(
      f'{k!r}' + (f' (did you mean {h[0]!r}?)' if h else '') for k, h in hints.items()
    )
    raise ValueError(f'{where} has unknown keys: {said}. Known keys: {sorted(known)}.')


def _check_keys(config, schema, where: str, free_form=()) -> None:
  """Every key of `config` is in `schema`, recursively, but for the `free_form` paths
  ('input.sources' for `where`='config.input.sources')."""
  _check_names(config, set(schema), where)
  for key, value in config.items():
    path = f'{where}.{key}'.removeprefix('config.')
    if path in free_form or not isinstance(value, ml_collections.ConfigDict):
      continue
    if isinstance(schema[key], ml_collections.ConfigDict):
      _check_keys(value, schema[key], f'{where}.{key}', free_form)


# The class each package's modules define (DESIGN.md, "Dispatch by module path").
_DISPATCHED_CLASS = {
  'models': 'Model',
  'tasks': 'Task',
  'evaluators': 'Evaluator',
  'data.loaders': 'Loader',
  'data.samplers': 'Sampler',
}


def load_module(package: str, name: str, flag: str | None = None):
  """Imports `vidjax.<package>.<name>`, or `name` itself when it is a dotted module path
  (a task or model of the user's own package); an unknown name lists the known ones,
  naming `flag` (the config key that holds the name) when given."""
  module_name = name if '.' in name else f'vidjax.{package}.{name}'
  try:
    return importlib.import_module(module_name)
  except ModuleNotFoundError as e:
    if e.name != module_name:
      raise
    directory = os.path.join(os.path.dirname(__file__), *package.split('.'))
    # A module counts when it defines the class concretely (tasks/base.py's is abstract).
    defines = re.compile(rf'^class {_DISPATCHED_CLASS[package]}\b(?!\(abc\.ABC\))', re.MULTILINE)
    known = sorted(
      f[:-3]
      for f in os.listdir(directory)
      if f.endswith('.py') and defines.search(pathlib.Path(directory, f).read_text())
    )
    where = f'{flag}={name!r}' if flag else f'Unknown {package} name {name!r}'
    raise ValueError(f'{where}; known names: {known} (or a dotted module path).') from None


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
      # Weights to start from (checkpoint.restore_variables): a checkpoint step directory or
      # tools/convert_checkpoint.py's output; dont_load: regexes of variables kept fresh;
      # rename: ((regex, replacement), ...) of names; inflate: '' or 'mean' / 'centre', 2D
      # kernels of an image network inflated into the 3D ones (vidjax/convert/inflate.py).
      init_from=dict(path='', dont_load=(), rename=(), inflate=''),
      mesh=dict(data=-1),
      # num_batches > 0: before each evaluation, BatchNorm statistics averaged over that
      # many fresh training batches with the current weights (PySlowFast's precise BN, 200
      # batches there; vidjax/precise_bn.py).
      precise_bn=dict(num_batches=0),
      # PySlowFast's multigrid schedule of clip shapes and batch sizes
      # (vidjax/data/multigrid.py); the factors are its defaults.
      multigrid=dict(
        long_cycle=False,
        short_cycle=False,
        long_cycle_factors=((0.25, 0.5**0.5), (0.5, 0.5**0.5), (0.5, 1.0), (1.0, 1.0)),
        short_cycle_factors=(0.5, 0.5**0.5),
      ),
      input=dict(
        dataset='vidjax_synthetic/default',
        data_dir=default_data_dir(),
        split='train',
        batch_size=32,
        num_threads=2,
        prefetch=4,
        # mode: 'stride' | 'fps' (target_fps) | 'segments' (TSN); see data/samplers/.
        # 'clip' (video clips) or 'image' (single images): vidjax/data/loaders/.
        loader='clip',
        # Several inputs read in lockstep, {name: overrides of these keys} (e.g.
        # dict(video=dict(), image=dict(dataset='vidjax_synthetic/images', loader='image',
        # batch_size=64))): the train batch is then {name: batch}. {} reads one source.
        sources=dict(),
        # clips_per_video > 0: each video's training clips fixed to that many, the centres of
        # equal stretches of it (a clip budget, IG-65M; vidjax/data/samplers/__init__.py).
        sampling=dict(
          mode='stride', num_frames=8, stride=2, target_fps=4.0, policy='loop', clips_per_video=0
        ),
        # Classes built from the training split's hashtags (weakly-supervised pretraining,
        # vidjax/data/label_space.py): kind '' (off), 'verb', 'noun', 'verb_noun' or
        # 'hashtag'; classes with fewer than min_count videos dropped; resample 'sqrt' or
        # 'none'; vocabulary: a JSON file of verbs and nouns ('': the dataset's own);
        # num_classes: the classifier's outputs (0: the space's size).
        label_space=dict(kind='', min_count=1, resample='none', vocabulary='', num_classes=0),
        # loader='person_crops' (top-down pose, data/loaders/person_crops.py): the crop
        # (height, width), the joints, the box's margin and HRNet's augmentation.
        person_crop=dict(
          size=(384, 288),
          num_keypoints=17,
          box_scale=1.25,
          scale_factor=0.35,
          rotation=45.0,
          rotation_prob=0.6,
          half_body_prob=0.3,
          flip_pairs=(),
        ),
        # loader='keyframe' (AVA-style keyframes, data/loaders/keyframe.py): actor slots per
        # clip, the boxes evaluation reads ('ground_truth' or 'detections' scoring at least
        # detection_threshold) and ACAR's training box jitter (a fraction of the box);
        # bank: an actor-context feature bank read over `window` seconds either side of the
        # keyframe (data/feature_bank.py; path '' for none).
        keyframe=dict(
          max_actors=8,
          boxes='ground_truth',
          detection_threshold=0.0,
          box_jitter=0.075,
          bank=dict(path='', window=2),
        ),
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
          # Cut black borders (letterboxing) off the decoded frames before any crop, in
          # training and evaluation (data/crop.py: crop_black_borders).
          crop_black_borders=False,
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
        # ((regex, {'lr_mult': m}) | (regex, 'frozen'), ...); see vidjax/optim.py.
        param_groups=(),
        # k > 1: one update of the mean gradient every k steps (vidjax/optim.py).
        accumulation_steps=1,
        # d > 0: a moving average of the parameters, evaluated beside them (eval/<name>/ema/).
        ema_decay=0.0,
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
    if 'batch_size' in eval_config:  # evaluators that batch videos
      eval_config.batch_size = 8
    eval_config.every_steps = 4


# Label pairs a horizontal flip exchanges in the embedded synthetic dataset.
SYNTHETIC_FLIP_SWAPS = (('move_left', 'move_right'), ('rotate_cw', 'rotate_ccw'))


def load_config_file(spec: str) -> ml_collections.ConfigDict:
  """Loads `path.py[:arg]` the way `--config` does, e.g. from a notebook: validated and
  locked (see `finalize`).

  Example: `configs.load_config_file('experiments/quickstart.py:smoke')`.
  """
  path, _, arg = spec.partition(':')
  return finalize(load_experiment_module(path).get_config(arg or None))


def load_experiment_module(path: str, relative_to: str | None = None) -> types.ModuleType:
  """Imports an experiment file (which is not in a package) as a module, e.g. one experiment
  reusing another's network: `load_experiment_module('../transfer/synthetic_finetune.py',
  relative_to=__file__)`."""
  if relative_to is not None:
    path = os.path.join(os.path.dirname(os.path.abspath(relative_to)), path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No experiment file {path!r}.')
  name = os.path.splitext(os.path.basename(path))[0]
  module_spec = importlib.util.spec_from_file_location(f'experiment_{name}', path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module


def check_overrides(argv: Sequence[str]) -> None:
  """Checks every `--config.a.b=value` of a command line against the config it overrides.

  Raises:
    ValueError: an override names a key the config does not have; the message lists the
      keys known at that level.
  """
  spec, overrides = None, []
  for position, arg in enumerate(argv):
    if arg.startswith('--config='):
      spec = arg.partition('=')[2]
    elif arg == '--config' and position + 1 < len(argv):
      spec = argv[position + 1]
    elif arg.startswith('--config.'):
      overrides.append(arg.removeprefix('--config.').partition('=')[0])
  if spec is None or not overrides:
    return
  config = load_config_file(spec)
  for path in overrides:
    node, walked = config, 'config'
    for part in path.split('.'):
      if not isinstance(node, ml_collections.ConfigDict) or part not in node:
        known = sorted(node) if isinstance(node, ml_collections.ConfigDict) else []
        hint = difflib.get_close_matches(part, known, n=1)
        raise ValueError(
          f'--config.{path}: {walked} has no key {part!r}'
          + (f' (did you mean {hint[0]!r}?)' if hint else '')
          + f'; known keys: {known}.'
        )
      node, walked = node[part], f'{walked}.{part}'
