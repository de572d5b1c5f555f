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

import math

import jax
import jax.numpy as jnp

from vidjax.tasks import base

DROPPED = -1e20  # what the official code writes into a dropped edge
EPS = 1e-20  # added to a walk's probabilities before the log
# videowalk's training normalisation (utils/augs.py: CIFAR's statistics; its test code
# normalises with ImageNet's, `tools/propagate.py`).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


def clip_scores(
  embeddings: jax.Array, rng: jax.Array | None, *, temperature: float, edge_dropout: float
) -> dict[str, jax.Array]:
  """Per clip of embeddings [B, T, N, D] (L2-normalised, T >= 3) and palindrome out to
  frame k = 2 .. T-1: 'walk_<k>/xent' [B], the cross-entropy of returning to the start
  node averaged over nodes, and 'walk_<k>/accuracy' [B], the fraction of nodes whose walk
  ends most likely where it started."""
  if embeddings.shape[1] < 3:
    raise ValueError(
      f'{embeddings.shape[1]} frames a clip: the random walk needs 3 or more (its shortest '
      'palindrome goes two frames out and back).'
    )
  forward, backward = transition_matrices(
    embeddings, rng, temperature=temperature, edge_dropout=edge_dropout
  )
  scores = {}
  start = jnp.arange(embeddings.shape[2])
  for k, walk in enumerate(palindromes(forward, backward), start=2):
    returned = jnp.take_along_axis(jnp.log(walk + EPS), start[None, :, None], axis=-1)
    scores[f'walk_{k}/xent'] = -jnp.mean(returned[..., 0], axis=-1)
    scores[f'walk_{k}/accuracy'] = jnp.mean(jnp.argmax(walk, axis=-1) == start, axis=-1)
  return scores


def walk_loss(
  embeddings: jax.Array, rng: jax.Array | None, *, temperature: float, edge_dropout: float
) -> tuple[jax.Array, dict[str, jax.Array]]:
  """(loss, metrics): the mean over palindromes of their cross-entropies, and the batch
  means of `clip_scores`."""
  scores = clip_scores(embeddings, rng, temperature=temperature, edge_dropout=edge_dropout)
  metrics = {name: jnp.mean(value) for name, value in scores.items()}
  loss = jnp.mean(jnp.stack([v for name, v in metrics.items() if name.endswith('/xent')]))
  return loss, metrics


