"""LRCN (Donahue et al., CVPR 2015): a per-frame CNN feeding an LSTM, predictions averaged.

The activity-recognition model of the paper: every frame goes through CaffeNet up to fc6
(conv1 96 11x11/4 - pool - LRN - conv2 256 5x5 (2 groups) - pool - LRN - conv3 384 -
conv4 384 (2 groups) - conv5 256 (2 groups) - pool - fc6 4096, Caffe ceil-mode pooling),
the fc6 sequence feeds a 256-unit LSTM, a classifier reads every time step, and the video's
prediction is the average of the per-step probabilities.
"""

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models.fusion import local_response_norm, max_pool_ceil
from vidjax.models.layers import Conv

# (name, channels at width 96, kernel, stride, groups) of CaffeNet's convolutions.
CAFFENET = (
  ('conv1', 96, 11, 4, 1),
  ('conv2', 256, 5, 1, 2),
  ('conv3', 384, 3, 1, 1),
  ('conv4', 384, 3, 1, 2),
  ('conv5', 256, 3, 1, 2),
)


class CaffeNet(nn.Module):
  """CaffeNet up to fc6 (ReLU), applied to frames.

  Attributes:
    width: conv1 channels (96); convs scale with width / 96; a multiple of 6 keeps the
      grouped convolutions' channel counts divisible.
    fc_width: fc6 width (4096).
    dtype: computation dtype.
    lowering: convolution lowering.
  """

  width: int = 96
  fc_width: int = 4096
  dtype: Any = jnp.float32
  lowering: str = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[N, H, W, 3] (227 x 227 in the paper) -> fc6 [N, fc_width]."""
    conv = functools.partial(Conv, dtype=self.dtype, lowering=self.lowering)
    for name, features, kernel, stride, groups in CAFFENET:
      pad = 0 if name == 'conv1' else kernel // 2
      features = features * self.width // 96
      x = conv(features, (kernel, kernel), stride, pad, feature_group_count=groups, name=name)(x)
      x = nn.relu(x)
      if name in ('conv1', 'conv2', 'conv5'):
        x = max_pool_ceil(x, (3, 3), (2, 2))
      if name in ('conv1', 'conv2'):
        x = local_response_norm(x)
    x = x.reshape(x.shape[0], -1)
    return nn.relu(nn.Dense(self.fc_width, dtype=self.dtype, name='fc6')(x))


class Model(nn.Module):
  """LRCN video classifier.

  Attributes:
    num_classes: number of output classes.
    width: CaffeNet conv1 channels (96 in the paper; multiple of 6).
    fc_width: fc6 width (4096 in the paper).
    hidden: LSTM units (256 in the paper).
    dropout_rate: dropout on fc6 and on the LSTM outputs.
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  num_classes: int
  width: int = 96
  fc_width: int = 4096
  hidden: int = 256
  dropout_rate: float = 0.5
  dtype: Any = 'float32'
  lowering: str = 'auto'

  def __post_init__(self):
    if self.width % 6:
      raise ValueError(f'width={self.width} must be a multiple of 6 (grouped convolutions).')
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips.

    Args:
      x: normalised video [B, T, H, W, 3].
      train: dropout on (True) or off.

    Returns:
      logits [B, num_classes]: log of the time-averaged per-step probabilities (float32);
      aux {'features': LSTM outputs averaged over time [B, hidden], 'step_logits':
      per-step logits [B, T, num_classes] for the paper's per-step training loss}.
    """
    dtype = jnp.dtype(self.dtype)
    b, t = x.shape[:2]
    frames = jnp.asarray(x, dtype).reshape(b * t, *x.shape[2:])
    fc6 = CaffeNet(self.width, self.fc_width, dtype, self.lowering, name='cnn')(frames)
    fc6 = nn.Dropout(self.dropout_rate, deterministic=not train)(fc6).reshape(b, t, -1)
    # The recurrence runs in float32: bfloat16 state drifts over long sequences.
    h = nn.RNN(nn.OptimizedLSTMCell(self.hidden, name='lstm'))(jnp.asarray(fc6, jnp.float32))
    if self.num_classes == 0:  # the backbone alone: time-averaged LSTM outputs
      features = jnp.mean(h, axis=1)
      return features, {'features': features}
    y = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    step_logits = jnp.asarray(nn.Dense(self.num_classes, name='fc8')(y), jnp.float32)
    log_probs = jax.nn.log_softmax(step_logits)
    logits = jax.nn.logsumexp(log_probs, axis=1) - jnp.log(t)
    return logits, {'features': jnp.mean(h, axis=1), 'step_logits': step_logits}
