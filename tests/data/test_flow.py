import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from vidjax import configs
from vidjax.data import flow, pipeline


def _translating_clip(shift_x: int, shift_y: int, num_frames: int = 3) -> np.ndarray:
  """uint8 [num_frames, 40, 40, 3]: a smooth random texture moving by (shift_x, shift_y)
  pixels per frame (x to the right, y down)."""
  rng = np.random.default_rng(0)
  coarse = rng.uniform(0, 255, (16, 16)).astype(np.uint8)
  texture = np.asarray(Image.fromarray(coarse).resize((80, 80), Image.BICUBIC))
  frames = [
    texture[20 - n * shift_y : 60 - n * shift_y, 20 - n * shift_x : 60 - n * shift_x]
    for n in range(num_frames)
  ]
  return np.repeat(np.stack(frames)[..., None], 3, axis=-1)


@pytest.mark.parametrize('shift', [(3, 0), (-2, 1), (0, -4)])
def test_flow_of_a_translating_pattern_recovers_the_shift(shift):
  fields = flow.compute(_translating_clip(*shift), 'medium')
  assert fields.shape == (2, 40, 40, 2) and fields.dtype == np.float32
  # The centre avoids the border, where the pattern enters and leaves the frame.
  median = np.median(fields[:, 8:-8, 8:-8].reshape(-1, 2), axis=0)
  np.testing.assert_allclose(median, shift, atol=0.25)


def test_leading_axes_are_kept():
  clips = np.stack([_translating_clip(1, 0), _translating_clip(0, 1)])
  fields = flow.compute(clips, 'ultrafast')
  assert fields.shape == (2, 2, 40, 40, 2)
  np.testing.assert_allclose(np.median(fields[1, ..., 1]), 1.0, atol=0.25)


def test_horizontal_flip_mirrors_the_field_and_negates_x():
  frames = _translating_clip(2, 1)
  fields = flow.compute(frames, 'medium')
  flipped = flow.compute(np.ascontiguousarray(frames[:, :, ::-1]), 'medium')
  mirrored = fields[:, :, ::-1] * np.array([-1.0, 1.0], np.float32)
  centre = (slice(None), slice(8, -8), slice(8, -8))
  np.testing.assert_allclose(np.median(flipped[centre], axis=(0, 1, 2)), (-2, 1), atol=0.25)
  assert np.mean(np.abs(flipped[centre] - mirrored[centre]) < 0.5) > 0.9


def test_quantize_dequantize_round_trip():
  bound = 20.0
  values = np.linspace(-bound, bound, 1001, dtype=np.float32)
  codes = flow.quantize(values, bound)
  assert codes.dtype == np.uint8 and codes[0] == 0 and codes[-1] == 255
  restored = np.asarray(flow.dequantize(jnp.asarray(codes))) * bound
  # Rounding to one of 256 levels: at most half a step (bound / 255) away.
  assert np.max(np.abs(restored - values)) <= bound / 255 + 1e-4
  # Displacements beyond the bound are clipped to it.
  clipped = flow.dequantize(jnp.asarray(flow.quantize(np.array([-50.0, 50.0]), bound)))
  np.testing.assert_allclose(clipped, [-1.0, 1.0])


def test_frame_indices_follow_each_sampled_frame_and_stop_at_the_end():
  indices = flow.frame_indices(np.array([[0, 5], [7, 9]]), video_length=10, stack=2)
  np.testing.assert_array_equal(indices, [[[0, 1, 2], [5, 6, 7]], [[7, 8, 9], [9, 9, 9]]])
  with pytest.raises(ValueError, match='config.input.flow.stack'):
    flow.frame_indices(np.array([0]), video_length=10, stack=0)


def test_unknown_preset_names_the_config_key():
  with pytest.raises(ValueError, match='config.input.flow.preset'):
    flow.compute(_translating_clip(1, 0), 'slow')


@pytest.fixture
def flow_input_config(synthetic_data_dir):
  config = configs.base_config().input
  config.dataset = 'vidjax_synthetic/tiny'
  config.data_dir = synthetic_data_dir
  # Consecutive frames, so that the next frame of each flow pair is also in the clip.
  config.sampling.num_frames = 4
  config.sampling.stride = 1
  config.pp.crop_size = 24
  config.pp.flip_label_swaps = configs.SYNTHETIC_FLIP_SWAPS
  config.flow = dict(enabled=True, bound=20.0, preset='ultrafast', stack=1)
  return config


def _expected_flow(video: np.ndarray) -> np.ndarray:
  """Quantised flow between consecutive frames of returned clips [..., T, h, w, 3]."""
  return flow.quantize(flow.compute(video, 'ultrafast'), 20.0)


def test_train_and_eval_flow_is_computed_on_the_returned_views(flow_input_config):
  # Training clips are randomly cropped and flipped: their flow must be that of exactly the
  # returned frames (a flip negating x), not of the uncropped or unflipped video.
  batch = next(pipeline.make_train_input(flow_input_config, 0, 8, 0, 1).iterator)
  assert batch['video'].shape == (8, 4, 24, 24, 3)
  assert batch['flow'].shape == (8, 4, 24, 24, 2) and batch['flow'].dtype == np.uint8
  np.testing.assert_array_equal(batch['flow'][:, :3], _expected_flow(batch['video']))
  assert batch['flow'].std() > 0  # the synthetic objects move

  eval_input = pipeline.make_eval_input(flow_input_config, 'validation', 4, 2, 3, 0, 1)
  example = next(iter(eval_input))
  assert example['video'].shape == (4, 6, 4, 24, 24, 3)
  assert example['flow'].shape == (4, 6, 4, 24, 24, 2)
  np.testing.assert_array_equal(example['flow'][..., :3, :, :, :], _expected_flow(example['video']))


def test_stacked_flow_has_stack_fields_per_sampled_frame(flow_input_config):
  flow_input_config.flow.stack = 3
  flow_input_config.sampling.stride = 3
  batch = next(pipeline.make_train_input(flow_input_config, 0, 2, 0, 1).iterator)
  assert batch['video'].shape == (2, 4, 24, 24, 3)
  assert batch['flow'].shape == (2, 12, 24, 24, 2)
  assert pipeline.input_shapes(flow_input_config) == {
    'video': (4, 24, 24, 3),
    'flow': (12, 24, 24, 2),
  }


def test_flow_with_pixel_level_augmentation_is_refused(flow_input_config):
  flow_input_config.pp.mix.cutmix_alpha = 1.0
  with pytest.raises(ValueError, match='mix.cutmix_alpha.*flow.enabled'):
    pipeline.make_train_input(flow_input_config, 0, 8, 0, 1)
