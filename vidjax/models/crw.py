"""The contrastive random walk's network (Jabri, Owens & Efros, NeurIPS 2020).

As ajabri/videowalk's `model.py` and `resnet.py`: every node (a patch of a frame) goes
through a ResNet-18 whose layer3 and layer4 run at stride 1 (output stride 8) with
reflect padding (the `scratch` encoder); its feature map is averaged over space, mapped to
128 dimensions by one linear layer (`head_depth=0`) and L2-normalised. The walk over those
embeddings is the task's (`tasks/crw.py`). At test time labels are propagated with the
same network's layer3 feature map of whole frames (`frame_features`), layer4 left out.
"""

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models.resnet import DEPTHS, ResNet2D

# The stages that run for propagation: up to layer3, as videowalk's test code.
PROPAGATION_STAGES = 3


class Model(nn.Module):
  """Patch encoder and embedding head.

  Attributes:
    depth: ResNet depth (18 in the paper).
    width: channels of the first stage.
    embed_dim: dimension of the node embeddings (128).
    padding_mode: 'reflect' (the paper's encoder from scratch) or 'zeros'.
    dtype: computation dtype name.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  depth: int = 18
  width: int = 64
  embed_dim: int = 128
  padding_mode: str = 'reflect'
  dtype: Any = 'float32'
  lowering: str = 'auto'

  def setup(self):
    if self.depth not in DEPTHS:
      raise ValueError(f'depth={self.depth!r}; allowed values: {DEPTHS}.')
    dtype = jnp.dtype(self.dtype)
    self.resnet = ResNet2D(
      self.depth,
      self.width,
      dtype,
      self.lowering,
      stage_strides=(1, 2, 1, 1),
      pool=False,
      padding_mode=self.padding_mode,
    )
    # torch.nn.Linear's weight init, U(+-1/sqrt(fan_in)); the bias starts at 0.
    self.head = nn.Dense(
      self.embed_dim,
      dtype=dtype,
      kernel_init=nn.initializers.variance_scaling(1 / 3, 'fan_in', 'uniform'),
    )

  def __call__(self, x, *, train: bool) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Node embeddings, as videowalk's `pixels_to_nodes`.

    Args:
      x: normalised patches [B, T, N, P, P, 3] (N patches of each of T frames: a node per
        patch, its feature map averaged), or whole frames [B, T, H, W, 3] (a node per
        position of the feature map), or `models.model_inputs`'s {'video': either}.
      train: batch statistics (True) or running averages (False).

    Returns:
      float32 embeddings [B, T, N, embed_dim], L2-normalised, and aux {'embeddings': the same}.
    """
    x = x['video'] if isinstance(x, Mapping) else x
    b, t = x.shape[:2]
    images = jnp.asarray(x, jnp.dtype(self.dtype)).reshape(-1, *x.shape[-3:])
    maps = self.resnet(images, train=train)
    if x.ndim == 6:  # patches: one node each
      nodes = self.head(jnp.mean(maps, axis=(1, 2))).reshape(b, t, x.shape[2], -1)
    else:  # frames: one node per map position
      nodes = self.head(maps).reshape(b, t, -1, self.embed_dim)
    nodes = jnp.asarray(nodes, jnp.float32)
    embeddings = nodes / jnp.maximum(jnp.linalg.norm(nodes, axis=-1, keepdims=True), 1e-12)
    return embeddings, {'embeddings': embeddings}

  def frame_features(self, frames: jax.Array) -> jax.Array:
    """layer3 feature maps [B, ceil(H/8), ceil(W/8), 4 * width] of normalised frames
    [B, H, W, 3], in evaluation mode: what labels are propagated with."""
    maps = self.resnet(
      jnp.asarray(frames, jnp.dtype(self.dtype)), train=False, stages=PROPAGATION_STAGES
    )
    return jnp.asarray(maps, jnp.float32)
