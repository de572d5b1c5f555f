"""Study helpers: which checkpoint a dependent run starts from."""

import importlib.util
import os

from vidjax import study


def test_init_from_run_names_the_last_checkpoint_of_the_same_seed(tmp_path):
  for step in ('250', '1000', '750'):
    os.makedirs(tmp_path / 'seed0' / 'pretrain' / 'checkpoints' / step)
  depends = study.init_from_run('pretrain')
  expected = os.path.join(tmp_path, 'seed0', 'pretrain', 'checkpoints', '1000')
  assert depends(str(tmp_path / 'seed0')) == f'init_from={expected}'
  teacher = study.init_from_run('pretrain', 'teacher', more='backbone=r3d')
  assert teacher(str(tmp_path / 'seed0')) == f'teacher={expected},backbone=r3d'


def test_a_run_s_own_arguments_join_its_command(tmp_path):
  for variant in ('trained', 'untrained'):
    os.makedirs(tmp_path / 'seed0' / variant)
    (tmp_path / 'seed0' / variant / 'results.json').write_text('{"eval/x": 1.0}')
  runs = (
    study.Run('trained', experiment='e.py'),
    study.Run('untrained', experiment='e.py', arguments='steps=0'),
  )
  result = study.run_study(
    experiment='e.py',
    runs=runs,
    metrics={'x': 'eval/x'},
    workdir=str(tmp_path),
    seeds=[0],
    config_arg='steps=500',
  )
  commands = {r['variant']: r['command'] for r in result['runs']}
  # The run's own last: it overrides the study's.
  assert '--config=e.py:steps=500,steps=0 ' in commands['untrained']
  assert '--config=e.py:steps=500 ' in commands['trained']


def test_chosen_variants_bring_the_runs_they_need_in_order():
  runs = (
    study.Run('classifier'),
    study.Run('other'),
    study.Run('sampler', depends=study.init_from_run('classifier', 'classifier')),
    study.Run('banks', needs=('sampler',), depends=lambda _: ''),
  )
  assert runs[2].needs == ('classifier',)
  names = [run.variant for run in study.with_needs(runs, ['banks'])]
  assert names == ['classifier', 'sampler', 'banks']
  assert [run.variant for run in study.with_needs(runs, ['other'])] == ['other']


def test_clip_budget_study_s_fixed_clips_show_about_as_much_action_as_a_clip_anywhere():
  path = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    'experiments/weak_supervision/clip_budget_study.py',
  )
  spec = importlib.util.spec_from_file_location('clip_budget_study', path)
  budget_study = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(budget_study)
  shares = budget_study.action_shares()
  anywhere, _ = shares.pop('videos1200_clips0')
  assert set(shares) == {
    'videos1200_clips1',
    'videos600_clips2',
    'videos300_clips4',
    'videos150_clips8',
  }
  for trained, _ in shares.values():
    assert abs(trained - anywhere) < 0.04
  # The evaluation's two views are the video's two ends: half the centred clip's share.
  assert shares['videos600_clips2'][1] < 0.6 * shares['videos1200_clips1'][1]
