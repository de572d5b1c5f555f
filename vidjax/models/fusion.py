"""Karpathy et al. (CVPR 2014) time-fusion networks: late, early, slow and multi-resolution.

Every variant shares the paper's single-frame tower
C(96,11,3)-N-P-C(256,5,1)-N-P-C(384,3,1)-C(384,3,1)-C(256,3,1)-P-FC(4096)-FC(4096), where
C(d,f,s) is a conv with d filters of f x f at stride s, N local response normalisation and
P 2x2 max pooling (cuda-convnet's ceil mode, which makes the 89 x 89 multi-resolution
streams end at 7 x 7 x 256 as the paper states). The variants differ in where time is merged:

  late       two frames `frame_gap` (15) apart through shared towers up to the last pool,
             concatenated at the first FC.
  late_pool  every frame through the shared tower, conv features average-pooled over space
             and time, then the FCs.
  early      the centre `fusion_frames` (10) frames with time as channels: the first kernel is
             11 x 11 x (3 T), i.e. it spans all T frames.
  slow       the centre `fusion_frames` (10) frames; conv1 has temporal extent 4 stride 2
             (10 -> 4 frames), conv2 and conv3 extent 2 stride 2 (4 -> 2 -> 1).
  multires   per frame, a context stream on the frame downsampled 2x and a fovea stream on the
             centre crop at full resolution (both H/2 x W/2, separate weights, last pool
             removed), concatenated before the FCs; per-frame probabilities are averaged.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models.layers import Conv

VARIANTS = ('late', 'late_pool', 'early', 'slow', 'multires')
# (features, kernel, stride) of conv1..conv5 of the single-frame tower.
TOWER = ((96, 11, 3), (256, 5, 1), (384, 3, 1), (384, 3, 1), (256, 3, 1))
# Temporal (extent, stride) of slow fusion's conv1..conv3; conv4 and conv5 see one frame.
SLOW_TIME = ((4, 2), (2, 2), (2, 2))


def local_response_norm(
  x: jax.Array, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0
) -> jax.Array:
  """AlexNet's cross-channel LRN: x / (k + alpha / size * sum_{window} x^2)^beta.

  Args:
    x: [..., C].
    size: number of neighbouring channels in the window (centred).
    alpha, beta, k: the normalisation constants (AlexNet's defaults).

  Returns:
    [..., C], same dtype.
  """
  sq = jnp.square(x)
  half = size // 2
  padded = jnp.pad(sq, [(0, 0)] * (x.ndim - 1) + [(half, size - 1 - half)])
  window = sum(padded[..., i : i + x.shape[-1]] for i in range(size))
  return x / jnp.power(k + (alpha / size) * window, beta)


def max_pool_ceil(x: jax.Array, window: Sequence[int], strides: Sequence[int]) -> jax.Array:
  """Max pooling in Caffe/cuda-convnet ceil mode (at least one output per dimension).

  Args:
    x: [B, *spatial, C].
    window: one window size per spatial dim.
    strides: one stride per spatial dim.

  Returns:
    [B, *out, C] with out = max(1, ceil((n - k) / s) + 1).
  """
  pads = []
  for n, k, s in zip(x.shape[1:-1], window, strides, strict=True):
    out = max(1, -(-(n - k) // s) + 1)
    pads.append((0, max(0, (out - 1) * s + k - n)))
  return nn.max_pool(x, tuple(window), tuple(strides), padding=pads)


class Tower(nn.Module):
  """conv1..conv5 of the single-frame net, for frames or (slow fusion) short clips.

  Attributes:
    width: channels of conv1..conv5 are TOWER's scaled by width / 96.
    temporal: per conv, (extent, stride) in time, or None for a 2D conv on frames.
    final_pool: whether to apply the pool after conv5 (multires streams drop it).
    conv: Conv partial.
  """

  width: int
  temporal: Sequence[tuple[int, int] | None]
  final_pool: bool
  conv: Callable[..., nn.Module]

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[N, H, W, C] (2D) or [N, T, H, W, C] (slow) -> [N, (T',) H', W', width * 256 / 96]."""
    layers = zip(TOWER, self.temporal, strict=True)
    for i, ((features, kernel, stride), time) in enumerate(layers, 1):
      features = max(1, features * self.width // 96)
      # conv1 is 'valid' in the paper (170 -> 54, 89 -> 27); the others keep the size.
      pad = (0, 0) if i == 1 else (kernel // 2, kernel // 2)
      if time is None:
        x = self.conv(features, (kernel, kernel), stride, (pad, pad), name=f'conv{i}')(x)
      else:
        kt, st = time
        x = self.conv(
          features, (kt, kernel, kernel), (st, stride, stride), ((0, 0), pad, pad), name=f'conv{i}'
        )(x)
      x = nn.relu(x)
      if i in (1, 2):
        x = local_response_norm(x)
      if i in (1, 2) or (i == 5 and self.final_pool):
        spatial = (1,) * (x.ndim - 4)  # No pooling over time (slow fusion).
        x = max_pool_ceil(x, (*spatial, 2, 2), (*spatial, 2, 2))
    return x


def centre_frames(x: jax.Array, num: int, name: str) -> jax.Array:
  """The `num` centre frames of [B, T, ...]; raises if the clip is shorter."""
  t = x.shape[1]
  if t < num:
    raise ValueError(f'{name}={num} needs clips of at least {num} frames, got T={t}.')
  start = (t - num) // 2
  return x[:, start : start + num]


def late_fusion_frames(num_frames: int, frame_gap: int) -> tuple[int, int]:
  """Indices of late fusion's two frames: `frame_gap` apart, centred in the clip."""
  if num_frames <= frame_gap:
    raise ValueError(f'frame_gap={frame_gap} needs clips of more than {frame_gap} frames.')
  first = (num_frames - 1 - frame_gap) // 2
  return first, first + frame_gap


class Model(nn.Module):
  """Karpathy et al. fusion network; `variant` chooses where time is merged.

  Attributes:
    num_classes: number of output classes.
    variant: one of VARIANTS (see the module docstring).
    width: conv1 channels (96 in the paper); all convs scale with it.
    fc_width: width of FC6 and FC7 (4096 in the paper).
    fusion_frames: T of early and slow fusion (10 in the paper).
    frame_gap: distance between late fusion's two frames (15 in the paper).
    dropout_rate: dropout after FC6 and FC7.
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  num_classes: int
  variant: str = 'slow'
  width: int = 96
  fc_width: int = 4096
  fusion_frames: int = 10
  frame_gap: int = 15
  dropout_rate: float = 0.5
  dtype: Any = 'float32'
  lowering: str = 'auto'

  def __post_init__(self):
    if self.variant not in VARIANTS:
      raise ValueError(f'variant={self.variant!r}; allowed values: {VARIANTS}.')
    super().__post_init__()

  def _head(self, x: jax.Array, train: bool, dtype: Any) -> tuple[jax.Array, jax.Array]:
    """FC6 -> FC7 -> classifier on [N, D]; returns logits [N, K] and FC7 features [N, F]."""
    for name in ('fc6', 'fc7'):
      x = nn.relu(nn.Dense(self.fc_width, dtype=dtype, name=name)(x))
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    if self.num_classes == 0:  # the backbone alone: the FC7 features are the output
      return x, x
    return nn.Dense(self.num_classes, dtype=dtype, name='fc8')(x), x

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips.

    Args:
      x: normalised video [B, T, H, W, 3].
      train: dropout on (True) or off.

    Returns:
      logits [B, num_classes] (float32; for 'multires' the log of the frame-averaged
      probabilities) and aux {'features': FC7 activations [B, fc_width]}.
    """
    dtype = jnp.dtype(self.dtype)
    conv = functools.partial(Conv, dtype=dtype, lowering=self.lowering)
    x = jnp.asarray(x, dtype)
    b = x.shape[0]
    aux = {}
    if self.variant == 'late':
      i, j = late_fusion_frames(x.shape[1], self.frame_gap)
      tower = Tower(self.width, (None,) * 5, True, conv, name='tower')  # Shared weights.
      feats = [tower(x[:, k]).reshape(b, -1) for k in (i, j)]
      logits, features = self._head(jnp.concatenate(feats, axis=-1), train, dtype)
    elif self.variant == 'late_pool':
      t = x.shape[1]
      y = Tower(self.width, (None,) * 5, True, conv, name='tower')(x.reshape(b * t, *x.shape[2:]))
      pooled = jnp.mean(y.reshape(b, t, *y.shape[1:]), axis=(1, 2, 3))
      logits, features = self._head(pooled, train, dtype)
    elif self.variant == 'early':
      clip = centre_frames(x, self.fusion_frames, 'fusion_frames')
      # Time as channels, frame-major: channel t * C + c holds frame t's channel c.
      frames = jnp.moveaxis(clip, 1, 3).reshape(b, *clip.shape[2:4], -1)
      y = Tower(self.width, (None,) * 5, True, conv, name='tower')(frames)
      logits, features = self._head(y.reshape(b, -1), train, dtype)
    elif self.variant == 'slow':
      clip = centre_frames(x, self.fusion_frames, 'fusion_frames')
      y = Tower(self.width, (*SLOW_TIME, (1, 1), (1, 1)), True, conv, name='tower')(clip)
      logits, features = self._head(y.reshape(b, -1), train, dtype)
    else:  # multires
      t, h, w = x.shape[1:4]
      frames = x.reshape(b * t, h, w, x.shape[-1])
      context = nn.avg_pool(frames, (2, 2), (2, 2))
      top, left = (h - h // 2) // 2, (w - w // 2) // 2
      fovea = frames[:, top : top + h // 2, left : left + w // 2]
      streams = []
      for name, inp in (('context', context), ('fovea', fovea)):
        y = Tower(self.width, (None,) * 5, False, conv, name=name)(inp)
        streams.append(y.reshape(b * t, -1))
      logits, features = self._head(jnp.concatenate(streams, axis=-1), train, dtype)
      features = jnp.mean(features.reshape(b, t, -1), axis=1)
      if self.num_classes == 0:
        return features, {'features': features}
      # Video prediction = average of per-frame probabilities, as in the paper's evaluation.
      log_probs = jax.nn.log_softmax(jnp.asarray(logits, jnp.float32)).reshape(b, t, -1)
      logits = jax.nn.logsumexp(log_probs, axis=1) - jnp.log(t)
    aux['features'] = features
    return jnp.asarray(logits, jnp.float32), aux
