"""oneDNN convolutions for XLA CPU, through the XLA FFI.

XLA CPU's own convolution kernels are several times slower than oneDNN's, the library
behind PyTorch's CPU convolutions (train steps 1.5-3.4x faster with oneDNN, and the XLA
kernels' measured rates: `docs/models.md`, "Speed on CPU"). `onednn_conv.cc` is an XLA FFI
handler that runs a oneDNN convolution (forward, input gradient or kernel gradient) on XLA's
own buffers; `conv` wraps it with its gradient so that `jax.grad` and `jax.jit` see an
ordinary function.

The handler is compiled on first use (about 6 s, once per machine) with the system C++
compiler, against the FFI headers of the installed jaxlib and the oneDNN of the
`onednn-devel-cpu-gomp` wheel, and cached under `$VIDJAX_CACHE_DIR` (default
`~/.cache/vidjax`). Where that is impossible (no compiler, another platform, the wheel
missing) `available()` is False, says why in a warning once, and the convolution layers keep
their XLA lowerings; `VIDJAX_ONEDNN=0` turns oneDNN off.
"""

import ctypes
import functools
import hashlib
import importlib.metadata
import logging
import os
import pathlib
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

SOURCE = pathlib.Path(__file__).with_name('onednn_conv.cc')
TARGET = 'vidjax_onednn_conv'
_FORWARD, _INPUT_GRAD, _KERNEL_GRAD = 0, 1, 2


class UnavailableError(RuntimeError):
  """oneDNN convolutions cannot be used on this machine; the message says why."""


def _dist_file(dist: str, suffix: str) -> pathlib.Path:
  try:
    files = importlib.metadata.files(dist) or []
  except importlib.metadata.PackageNotFoundError:
    raise UnavailableError(
      f'the {dist!r} wheel is not installed (pip install -e . installs it on Linux x86-64).'
    ) from None
  for file in files:
    if str(file).endswith(suffix):
      return pathlib.Path(file.locate()).resolve()
  raise UnavailableError(f'the {dist!r} wheel has no file ending in {suffix!r}.')


def _cache_dir() -> pathlib.Path:
  root = os.environ.get('VIDJAX_CACHE_DIR') or pathlib.Path.home() / '.cache' / 'vidjax'
  return pathlib.Path(root) / 'onednn'


