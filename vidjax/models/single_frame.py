"""Single-frame baseline (Karpathy et al., CVPR 2014): a 2D CNN applied to every frame.

The per-frame class probabilities are averaged over the clip, as the paper does at test
time. The 2D CNN is torchvision's ResNet rather than the paper's AlexNet-style network, so
that ImageNet weights can be imported (tools/convert_checkpoint.py --source torchvision
--arch resnet50). The same model classifies images (the `image` loader's batches, as
one-frame clips): it is the image classifier that DistInit distils and inflates.
"""

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models.resnet import DEPTHS, ResNet2D

# The classifier's variables: what fine-tuning from another task leaves out.
CLASSIFIER = r'fc/.*'


class Model(nn.Module):
  """Frame-wise 2D ResNet with probability averaging over frames.

  Attributes:
    num_classes: number of output classes.
    depth: ResNet depth: 10, 18, 34 (basic blocks); 14, 50, 152 (bottlenecks).
    width: channels of stage 1; stages have width * (1, 2, 4, 8) (4x that output with
      bottlenecks).
    dropout_rate: dropout before the classifier.
    dtype: computation dtype name, e.g. 'float32' or 'bfloat16'.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  num_classes: int
  depth: int = 18
  width: int = 64
  dropout_rate: float = 0.0
  dtype: Any = 'float32'
  lowering: str = 'auto'

  # A video batch, an image batch (images are one-frame clips), or a bare video array.
  any_input_keys = ('video', 'image')

  def __post_init__(self):
    if self.depth not in DEPTHS:
      raise ValueError(f'depth={self.depth!r}; allowed values: {DEPTHS}.')
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips from their frames.

    Args:
      x: normalised video [B, T, H, W, 3], or `models.model_inputs`'s {'video': ...} or
        {'image': [B, H, W, 3]}.
      train: batch statistics and dropout on (True) or running averages (False).

    Returns:
      logits [B, num_classes]: log of the frame-averaged softmax (float32), and aux with
      'frame_logits' [B, T, num_classes] (for per-frame training losses) and 'features'
      [B, 8 * width] (frame-averaged pooled features; 32 * width with bottlenecks).
    """
    if isinstance(x, Mapping):
      x = x['video'] if 'video' in x else x['image'][:, None]
    b, t = x.shape[:2]
    dtype = jnp.dtype(self.dtype)
    frames = jnp.asarray(x, dtype).reshape(b * t, *x.shape[2:])
    features = ResNet2D(self.depth, self.width, dtype, self.lowering, name='resnet')(
      frames, train=train
    )
    if self.num_classes == 0:  # the backbone alone: frame-averaged features
      pooled = jnp.mean(features.reshape(b, t, -1), axis=1)
      return pooled, {'features': pooled}
    h = nn.Dropout(self.dropout_rate, deterministic=not train)(features)
    # torchvision's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias starts at 0.
    frame_logits = nn.Dense(
      self.num_classes,
      dtype=dtype,
      kernel_init=nn.initializers.variance_scaling(1 / 3, 'fan_in', 'uniform'),
      name=CLASSIFIER.split('/')[0],
    )(h)
    frame_logits = jnp.asarray(frame_logits, jnp.float32).reshape(b, t, self.num_classes)
    # log(mean_t softmax) computed in log space, stable for confident frames.
    logits = jax.nn.logsumexp(jax.nn.log_softmax(frame_logits), axis=1) - jnp.log(t)
    aux = {
      'frame_logits': frame_logits,
      'features': jnp.mean(features.reshape(b, t, -1), axis=1),
    }
    return logits, aux
