"""Devices, mesh and shardings: data parallelism over every device of every host.

vidjax uses `jax.jit` over a one-axis `Mesh` named 'data' (the modern form of pmap): the
batch is split along its first axis, parameters are replicated, and XLA inserts the
gradient all-reduce. Multi-host (TPU pods, GPU clusters) goes through
`jax.distributed.initialize()`, after which the same code sees all devices of all hosts.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from absl import logging
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = 'data'


def maybe_initialize_distributed() -> None:
  """Starts JAX's multi-host runtime when the launcher says there are several hosts.

  On Cloud TPU pods and SLURM/Open MPI GPU clusters `jax.distributed.initialize()`
  discovers the coordinator itself; elsewhere set JAX_COORDINATOR_ADDRESS,
  JAX_NUM_PROCESSES and JAX_PROCESS_ID.
  """
  cluster_markers = ('JAX_COORDINATOR_ADDRESS', 'SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE')
  is_multihost = any(k in os.environ for k in cluster_markers) or 'TPU_WORKER_HOSTNAMES' in (
    os.environ
  )
  if is_multihost and not jax.distributed.is_initialized():
    jax.distributed.initialize()
    logging.info('jax.distributed: process %d of %d', jax.process_index(), jax.process_count())


def make_mesh(mesh_config) -> Mesh:
  """A one-axis 'data' mesh over every device of every host.

  `mesh_config.data` is -1 (all devices) or the device count; model parallelism is not
  used by any vidjax model yet.
  """
  if mesh_config.data not in (-1, jax.device_count()):
    raise ValueError(
      f'config.mesh.data={mesh_config.data}, but this run has {jax.device_count()} devices; '
      'use -1 (all devices).'
    )
  return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  """Shards the leading (batch) axis over the 'data' axis."""
  return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def check_batch_size(global_batch_size: int, what: str) -> int:
  """Returns the per-host batch size; the global one must divide over all devices."""
  num_devices = jax.device_count()
  if global_batch_size % num_devices:
    raise ValueError(
      f'{what}={global_batch_size} must be a multiple of the number of devices '
      f'({num_devices}); set --config.{what} accordingly.'
    )
  return global_batch_size // jax.process_count()


def to_global(batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """Assembles each host's part of the batch into global arrays sharded on the mesh."""
  sharding = batch_sharded(mesh)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)
