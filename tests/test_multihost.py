"""Multi-host for real: the quickstart's smoke config as two processes of 4 CPU devices
each, launched with JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID, ends
where one process of 8 devices does."""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _command(workdir, data_dir):
  return [
    sys.executable,
    '-m',
    'vidjax.main',
    '--config',
    'experiments/quickstart.py:smoke',
    '--workdir',
    str(workdir),
    f'--config.input.data_dir={data_dir}',
  ]


def _env(devices, **extra):
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu', **extra)
  env['XLA_FLAGS'] = f'--xla_force_host_platform_device_count={devices}'
  return env


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _params(workdir, like=None):
  """The step-4 parameters as numpy arrays (`like`: a tree of the same structure, needed
  to read a checkpoint written on another device topology)."""
  path = os.path.join(workdir, 'checkpoints', '4', 'state')
  if like is None:
    params = ocp.StandardCheckpointer().restore(path)['params']
  else:
    target = {'params': like}
    params = ocp.PyTreeCheckpointer().restore(
      path,
      args=ocp.args.PyTreeRestore(
        item=target,
        restore_args=ocp.checkpoint_utils.construct_restore_args(target),
        partial_restore=True,
      ),
    )['params']
  return jax.tree.map(np.asarray, params)


@pytest.mark.slow
def test_two_processes_train_like_one(synthetic_data_dir, tmp_path):
  single = tmp_path / 'single'
  subprocess.run(
    _command(single, synthetic_data_dir), cwd=REPO, env=_env(8), check=True, capture_output=True
  )
  multi = tmp_path / 'multi'
  address = f'localhost:{_free_port()}'
  processes = [
    subprocess.Popen(
      _command(multi, synthetic_data_dir),
      cwd=REPO,
      env=_env(
        4, JAX_COORDINATOR_ADDRESS=address, JAX_NUM_PROCESSES='2', JAX_PROCESS_ID=str(index)
      ),
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for index in range(2)
  ]
  for process in processes:
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]

  # One run: the same examples and augmentations, summed in another order.
  expected = _params(single)
  got = _params(multi, like=expected)
  for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(got), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
  results = {name: json.loads((path / 'results.json').read_text()) for name, path in
             (('single', single), ('multi', multi))}  # fmt: skip
  # Evaluation counted every validation video once across both hosts.
  assert results['multi']['eval/val/num_examples'] == results['single']['eval/val/num_examples']
  assert results['multi']['eval/val/num_examples'] == 32
  np.testing.assert_allclose(
    results['multi']['eval/val/loss'], results['single']['eval/val/loss'], rtol=1e-3
  )
  # One checkpoint, written jointly, with each host's data iterator state in it.
  assert sorted(os.listdir(multi / 'checkpoints')) == ['2', '4']
  data = json.loads((multi / 'checkpoints' / '4' / 'data' / 'metadata').read_text())
  assert len(data['processes']) == 2
  config = json.loads((multi / 'config.json').read_text())
  assert config['run_environment']['devices'] == {
    'platform': 'cpu',
    'kind': 'cpu',
    'count': 8,
    'per_process': 4,
    'processes': 2,
  }
