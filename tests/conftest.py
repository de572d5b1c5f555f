"""Test set-up: 8 simulated CPU devices (data parallelism is exercised on every run) and
one tiny embedded dataset per test session."""

import os

# Must precede the first `import jax` anywhere in the test process.
os.environ['XLA_FLAGS'] = (
  os.environ.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count=8'
).strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')

import pytest  # noqa: E402


@pytest.fixture(scope='session')
def synthetic_data_dir(tmp_path_factory) -> str:
  """A tfds data_dir holding `vidjax_synthetic/tiny`, built once per test worker."""
  from vidjax.data.builders import synthetic

  data_dir = str(tmp_path_factory.mktemp('tfds'))
  synthetic.ensure_built(data_dir, 'tiny')
  return data_dir


@pytest.fixture(scope='session')
def synthetic_images_data_dir(synthetic_data_dir) -> str:
  """`synthetic_data_dir` with the `images` config built beside `tiny`."""
  from vidjax.data.builders import synthetic

  synthetic.ensure_built(synthetic_data_dir, 'images')
  return synthetic_data_dir


@pytest.fixture(scope='session')
def synthetic_shapes_data_dir(synthetic_data_dir) -> str:
  """`synthetic_data_dir` with `tiny_shapes` (one object per video, shape labels) built."""
  from vidjax.data.builders import synthetic

  synthetic.ensure_built(synthetic_data_dir, 'tiny_shapes')
  return synthetic_data_dir