def _compile() -> pathlib.Path:
  """Returns the compiled handler library, compiling it if this machine has none yet."""
  if platform.system() != 'Linux' or platform.machine() != 'x86_64':
    raise UnavailableError(f'oneDNN wheels exist for Linux x86-64, not {platform.platform()}.')
  # The wheels install <prefix>/include/oneapi/dnnl/dnnl.hpp and <prefix>/lib/libdnnl.so.3.
  include_dir = _dist_file('onednn-devel-cpu-gomp', 'oneapi/dnnl/dnnl.hpp').parents[2]
  library = _dist_file('onednn-cpu-gomp', 'libdnnl.so.3')
  compiler = shutil.which(os.environ.get('CXX', 'c++'))
  if compiler is None:
    raise UnavailableError('no C++ compiler (c++ or $CXX) on PATH to build the oneDNN handler.')
  command = [
    compiler,
    '-O2',
    '-std=c++17',
    '-shared',
    '-fPIC',
    '-w',
    f'-I{jax.ffi.include_dir()}',
    f'-I{include_dir}',
    str(SOURCE),
    str(library),
    f'-Wl,-rpath,{library.parent}',
  ]
  key = hashlib.sha256(
    '\0'.join([SOURCE.read_text(), jax.__version__, *command]).encode()
  ).hexdigest()[:16]
  cache = _cache_dir()
  target = cache / f'vidjax_onednn_conv_{key}.so'
  if target.exists():
    return target
  cache.mkdir(parents=True, exist_ok=True)
  # Parallel test workers build it once: the others wait on the lock, then find it. (fcntl
  # is POSIX-only: imported here, the models still import where no handler can be built.)
  import fcntl

  with open(cache / 'build.lock', 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if target.exists():
      return target
    logging.info('vidjax: compiling the oneDNN convolution handler (once): %s', target)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
      built = pathlib.Path(tmp) / target.name
      result = subprocess.run([*command, '-o', str(built)], capture_output=True, text=True)
      if result.returncode:
        raise UnavailableError(
          f'compiling {SOURCE.name} failed ({" ".join(command)}):\n{result.stderr[-2000:]}'
        )
      os.replace(built, target)
  return target


@functools.cache
def _load() -> str | None:
  """Builds and registers the handler; returns None, or why it cannot be used."""
  if os.environ.get('VIDJAX_ONEDNN', '1') == '0':
    return 'VIDJAX_ONEDNN=0.'
  try:
    library = ctypes.CDLL(str(_compile()))
  except (UnavailableError, OSError) as e:
    logging.warning('vidjax: oneDNN convolutions unavailable, using XLA lowerings: %s', e)
    return str(e)
  jax.ffi.register_ffi_target(TARGET, jax.ffi.pycapsule(library.VidjaxOnednnConv), platform='cpu')
  return None


def available() -> bool:
  """Whether `conv` can run here (builds and registers the handler on the first call)."""
  return _load() is None


def unavailable_reason() -> str | None:
  """None where `conv` can run here, else why not (builds the handler on the first call)."""
  return _load()


def require() -> None:
  """Raises `UnavailableError`, saying why, when `conv` cannot run here."""
  reason = _load()
  if reason is not None:
    raise UnavailableError(f'oneDNN convolutions are unavailable: {reason}')


def _call(mode, a, b, out_shape, strides, padding, dilation, groups):
  as_array = functools.partial(np.asarray, dtype=np.int64)
  return jax.ffi.ffi_call(
    TARGET, jax.ShapeDtypeStruct(tuple(out_shape), jnp.float32), vmap_method='sequential'
  )(
    a,
    b,
    mode=np.int64(mode),
    strides=as_array(strides),
    dilation=as_array(dilation),
    padding_lo=as_array([p[0] for p in padding]),
    padding_hi=as_array([p[1] for p in padding]),
    groups=np.int64(groups),
  )


def output_shape(x_shape, kernel_shape, strides, padding, dilation) -> tuple[int, ...]:
  """[B, *out_spatial, C_out] of a convolution of x [B, *spatial, C] by kernel [..., C_out]."""
  spatial = [
    (n + lo + hi - (k - 1) * d - 1) // s + 1
    for n, k, s, (lo, hi), d in zip(
      x_shape[1:-1], kernel_shape[:-2], strides, padding, dilation, strict=True
    )
  ]
  return (x_shape[0], *spatial, kernel_shape[-1])


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def conv(
  x: jax.Array,
  kernel: jax.Array,
  strides: Sequence[int],
  padding: Sequence[tuple[int, int]],
  dilation: Sequence[int],
  groups: int,
) -> jax.Array:
  """float32 channels-last convolution by oneDNN, equal to `lax.conv_general_dilated`.

  Args:
    x: [B, *spatial, C_in], 1-3 spatial dims, float32.
    kernel: [*kernel_size, C_in // groups, C_out], float32.
    strides: one stride per spatial dim (hashable: a tuple).
    padding: one (low, high) pair per spatial dim (a tuple of tuples).
    dilation: kernel dilation per spatial dim (a tuple).
    groups: feature groups.

  Returns:
    [B, *out_spatial, C_out].
  """
  shape = output_shape(x.shape, kernel.shape, strides, padding, dilation)
  return _call(_FORWARD, x, kernel, shape, strides, padding, dilation, groups)


def _conv_fwd(x, kernel, strides, padding, dilation, groups):
  return conv(x, kernel, strides, padding, dilation, groups), (x, kernel)


def _conv_bwd(strides, padding, dilation, groups, residuals, dy):
  x, kernel = residuals
  dx = _call(_INPUT_GRAD, dy, kernel, x.shape, strides, padding, dilation, groups)
  dkernel = _call(_KERNEL_GRAD, x, dy, kernel.shape, strides, padding, dilation, groups)
  return dx, dkernel


conv.defvjp(_conv_fwd, _conv_bwd)


def depthwise_by_frames(x, kernel, strides, padding, dilation):
  """A 3D depthwise convolution as a sum over temporal taps of 2D ones over frames.

  oneDNN has fast depthwise kernels for 2D convolutions only; its 3D depthwise convolution
  is a grouped one that pads every group to 16 channels.
  """
  x = jnp.pad(x, [(0, 0), padding[0], (0, 0), (0, 0), (0, 0)])
  b, t, h, w, c = x.shape
  kt, st, dt = kernel.shape[0], strides[0], dilation[0]
  out_t = (t - (kt - 1) * dt - 1) // st + 1
  y = None
  for a in range(kt):
    frames = x[:, a * dt : a * dt + (out_t - 1) * st + 1 : st].reshape(b * out_t, h, w, c)
    term = conv(frames, kernel[a], tuple(strides[1:]), tuple(padding[1:]), tuple(dilation[1:]), c)
    y = term if y is None else y + term
  return y.reshape(b, out_t, *y.shape[1:])
