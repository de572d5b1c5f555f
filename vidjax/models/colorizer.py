"""The colourisation tracker's network (Vondrick et al., ECCV 2018).

As the paper describes it: a ResNet-18 on each grayscale frame, modified to keep an output
stride of 8 (32 x 32 positions at 256 pixels; here layers 3 and 4 at stride 1, as the
contrastive random walk's encoder), the position of each cell as two coordinates in
[-1, 1] concatenated to its features "to give the features global spatial information",
then a five-layer 3D convolutional network to a 64-dimensional embedding per position
and frame. The paper gives no widths or kernels for the 3D network; here four 3 x 3 x 3
convolutions of `conv3d_width` channels with BatchNorm and ReLU and a final 1 x 1 x 1
convolution to `embed_dim`, without normalisation (the attention reads dot products).
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models.resnet import DEPTHS, ResNet2D


class Model(nn.Module):
  """Per-frame ResNet, positional channels, 3D convolutions: embeddings [B, T, h, w, D].

  Attributes:
    depth: ResNet depth (18 in the paper).
    width: channels of the ResNet's first stage.
    conv3d_layers: layers of the 3D network, the last being the 1 x 1 x 1 projection.
    conv3d_width: channels of its hidden layers.
    embed_dim: embedding dimension (64).
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  depth: int = 18
  width: int = 64
  conv3d_layers: int = 5
  conv3d_width: int = 256
  embed_dim: int = 64
  dtype: Any = 'float32'
  lowering: str = 'auto'

  @nn.compact
  def __call__(self, x, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Args:
      x: [B, T, H, W, C] whose first channel is the lightness the task gives (L / 50 - 1;
        `tasks/colorization.py`); further channels, as in the trainer's RGB-shaped
        initialisation batch, are not read.
      train: batch statistics (True) or running averages (False).

    Returns:
      float32 embeddings [B, T, H / 8, W / 8, embed_dim] and aux {'embeddings': the same}.
    """
    if self.depth not in DEPTHS or self.conv3d_layers < 1:
      raise ValueError(
        f'depth={self.depth!r} (one of {DEPTHS}) and conv3d_layers={self.conv3d_layers} '
        '(at least 1).'
      )
    dtype = jnp.dtype(self.dtype)
    b, t = x.shape[:2]
    frames = jnp.asarray(x[..., :1], dtype).reshape(-1, *x.shape[2:4], 1)
    maps = ResNet2D(
      self.depth, self.width, dtype, self.lowering, stage_strides=(1, 2, 1, 1), pool=False
    )(frames, train=train)
    h, w = maps.shape[1:3]
    ys, xs = jnp.meshgrid(jnp.linspace(-1, 1, h), jnp.linspace(-1, 1, w), indexing='ij')
    position = jnp.broadcast_to(jnp.stack([ys, xs], axis=-1).astype(dtype), (b * t, h, w, 2))
    y = jnp.concatenate([maps, position], axis=-1).reshape(b, t, h, w, -1)
    for layer in range(self.conv3d_layers - 1):
      y = nn.Conv(
        self.conv3d_width, (3, 3, 3), use_bias=False, dtype=dtype, name=f'conv3d_{layer}'
      )(y)
      y = nn.BatchNorm(use_running_average=not train, dtype=dtype, name=f'bn3d_{layer}')(y)
      y = nn.relu(y)
    embeddings = nn.Conv(self.embed_dim, (1, 1, 1), dtype=dtype, name='embed')(y)
    embeddings = jnp.asarray(embeddings, jnp.float32)
    return embeddings, {'embeddings': embeddings}
