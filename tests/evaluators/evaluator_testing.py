"""Helpers the evaluator tests share: a cheap deterministic model and its train state."""

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax import train


class MeanColour(nn.Module):
  """Logits from the mean colour of each frame: cheap, deterministic, view-dependent."""

  num_classes: int = 10

  @nn.compact
  def __call__(self, video, *, train):
    features = video.mean(axis=(2, 3)).reshape(video.shape[0], -1)
    return nn.Dense(self.num_classes)(features), {'features': features}


def initial_state(model, shape=(1, 4, 28, 28, 3)) -> train.TrainState:
  """A TrainState of `model`'s initial parameters (as the evaluators receive it)."""
  variables = model.init(jax.random.key(0), jnp.zeros(shape), train=False)
  return train.TrainState(
    step=jnp.zeros((), jnp.int32),
    params=variables['params'],
    batch_stats={},
    opt_state={},
    task_state={},
  )
