"""Camera motion (data/camera_motion.py) and the Arrow of Time's clips without it."""

import cv2
import numpy as np
import pytest
from data_testing import one_record_dataset

from vidjax import configs
from vidjax.data import camera_motion, encode, pipeline
from vidjax.data.loaders import clip
from vidjax.data.samplers import arrow

# A smooth random texture wider and taller than the frames, so that a camera can move over it.
TEXTURE = cv2.GaussianBlur(
  np.random.default_rng(0).integers(0, 256, (240, 360, 3)).astype(np.uint8), (0, 0), 2
)


def panning(step: int, num_frames: int = 9, height: int = 90, width: int = 120) -> np.ndarray:
  """A camera panning right by `step` pixels a frame."""
  return np.stack(
    [TEXTURE[20 : 20 + height, i * step : i * step + width] for i in range(num_frames)]
  )


def zooming_in(rate: float, num_frames: int = 9, height: int = 90, width: int = 120):
  """A camera zooming in on the texture's centre, the field of view shrinking by `rate` a frame."""
  frames = []
  for i in range(num_frames):
    h, w = round(2 * height * (1 - rate) ** i), round(2 * width * (1 - rate) ** i)
    y, x = 120 - h // 2, 180 - w // 2
    frames.append(
      cv2.resize(TEXTURE[y : y + h, x : x + w], (width, height), interpolation=cv2.INTER_AREA)
    )
  return np.stack(frames)


def still_camera(num_frames: int = 9, height: int = 90, width: int = 120) -> np.ndarray:
  """A still camera watching a white square cross the picture, 6 pixels a frame."""
  frames = np.repeat(TEXTURE[None, 20 : 20 + height, :width], num_frames, axis=0).copy()
  for i, frame in enumerate(frames):
    frame[30:60, 6 * i : 6 * i + 30] = 255
  return frames


@pytest.mark.parametrize('step', [2, 4])
def test_a_pan_moves_the_corners_by_its_step(step):
  np.testing.assert_allclose(
    camera_motion.corner_displacement(panning(step)), step / 120, atol=0.002
  )


def test_a_zoom_moves_the_corners_away_from_the_centre():
  # The field of view shrinks from w_n to w_(n+1) pixels of the texture: a zoom by
  # w_n / w_(n+1) about the centre, which moves each corner (75 pixels from the centre)
  # by 75 (w_n / w_(n+1) - 1) pixels.
  fields_of_view = np.array([round(240 * 0.98**i) for i in range(9)])
  expected = 75 * (fields_of_view[:-1] / fields_of_view[1:] - 1) / 120
  displacement = camera_motion.corner_displacement(zooming_in(0.02))
  np.testing.assert_allclose(displacement, expected, atol=0.003)


def test_an_object_moving_before_a_still_camera_is_not_camera_motion():
  assert camera_motion.corner_displacement(still_camera()).max() < 0.004


def test_the_estimate_does_not_depend_on_the_resolution():
  large = np.stack([cv2.resize(f, (480, 360)) for f in panning(3)])
  np.testing.assert_allclose(camera_motion.corner_displacement(large), 3 / 120, atol=0.002)


def test_arrow_clips_shot_by_a_moving_camera_are_drawn_again(synthetic_data_dir):
  """A video whose first half pans and second half is still: without max_camera_motion
  most training clips show the pan; with it a clip shows the pan only when all MAX_DRAWS
  draws did, and the loader counts those."""
  config = configs.base_config().input
  config.update(dataset='vidjax_synthetic/tiny', data_dir=synthetic_data_dir)
  config.sampling.update(mode='arrow', num_frames=4, stride=2, policy='pad')
  config.pp.update(crop_size=64, flip=False)
  frames = np.concatenate(
    [panning(3, num_frames=24, height=64, width=64), still_camera(24, 64, 64)]
  )
  dataset = pipeline.open_dataset(config.dataset, 'train', config.data_dir)
  video = encode.encode_video(frames, 8.0)
  source = one_record_dataset(dataset, dict(dataset.source[0], video=video, num_frames=48))

  def panning_clips(max_camera_motion):
    config.sampling.max_camera_motion = max_camera_motion
    loader = clip.Loader(source, config)
    rng = np.random.default_rng(0)
    clips = [loader.train_example(0, rng)['video'][0] for _ in range(40)]
    # The sampler's measure: the median over the pairs of sampled frames, 2 frames apart.
    moving = sum(np.median(camera_motion.corner_displacement(c)) > 0.02 for c in clips)
    return moving, loader.rejected_samples_kept

  (moving, kept), (moving_after, kept_after) = panning_clips(0.0), panning_clips(0.01)
  assert moving >= 15 and kept == 0, moving
  assert moving_after <= 2 and moving_after == kept_after, (moving_after, kept_after)
  with pytest.raises(ValueError, match='max_camera_motion'):
    arrow.Sampler(num_frames=4, stride=1, policy='pad', max_camera_motion=-0.1)
