"""Device-side augmentation under `jit` (dm-pix), after the host's crop and flip.

Every clip gets one draw of each photometric parameter, shared by all its frames: a
colour change that flickers from frame to frame would be a motion cue that real videos
do not have.
"""

from __future__ import annotations

import dm_pix as pix
import jax
import jax.numpy as jnp
import ml_collections


def to_float(video: jax.Array, mean, std) -> jax.Array:
  """uint8 [..., 3] -> float32 normalised with per-channel `mean` and `std` (0..1 scale)."""
  x = video.astype(jnp.float32) / 255.0
  return (x - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)


def _jitter_clip(rng: jax.Array, clip: jax.Array, cfg: ml_collections.ConfigDict) -> jax.Array:
  """Colour jitter of one clip [T, H, W, 3] in [0, 1], in a random order of the four ops."""
  keys = jax.random.split(rng, 6)
  ops = [
    lambda x: pix.random_brightness(keys[0], x, cfg.brightness),
    lambda x: pix.random_contrast(keys[1], x, 1 - cfg.contrast, 1 + cfg.contrast),
    lambda x: pix.random_saturation(keys[2], x, 1 - cfg.saturation, 1 + cfg.saturation),
    lambda x: pix.random_hue(keys[3], x, cfg.hue),
  ]
  order = jax.random.permutation(keys[4], len(ops))
  for position in range(len(ops)):
    clip = jax.lax.switch(order[position], ops, clip)
  apply = jax.random.uniform(keys[5]) < cfg.prob
  return jnp.where(apply, jnp.clip(clip, 0.0, 1.0), clip)


def train_augment(rng: jax.Array, video: jax.Array, pp: ml_collections.ConfigDict) -> jax.Array:
  """uint8 video [B, T, H, W, 3] -> normalised float32, colour-jittered when configured."""
  x = video.astype(jnp.float32) / 255.0
  if pp.color_jitter.prob > 0:
    rngs = jax.random.split(rng, x.shape[0])
    x = jax.vmap(lambda r, c: _jitter_clip(r, c, pp.color_jitter))(rngs, x)
  return (x - jnp.asarray(pp.mean, jnp.float32)) / jnp.asarray(pp.std, jnp.float32)
