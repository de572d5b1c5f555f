"""The heads of the zoo: one classifier head and a multi-head, shared by every model.

Every backbone ends in `classifier_output`: with `num_classes` > 0 it applies the
classifier head (dropout, then a linear layer; float32 logits), with `num_classes=0` it
builds no head and returns the pooled features as the model's output, so that any model
can be a backbone (multi-modal fusion, self-supervised pretext tasks, linear probes). The
features are in `aux['features']` either way.

The head is written as a function called inside the model's `@nn.compact` method, so its
layers are named in the model's own scope ('fc/kernel', 'blocks_5_proj/bias') exactly
as the published checkpoints that `vidjax.convert` imports name them.

Heads read features of any leading shape ([B, D], or [B, N, D] for N actors' RoI
features), so one definition serves clip, multi-task and region classification.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

# PySlowFast's and torchvision's video models initialise the classifier with N(0, 0.01).
HEAD_INIT = nn.initializers.normal(0.01)


def classifier_output(
  features: jax.Array,
  aux: dict[str, Any],
  *,
  num_classes: int,
  dropout_rate: float,
  train: bool,
  name: str,
  dtype: Any = jnp.float32,
  kernel_init: Callable = HEAD_INIT,
) -> tuple[jax.Array, dict[str, Any]]:
  """A backbone's (output, aux): classifier logits, or its features with num_classes=0.

  Call it inside a model's `@nn.compact` method.

  Args:
    features: pooled features [..., D].
    aux: the model's other auxiliary outputs; 'features' is added.
    num_classes: the classifier's width; 0 builds no head.
    dropout_rate: dropout before the linear layer (training only).
    train: whether dropout is on.
    name: the linear layer's name in the model (checkpoint compatibility).
    dtype: the computation dtype; logits are returned in float32.
    kernel_init: the linear layer's initialiser.

  Returns:
    (logits [..., num_classes] float32, or `features`; aux with 'features').
  """
  aux = {**aux, 'features': features}
  if num_classes == 0:
    return features, aux
  dropped = nn.Dropout(dropout_rate, deterministic=not train)(features)
  logits = nn.Dense(num_classes, dtype=dtype, kernel_init=kernel_init, name=name)(dropped)
  return jnp.asarray(logits, jnp.float32), aux


class MultiHead(nn.Module):
  """One classifier head per task or modality on shared features: {name: logits}.

  Attributes:
    num_classes: head name -> number of classes.
    dropout_rate: dropout before every head (training only).
  """

  num_classes: Mapping[str, int]
  dropout_rate: float = 0.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, features: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    """features [..., D] -> {name: float32 logits [..., num_classes[name]]}."""
    dropped = nn.Dropout(self.dropout_rate, deterministic=not train)(features)
    return {
      name: jnp.asarray(
        nn.Dense(width, dtype=self.dtype, kernel_init=HEAD_INIT, name=name)(dropped), jnp.float32
      )
      for name, width in self.num_classes.items()
    }
