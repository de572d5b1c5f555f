"""2D -> 3D inflation of parameters (Carreira & Zisserman, CVPR 2017, Sec. 2.4).

A k x k filter of a 2D network becomes a t x k x k filter by repeating it t times along
time and dividing by t ('mean'), so that the 3D network's response to a video made of one
repeated frame equals the 2D network's response to that frame ("boring-video" fixed point).
'centre' puts the 2D filter at the central time tap and zeros elsewhere, which has the same
property. Every other leaf (biases, BatchNorm statistics, dense layers) is copied.

The function only needs the two trees, so it works for any 2D/3D pair whose leaves match by
path (after an optional rename), e.g. Inception-v1 -> I3D or a 2D ResNet -> R3D.
"""

from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

METHODS = ('mean', 'centre')


def _path_name(path: tuple[Any, ...]) -> str:
  return '/'.join(str(getattr(k, 'key', getattr(k, 'idx', k))) for k in path)


def inflate_leaf(value: Any, shape: tuple[int, ...], method: str = 'mean') -> np.ndarray:
  """Inflates one 2D leaf to `shape`.

  Args:
    value: 2D leaf, e.g. a kernel [k, k, C_in, C_out].
    shape: target shape; equal to value's (copied) or (t, *value.shape) (inflated).
    method: 'mean' (repeat t times, divide by t) or 'centre' (central tap only).

  Returns:
    A numpy array of `shape` and value's dtype.
  """
  value = np.asarray(value)
  shape = tuple(shape)
  if value.shape == shape:
    return value.copy()
  if shape[1:] != value.shape:
    raise ValueError(
      f'cannot inflate a leaf of shape {value.shape} to {shape}: the target must equal it or '
      'add one leading (time) dimension.'
    )
  t = shape[0]
  if method == 'mean':
    return np.repeat(value[None], t, axis=0) / np.asarray(t, value.dtype)
  out = np.zeros(shape, value.dtype)
  out[t // 2] = value
  return out


def inflate(
  params_2d: Mapping[str, Any],
  target: Any,
  *,
  method: str = 'mean',
  rename: Callable[[str], str] | None = None,
) -> Any:
  """Builds a 3D network's variables from a 2D network's.

  Args:
    params_2d: the 2D variables (nested dicts; any collections, e.g. params and batch_stats).
    target: the 3D variables or their shapes (e.g. from `jax.eval_shape(model.init, ...)`),
      any pytree of objects with `.shape`.
    method: one of METHODS (see the module docstring).
    rename: maps a 3D leaf path ('params/trunk/Conv3d_1a_7x7/conv_3d/kernel') to the 2D
      path holding its source; identity when None.

  Returns:
    A pytree with target's structure holding numpy arrays.

  Raises:
    ValueError: an unknown `method`, or a leaf whose shapes do not match.
    KeyError: a 3D leaf with no 2D source, naming both paths.
  """
  if method not in METHODS:
    raise ValueError(f'method={method!r}; allowed values: {METHODS}.')
  flat_2d = {_path_name(p): v for p, v in jax.tree_util.tree_leaves_with_path(params_2d)}

  def one(path, leaf):
    name = _path_name(path)
    source = rename(name) if rename else name
    if source not in flat_2d:
      raise KeyError(f'3D leaf {name!r} has no 2D source {source!r} in the 2D variables.')
    try:
      return inflate_leaf(flat_2d[source], leaf.shape, method)
    except ValueError as e:
      raise ValueError(f'{name!r} from {source!r}: {e}') from None

  return jax.tree_util.tree_map_with_path(one, target)


# `config.init_from.rename` from a 2D ResNet image classifier (`single_frame`, whose trunk
# is named 'resnet') to the `video_resnet` it inflates to: block='r3d' (or an MCx / rMCx)
# with stem_pool=True, the 3D network of the same depth and width, torchvision's max-pool
# included. The classifier 'fc' keeps its name.
RESNET2D_TO_VIDEO_RESNET = (
  (r'stem/conv/(.*)', r'resnet/conv1/\1'),
  (r'stem/bn/(.*)', r'resnet/bn1/\1'),
  (r'(layer\d+_\d+/.*)', r'resnet/\1'),
)
