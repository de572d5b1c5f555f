"""Test set-up: 2 simulated CPU devices (data parallelism is exercised on every run) and
one tiny embedded dataset per test session."""

import os
import tempfile

# XLA's CPU backend without its LLVM optimisation, and with its older elemental emitters
# instead of the MLIR fusion emitters: the tests' models are tiny, so their run time is
# mostly compiling. The first halves it (a G-Blend smoke run: 88 s -> 37 s); the second
# takes another 15 % off (31 s -> 26 s). Subprocesses that set their own XLA_FLAGS add
# them too.
FAST_COMPILE_XLA_FLAGS = '--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false'
# Must precede the first `import jax` anywhere in the test process.
os.environ['XLA_FLAGS'] = ' '.join(
  [
    os.environ.get('XLA_FLAGS', ''),
    FAST_COMPILE_XLA_FLAGS,
    # Two devices shard every batch as any number would; each further simulated device
    # adds compile time (a SpeedNet smoke run: 39 s on 2, 48 s on 8).
    '--xla_force_host_platform_device_count=2',
  ]
).strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# One persistent compilation cache for the whole session: the xdist workers, and the
# training runs and notebook kernels that tests start as subprocesses, inherit it from the
# controller, which imports this file first. Many tests compile the same smoke programs
# (a run and its resumption, a notebook and the experiment it drives), and compiling is
# most of a smoke run's time on the CPU.
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  _SESSION_CACHE_DIR = tempfile.mkdtemp(prefix='vidjax-jax-cache-')
  os.environ['JAX_COMPILATION_CACHE_DIR'] = _SESSION_CACHE_DIR
else:
  _SESSION_CACHE_DIR = None  # the user's own, or the controller's in a worker
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0.2')

import shutil  # noqa: E402

import pytest  # noqa: E402


def pytest_collection_modifyitems(config, items):
  """The tests marked slow (a minute or so on 2 cores) run first. xdist gives each worker
  one test at a time (`--maxschedchunk=1` in pyproject.toml), so the slow ones are shared
  between the workers, and no worker is left running one alone at the end."""
  del config
  items.sort(key=lambda item: item.get_closest_marker('slow') is None)


def pytest_unconfigure(config):
  """The process that made the session's compilation cache removes it at the end."""
  del config
  if _SESSION_CACHE_DIR is not None:
    shutil.rmtree(_SESSION_CACHE_DIR, ignore_errors=True)


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


@pytest.fixture(scope='session')
def scsampler_classifier(synthetic_data_dir, tmp_path_factory) -> str:
  """The last checkpoint of experiments/quickstart.py:smoke, the heavy classifier that
  the SCSampler experiment's smoke mode evaluates its sampler with."""
  from vidjax import configs, train

  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  config = configs.load_config_file(os.path.join(repo, 'experiments/quickstart.py:smoke'))
  config.input.data_dir = synthetic_data_dir
  # A checkpoint is all it takes: one step, no evaluation.
  config.total_steps = config.ckpt_every = 1
  config.evals = {}
  workdir = str(tmp_path_factory.mktemp('scsampler_classifier'))
  train.train_and_evaluate(config, workdir)
  return os.path.join(workdir, 'checkpoints', str(config.total_steps))


@pytest.fixture(scope='session')
def distinit_teacher(synthetic_images_data_dir, tmp_path_factory) -> str:
  """The last checkpoint of experiments/distinit/teacher.py:smoke, the image teacher that
  the DistInit experiments' smoke modes distil."""
  from vidjax import configs, train

  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  config = configs.load_config_file(os.path.join(repo, 'experiments/distinit/teacher.py:smoke'))
  config.input.data_dir = synthetic_images_data_dir
  workdir = str(tmp_path_factory.mktemp('distinit_teacher'))
  train.train_and_evaluate(config, workdir)
  return os.path.join(workdir, 'checkpoints', str(config.total_steps))
