"""Study helpers: which checkpoint a dependent run starts from."""

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
