"""A task that reads two sources (for the trainer's multi-source tests).

Used as `config.task='tests.two_source_task'` with config.input.sources `video` (clips)
and `image` (single images): the video model classifies both, an image as a clip of one
frame repeated, and the loss is the sum of the two cross-entropies.
"""

import jax.numpy as jnp
import optax

from vidjax.tasks import base


class Task(base.Task):
  batch_keys = ('video', 'image', 'label')

  def __init__(self, *, num_frames: int):
    self.num_frames = num_frames

  def loss_and_metrics(self, model, variables, batch, ctx):
    images = batch['image']['image']
    as_clips = jnp.repeat(images[:, None], self.num_frames, axis=1)
    inputs = {'video': jnp.concatenate([batch['video']['video'], as_clips])}
    labels = jnp.concatenate([batch['video']['label'], batch['image']['label']])
    (logits, _), model_state = self.apply(model, variables, inputs, ctx)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    num_videos = batch['video']['label'].shape[0]
    metrics = {
      'loss': losses.mean(),
      'video_loss': losses[:num_videos].mean(),
      'image_loss': losses[num_videos:].mean(),
    }
    return losses.mean(), (model_state, metrics)
