"""The oneDNN convolution handler: build cache, fallback, and use under JAX transformations.

Its values and gradients against `lax.conv_general_dilated` are in test_layers.py (every
case there runs through oneDNN too).
"""

import os
import platform
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax.models import layers, onednn

requires_onednn = pytest.mark.skipif(not onednn.available(), reason='oneDNN turned off')


@pytest.mark.skipif(
  platform.system() != 'Linux'
  or platform.machine() != 'x86_64'
  or os.environ.get('VIDJAX_ONEDNN') == '0',
  reason='the oneDNN wheels are installed on Linux x86-64 only',
)
@pytest.mark.skipif(
  shutil.which(os.environ.get('CXX', 'c++')) is None,
  reason='no C++ compiler (c++ or $CXX) to build the oneDNN handler with',
)
def test_available_where_setup_installs_the_wheels():
  # Every other oneDNN test skips when it is unavailable; this one keeps a broken build
  # from passing the suite unnoticed.
  onednn.require()


@requires_onednn
def test_handler_is_built_once_into_the_cache():
  library = onednn._compile()
  assert library.exists() and library.parent == onednn._cache_dir()
  assert onednn._compile() == library  # Cached: the same file, not rebuilt.


def test_turned_off_falls_back_to_the_xla_lowerings_and_says_why():
  code = (
    'from vidjax.models import layers, onednn\n'
    'print(layers.conv_lowering((3, 3, 3), 1, 8, "auto"))\n'
    'try:\n'
    '  layers.conv_lowering((3, 3, 3), 1, 8, "onednn")\n'
    'except onednn.UnavailableError as e:\n'
    '  print(e)\n'
  )
  env = {**os.environ, 'VIDJAX_ONEDNN': '0', 'JAX_PLATFORMS': 'cpu'}
  result = subprocess.run(
    [sys.executable, '-c', code], env=env, capture_output=True, text=True, check=True
  )
  lines = result.stdout.splitlines()
  assert lines == ['conv2d', 'oneDNN convolutions are unavailable: VIDJAX_ONEDNN=0.']


def test_without_a_compiler_a_model_runs_on_the_xla_lowerings_and_says_why(tmp_path):
  code = (
    'import jax, jax.numpy as jnp\n'
    'from vidjax import run_info\n'
    'from vidjax.models import video_resnet\n'
    'model = video_resnet.Model(num_classes=3, depth=10, block="r2plus1d", width=4,'
    ' dropout_rate=0.0)\n'
    'x = jnp.ones((1, 4, 16, 16, 3))\n'
    'variables = model.init(jax.random.key(0), x, train=False)\n'
    'logits, _ = model.apply(variables, x, train=False)\n'
    'print(bool(jnp.isfinite(logits).all()), run_info.describe()["convolution_lowering"])\n'
  )
  env = {
    **os.environ,
    'CXX': str(tmp_path / 'no-such-compiler'),
    'VIDJAX_CACHE_DIR': str(tmp_path / 'empty-cache'),
    'JAX_PLATFORMS': 'cpu',
  }
  env.pop('VIDJAX_ONEDNN', None)
  result = subprocess.run(
    [sys.executable, '-c', code], env=env, capture_output=True, text=True, check=True
  )
  assert result.stdout.startswith('True ')
  assert "'lowering': 'xla_cpu'" in result.stdout and 'no C++ compiler' in result.stdout
  assert 'oneDNN convolutions unavailable, using XLA lowerings' in result.stderr
  assert not (tmp_path / 'empty-cache' / 'onednn').exists() or not any(
    (tmp_path / 'empty-cache' / 'onednn').glob('*.so')
  )


@requires_onednn
def test_conv_under_vmap():
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((3, 2, 4, 9, 8, 4), np.float32))
  kernel = jnp.asarray(rng.standard_normal((3, 3, 3, 4, 6), np.float32))
  pads = ((1, 1),) * 3

  def conv(x, method):
    return layers.conv(x, kernel, (1, 2, 2), pads, 1, method)

  got = jax.jit(jax.vmap(lambda x: conv(x, 'onednn')))(x)
  want = jax.vmap(lambda x: conv(x, 'native'))(x)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_output_shape_matches_lax():
  shape = onednn.output_shape(
    (2, 7, 9, 8, 4), (3, 3, 2, 4, 5), (2, 1, 3), ((1, 0), (2, 2), (0, 1)), (1, 2, 1)
  )
  want = jax.eval_shape(
    lambda x, k: jax.lax.conv_general_dilated(
      x, k, (2, 1, 3), ((1, 0), (2, 2), (0, 1)), rhs_dilation=(1, 2, 1),
      dimension_numbers=('NDHWC', 'DHWIO', 'NDHWC'),
    ),
    jax.ShapeDtypeStruct((2, 7, 9, 8, 4), jnp.float32),
    jax.ShapeDtypeStruct((3, 3, 2, 4, 5), jnp.float32),
  )  # fmt: skip
  assert shape == want.shape
