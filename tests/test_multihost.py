"""Multi-host for real: the quickstart's smoke config as two processes of 2 CPU devices
each, launched with JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID, ends
where one process of 4 devices does."""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from tests.conftest import FAST_COMPILE_XLA_FLAGS

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
  env['XLA_FLAGS'] = (
    f'--xla_force_host_platform_device_count={devices} {FAST_COMPILE_XLA_FLAGS} '
    '--xla_cpu_multi_thread_eigen=false'
  )
  return env


def _free_port():
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _params(workdir, like=None, step=4):
  """The parameters at `step` as numpy arrays, read into this process's devices whatever
  topology wrote them (`like`: a tree of their structure; default: the checkpoint's own)."""
  path = os.path.join(workdir, 'checkpoints', str(step), 'state')
  checkpointer = ocp.PyTreeCheckpointer()
  if like is None:
    metadata = checkpointer.metadata(path).item_metadata['params']
    like = jax.tree.map(lambda m: np.zeros(m.shape, m.dtype), metadata)
  target = {'params': like}
  params = checkpointer.restore(
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
    _command(single, synthetic_data_dir), cwd=REPO, env=_env(4), check=True, capture_output=True
  )
  multi = tmp_path / 'multi'
  address = f'localhost:{_free_port()}'
  processes = [
    subprocess.Popen(
      _command(multi, synthetic_data_dir),
      cwd=REPO,
      env=_env(
        2, JAX_COORDINATOR_ADDRESS=address, JAX_NUM_PROCESSES='2', JAX_PROCESS_ID=str(index)
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

  # One run: the same examples and augmentations, summed in another order. Compiled
  # without LLVM's optimisations (as every test is), the two orders leave the parameters
  # up to 1e-4 apart after 4 steps, so each tensor's gap between the runs is held to a
  # tenth of how far that tensor moved in the last two steps: a gradient averaged wrongly
  # over the hosts would be off by about a whole update. Single-threaded Eigen keeps each
  # run deterministic.
  expected, before = _params(single), _params(single, step=2)
  got = _params(multi, like=expected)
  for a, b, a_before in zip(*map(jax.tree.leaves, (expected, got, before)), strict=True):
    assert np.linalg.norm(a - b) <= 0.1 * np.linalg.norm(a - a_before)
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
    'count': 4,
    'per_process': 2,
    'processes': 2,
  }
