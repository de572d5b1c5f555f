"""ACAR-Net's actor-context feature bank end to end: a first ACAR model, its bank of the
tiny `interactions` keyframes (tools/extract_feature_bank.py), and a model that reads it."""

import os

import numpy as np
import pytest

from tools import extract_feature_bank
from vidjax import configs, inference, train
from vidjax.data import feature_bank, pipeline

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENT = os.path.join(REPO, 'experiments', 'ava', 'synthetic.py')
SPLITS = {'train': 'train', 'validation': 'validation[:32]'}


@pytest.fixture(scope='module')
def banks(synthetic_data_dir, tmp_path_factory):
  """{'train': path, 'validation': path} of the banks of a one-step ACAR model."""
  config = configs.load_config_file(EXPERIMENT + ':smoke')
  config.input.data_dir = synthetic_data_dir
  config.total_steps = config.ckpt_every = 1
  config.evals = {}
  workdir = str(tmp_path_factory.mktemp('acar'))
  train.train_and_evaluate(config, workdir)
  model, variables, _ = inference.load_model(config, workdir)
  paths = {}
  for name, split in SPLITS.items():
    bank = extract_feature_bank.extract(model, variables, config.input, split, 'detections', 8)
    assert len(bank['video_ids']) == (128 if name == 'train' else 32) and not bank['failed']
    paths[name] = os.path.join(workdir, f'bank_{name}.npz')
    features = np.stack(bank['features'])
    feature_bank.write(paths[name], bank['video_ids'], bank['timestamps'], features, bank['mask'])
  return paths


def test_the_loader_gives_each_view_its_own_bank(banks, synthetic_data_dir):
  config = configs.load_config_file(
    f'{EXPERIMENT}:smoke,variant=acfb,bank={banks["train"]},eval_bank={banks["validation"]}'
  )
  config.input.data_dir = synthetic_data_dir
  input_ = pipeline.make_eval_input(config.input, 'train', 4, 1, 2, 0, 1)
  batch = next(iter(input_))
  bank = feature_bank.Bank(banks['train'], config.input.keyframe.bank.window)
  video_id = input_.video_id(int(batch['index'][0]))
  video_id = video_id.decode() if isinstance(video_id, bytes) else video_id
  for view in (0, 1):
    expected, mask = bank.read(video_id, int(batch['timestamp'][0]), view)
    np.testing.assert_array_equal(batch['bank'][0, view], expected)
    np.testing.assert_array_equal(batch['bank_mask'][0, view], mask)
  # The mirror image's features are not the frame's.
  assert mask.any() and not np.allclose(batch['bank'][0, 0][mask], batch['bank'][0, 1][mask])


def test_the_acfb_model_trains_and_evaluates_with_the_banks(banks, synthetic_data_dir, tmp_path):
  config = configs.load_config_file(
    f'{EXPERIMENT}:smoke,variant=acfb,bank={banks["train"]},eval_bank={banks["validation"]}'
  )
  config.input.data_dir = synthetic_data_dir
  results = train.train_and_evaluate(config, str(tmp_path))
  for name in ('gt', 'detected'):
    assert results[f'eval/{name}/num_examples'] == 32 and np.isfinite(results[f'eval/{name}/mAP'])
  again = train.evaluate(config, str(tmp_path))
  for key, value in again.items():
    np.testing.assert_allclose(value, results[key], rtol=1e-5)


def test_acfb_needs_both_banks_and_only_acfb_reads_them():
  with pytest.raises(ValueError, match='variant=acfb reads feature banks'):
    configs.load_config_file(f'{EXPERIMENT}:smoke,variant=acfb')
  with pytest.raises(ValueError, match='variant=acfb reads feature banks'):
    configs.load_config_file(f'{EXPERIMENT}:smoke,bank=/tmp/b.npz,eval_bank=/tmp/v.npz')


AVA_KINETICS = os.path.join(REPO, 'experiments', 'ava', 'ava_kinetics.py')


@pytest.mark.slow
def test_each_source_of_ava_kinetics_reads_its_own_bank(synthetic_data_dir, tmp_path):
  """The two-source config: an ACAR model, a bank per source and split (`--source`), and
  the ACFB model trained on both sources' banks and evaluated on each."""
  config = configs.load_config_file(AVA_KINETICS + ':smoke')
  config.input.data_dir = synthetic_data_dir
  config.total_steps = config.ckpt_every = 1
  config.evals = {}
  acar_dir, bank_dir = str(tmp_path / 'acar'), str(tmp_path / 'banks')
  train.train_and_evaluate(config, acar_dir)
  model, variables, _ = inference.load_model(config, acar_dir)
  for source in ('ava', 'kinetics'):
    input_config = extract_feature_bank.source_input(config.input, source)
    for name, split in SPLITS.items():
      bank = extract_feature_bank.extract(model, variables, input_config, split, 'detections', 8)
      path = os.path.join(bank_dir, f'{source}_{name}.npz')
      os.makedirs(bank_dir, exist_ok=True)
      features = np.stack(bank['features'])
      feature_bank.write(path, bank['video_ids'], bank['timestamps'], features, bank['mask'])
  with pytest.raises(ValueError, match=r"name one of \['ava', 'kinetics'\]"):
    extract_feature_bank.source_input(config.input, '')

  acfb = configs.load_config_file(f'{AVA_KINETICS}:smoke,variant=acfb,bank_dir={bank_dir}')
  acfb.input.data_dir = synthetic_data_dir
  assert pipeline.source_configs(acfb.input)['kinetics'].keyframe.bank.path.endswith(
    'kinetics_train.npz'
  )
  results = train.train_and_evaluate(acfb, str(tmp_path / 'acfb'))
  for name in ('ava', 'kinetics'):
    assert results[f'eval/{name}/num_examples'] == 32 and np.isfinite(results[f'eval/{name}/mAP'])
  with pytest.raises(ValueError, match='variant=acfb reads feature banks'):
    configs.load_config_file(f'{AVA_KINETICS}:smoke,variant=acfb')
