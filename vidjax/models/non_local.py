"""Non-local blocks (Wang et al., CVPR 2018, arXiv 1711.07971): embedded Gaussian or dot product.

Follows PySlowFast's `slowfast.models.nonlocal_helper.Nonlocal`: theta, phi and g are
1x1x1 convolutions (with bias) to `inner_features` channels (half the input's in
PySlowFast); phi and g read the input max-pooled by `pool_size` (the paper's sub-sampling;
PySlowFast pools the input of the two convolutions, not their outputs), which cuts the cost
of the attention by the pooling factor. Every position attends to every pooled position,
with weights softmax(theta . phi / sqrt(inner_features)) (instantiation 'softmax', the
embedded Gaussian) or theta . phi / N over the N pooled positions ('dot_product', the
paper's dot-product form, which PySlowFast's Caffe2 AVA models use); the attended g goes
through a 1x1x1 output convolution back to the input's channels and a BatchNorm whose scale
starts at zero, so that the block is the identity at initialisation and can be inserted
into a pretrained network (the paper's Sec. 4.1).

Flax names map onto PySlowFast's state dict: conv_theta, conv_phi, conv_g, conv_out, bn
(the BN of `pathway{p}_nonlocal{b}` in `s{stage}`).
"""

import functools
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

ModuleDef = Callable[..., nn.Module]
INSTANTIATIONS = ('softmax', 'dot_product')


class NonLocal(nn.Module):
  """Non-local block with a residual connection.

  The attention weights [B, T*H*W, T'*H'*W'] are sown as intermediates/'attention'
  (`model.apply(..., mutable=['intermediates'])` returns them).

  Attributes:
    inner_features: channels of theta, phi and g (PySlowFast: input channels // 2).
    conv: Conv partial (the model's; the block's convolutions add a bias, as PySlowFast's).
    norm: BatchNorm partial (its scale is initialised to zero here).
    pool_size: (t, h, w) max-pool window and stride applied before phi and g; (1, 1, 1)
      for none. PySlowFast's Kinetics configs use (1, 2, 2).
    instantiation: 'softmax' or 'dot_product' (see the module docstring).
  """

  inner_features: int
  conv: ModuleDef
  norm: ModuleDef
  pool_size: Sequence[int] = (1, 1, 1)
  instantiation: str = 'softmax'

  def __post_init__(self):
    if self.instantiation not in INSTANTIATIONS:
      raise ValueError(
        f'non-local instantiation={self.instantiation!r}; allowed values: {INSTANTIATIONS}.'
      )
    super().__post_init__()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, T, H, W, C] -> [B, T, H, W, C]."""
    pointwise = functools.partial(
      self.conv, self.inner_features, (1, 1, 1), 1, 'VALID', use_bias=True
    )
    theta = pointwise(name='conv_theta')(x)
    pool_size = tuple(self.pool_size)
    pooled = nn.max_pool(x, pool_size, pool_size) if any(p > 1 for p in pool_size) else x
    phi = pointwise(name='conv_phi')(pooled)
    g = pointwise(name='conv_g')(pooled)
    batch = x.shape[0]
    theta = theta.reshape(batch, -1, self.inner_features)
    phi = phi.reshape(batch, -1, self.inner_features)
    g = g.reshape(batch, -1, self.inner_features)
    affinity = jnp.einsum('bqc,bkc->bqk', theta, phi)
    if self.instantiation == 'softmax':
      attention = jax.nn.softmax(affinity * self.inner_features**-0.5, axis=-1)
    else:
      attention = affinity / affinity.shape[-1]
    self.sow('intermediates', 'attention', attention)
    y = jnp.einsum('bqk,bkc->bqc', attention, g).reshape(*x.shape[:-1], self.inner_features)
    y = self.conv(x.shape[-1], (1, 1, 1), 1, 'VALID', use_bias=True, name='conv_out')(y)
    y = self.norm(scale_init=nn.initializers.zeros, name='bn')(y)
    return x + y
