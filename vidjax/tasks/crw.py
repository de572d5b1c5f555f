"""`crw`: the contrastive random walk's loss (Jabri, Owens & Efros, NeurIPS 2020).

As ajabri/videowalk's `model.py` computes it. Nodes are the patches of each frame,
embedded and L2-normalised: `embeddings` [B, T, N, D]. Between frames t and t + 1,
A_t = f_t f_{t+1}^T, and the walk's two transition matrices are separate row-softmaxes:

  forward  P_t = softmax(A_t / tau)      (from frame t to t + 1)
  backward Q_t = softmax(A_t^T / tau)    (from frame t + 1 back to t)

(not one the transpose of the other). Edge dropout sets entries to -1e20 before the
softmax with probability `edge_dropout`. In the official code the forward matrices are
made first, and each masks its affinity in place; the backward matrix reads that masked
affinity, so it loses its forward matrix's dropped edges (transposed) besides its own
draw: the backward walk drops about 2p - p^2 of the edges. This is what the official
code trains with, and what `transition_matrices` does.

The palindromes are the walks 0 -> 1 -> ... -> k -> ... -> 1 -> 0 for k = 2 .. T - 1
(`P_0 ... P_{k-1} Q_{k-1} ... Q_0`: the shortest goes two frames out and back; the
one-step cycle 0 -> 1 -> 0 is not used). Each is scored by the cross-entropy of returning to
its start node, log(walk + 1e-20) against the identity, averaged over nodes and the batch;
the loss is the mean over the palindromes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

DROPPED = -1e20  # what the official code writes into a dropped edge
EPS = 1e-20  # added to a walk's probabilities before the log


def transition_matrices(
  embeddings: jax.Array, rng: jax.Array | None, *, temperature: float, edge_dropout: float
) -> tuple[jax.Array, jax.Array]:
  """(forward P [B, T-1, N, N], backward Q [B, T-1, N, N]) from embeddings [B, T, N, D].

  Without `rng` (evaluation) or with `edge_dropout` = 0 nothing is dropped.
  """
  affinity = jnp.einsum('btnd,btmd->btnm', embeddings[:, :-1], embeddings[:, 1:])
  backward_affinity = jnp.swapaxes(affinity, -1, -2)
  if rng is not None and edge_dropout > 0:
    forward_rng, backward_rng = jax.random.split(rng)
    forward_drop = jax.random.uniform(forward_rng, affinity.shape) < edge_dropout
    backward_drop = jax.random.uniform(backward_rng, affinity.shape) < edge_dropout
    affinity = jnp.where(forward_drop, DROPPED, affinity)
    # The official backward matrix reads the affinity the forward one masked in place.
    backward_drop = backward_drop | jnp.swapaxes(forward_drop, -1, -2)
    backward_affinity = jnp.where(backward_drop, DROPPED, backward_affinity)
  forward = jax.nn.softmax(affinity / temperature, axis=-1)
  backward = jax.nn.softmax(backward_affinity / temperature, axis=-1)
  return forward, backward


def palindromes(forward: jax.Array, backward: jax.Array) -> list[jax.Array]:
  """The walks P_0 ... P_{k-1} Q_{k-1} ... Q_0 [B, N, N] out to frame k = 2 .. T - 1."""
  walks = []
  for i in range(1, forward.shape[1]):
    walk = forward[:, 0]
    for step in [forward[:, t] for t in range(1, i + 1)] + [
      backward[:, t] for t in range(i, -1, -1)
    ]:
      walk = walk @ step
    walks.append(walk)
  return walks


def walk_loss(
  embeddings: jax.Array, rng: jax.Array | None, *, temperature: float, edge_dropout: float
) -> tuple[jax.Array, dict[str, jax.Array]]:
  """(loss, metrics) of clips of node embeddings [B, T, N, D] (L2-normalised), T >= 3.

  Metrics: 'walk_xent/<k>' and 'walk_accuracy/<k>' (the fraction of nodes whose walk ends
  most likely where it started) for the palindrome out to frame k.
  """
  if embeddings.shape[1] < 3:
    raise ValueError(
      f'{embeddings.shape[1]} frames a clip: the random walk needs 3 or more (its shortest '
      'palindrome goes two frames out and back).'
    )
  forward, backward = transition_matrices(
    embeddings, rng, temperature=temperature, edge_dropout=edge_dropout
  )
  losses, metrics = [], {}
  start = jnp.arange(embeddings.shape[2])
  for i, walk in enumerate(palindromes(forward, backward), start=1):
    log_probabilities = jnp.log(walk + EPS)
    xent = -jnp.mean(jnp.take_along_axis(log_probabilities, start[None, :, None], axis=-1))
    losses.append(xent)
    metrics[f'walk_xent/{i + 1}'] = xent
    metrics[f'walk_accuracy/{i + 1}'] = jnp.mean(jnp.argmax(walk, axis=-1) == start)
  return jnp.mean(jnp.stack(losses)), metrics
