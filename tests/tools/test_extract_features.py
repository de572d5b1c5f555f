"""Tests of tools/extract_features.py and the inference helpers it is built on."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from tests.conftest import FAST_COMPILE_XLA_FLAGS
from vidjax import checkpoint, configs, inference, model_size
from vidjax.data import augment, decode, encode

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tools', 'extract_features.py')
CONFIG = os.path.join(REPO, 'experiments', 'quickstart.py') + ':smoke'


def _config():
  config = configs.load_config_file(CONFIG)
  config.input.sampling.num_frames = 2
  return config


def _video(path: str, seed: int, num_frames: int = 9) -> bytes:
  frames = np.random.default_rng(seed).integers(0, 256, (num_frames, 32, 40, 3), np.uint8)
  data = encode.encode_video(frames, fps=10)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'wb') as f:
    f.write(data)
  return data


def _random_variables(model, x):
  """Random variables of `model` from numpy: compiling `init` takes tens of seconds on CPU."""
  rng = np.random.default_rng(3)
  return jax.tree.map(
    lambda s: jnp.asarray(rng.uniform(0.5, 1.0, s.shape) / np.sqrt(np.prod(s.shape[:-1])), s.dtype),
    model_size.abstract_variables(model, x),
  )


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """(workdir whose checkpoint holds random variables saved replicated on every device, model,
  those variables, a jitted function of 2 views -> features)."""
  config = _config()
  model = configs.load_module('models', config.model_name).Model(**config.model)
  # Random BN statistics too, so that restoring them (not just the params) is checked.
  variables = _random_variables(model, jax.ShapeDtypeStruct((1, 2, 28, 28, 3), jnp.float32))
  replicated = NamedSharding(Mesh(np.array(jax.devices()), ('data',)), PartitionSpec())
  state = jax.device_put(
    dict(step=jnp.int32(7), opt_state=dict(momentum=variables['params']), **variables),
    replicated,
  )
  workdir = str(tmp_path_factory.mktemp('workdir'))
  checkpointer = checkpoint.Checkpointer(os.path.join(workdir, 'checkpoints'), max_to_keep=1)
  checkpointer.save(7, state, {'data': 0})
  checkpointer.wait()
  checkpointer.close()
  pp = config.input.pp

  @jax.jit
  def features_of(views):
    return model.apply(variables, augment.to_float(views, pp.mean, pp.std), train=False)[1][
      'features'
    ]

  return workdir, model, variables, features_of


def test_load_model_restores_params_and_batch_stats(trained):
  workdir, _, variables, _ = trained
  model, restored, step = inference.load_model(_config(), workdir)
  assert step == 7 and set(restored) == {'params', 'batch_stats'}
  jax.tree.map(np.testing.assert_array_equal, restored, variables)
  assert type(model).__module__ == 'vidjax.models.video_resnet'


def test_load_model_without_checkpoint_names_what_to_do(tmp_path):
  with pytest.raises(FileNotFoundError, match='No checkpoint in .* train first'):
    inference.load_model(_config(), str(tmp_path))


def test_views_and_predictor_match_a_direct_apply(tmp_path, trained):
  _, model, variables, features_of = trained
  config = _config()
  data = _video(str(tmp_path / 'a.mp4'), seed=0)
  views = inference.video_views(data, config.input, num_clips=2, num_crops=3)
  assert views.shape == (6, 2, 28, 28, 3) and views.dtype == np.uint8
  # Clip 0 starts at frame 0 and clip 1 at the last start (9 - 3 = 6), frames 2 apart.
  frames = decode.decode_frames(data, [0, 2, 6, 8])
  np.testing.assert_array_equal(views[0], frames[:2, 2:30, :28])
  np.testing.assert_array_equal(views[4], frames[2:, 2:30, 6:34])
  # Batches of 4 views: the second one is padded.
  predictor = inference.Predictor(model, variables, config.input.pp, batch_size=4)
  logits, features = predictor(views)
  assert logits.shape == (6, config.model.num_classes)
  want = np.concatenate([features_of(views[i : i + 2]) for i in range(0, 6, 2)])
  np.testing.assert_allclose(features, want, rtol=1e-4, atol=1e-5)


def _run(workdir, videos, output, *flags):
  # One device in the tool: the checkpoint was saved on 8.
  env = dict(os.environ, XLA_FLAGS=FAST_COMPILE_XLA_FLAGS, JAX_PLATFORMS='cpu')
  return subprocess.run(
    [sys.executable, TOOL, f'--config={CONFIG}', '--config.input.sampling.num_frames=2',
     f'--workdir={workdir}', f'--videos={videos}', f'--output={output}', '--num_clips=2',
     '--num_crops=1', *flags],
    cwd=REPO, capture_output=True, text=True, timeout=150, env=env,
  )  # fmt: skip


def test_command_line_writes_features_skips_corrupt_and_resumes(tmp_path, trained):
  workdir, _, _, features_of = trained
  videos, output = tmp_path / 'videos', tmp_path / 'features'
  datas = {
    'a.mp4': _video(str(videos / 'a.mp4'), 0),
    'sub/b.avi': _video(str(videos / 'sub/b.avi'), 1),
  }
  (videos / 'broken.mp4').write_bytes(b'not a video at all')
  (videos / 'notes.txt').write_text('not a video either')
  result = _run(workdir, videos, output, '--keep_views')
  assert result.returncode == 0, result.stderr
  assert 'broken.mp4' in result.stderr and 'Wrote 2 feature files' in result.stderr
  assert set(json.loads((output / 'failures.json').read_text())) == {'broken.mp4'}
  for name, data in datas.items():
    features = np.load(output / f'{name}.npy')
    want = features_of(inference.video_views(data, _config().input, 2, 1))
    assert features.shape == want.shape
    np.testing.assert_allclose(features, want, rtol=1e-4, atol=1e-5)
  # Resume: the finished videos are skipped (their files untouched), a new one is done,
  # and views are averaged without --keep_views.
  kept = np.load(output / 'a.mp4.npy')
  os.utime(output / 'a.mp4.npy', (0, 0))
  _video(str(videos / 'c.mp4'), 2)
  result = _run(workdir, videos, output)
  assert result.returncode == 0, result.stderr
  assert '4 videos, 2 already done' in result.stderr and 'Wrote 1 feature files' in result.stderr
  assert os.stat(output / 'a.mp4.npy').st_mtime == 0
  np.testing.assert_array_equal(np.load(output / 'a.mp4.npy'), kept)
  assert np.load(output / 'c.mp4.npy').shape == (kept.shape[1],)
