"""Device-side augmentation under `jit` (dm-pix + jnp), after the host's crop and flip.

Every clip gets one draw of each random parameter, shared by all its frames: a colour
change, a warp or an erased box that flickers from frame to frame would be a motion cue
that real videos do not have. Per clip, in this order (config.input.pp):

  rand_augment    RandAugment (Cubuk et al. 2019) as in PyTorchVideo: `num_ops` distinct
                  ops of RAND_AUGMENT_OPS, each applied with probability `prob` at a level
                  drawn from N(magnitude, magnitude_std) clipped to [0, 10].
  color_jitter    brightness, contrast, saturation and hue in a random order.
  grayscale_prob  the whole clip turned grey.
  (normalisation with `mean` and `std`)
  random_erasing  one box of random-normal noise (Zhong et al. 2020, timm's 'pixel' mode).

Then, over the batch, `mix_batch`: Mixup (Zhang et al. 2018) or CutMix (Yun et al. 2019).
"""

from __future__ import annotations

import math

import dm_pix as pix
import jax
import jax.numpy as jnp
import ml_collections

# RandAugment levels run from 0 to this (PyTorchVideo's and timm's scale).
MAX_LEVEL = 10.0
# Grey that geometric ops fill uncovered pixels with (PyTorchVideo's default fill).
FILL_VALUE = 0.5


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


def _grayscale_clip(rng: jax.Array, clip: jax.Array, prob: float) -> jax.Array:
  """The clip [T, H, W, 3] in grey (ITU-R 601 luma in all three channels) with `prob`."""
  gray = pix.rgb_to_grayscale(clip, keep_dims=True)
  return jnp.where(jax.random.uniform(rng) < prob, gray, clip)


# ----------------------------------------------------------------------------- RandAugment
#
# Colour ops map (clip [T, H, W, 3] in [0, 1], level in [0, MAX_LEVEL], sign +-1) to a clip.
# Levels map to arguments as in PyTorchVideo's augmentations.py (signed ops are negated
# with probability 1/2). Statistics that PyTorchVideo takes per frame (the mean of
# AdjustContrast, the range of AutoContrast, the histogram of Equalize) are taken over the
# whole clip here, so that every frame gets the same mapping.


def _blend(clip: jax.Array, degenerate: jax.Array, factor: jax.Array) -> jax.Array:
  """PIL's ImageEnhance: factor 0 gives `degenerate`, 1 the clip, > 1 extrapolates."""
  return jnp.clip(degenerate + factor * (clip - degenerate), 0.0, 1.0)


def _enhance_factor(level: jax.Array, sign: jax.Array) -> jax.Array:
  return 1.0 + sign * 0.9 * level / MAX_LEVEL


def _adjust_brightness(clip, level, sign):
  return _blend(clip, jnp.zeros_like(clip), _enhance_factor(level, sign))


def _adjust_contrast(clip, level, sign):
  mean = pix.rgb_to_grayscale(clip).mean()
  return _blend(clip, jnp.full_like(clip, mean), _enhance_factor(level, sign))


def _adjust_saturation(clip, level, sign):
  return _blend(clip, pix.rgb_to_grayscale(clip, keep_dims=True), _enhance_factor(level, sign))


