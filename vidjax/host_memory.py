"""Keeps freed host memory in the process, so that XLA:CPU does not fault its pages in every step.

XLA:CPU allocates all the temporary buffers of a jitted call as one block (1.24 GB for the
train step of R(2+1)D-34 at batch 2, 8x112²) and frees it when the call returns. glibc
serves a block that large with a fresh `mmap` and returns it with `munmap`, so every step
faults in 300,000 new pages that the kernel zeroes first: 0.6 s of CPU time per 3 s step
on the 2-core development machine, and 2-4 s in a step that follows other work (PyTorch's
step, in `tools/benchmark.py`; `docs/models.md`, "Freed memory kept in the process").

`keep_freed_memory` tells glibc to serve every allocation from the main heap and never give
it back: one arena (a thread's own arena cannot grow past 64 MB, so it would map the block
anyway), no `mmap`, no trimming. The freed block is then reused by the next step, without
a fault. It must run before JAX starts its threads (before the first computation), and it
only helps where JAX computes on the CPU: on a GPU or TPU host XLA's big buffers live on
the device.

It has costs: the process keeps its peak memory, and every thread shares one arena. The
quickstart, a small model fed by a busy input pipeline, trained 18 % slower with it and
peaked at 5.5 GB instead of 1.5 GB. So the entry points ask for it only where the step's
buffers dominate: `tools/benchmark.py --mode=model` by default, `vidjax.main` and
`tools/extract_features.py` when VIDJAX_KEEP_FREED_MEMORY=1 (a large model on CPU).
VIDJAX_KEEP_FREED_MEMORY=0 turns it off everywhere.
"""

import ctypes
import importlib.metadata
import logging
import os
import sys

# mallopt's parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8

_ACCELERATOR_PLUGINS = ('libtpu', 'jax-cuda', 'jax-rocm')


def _computes_on_cpu() -> bool:
  """Whether JAX will run on the CPU: JAX_PLATFORMS says so, or no accelerator plugin is
  installed. (Asking JAX would start the threads this must come before.)"""
  platforms = os.environ.get('JAX_PLATFORMS', '')
  if platforms:
    return platforms.split(',')[0].strip() == 'cpu'
  installed = (dist.metadata['Name'] or '' for dist in importlib.metadata.distributions())
  return not any(
    name.lower().replace('_', '-').startswith(_ACCELERATOR_PLUGINS) for name in installed
  )


def keep_freed_memory(default: bool) -> bool:
  """Sets glibc's allocator to reuse freed memory instead of unmapping it (see the module
  docstring) if VIDJAX_KEEP_FREED_MEMORY=1, or if `default` and the variable is unset;
  returns whether it did. A no-op off Linux/glibc and when JAX runs on an accelerator."""
  wanted = os.environ.get('VIDJAX_KEEP_FREED_MEMORY', '1' if default else '0') == '1'
  if not wanted:
    return False
  if sys.platform != 'linux' or not _computes_on_cpu():
    return False
  try:
    libc = ctypes.CDLL('libc.so.6')
    mallopt = libc.mallopt
  except (OSError, AttributeError):  # Not glibc (e.g. musl).
    return False
  # -1 as the trim threshold turns trimming off (mallopt(3)).
  settings = ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, -1))
  done = all(mallopt(parameter, value) == 1 for parameter, value in settings)
  if not done:
    logging.warning('vidjax: glibc refused a mallopt setting; freed memory may be unmapped.')
  return done
