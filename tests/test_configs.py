import ml_collections
import pytest

from vidjax import configs


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