def _adjust_sharpness(clip, level, sign):
  # PIL's SMOOTH kernel; border pixels are left unblurred, as in PIL and torchvision.
  kernel = jnp.array([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
  height, width = clip.shape[1:3]
  blurred = sum(
    kernel[dy, dx] * clip[:, dy : height - 2 + dy, dx : width - 2 + dx]
    for dy in range(3)
    for dx in range(3)
  )
  degenerate = clip.at[:, 1:-1, 1:-1].set(blurred)
  return _blend(clip, degenerate, _enhance_factor(level, sign))


def _auto_contrast(clip, level, sign):
  del level, sign
  low = clip.min(axis=(0, 1, 2))
  span = clip.max(axis=(0, 1, 2)) - low
  flat = span <= 0  # a constant channel is left as it is (torchvision)
  return jnp.where(flat, clip, jnp.clip((clip - low) / jnp.where(flat, 1.0, span), 0.0, 1.0))


def _equalize_channel(values: jax.Array) -> jax.Array:
  """torchvision's equalize of one channel of 8-bit `values` (int32, any shape)."""
  histogram = jnp.bincount(values.ravel(), length=256)
  step = (histogram.sum() - histogram[values.max()]) // 255
  below = jnp.cumsum(histogram) - histogram  # pixels strictly darker than each value
  lut = jnp.clip((below + step // 2) // jnp.maximum(step, 1), 0, 255)
  return jnp.where(step == 0, values, lut[values])


def _equalize(clip, level, sign):
  del level, sign
  values = (clip * 255).astype(jnp.int32)
  equalized = jax.vmap(_equalize_channel, in_axes=-1, out_axes=-1)(values)
  return equalized.astype(jnp.float32) / 255.0


def _invert(clip, level, sign):
  del level, sign
  return 1.0 - clip


def _posterize(clip, level, sign):
  del sign
  bits = 4 - jnp.floor(level / MAX_LEVEL * 4).astype(jnp.int32)
  values = (clip * 255).astype(jnp.int32)
  return (values & -(2 ** (8 - bits))).astype(jnp.float32) / 255.0


def _solarize(clip, level, sign):
  del sign
  return pix.solarize(clip, 1.0 - level / MAX_LEVEL)


# Geometric ops give the 3x3 homogeneous map from output to source (y, x) pixel
# coordinates for a frame of (height, width); the clip is resampled once through it.


def _rotation(height, width, level, sign):
  angle = jnp.deg2rad(sign * 30.0 * level / MAX_LEVEL)
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  centre = (jnp.array([height, width], jnp.float32) - 1) / 2
  shift = centre - jnp.array([[cos, -sin], [sin, cos]]) @ centre
  return jnp.array([[cos, -sin, shift[0]], [sin, cos, shift[1]], [0.0, 0.0, 1.0]])


def _shear_x(height, width, level, sign):
  # About the top-left corner, as timm and PyTorchVideo: source x = x + factor * y.
  factor = sign * 0.3 * level / MAX_LEVEL
  return jnp.array([[1.0, 0.0, 0.0], [factor, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _shear_y(height, width, level, sign):
  factor = sign * 0.3 * level / MAX_LEVEL
  return jnp.array([[1.0, factor, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _translate_x(height, width, level, sign):
  shift = sign * 0.45 * level / MAX_LEVEL * width
  return jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, shift], [0.0, 0.0, 1.0]])


def _translate_y(height, width, level, sign):
  shift = sign * 0.45 * level / MAX_LEVEL * height
  return jnp.array([[1.0, 0.0, shift], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _warp(clip: jax.Array, source_from_output: jax.Array) -> jax.Array:
  """Resamples every frame (bilinear, grey outside) through the same 3x3 (y, x) map."""
  matrix = jnp.eye(4).at[:2, :2].set(source_from_output[:2, :2])
  matrix = matrix.at[:2, 3].set(source_from_output[:2, 2])
  return jax.vmap(
    lambda frame: pix.affine_transform(frame, matrix, mode='constant', cval=FILL_VALUE)
  )(clip)


_COLOUR_OPS = {
  'AdjustBrightness': _adjust_brightness,
  'AdjustContrast': _adjust_contrast,
  'AdjustSaturation': _adjust_saturation,
  'AdjustSharpness': _adjust_sharpness,
  'AutoContrast': _auto_contrast,
  'Equalize': _equalize,
  'Invert': _invert,
  'Posterize': _posterize,
  'Solarize': _solarize,
}
_GEOMETRIC_OPS = {
  'Rotate': _rotation,
  'ShearX': _shear_x,
  'ShearY': _shear_y,
  'TranslateX': _translate_x,
  'TranslateY': _translate_y,
}
# PyTorchVideo's RandAugment list (timm's minus SolarizeAdd).
RAND_AUGMENT_OPS = (*_COLOUR_OPS, *_GEOMETRIC_OPS)


def rand_augment_op(name: str, clip: jax.Array, level, sign) -> jax.Array:
  """The RandAugment op `name` on a clip [T, H, W, 3] in [0, 1] at `level` (0..10),
  negated when `sign` is -1 (for the ops that have a direction)."""
  if name in _GEOMETRIC_OPS:
    height, width = clip.shape[1:3]
    return _warp(clip, _GEOMETRIC_OPS[name](height, width, level, sign))
  return _COLOUR_OPS[name](clip, level, sign)


def _rand_augment_clip(rng: jax.Array, clip: jax.Array, cfg: ml_collections.ConfigDict):
  """`cfg.num_ops` distinct ops, each kept with `cfg.prob`, on one clip [T, H, W, 3]."""
  keys = jax.random.split(rng, 3)
  num_ops, num_colour = len(RAND_AUGMENT_OPS), len(_COLOUR_OPS)
  # Distinct ops in a random order (PyTorchVideo samples without replacement).
  ops = jnp.argsort(jax.random.uniform(keys[0], (num_ops,)))[: cfg.num_ops]
  kept_draws, sign_draws = jax.random.uniform(keys[1], (2, cfg.num_ops))
  # An op that is not kept becomes `num_ops`: the identity in both switches below.
  ops = jnp.where(kept_draws < cfg.prob, ops, num_ops)
  noise = jax.random.normal(keys[2], (cfg.num_ops,))
  levels = jnp.clip(cfg.magnitude + cfg.magnitude_std * noise, 0.0, MAX_LEVEL)
  signs = jnp.where(sign_draws < 0.5, 1.0, -1.0)
  height, width = clip.shape[1:3]
  colour_branches = [*_COLOUR_OPS.values(), lambda x, level, sign: x]
  matrix_branches = [*_GEOMETRIC_OPS.values(), lambda *_: jnp.eye(3)]

  # Under `vmap` a switch evaluates every branch; one warp through a switched matrix
  # resamples each clip once per op instead of once per geometric op.
  def apply_op(index, x):
    op, level, sign = ops[index], levels[index], signs[index]
    x = jax.lax.switch(jnp.minimum(op, num_colour), colour_branches, x, level, sign)
    geometric = (op >= num_colour) & (op < num_ops)
    matrix_index = jnp.where(geometric, op - num_colour, len(_GEOMETRIC_OPS))
    matrix = jax.lax.switch(matrix_index, matrix_branches, height, width, level, sign)
    return jnp.where(geometric, _warp(x, matrix), x)

  # A loop, not unrolled: the branches are compiled once whatever `num_ops` is.
  return jax.lax.fori_loop(0, cfg.num_ops, apply_op, clip)


# ----------------------------------------------------------------------------- erasing


def _erase_clip(rng: jax.Array, clip: jax.Array, cfg: ml_collections.ConfigDict) -> jax.Array:
  """timm's RandomErasing (one box, 'pixel' mode) on one normalised clip [T, H, W, C].

  The box and its noise are the same in every frame. Up to 10 draws of an area fraction
  (uniform in `cfg.area`) and a height / width ratio (log-uniform in `cfg.aspect_ratio`)
  until the box fits strictly inside the frame, as in timm; none fits: nothing is erased.
  """
  height, width, channels = clip.shape[1:]
  keys = jax.random.split(rng, 3)
  # Few random calls on purpose: each one adds noticeably to the compile time.
  area_draws, ratio_draws = jax.random.uniform(keys[0], (2, 10))
  apply_draw, top_draw, left_draw = jax.random.uniform(keys[1], (3,))
  area = height * width * (cfg.area[0] + (cfg.area[1] - cfg.area[0]) * area_draws)
  log_low, log_high = math.log(cfg.aspect_ratio[0]), math.log(cfg.aspect_ratio[1])
  ratio = jnp.exp(log_low + (log_high - log_low) * ratio_draws)
  box_height = jnp.round(jnp.sqrt(area * ratio)).astype(jnp.int32)
  box_width = jnp.round(jnp.sqrt(area / ratio)).astype(jnp.int32)
  fits = (box_height < height) & (box_width < width)
  first = jnp.argmax(fits)
  box_height, box_width = box_height[first], box_width[first]
  top = jnp.floor(top_draw * (height - box_height + 1)).astype(jnp.int32)
  left = jnp.floor(left_draw * (width - box_width + 1)).astype(jnp.int32)
  rows = jnp.arange(height)[:, None]
  cols = jnp.arange(width)[None, :]
  in_box = (rows >= top) & (rows < top + box_height) & (cols >= left) & (cols < left + box_width)
  erase = in_box & fits.any() & (apply_draw < cfg.prob)
  noise = jax.random.normal(keys[2], (height, width, channels))
  return jnp.where(erase[:, :, None], noise, clip)


# ----------------------------------------------------------------------------- per clip


def _check(pp: ml_collections.ConfigDict) -> None:
  if not 0 <= pp.rand_augment.num_ops <= len(RAND_AUGMENT_OPS):
    raise ValueError(
      f'config.input.pp.rand_augment.num_ops={pp.rand_augment.num_ops}: choose 0 (off) to '
      f'{len(RAND_AUGMENT_OPS)} distinct ops of {list(RAND_AUGMENT_OPS)}.'
    )


def _augment_clip(rng: jax.Array, clip: jax.Array, pp: ml_collections.ConfigDict) -> jax.Array:
  """One clip [T, H, W, 3] in [0, 1] -> normalised, with the configured augmentations."""
  keys = jax.random.split(rng, 4)
  if pp.rand_augment.num_ops > 0:
    clip = _rand_augment_clip(keys[0], clip, pp.rand_augment)
  if pp.color_jitter.prob > 0:
    clip = _jitter_clip(keys[1], clip, pp.color_jitter)
  if pp.grayscale_prob > 0:
    clip = _grayscale_clip(keys[2], clip, pp.grayscale_prob)
  clip = (clip - jnp.asarray(pp.mean, jnp.float32)) / jnp.asarray(pp.std, jnp.float32)
  if pp.random_erasing.prob > 0:
    clip = _erase_clip(keys[3], clip, pp.random_erasing)
  return clip


def train_augment(rng: jax.Array, video: jax.Array, pp: ml_collections.ConfigDict) -> jax.Array:
  """uint8 video [B, T, H, W, 3] -> normalised float32, each clip with its own draws."""
  _check(pp)
  x = video.astype(jnp.float32) / 255.0
  rngs = jax.random.split(rng, x.shape[0])
  return jax.vmap(lambda r, c: _augment_clip(r, c, pp))(rngs, x)


# ----------------------------------------------------------------------------- batch


def mix_partner(x: jax.Array) -> jax.Array:
  """The batch each example is mixed with: rolled by half the batch B, so that the r
  consecutive copies of a video made by repeated augmentation never mix with each other
  (for r <= B / 2)."""
  return jnp.roll(x, x.shape[0] // 2, axis=0)


def mix_batch(
  rng: jax.Array, batch: dict[str, jax.Array], cfg: ml_collections.ConfigDict
) -> dict[str, jax.Array]:
  """Mixup or CutMix of `batch['video']` [B, T, H, W, C] with `mix_partner`, as timm's
  'batch' mode: one draw per batch, applied with probability `cfg.prob`; with both alphas
  set, CutMix with probability `cfg.switch_prob`. A CutMix box covers all frames.

  Returns:
    The batch with the mixed video, 'mix_label' (the partner's label) and 'mix_weight'
    float32 [B]: the share of the clip's own label in its target (the mixup weight, or the
    fraction of pixels outside the CutMix box). Unchanged when both alphas are 0.
  """
  if cfg.mixup_alpha <= 0 and cfg.cutmix_alpha <= 0:
    return batch
  video = batch['video']
  height, width = video.shape[2:4]
  keys = jax.random.split(rng, 2)
  switch_draw, apply_draw, centre_y_draw, centre_x_draw = jax.random.uniform(keys[0], (4,))
  if cfg.mixup_alpha <= 0:
    use_cutmix = jnp.array(True)
  elif cfg.cutmix_alpha <= 0:
    use_cutmix = jnp.array(False)
  else:
    use_cutmix = switch_draw < cfg.switch_prob
  # One Beta draw per method (an alpha of 0, i.e. off, is drawn with 1 and not used).
  alphas = jnp.array([cfg.mixup_alpha or 1.0, cfg.cutmix_alpha or 1.0], jnp.float32)
  mixup_weight, cutmix_weight = jax.random.beta(keys[1], alphas, alphas)
  # timm's rand_bbox: a box of (1 - weight) of the area, centred anywhere, clipped.
  cut_ratio = jnp.sqrt(1.0 - cutmix_weight)
  cut_height = (height * cut_ratio).astype(jnp.int32)
  cut_width = (width * cut_ratio).astype(jnp.int32)
  centre_y = jnp.floor(centre_y_draw * height).astype(jnp.int32)
  centre_x = jnp.floor(centre_x_draw * width).astype(jnp.int32)
  rows = jnp.arange(height)[:, None]
  cols = jnp.arange(width)[None, :]
  in_box = (
    (rows >= centre_y - cut_height // 2)
    & (rows < centre_y + cut_height // 2)
    & (cols >= centre_x - cut_width // 2)
    & (cols < centre_x + cut_width // 2)
  )
  # The weight of the clip's own pixels: 0 / 1 inside / outside a CutMix box, or the
  # mixup weight everywhere; 1 everywhere when this batch is not mixed.
  own = jnp.where(use_cutmix, (~in_box).astype(jnp.float32), mixup_weight)
  own = jnp.where(apply_draw < cfg.prob, own, 1.0)
  own_pixels = own[:, :, None]
  mixed = own_pixels * video + (1.0 - own_pixels) * mix_partner(video)
  weight = jnp.full((video.shape[0],), own.mean(), jnp.float32)
  return dict(batch, video=mixed, mix_label=mix_partner(batch['label']), mix_weight=weight)
