"""Augmentations: per-clip consistency, correctness of each op, mixing, crops and repeats."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax import configs
from vidjax.data import augment, pipeline, sampling
from vidjax.tasks import classification


def _pp(**changes):
  pp = configs.base_config().input.pp
  pp.update(changes)
  return pp


def _static_video(batch=4, frames=3, size=16, seed=0):
  """uint8 [B, T, H, W, 3] whose frames are all the same picture (one per clip)."""
  pictures = np.random.RandomState(seed).randint(0, 256, (batch, 1, size, size, 3))
  return jnp.asarray(np.repeat(pictures, frames, axis=1).astype(np.uint8))


def test_every_device_augmentation_treats_all_frames_of_a_clip_alike():
  pp = _pp(grayscale_prob=0.5)
  pp.rand_augment.update(num_ops=3, prob=1.0)
  pp.color_jitter.prob = 1.0
  pp.random_erasing.prob = 1.0
  video = jnp.tile(_static_video(batch=1), (4, 1, 1, 1, 1))  # four copies of one clip
  augment_fn = jax.jit(lambda rng, v: augment.train_augment(rng, v, pp))
  out = augment_fn(jax.random.key(0), video)
  assert out.shape == video.shape and out.dtype == jnp.float32
  np.testing.assert_array_equal(out, jnp.broadcast_to(out[:, :1], out.shape))
  # The same clip four times gets four different draws, reproducibly.
  assert all(not np.allclose(out[0], out[i]) for i in range(1, 4))
  np.testing.assert_array_equal(out, augment_fn(jax.random.key(0), video))


def test_defaults_only_normalise():
  video = _static_video()
  out = augment.train_augment(jax.random.key(0), video, _pp())
  np.testing.assert_allclose(out, augment.to_float(video, (0.45,) * 3, (0.225,) * 3), atol=1e-6)


@jax.jit
def _apply_every_op(clip, level, sign):
  return {
    name: augment.rand_augment_op(name, clip, level, sign) for name in augment.RAND_AUGMENT_OPS
  }


def test_rand_augment_ops_keep_range_shape_and_frame_consistency():
  clip = _static_video(batch=1, size=20)[0].astype(jnp.float32) / 255.0
  for name, out in _apply_every_op(clip, 7.0, -1.0).items():
    assert out.shape == clip.shape and out.dtype == jnp.float32, name
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0, name
    np.testing.assert_array_equal(out, jnp.broadcast_to(out[:1], out.shape), err_msg=name)
    if name != 'AutoContrast':  # a random picture already spans the full range
      assert not np.allclose(out, clip), name


def test_rand_augment_ops_follow_their_definitions():
  clip = jnp.asarray(np.random.RandomState(1).rand(3, 20, 20, 3).astype(np.float32))
  strongest = _apply_every_op(clip, 10.0, 1.0)
  np.testing.assert_allclose(strongest['Invert'], 1 - clip)
  # Level 10: solarize everything (threshold 0), keep 4 - 4 = 0 bits, translate by 0.45.
  np.testing.assert_allclose(strongest['Solarize'], 1 - clip)
  np.testing.assert_array_equal(strongest['Posterize'], 0.0)
  shifted = strongest['TranslateX']  # source x = x + 9
  np.testing.assert_allclose(shifted[:, :, :11], clip[:, :, 9:], atol=1e-6)
  np.testing.assert_allclose(shifted[:, :, 11:], augment.FILL_VALUE)
  identity = _apply_every_op(clip, 0.0, 1.0)
  for name in ('Rotate', 'ShearX', 'ShearY', 'TranslateX', 'AdjustBrightness', 'AdjustContrast'):
    np.testing.assert_allclose(identity[name], clip, atol=1e-6, err_msg=name)
  sheared = _apply_every_op(clip, 5.0, 1.0)['ShearX']  # the top row is the shear's axis
  np.testing.assert_allclose(sheared[:, 0], clip[:, 0], atol=1e-6)
  low_contrast = _apply_every_op(0.25 + 0.5 * clip, 10.0, 1.0)
  np.testing.assert_allclose(
    low_contrast['AutoContrast'],
    (clip - clip.min((0, 1, 2))) / (clip.max((0, 1, 2)) - clip.min((0, 1, 2))),
    atol=1e-5,
  )
  equalized = low_contrast['Equalize']
  assert float(equalized.min()) < 0.05 and float(equalized.max()) > 0.95  # spread out


def test_grayscale_makes_channels_equal():
  video = _static_video()
  out = augment.train_augment(jax.random.key(0), video, _pp(grayscale_prob=1.0))
  np.testing.assert_allclose(out, jnp.broadcast_to(out[..., :1], out.shape), atol=1e-6)


def test_random_erasing_puts_one_box_of_noise_in_range():
  pp = _pp(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
  pp.random_erasing.prob = 1.0
  video = jnp.zeros((16, 3, 24, 32, 3), jnp.uint8)
  out = np.asarray(jax.jit(lambda v: augment.train_augment(jax.random.key(2), v, pp))(video))
  boxes = set()
  for clip in out:
    erased = clip[0].any(-1)
    rows, cols = np.flatnonzero(erased.any(1)), np.flatnonzero(erased.any(0))
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert erased.sum() == height * width  # a rectangle
    assert 0.02 * 0.8 <= height * width / (24 * 32) <= 1 / 3 * 1.2
    assert 0.3 * 0.8 <= height / width <= 1 / 0.3 * 1.2
    np.testing.assert_array_equal(clip, np.broadcast_to(clip[:1], clip.shape))
    boxes.add((rows[0], cols[0], height, width))
  assert len(boxes) > 1


def _mixer(**mix):
  cfg = _pp().mix
  cfg.update(mix)
  return jax.jit(
    lambda rng, video, labels: augment.mix_batch(rng, dict(video=video, label=labels), cfg)
  )


def test_mixup_mixes_videos_and_targets_by_one_weight():
  video = jnp.asarray(np.random.RandomState(0).rand(6, 2, 8, 8, 3).astype(np.float32))
  labels = jnp.array([0, 1, 2, 3, 4, 5])
  batch = _mixer(mixup_alpha=0.8)(jax.random.key(0), video, labels)
  weight = batch['mix_weight']
  assert weight.shape == (6,) and 0 < float(weight[0]) < 1
  np.testing.assert_allclose(weight, weight[0])
  partner = augment.mix_partner(video)
  w = weight[:, None, None, None, None]
  np.testing.assert_allclose(batch['video'], w * video + (1 - w) * partner, rtol=1e-6)
  np.testing.assert_array_equal(batch['mix_label'], [3, 4, 5, 0, 1, 2])
  targets = classification.targets(batch, 10, multi_label=False)
  np.testing.assert_allclose(targets.sum(-1), 1.0, rtol=1e-6)
  np.testing.assert_allclose(targets[jnp.arange(6), labels], weight, rtol=1e-6)
  np.testing.assert_allclose(targets[jnp.arange(6), batch['mix_label']], 1 - weight, rtol=1e-6)


def test_cutmix_weight_is_the_share_of_own_pixels():
  # Clip i is the constant i + 1, so every pixel tells whose it is.
  video = jnp.broadcast_to(jnp.arange(1.0, 9.0)[:, None, None, None, None], (8, 2, 10, 12, 3))
  labels = jnp.arange(8)
  mix = _mixer(mixup_alpha=0.5, cutmix_alpha=1.0, switch_prob=1.0)
  shares = set()
  for seed in range(4):
    batch = mix(jax.random.key(seed), video, labels)
    own = batch['video'] == video
    assert bool(jnp.all(own | (batch['video'] == augment.mix_partner(video))))
    np.testing.assert_array_equal(own, jnp.broadcast_to(own[:, :1], own.shape))  # all frames
    np.testing.assert_allclose(batch['mix_weight'], own[:, 0, :, :, 0].mean((1, 2)), rtol=1e-6)
    shares.add(float(batch['mix_weight'][0]))
  assert len(shares) > 1


def test_mixing_probability_zero_leaves_the_batch_unmixed():
  video = jnp.asarray(np.random.RandomState(0).rand(4, 2, 8, 8, 3).astype(np.float32))
  batch = _mixer(mixup_alpha=1.0, cutmix_alpha=1.0, prob=0.0)(
    jax.random.key(0), video, jnp.arange(4)
  )
  np.testing.assert_array_equal(batch['video'], video)
  np.testing.assert_array_equal(batch['mix_weight'], 1.0)
  plain = {'video': video, 'label': jnp.arange(4)}
  assert augment.mix_batch(jax.random.key(0), plain, _pp().mix) is plain  # off by default


def test_random_resized_crop_box_is_inside_and_in_range():
  rng = np.random.default_rng(0)
  for _ in range(200):
    top, left, height, width = sampling.random_resized_crop(rng, 48, 64, (0.08, 1.0), (0.75, 4 / 3))
    assert 0 <= top <= 48 - height and 0 <= left <= 64 - width
    assert 0.08 * 0.9 <= height * width / (48 * 64) <= 1.0
    assert 0.75 * 0.9 <= width / height <= 4 / 3 * 1.1
  # No box of that shape fits: the centred whole-frame fallback with the ratio clamped.
  assert sampling.random_resized_crop(rng, 10, 40, (0.9, 1.0), (1.0, 1.0)) == (0, 15, 10, 10)


def test_scale_jitter_short_side_is_in_range():
  rng = np.random.default_rng(0)
  short_sides = set()
  for _ in range(100):
    top, left, height, width = sampling.scale_jitter_crop(rng, 48, 64, 28, (32, 40))
    short_side = round(28 * 48 / height)
    assert height == width and 32 <= short_side <= 40
    assert 0 <= top <= 48 - height + 1e-9 and 0 <= left <= 64 - width + 1e-9
    short_sides.add(short_side)
  assert short_sides == set(range(32, 41))
  with pytest.raises(ValueError, match='config.input.pp.scale_jitter'):
    sampling.scale_jitter_crop(rng, 48, 64, 28, (24, 40))


def test_repeated_augmentation_repeats_each_index_in_place():
  plain = pipeline.train_index_stream(10, 3, 0, 1)
  repeated = pipeline.train_index_stream(10, 3, 0, 1, repeats=3)
  assert [int(repeated[p]) for p in range(30)] == [int(plain[p // 3]) for p in range(30)]
  again = pipeline.train_index_stream(10, 3, 0, 1, repeats=3)
  assert [int(again[p]) for p in range(30)] == [int(repeated[p]) for p in range(30)]
  assert sorted(int(repeated[p]) for p in range(30)) == sorted(list(range(10)) * 3)


@pytest.fixture
def input_config(synthetic_data_dir):
  config = configs.base_config().input
  config.dataset = 'vidjax_synthetic/tiny'
  config.data_dir = synthetic_data_dir
  config.sampling.num_frames = 4
  config.pp.crop_size = 28
  config.pp.flip = False
  return config


@pytest.mark.parametrize('train_crop', ['scale_jitter', 'random_resized'])
def test_train_batches_with_host_crops_and_repeats(input_config, train_crop):
  input_config.pp.update(train_crop=train_crop, scale_jitter=(28, 40), repeated_augmentation=2)
  iterator = pipeline.make_train_input(input_config, 0, 8, 0, 1).iterator
  batch = next(iterator)
  assert batch['video'].shape == (8, 4, 28, 28, 3) and batch['video'].dtype == np.uint8
  np.testing.assert_array_equal(batch['label'][0::2], batch['label'][1::2])
  # The two copies of a video are cropped independently.
  assert not np.array_equal(batch['video'][0::2], batch['video'][1::2])
  # The saved iterator state resumes the exact stream.
  state = iterator.get_state()
  expected = next(iterator)
  resumed = pipeline.make_train_input(input_config, 0, 8, 0, 1).iterator
  resumed.set_state(state)
  np.testing.assert_array_equal(next(resumed)['video'], expected['video'])


def test_bad_train_crop_and_repeats_are_named(input_config):
  input_config.pp.train_crop = 'centre'
  with pytest.raises(ValueError, match='config.input.pp.train_crop'):
    pipeline.make_train_input(input_config, 0, 8, 0, 1)
  input_config.pp.train_crop = 'random'
  input_config.pp.repeated_augmentation = 0
  with pytest.raises(ValueError, match='config.input.pp.repeated_augmentation'):
    pipeline.make_train_input(input_config, 0, 8, 0, 1)


def test_too_many_rand_augment_ops_is_named():
  pp = _pp()
  pp.rand_augment.num_ops = 15
  with pytest.raises(ValueError, match='config.input.pp.rand_augment.num_ops'):
    augment.train_augment(jax.random.key(0), _static_video(), pp)