def random_resized_boxes(rng, shape, height, width, scale, ratio, tries: int = 10) -> jax.Array:
  """torchvision's RandomResizedCrop.get_params for every entry of `shape`, vectorised.

  Returns float32 [*shape, 4] boxes (y, x, h, w) in pixels of a height x width image: the
  first of `tries` draws (area fraction uniform in `scale`, aspect w/h log-uniform in
  `ratio`, rounded to pixels) that fits, at a uniform position, else the centre crop of
  the clamped aspect ratio.
  """
  area_rng, ratio_rng, y_rng, x_rng = jax.random.split(rng, 4)
  draws = (*shape, tries)
  area = height * width * jax.random.uniform(area_rng, draws, minval=scale[0], maxval=scale[1])
  log_ratio = jax.random.uniform(
    ratio_rng, draws, minval=math.log(ratio[0]), maxval=math.log(ratio[1])
  )
  aspect = jnp.exp(log_ratio)
  w, h = jnp.round(jnp.sqrt(area * aspect)), jnp.round(jnp.sqrt(area / aspect))
  fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
  first = jnp.argmax(fits, axis=-1)[..., None]
  w, h = (jnp.take_along_axis(v, first, axis=-1)[..., 0] for v in (w, h))
  y = jnp.floor(jax.random.uniform(y_rng, shape) * (height - h + 1))
  x = jnp.floor(jax.random.uniform(x_rng, shape) * (width - w + 1))
  in_ratio = width / height
  fallback_h, fallback_w = height, width
  if in_ratio < ratio[0]:
    fallback_h = round(width / ratio[0])
  elif in_ratio > ratio[1]:
    fallback_w = round(height * ratio[1])
  fallback = jnp.array(
    [(height - fallback_h) // 2, (width - fallback_w) // 2, fallback_h, fallback_w], jnp.float32
  )
  boxes = jnp.stack([y, x, h, w], axis=-1)
  return jnp.where(jnp.any(fits, axis=-1)[..., None], boxes, fallback)


def _resampled(image: jax.Array, box: jax.Array, size: int) -> jax.Array:
  """The box (y, x, h, w) of image [H, W, C] resized bilinearly to [size, size, C]."""
  scale = jnp.array([size / box[2], size / box[3]])
  translation = -box[:2] * scale
  return jax.image.scale_and_translate(
    image, (size, size, image.shape[-1]), (0, 1), scale, translation, method='linear'
  )


class Task(base.Task):
  """CRW: node embeddings of patch grids, trained by the palindrome walks' loss.

  Each frame is cropped on its own (RandomResizedCrop to `image_size`, area `frame_scale`,
  aspect `frame_ratio`), cut into `patch_size` windows every `patch_stride` pixels (7 x 7 =
  49 nodes at 256 / 64 / 32) and each window jittered on its own (RandomResizedCrop of the
  window, area `patch_scale`); all draws independent per frame, as videowalk's
  `MapTransform` applies its transforms frame by frame. Both crops of a patch compose into
  one box of the loaded frame, resampled once. At evaluation nothing is random: the whole
  frame and the whole windows.
  """

  batch_keys = ('video',)
  rng_names = ('walk',)

  def __init__(
    self,
    *,
    temperature: float = 0.05,
    edge_dropout: float = 0.1,
    image_size: int = 256,
    patch_size: int = 64,
    patch_stride: int = 32,
    frame_scale: tuple[float, float] = (0.8, 0.95),
    frame_ratio: tuple[float, float] = (0.7, 1.3),
    patch_scale: tuple[float, float] = (0.7, 0.9),
  ):
    if patch_size > image_size:
      raise ValueError(
        f'config.task_kwargs.patch_size={patch_size} is larger than image_size={image_size}.'
      )
    self.temperature, self.edge_dropout = temperature, edge_dropout
    self.image_size, self.patch_size, self.patch_stride = image_size, patch_size, patch_stride
    self.frame_scale, self.frame_ratio = tuple(frame_scale), tuple(frame_ratio)
    self.patch_scale = tuple(patch_scale)

  def patch_boxes(self, rng, shape, height: int, width: int) -> jax.Array:
    """Boxes [*shape, N, 4] (y, x, h, w) in frame pixels of the N patches of each frame."""
    corners = jnp.arange(0, self.image_size - self.patch_size + 1, self.patch_stride)
    grid_y, grid_x = (v.ravel() for v in jnp.meshgrid(corners, corners, indexing='ij'))
    nodes = len(grid_y)
    if rng is None:
      frames = jnp.broadcast_to(jnp.array([0.0, 0.0, height, width]), (*shape, 4))
      jitter = jnp.broadcast_to(
        jnp.array([0.0, 0.0, self.patch_size, self.patch_size]), (*shape, nodes, 4)
      )
    else:
      frame_rng, patch_rng = jax.random.split(rng)
      frames = random_resized_boxes(
        frame_rng, shape, height, width, self.frame_scale, self.frame_ratio
      )
      jitter = random_resized_boxes(
        patch_rng,
        (*shape, nodes),
        self.patch_size,
        self.patch_size,
        self.patch_scale,
        (3 / 4, 4 / 3),
      )
    # From the image_size x image_size resized frame back to frame pixels.
    to_frame = frames[..., None, 2:] / self.image_size  # [*shape, 1, 2]
    origin = jnp.stack([grid_y, grid_x], axis=-1) + jitter[..., :2]
    return jnp.concatenate(
      [frames[..., None, :2] + origin * to_frame, jitter[..., 2:] * to_frame], axis=-1
    )

  def preprocess(self, batch, ctx):
    video = batch['video']  # uint8 [B, T, H, W, 3]
    b, t, height, width = video.shape[:4]
    rng = ctx.rngs.get('augment') if ctx.train else None
    boxes = self.patch_boxes(rng, (b, t), height, width)
    frames = video.astype(jnp.float32) / 255.0

    def frame_patches(image, frame_boxes):
      return jax.vmap(lambda box: _resampled(image, box, self.patch_size))(frame_boxes)

    patches = jax.vmap(frame_patches)(
      frames.reshape(b * t, height, width, 3), boxes.reshape(b * t, -1, 4)
    )
    patches = (patches - jnp.array(MEAN)) / jnp.array(STD)
    return {'video': patches.reshape(b, t, -1, self.patch_size, self.patch_size, 3)}

  def loss_and_metrics(self, model, variables, batch, ctx):
    (embeddings, _), model_state = self.apply(model, variables, batch, ctx)
    rng = ctx.rngs['walk'] if ctx.train else None
    loss, metrics = walk_loss(
      embeddings, rng, temperature=self.temperature, edge_dropout=self.edge_dropout
    )
    return loss, (model_state, {'loss': loss, **metrics})

  def propagation_features(self, model, variables, frames):
    """layer3 of whole frames (`crw.Model.frame_features`), normalised as videowalk's
    test code normalises them: with ImageNet's statistics."""
    normalised = (frames - jnp.array(IMAGENET_MEAN)) / jnp.array(IMAGENET_STD)
    return model.apply(variables, normalised, method=type(model).frame_features)

  def predict(self, model, variables, batch, ctx):
    """The model's outputs and, per view, 'aux/walk/<score>' (`clip_scores` without edge
    dropout), for the pretext evaluator (pred='aux/walk/')."""
    predictions = super().predict(model, variables, batch, ctx)
    scores = clip_scores(
      predictions['logits'], None, temperature=self.temperature, edge_dropout=0.0
    )
    predictions.update({f'aux/walk/{name}': value for name, value in scores.items()})
    return predictions
