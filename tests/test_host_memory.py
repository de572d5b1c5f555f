"""`host_memory.keep_freed_memory`: a big block freed and allocated again is not faulted in anew."""

import json
import subprocess
import sys

import pytest

from vidjax import host_memory

# As XLA:CPU does with a call's temporary buffers: a worker thread allocates a 256 MB block,
# writes it and frees it, 3 times; prints the page faults of the last 2 times.
_PROGRAM = """
import ctypes, json, resource, sys, threading
from vidjax import host_memory
kept = host_memory.keep_freed_memory(default=sys.argv[1] == 'keep')
libc = ctypes.CDLL('libc.so.6')
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
size = 256 << 20
faults = []
def use_block():
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  block = libc.malloc(size)
  ctypes.memset(block, 1, size)
  libc.free(block)
  faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
for _ in range(3):
  worker = threading.Thread(target=use_block)
  worker.start()
  worker.join()
print(json.dumps({'kept': kept, 'faults': faults[1:]}))
"""


def _run(mode):
  result = subprocess.run(
    [sys.executable, '-c', _PROGRAM, mode],
    capture_output=True,
    text=True,
    check=True,
    env={'JAX_PLATFORMS': 'cpu', 'PATH': '/usr/bin:/bin'},
  )
  return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(sys.platform != 'linux', reason='glibc only')
def test_freed_block_is_reused_without_page_faults():
  pages = (256 << 20) // 4096
  default = _run('default')
  assert min(default['faults']) > pages / 2, default  # mmap'd and unmapped every time.
  kept = _run('keep')
  assert kept['kept']
  assert max(kept['faults']) < pages / 100, kept


def test_asked_for_by_default_or_environment_and_never_on_an_accelerator(monkeypatch):
  monkeypatch.setenv('JAX_PLATFORMS', 'cpu')
  monkeypatch.delenv('VIDJAX_KEEP_FREED_MEMORY', raising=False)
  assert not host_memory.keep_freed_memory(default=False)
  monkeypatch.setenv('VIDJAX_KEEP_FREED_MEMORY', '0')
  assert not host_memory.keep_freed_memory(default=True)
  monkeypatch.setenv('VIDJAX_KEEP_FREED_MEMORY', '1')
  monkeypatch.setenv('JAX_PLATFORMS', 'cuda,cpu')
  assert not host_memory.keep_freed_memory(default=True)
