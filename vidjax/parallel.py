"""Devices, mesh and shardings: data parallelism over every device of every host.

vidjax uses `jax.jit` over a one-axis `Mesh` named 'data' (the modern form of pmap): the
batch is split along its first axis, parameters are replicated, and XLA inserts the
gradient all-reduce. Multi-host (TPU pods, GPU clusters) goes through
`jax.distributed.initialize()`, after which the same code sees all devices of all hosts.
"""

from __future__ import annotations

import json
import os
from typing import Any

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
  if jax.distributed.is_initialized():
    return
  if 'JAX_COORDINATOR_ADDRESS' in os.environ:
    # JAX reads only the coordinator's address from the environment; the process count and
    # index are passed here, so that these three variables alone launch a run anywhere.
    missing = [k for k in ('JAX_NUM_PROCESSES', 'JAX_PROCESS_ID') if k not in os.environ]
    if missing:
      raise ValueError(
        f'JAX_COORDINATOR_ADDRESS is set but {missing} are not: set JAX_NUM_PROCESSES (the '
        'number of processes) and JAX_PROCESS_ID (0 on the coordinator) on every host.'
      )
    jax.distributed.initialize(
      coordinator_address=os.environ['JAX_COORDINATOR_ADDRESS'],
      num_processes=int(os.environ['JAX_NUM_PROCESSES']),
      process_id=int(os.environ['JAX_PROCESS_ID']),
    )
  elif any(
    k in os.environ for k in ('SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE', 'TPU_WORKER_HOSTNAMES')
  ):
    jax.distributed.initialize()  # the cluster tells JAX everything
  else:
    return
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


def allgather_json(value: Any) -> list[Any]:
  """Every process's JSON-serialisable `value`, in process order (a collective: every
  process must call it). Used for the data iterators' states, which differ per host."""
  if jax.process_count() == 1:
    return [value]
  from jax.experimental import multihost_utils

  encoded = np.frombuffer(json.dumps(value).encode(), np.uint8)
  lengths = multihost_utils.process_allgather(np.array([encoded.size], np.int64)).reshape(-1)
  padded = np.zeros(int(lengths.max()), np.uint8)
  padded[: encoded.size] = encoded
  rows = multihost_utils.process_allgather(padded).reshape(len(lengths), -1)
  return [json.loads(row[:n].tobytes().decode()) for row, n in zip(rows, lengths, strict=True)]


def to_global(batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """Assembles each host's part of the batch into global arrays sharded on the mesh."""
  sharding = batch_sharded(mesh)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)
