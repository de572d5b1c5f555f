"""What a run could not choose itself, recorded beside its config in workdir/config.json:
the devices, the convolution lowering in use and why, and the package versions."""

from __future__ import annotations

import importlib.metadata

import jax

from vidjax.models import layers

PACKAGES = (
  'jax',
  'jaxlib',
  'flax',
  'optax',
  'orbax-checkpoint',
  'grain',
  'tensorflow-datasets',
  'av',
  'numpy',
  'ml-collections',
  'onednn-cpu-gomp',
)


def describe() -> dict:
  """{'devices', 'convolution_lowering', 'packages'} of this process."""
  device = jax.devices()[0]
  versions = {}
  for package in PACKAGES:
    try:
      versions[package] = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
      versions[package] = None
  return {
    'devices': {
      'platform': device.platform,
      'kind': device.device_kind,
      'count': jax.device_count(),
      'per_process': jax.local_device_count(),
      'processes': jax.process_count(),
    },
    'convolution_lowering': layers.auto_lowering_report(),
    'packages': versions,
  }
