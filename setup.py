"""vidjax: video understanding research in JAX/Flax.

`pip install -e .` installs everything training and evaluation need (CPU JAX; for GPU/TPU
install the matching `jax[cuda12]` / `jax[tpu]` wheel on top). TensorFlow is never needed.
"""

import pathlib

import setuptools

INSTALL_REQUIRES = [
  'jax>=0.5.0,<0.13',
  'flax>=0.10.4,<0.13',
  'optax>=0.2.5,<0.3',
  'tensorflow-datasets>=4.9.7,<5',
  'grain>=0.2.10,<0.3',
  'array-record>=0.7.2,<0.9',
  # tools/ava_eval.py's CSV parsing (also a dependency of tensorflow-datasets).
  'pyarrow>=14',
  'av>=14.0,<20',
  'dm-pix>=0.4.3,<0.5',
  'orbax-checkpoint>=0.11.5,<0.13',
  'ml-collections>=1.0,<2',
  'absl-py>=2.1,<3',
  'numpy>=1.26',
  # The audio path's resampling (polyphase) and sparse mel filterbank.
  'scipy>=1.11',
  'pillow>=10',
  'tqdm>=4.60',
  'opencv-python-headless>=4.8',
  # Plots: tools/speediness.py --png and the notebooks.
  'matplotlib>=3.8',
  # oneDNN, for fast convolutions on CPU (vidjax/models/onednn.py compiles its FFI handler
  # against these on first use); the devel wheel carries the headers.
  *(
    f'{wheel}==2023.2.0; platform_system == "Linux" and platform_machine == "x86_64"'
    for wheel in ('onednn-cpu-gomp', 'onednn-devel-cpu-gomp')
  ),
]

EXTRAS_REQUIRE = {
  'test': [
    'pytest>=8',
    'pytest-xdist>=3.5',
    'ruff>=0.6',
    'scikit-video>=1.1.11',
    # The notebooks, executed by the tests in smoke mode.
    'nbclient>=0.10',
    'nbformat>=5.10',
    'ipykernel>=6.29',
    # Decodes the TensorBoard events vidjax writes (tests/test_tensorboard.py).
    'tensorboardX>=2.6,<3',
    # The official DAVIS evaluation (tests/tools/davis2017), the reference of
    # tools/davis_eval.py, draws its boundary tolerance with skimage's disk.
    'scikit-image>=0.22',
    # tests/data/test_beam_prepare.py: the Beam path against the local one.
    'apache-beam>=2.60,<3',
  ],
  # Dataset preparation on Apache Beam (tools/prepare_dataset.py --beam_runner).
  'beam': ['apache-beam>=2.60,<3'],
  # The CPU build of PyTorch, for checkpoint import and parity tests only.
  'torch': ['torch==2.13.0', 'pytorchvideo==0.1.5'],
  'tf': ['tensorflow>=2.16'],
}

setuptools.setup(
  name='vidjax',
  version='0.5.0.dev0',
  description='Video understanding research in JAX/Flax.',
  long_description=pathlib.Path(__file__).with_name('README.md').read_text(encoding='utf-8'),
  long_description_content_type='text/markdown',
  packages=setuptools.find_packages(include=['vidjax', 'vidjax.*']),
  package_data={'vidjax.models': ['onednn_conv.cc']},
  python_requires='>=3.10',
  install_requires=INSTALL_REQUIRES,
  extras_require=EXTRAS_REQUIRE,
  entry_points={'console_scripts': ['vidjax-train=vidjax.main:run']},
)
