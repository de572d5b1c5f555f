import os
import subprocess
import sys

import ml_collections
import pytest

from vidjax import configs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_parse_arg_types_and_flags():
  arg = configs.parse_arg('smoke,frames=8,lr=0.5,name=x', smoke=False, frames=16, lr=0.1, name='')
  assert arg.smoke is True and arg.frames == 8 and arg.lr == 0.5 and arg.name == 'x'
  assert configs.parse_arg(None, smoke=False).smoke is False


def test_parse_arg_unknown_name_lists_known():
  with pytest.raises(ValueError, match=r"Unknown config argument 'smok'.*\['frames', 'smoke'\]"):
    configs.parse_arg('smok', smoke=False, frames=1)


def test_parse_arg_flag_without_value_needs_bool():
  with pytest.raises(ValueError, match='needs a value'):
    configs.parse_arg('frames', frames=1)


def test_load_module_unknown_name_lists_known():
  with pytest.raises(ValueError, match=r"Unknown models name 'resnet9000'.*video_resnet"):
    configs.load_module('models', 'resnet9000')


def test_validate_names_missing_keys_and_evaluator_type():
  config = configs.base_config()
  config.model_name = 'single_frame'
  configs.validate(config)
  del config['optim']
  with pytest.raises(ValueError, match=r"\['optim'\]"):
    configs.validate(config)
  config = configs.base_config()
  config.evals.val = ml_collections.ConfigDict({'split': 'validation'})
  with pytest.raises(ValueError, match='config.evals.val has no "type"'):
    configs.validate(config)


QUICKSTART = os.path.join(REPO, 'experiments/quickstart.py')


def test_load_module_lists_only_modules_that_define_the_class():
  with pytest.raises(ValueError) as error:
    configs.load_module('tasks', 'nope')
  known = (  # not 'base'
    "['arrow_of_time', 'ava', 'avts', 'classification', 'colorization', 'crw', 'distinit',"
    " 'gblend', 'posewarper', 'scsampler', 'shuffle_learn', 'speednet', 'tcc', 'unidual']"
  )
  assert known in str(error.value)


def _quickstart():
  return configs.load_config_file(QUICKSTART + ':smoke')


@pytest.mark.parametrize(
  'mutate, message',
  [
    (lambda c: c.update(totl_steps=3), r"config has unknown keys: 'totl_steps' \(did you mean "),
    (lambda c: c.input.pp.update(crop=3), r"config.input.pp has unknown keys: 'crop'"),
    (lambda c: c.model.update(widht=3), r"config.model \(of video_resnet\) .*'widht'.*'width'"),
    (lambda c: c.task_kwargs.update(smoothing=0.1), r"config.task_kwargs .*'smoothing'"),
    (lambda c: c.optim.update(momentm=0.9), r"config.optim has unknown keys: 'momentm'"),
    (lambda c: c.evals.val.update(num_clip=3), r"config.evals.val \(type 'multiview'\) .*"),
  ],
)
def test_unknown_keys_are_errors_that_list_the_known_ones(mutate, message):
  config = configs.load_config_file(QUICKSTART + ':smoke')
  config.unlock()
  mutate(config)
  with pytest.raises(ValueError, match=message + r'.*Known keys: \['):
    configs.validate(config)


def test_a_loaded_config_is_locked_but_for_model_kwargs():
  config = _quickstart()
  with pytest.raises(AttributeError, match='batchsize'):
    config.input.batchsize = 3
  config.input.batch_size = 16  # existing keys change as usual
  config.model.dropout_rate = 0.5
  assert config.evals.val.pred == 'logits' and config.evals.val.input.to_dict() == {}


def test_misspelt_command_line_override_lists_the_known_keys():
  configs.check_overrides(['--config', QUICKSTART, '--config.input.batch_size=8'])
  with pytest.raises(ValueError) as error:
    configs.check_overrides([f'--config={QUICKSTART}:smoke', '--config.input.pp.crop_sise=8'])
  message = str(error.value)
  assert message.startswith('--config.input.pp.crop_sise: config.input.pp has no key')
  assert "did you mean 'crop_size'" in message and "'resize_short_side'" in message


def test_the_command_line_rejects_a_misspelt_override():
  result = subprocess.run(
    [
      sys.executable,
      '-m',
      'vidjax.main',
      '--config',
      QUICKSTART + ':smoke',
      '--workdir',
      '/tmp/x',
      '--config.optim.schedule.base_rl=0.1',
    ],
    capture_output=True,
    text=True,
    cwd=REPO,
  )
  assert result.returncode == 1
  assert "config.optim.schedule has no key 'base_rl' (did you mean 'base_lr'?)" in result.stderr
