"""C3D (Tran et al., ICCV 2015): eight 3x3x3 convolutions and two FC-4096 layers.

Layout of the released Caffe model (input 16 x 112 x 112, names as in its prototxt):

  conv1a 64 - pool1 1x2x2 - conv2a 128 - pool2 2x2x2 - conv3a, conv3b 256 - pool3 2x2x2 -
  conv4a, conv4b 512 - pool4 2x2x2 - conv5a, conv5b 512 - pool5 2x2x2 - fc6 4096 - fc7 4096 - fc8

All convolutions are 3x3x3 with stride 1 and padding 1 (with bias, no BatchNorm, as in the
paper). Pools use Caffe's ceil mode, so pool5 maps 2 x 7 x 7 to 1 x 4 x 4 and fc6 sees
512 * 16 = 8192 inputs at the standard input size. `aux['fc6']` is the paper's video
descriptor (fc6 after ReLU, averaged over clips and L2-normalised by the user).
"""

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import heads
from vidjax.models.fusion import max_pool_ceil
from vidjax.models.layers import Conv

# (name, channels at width 64) per conv; a pool follows the last conv of every group.
CONV_GROUPS = (
  (('conv1a', 64),),
  (('conv2a', 128),),
  (('conv3a', 256), ('conv3b', 256)),
  (('conv4a', 512), ('conv4b', 512)),
  (('conv5a', 512), ('conv5b', 512)),
)


class Model(nn.Module):
  """C3D video classifier.

  Attributes:
    num_classes: number of output classes (487 for Sports-1M, 101 for UCF101).
    width: conv1a channels (64 in the paper); every conv scales with width / 64.
    fc_width: width of fc6 and fc7 (4096 in the paper).
    dropout_rate: dropout after fc6 and fc7 (0.5 in the paper).
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  num_classes: int
  width: int = 64
  fc_width: int = 4096
  dropout_rate: float = 0.5
  dtype: Any = 'float32'
  lowering: str = 'auto'

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips.

    Args:
      x: normalised video [B, 16, 112, 112, 3] (other sizes work; fc6's input size follows).
      train: dropout on (True) or off.

    Returns:
      logits [B, num_classes] (float32) and aux {'features': fc7 [B, fc_width],
      'fc6': fc6 after ReLU [B, fc_width]}.
    """
    dtype = jnp.dtype(self.dtype)
    conv = functools.partial(
      Conv, kernel_size=(3, 3, 3), padding=1, dtype=dtype, lowering=self.lowering
    )
    x = jnp.asarray(x, dtype)
    for i, group in enumerate(CONV_GROUPS):
      for name, features in group:
        x = nn.relu(conv(max(1, features * self.width // 64), name=name)(x))
      # pool1 keeps time so that early layers do not merge temporal signal too soon.
      window = (1, 2, 2) if i == 0 else (2, 2, 2)
      x = max_pool_ceil(x, window, window)
    x = x.reshape(x.shape[0], -1)
    fc6 = nn.relu(nn.Dense(self.fc_width, dtype=dtype, name='fc6')(x))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(fc6)
    fc7 = nn.relu(nn.Dense(self.fc_width, dtype=dtype, name='fc7')(x))
    return heads.classifier_output(
      fc7,
      {'fc6': fc6},
      num_classes=self.num_classes,
      dropout_rate=self.dropout_rate,
      train=train,
      name='fc8',
      dtype=dtype,
      kernel_init=nn.initializers.lecun_normal(),
    )
