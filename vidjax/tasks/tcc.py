"""`tcc`: temporal cycle-consistency (Dwibedi et al., CVPR 2019; google-research `tcc/`).

As `tcc/deterministic_alignment.py` and `tcc/losses.py` compute it. For every ordered pair
(i, j) of videos in the batch (N (N - 1) alignments), each timestep's embedding u_t of
video i finds its soft nearest neighbour in video j,

  v~_t = sum_s softmax_s(sim(u_t, v_s)) v_s,      sim(a, b) = -||a - b||^2 / D / temperature,

and cycles back: logits_ts = sim(v~_t, u_s), which should point at t itself. The losses:

- 'regression_mse_var' (the default): beta = softmax(logits), with the timesteps' times
  (their frame indices divided by the video's length), mu = sum beta time,
  sigma^2 = sum beta (time - mu)^2, loss = mean[exp(-log sigma^2) (time_t - mu)^2 +
  lambda log sigma^2], lambda = 0.001;
- 'regression_mse': mean (time_t - mu)^2;
- 'classification': cross-entropy of the logits against t, label smoothing 0.1.

`similarity='cosine'` uses the dot product (also divided by D and the temperature).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from vidjax.tasks import base

LOSSES = ('regression_mse_var', 'regression_mse', 'classification')
SIMILARITIES = ('l2', 'cosine')
VARIANCE_EPS = 1e-12


def scaled_similarity(a: jax.Array, b: jax.Array, similarity: str, temperature: float):
  """[T, S] similarities of rows a [T, D] and b [S, D], divided by D and the temperature."""
  values = -jnp.sum((a[:, None] - b[None]) ** 2, axis=-1) if similarity == 'l2' else a @ b.T
  return values / a.shape[-1] / temperature


def cycle_back_logits(u: jax.Array, v: jax.Array, similarity: str, temperature: float):
  """[T, T] logits of cycling from each timestep of u [T, D] through v [S, D] back to u."""
  soft_neighbours = jax.nn.softmax(scaled_similarity(u, v, similarity, temperature), -1) @ v
  return scaled_similarity(soft_neighbours, u, similarity, temperature)


def pair_loss(
  logits: jax.Array,
  times: jax.Array,
  *,
  loss: str,
  variance_lambda: float,
  label_smoothing: float,
) -> jax.Array:
  """The loss of one alignment: logits [T, T], times [T] of the start video's timesteps."""
  num_steps = logits.shape[0]
  if loss == 'classification':
    labels = optax.smooth_labels(jax.nn.one_hot(jnp.arange(num_steps), num_steps), label_smoothing)
    return jnp.mean(optax.softmax_cross_entropy(logits, labels))
  beta = jax.nn.softmax(logits, axis=-1)
  mean = beta @ times
  error = (times - mean) ** 2
  if loss == 'regression_mse':
    return jnp.mean(error)
  # VARIANCE_EPS keeps a cycle that lands on one timestep exactly (variance 0, error 0)
  # finite; the official log has none and gives NaN there.
  variance = jnp.sum(beta * (times[None] - mean[:, None]) ** 2, axis=-1)
  log_variance = jnp.log(variance + VARIANCE_EPS)
  return jnp.mean(jnp.exp(-log_variance) * error + variance_lambda * log_variance)


def aligned_pairs(
  starts: jax.Array,
  others: jax.Array,
  times: jax.Array,
  *,
  loss: str = 'regression_mse_var',
  similarity: str = 'l2',
  temperature: float = 0.1,
  variance_lambda: float = 0.001,
  label_smoothing: float = 0.1,
) -> tuple[jax.Array, jax.Array]:
  """Per alignment of starts [P, T, D] through others [P, S, D] (times [P, T] of the
  starts' timesteps): (its loss [P], the fraction of its timesteps that cycle back [P])."""
  logits = jax.vmap(lambda u, v: cycle_back_logits(u, v, similarity, temperature))(starts, others)
  losses = jax.vmap(
    lambda logit, time: pair_loss(
      logit, time, loss=loss, variance_lambda=variance_lambda, label_smoothing=label_smoothing
    )
  )(logits, times)
  cycled = jnp.mean(jnp.argmax(logits, axis=-1) == jnp.arange(logits.shape[-1]), axis=-1)
  return losses, cycled


def alignment_loss(
  embeddings: jax.Array, times: jax.Array, **kwargs
) -> tuple[jax.Array, jax.Array]:
  """(the mean loss over every ordered pair of the batch's videos, the fraction of
  timesteps that cycle back to themselves) from embeddings [N, T, D] and times [N, T];
  kwargs as `aligned_pairs` (the official defaults)."""
  num_videos = embeddings.shape[0]
  if num_videos < 2:
    raise ValueError('temporal cycle-consistency aligns pairs of videos: a batch of 2 or more.')
  pairs = [(i, j) for i in range(num_videos) for j in range(num_videos) if i != j]
  starts = jnp.array([i for i, _ in pairs])
  others = jnp.array([j for _, j in pairs])
  losses, cycled = aligned_pairs(embeddings[starts], embeddings[others], times[starts], **kwargs)
  return jnp.mean(losses), jnp.mean(cycled)


class Task(base.Task):
  """Every pair of the batch's videos aligned by cycle-consistency."""

  batch_keys = ('video', 'steps', 'num_video_frames')

  def __init__(
    self,
    *,
    loss: str = 'regression_mse_var',
    similarity: str = 'l2',
    temperature: float = 0.1,
    variance_lambda: float = 0.001,
    label_smoothing: float = 0.1,
    normalize_indices: bool = True,
  ):
    """Args: as `aligned_pairs` (the official defaults); normalize_indices divides the
    timesteps' frame indices by the video's length (`NORMALIZE_INDICES`)."""
    if loss not in LOSSES or similarity not in SIMILARITIES:
      raise ValueError(
        f'config.task_kwargs: loss={loss!r} (one of {LOSSES}), similarity={similarity!r} '
        f'(one of {SIMILARITIES}).'
      )
    self.kwargs = dict(
      loss=loss,
      similarity=similarity,
      temperature=temperature,
      variance_lambda=variance_lambda,
      label_smoothing=label_smoothing,
    )
    self.normalize_indices = normalize_indices

  def preprocess(self, batch, ctx):
    result = super().preprocess(batch, ctx)
    # Evaluation batches hold the fields per view, [B, views, T]: one row per clip.
    times = batch['steps'].astype(jnp.float32).reshape(-1, batch['steps'].shape[-1])
    if self.normalize_indices:
      times = times / batch['num_video_frames'].astype(jnp.float32).reshape(-1, 1)
    return {**result, 'times': times}

  def loss_and_metrics(self, model, variables, batch, ctx):
    (embeddings, _), model_state = self.apply(model, variables, batch, ctx)
    loss, cycled = alignment_loss(embeddings, batch['times'], **self.kwargs)
    return loss, (model_state, {'loss': loss, 'cycle_accuracy': cycled})

  def predict(self, model, variables, batch, ctx):
    """The embeddings and, per video, 'aux/cycle/loss' and 'aux/cycle/accuracy' of its
    alignment with the batch's next video (the pretext evaluator, pred='aux/cycle/')."""
    predictions = super().predict(model, variables, batch, ctx)
    embeddings = predictions['logits']
    losses, accuracy = aligned_pairs(
      embeddings, jnp.roll(embeddings, -1, axis=0), batch['times'], **self.kwargs
    )
    predictions.update({'aux/cycle/loss': losses, 'aux/cycle/accuracy': accuracy})
    return predictions
