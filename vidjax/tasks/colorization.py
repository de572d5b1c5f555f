"""`colorization`: tracking emerges by colourising video (Vondrick et al., ECCV 2018).

Each example is a clip of 4 frames: the first 3 are references, the last the target. The
network sees only their lightness (the L of CIE Lab) and embeds every position of every
frame (`models/colorizer.py`). The target's colours are predicted by pointing at the
references: with A the softmax over all reference positions of f_target . f_ref / T,

  prediction(j) = sum_i A_ij onehot(c_i),

where c_i is the quantised colour of reference position i. The loss is the cross-entropy of
the prediction against the target's own quantised colour. Colours are quantised as the
paper does: the Lab "ab" plane clustered into 16 k-means centres (a task constant,
`colour_centres`, fitted on training frames by `tools/colour_clusters.py`), each frame's
ab averaged over the cells of the feature map (8 x 8 pixels: 32 x 32 labels at 256
pixels) and assigned to the nearest centre. T = 1 in training (the paper's; 0.5 at test).

At test time masks are propagated with the same embeddings (`propagation_features`), by
the `label_propagation` evaluator or tools/propagate.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from vidjax.tasks import base

# sRGB (D65) -> CIE XYZ, and the D65 white point: the constants of skimage.color.rgb2lab.
RGB_TO_XYZ = np.array(
  [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
WHITE = np.array([0.95047, 1.0, 1.08883])
EPS = 1e-8  # added to the predicted probabilities before the log


def rgb_to_lab(rgb: jax.Array) -> jax.Array:
  """CIE Lab [..., 3] (L in [0, 100]) of sRGB colours [..., 3] in [0, 1]."""
  rgb = jnp.asarray(rgb, jnp.float32)
  linear = jnp.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
  xyz = linear @ jnp.asarray(RGB_TO_XYZ.T, jnp.float32) / jnp.asarray(WHITE, jnp.float32)
  f = jnp.where(xyz > 0.008856, jnp.cbrt(xyz), 7.787 * xyz + 16 / 116)
  fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
  return jnp.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


def lab_to_rgb(lab: jax.Array) -> jax.Array:
  """sRGB [..., 3] in [0, 1] (clipped) of CIE Lab colours [..., 3]."""
  lab = jnp.asarray(lab, jnp.float32)
  fy = (lab[..., 0] + 16) / 116
  f = jnp.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
  xyz = jnp.where(f > 0.2068966, f**3, (f - 16 / 116) / 7.787) * jnp.asarray(WHITE, jnp.float32)
  linear = xyz @ jnp.asarray(np.linalg.inv(RGB_TO_XYZ).T, jnp.float32)
  linear = jnp.clip(linear, 0.0, 1.0)
  rgb = jnp.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
  return jnp.clip(rgb, 0.0, 1.0)


def quantise(ab: jax.Array, centres: jax.Array) -> jax.Array:
  """Index [...] of the nearest centre [K, 2] to each ab colour [..., 2]."""
  distances = jnp.sum((ab[..., None, :] - centres) ** 2, axis=-1)
  return jnp.argmin(distances, axis=-1).astype(jnp.int32)


def cell_means(values: jax.Array, cell: int) -> jax.Array:
  """[B, T, H, W, C] averaged over cell x cell blocks: [B, T, H / cell, W / cell, C]."""
  b, t, height, width, channels = values.shape
  if height % cell or width % cell:
    raise ValueError(
      f'frames of {height}x{width} pixels: a multiple of the feature stride {cell} is needed '
      '(config.input.pp.crop_size).'
    )
  blocks = values.reshape(b, t, height // cell, cell, width // cell, cell, channels)
  return blocks.mean(axis=(3, 5))


def fit_centres(ab: np.ndarray, num_colours: int = 16, *, seed: int = 0, iterations: int = 50):
  """k-means centres float32 [num_colours, 2] of ab colours [N, 2]: k-means++ seeding, then
  Lloyd's iterations (an empty cluster is re-seeded at the point farthest from its centre)."""
  ab = np.asarray(ab, np.float64).reshape(-1, 2)
  if len(ab) < num_colours:
    raise ValueError(f'{len(ab)} colours cannot make {num_colours} clusters.')
  rng = np.random.default_rng(seed)
  centres = [ab[rng.integers(len(ab))]]
  for _ in range(1, num_colours):
    nearest = np.min(((ab[:, None] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
    centres.append(ab[rng.choice(len(ab), p=nearest / nearest.sum())] if nearest.sum() else ab[0])
  centres = np.array(centres)
  for _ in range(iterations):
    distances = ((ab[:, None] - centres[None]) ** 2).sum(-1)
    assignment = np.argmin(distances, axis=1)
    updated = centres.copy()
    for k in range(num_colours):
      members = ab[assignment == k]
      if len(members):
        updated[k] = members.mean(axis=0)
      else:
        updated[k] = ab[np.argmax(distances[np.arange(len(ab)), assignment])]
    if np.allclose(updated, centres):
      break
    centres = updated
  return centres.astype(np.float32)


def read_centres(colour_centres: str | Sequence[Sequence[float]]) -> np.ndarray:
  """float32 [K, 2] ab centres from a list of pairs, its JSON text, or a .npy / .json file."""
  if isinstance(colour_centres, str) and colour_centres.lstrip().startswith('['):
    centres = json.loads(colour_centres)  # written out in a config argument
  elif isinstance(colour_centres, str):
    if not os.path.isfile(colour_centres):
      raise FileNotFoundError(
        f'config.task_kwargs.colour_centres={colour_centres!r} not found: fit the centres with '
        'tools/colour_clusters.py --config <this experiment> --out <file>.'
      )
    if colour_centres.endswith('.npy'):
      centres = np.load(colour_centres)
    else:
      with open(colour_centres) as f:
        centres = json.load(f)
  else:
    centres = colour_centres
  centres = np.asarray(centres, np.float32)
  if centres.ndim != 2 or centres.shape[1] != 2 or len(centres) < 2:
    raise ValueError(
      f'config.task_kwargs.colour_centres: {centres.shape} values; K >= 2 (a, b) pairs are '
      'needed, e.g. from tools/colour_clusters.py.'
    )
  return centres


def copy_colours(
  embeddings: jax.Array, labels: jax.Array, num_colours: int, temperature: float
) -> jax.Array:
  """Predicted colour distributions [B, h * w, K] of the last frame, copied from the other
  frames' labels by attention.

  Args:
    embeddings: [B, T, h, w, D]; frames 0..T-2 are the references, T-1 the target.
    labels: int32 [B, T, h, w] quantised colours (only the references' are read).
    num_colours: K.
    temperature: of the softmax over reference positions.
  """
  b, t, h, w, d = embeddings.shape
  references = embeddings[:, :-1].reshape(b, (t - 1) * h * w, d)
  target = embeddings[:, -1].reshape(b, h * w, d)
  attention = jax.nn.softmax(jnp.einsum('bjd,bid->bji', target, references) / temperature, -1)
  reference_colours = jax.nn.one_hot(labels[:, :-1].reshape(b, -1), num_colours)
  return jnp.einsum('bji,bik->bjk', attention, reference_colours)


class Task(base.Task):
  """Colourise the target frame by copying colours from 3 reference frames."""

  batch_keys = ('video',)

  def __init__(
    self,
    *,
    colour_centres: str | Sequence[Sequence[float]] = (),
    temperature: float = 1.0,
    feature_stride: int = 8,
  ):
    """Args:
    colour_centres: the k-means centres of the ab plane: [K, 2] pairs, their JSON text, or
      a .npy / .json file of them (tools/colour_clusters.py); the paper's K is 16.
    temperature: of the attention in training (the paper's 1).
    feature_stride: pixels per position of the embedding map (the model's output stride).
    """
    self.centres = read_centres(colour_centres)
    if temperature <= 0 or feature_stride < 1:
      raise ValueError(
        f'config.task_kwargs: temperature={temperature} must be positive and '
        f'feature_stride={feature_stride} at least 1.'
      )
    self.temperature = temperature
    self.feature_stride = feature_stride

  def constants(self):
    return {'colour_centres': jnp.asarray(self.centres)}

  def preprocess(self, batch, ctx):
    """uint8 RGB clips -> the network's lightness input 'video' [B, T, H, W, 1] (L / 50 - 1)
    and the quantised colours 'colour_labels' [B, T, H / stride, W / stride]."""
    lab = rgb_to_lab(batch['video'].astype(jnp.float32) / 255.0)
    ab = cell_means(lab[..., 1:], self.feature_stride)
    return {
      'video': lab[..., :1] / 50.0 - 1.0,
      'colour_labels': quantise(ab, ctx.constants['colour_centres']),
    }

  def clip_scores(self, embeddings: jax.Array, labels: jax.Array) -> dict[str, jax.Array]:
    """Per clip [B]: 'xent', the cross-entropy of the target's copied colours, and
    'accuracy', the fraction of its cells whose most likely copied colour is right."""
    if embeddings.shape[2:4] != labels.shape[2:4]:
      raise ValueError(
        f'embedding maps of {embeddings.shape[2:4]} positions, colour labels of '
        f'{labels.shape[2:4]}: config.task_kwargs.feature_stride must be the output stride '
        'of the model.'
      )
    predicted = copy_colours(embeddings, labels, len(self.centres), self.temperature)
    target = labels[:, -1].reshape(labels.shape[0], -1)
    chosen = jnp.take_along_axis(predicted, target[..., None], axis=-1)[..., 0]
    return {
      'xent': -jnp.mean(jnp.log(chosen + EPS), axis=-1),
      'accuracy': jnp.mean(jnp.argmax(predicted, axis=-1) == target, axis=-1),
    }

  def loss_and_metrics(self, model, variables, batch, ctx):
    (embeddings, _), model_state = self.apply(model, variables, batch, ctx)
    scores = self.clip_scores(embeddings, batch['colour_labels'])
    loss = jnp.mean(scores['xent'])
    return loss, (model_state, {'loss': loss, 'colour_accuracy': jnp.mean(scores['accuracy'])})

  def predict(self, model, variables, batch, ctx):
    """The embeddings and, per view, 'aux/colour/xent' and 'aux/colour/accuracy' (at the
    training temperature), for the pretext evaluator (pred='aux/colour/')."""
    predictions = super().predict(model, variables, batch, ctx)
    scores = self.clip_scores(predictions['logits'], batch['colour_labels'])
    predictions.update({f'aux/colour/{name}': value for name, value in scores.items()})
    return predictions

  def propagation_features(self, model, variables, frames):
    """The embeddings of the video's frames, all at once (the 3D convolutions see their
    neighbours), from their lightness."""
    lightness = rgb_to_lab(frames)[..., :1] / 50.0 - 1.0
    embeddings, _ = model.apply(variables, lightness[None], train=False)
    return embeddings[0]
