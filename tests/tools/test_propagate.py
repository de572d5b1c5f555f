"""tools/propagate.py: a first-frame mask through a video file or a folder of frames."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from PIL import Image

from vidjax import checkpoint
from vidjax.data import davis, encode

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tools'))
import export_davis  # noqa: E402
import propagate  # noqa: E402


def test_a_video_file_gets_a_mask_per_frame(tmp_path):
  frames = np.full((6, 48, 64, 3), 90, np.uint8)
  first_mask = np.zeros((48, 64), np.uint8)
  for t in range(6):
    frames[t, 10:26, 4 + 4 * t : 20 + 4 * t] = (220, 40, 40)  # a red square moving right
  first_mask[10:26, 4:20] = 3
  (tmp_path / 'clip.mp4').write_bytes(encode.encode_video(frames, 8.0))
  davis.write_mask(tmp_path / 'first.png', first_mask)
  out = tmp_path / 'out'
  command = [
    sys.executable,
    os.path.join(REPO, 'tools', 'propagate.py'),
    str(tmp_path / 'clip.mp4'),
  ]
  command += ['--first_mask', str(tmp_path / 'first.png'), '--out', str(out), '--context', '3']
  subprocess.run(command, check=True, capture_output=True, text=True)
  masks = [davis.read_mask(out / f'{t:05d}.png') for t in range(6)]
  assert len(os.listdir(out / 'overlay')) == 6 and not (out / '00006.png').exists()
  np.testing.assert_array_equal(masks[0], first_mask)
  assert all(set(np.unique(m)) <= {0, 3} for m in masks)


def test_a_davis_sequence_with_a_checkpoint(tmp_path):
  export_davis.export('tiny', str(tmp_path / 'davis'), num_videos=1)
  sequence = tmp_path / 'davis' / 'JPEGImages' / '480p' / 'validation_00000'
  frames = propagate.read_frames(str(sequence))
  assert frames.shape == (16, 32, 32, 3)
  # A checkpoint holding the trunk as 'resnet' (as converted ImageNet ResNets do).
  model = propagate.encoder(depth=10)
  variables = model.init(jax.random.key(3), np.zeros((1, 1, 32, 32, 3), np.float32), train=False)
  trunk = {k: {'resnet': v['resnet']} for k, v in variables.items()}
  checkpoint.save_variables(str(tmp_path / 'ckpt'), trunk)
  features = propagate.frame_features(frames, str(tmp_path / 'ckpt'), depth=10, batch_size=5)
  # videowalk's test normalisation: ImageNet's statistics.
  imagenet_mean, imagenet_std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
  normalised = (frames / 255.0 - imagenet_mean) / imagenet_std
  expected = model.apply(
    variables, normalised.astype(np.float32), method=propagate.crw.Model.frame_features
  )
  assert features.shape == (16, 4, 4, 256)
  np.testing.assert_allclose(features, expected, atol=1e-5)
  _, annotation = davis.annotations(str(tmp_path / 'davis'), 'validation_00000')
  masks = propagate.propagation.propagate_masks(
    features, annotation[0], propagate.propagation.Protocol()
  )
  assert masks.shape == (16, 32, 32) and masks.dtype == np.uint8
  np.testing.assert_array_equal(masks[0], annotation[0])
  assert set(np.unique(masks)) <= set(np.unique(annotation[0]))


def test_a_first_mask_of_another_size_is_named(tmp_path):
  frames = np.zeros((3, 32, 32, 3), np.uint8)
  (tmp_path / 'clip.mp4').write_bytes(encode.encode_video(frames, 8.0))
  davis.write_mask(tmp_path / 'first.png', np.zeros((16, 16), np.uint8))
  command = [
    sys.executable,
    os.path.join(REPO, 'tools', 'propagate.py'),
    str(tmp_path / 'clip.mp4'),
  ]
  command += ['--first_mask', str(tmp_path / 'first.png'), '--out', str(tmp_path / 'out')]
  result = subprocess.run(command, capture_output=True, text=True)
  assert result.returncode != 0
  assert 'first.png: 16x16 pixels, the frames of' in result.stderr and '32x32' in result.stderr


@pytest.mark.parametrize('names', [[], ['a.jpg', 'b.jpg']])
def test_bad_frame_folders_are_named(tmp_path, names):
  for name, size in zip(names, [(8, 8), (8, 9)], strict=False):
    Image.fromarray(np.zeros((*size, 3), np.uint8)).save(tmp_path / name)
  with pytest.raises((FileNotFoundError, ValueError), match=str(tmp_path)):
    propagate.read_frames(str(tmp_path))


def test_keypoints_are_propagated_and_written(tmp_path):
  frames = np.random.default_rng(1).integers(0, 255, size=(3, 32, 32, 3), dtype=np.uint8)
  (tmp_path / 'joints.json').write_text('[[12, 20], [30.5, 3]]')
  points = propagate.read_keypoints(str(tmp_path / 'joints.json'), (32, 32))
  features = np.random.default_rng(2).normal(size=(3, 4, 4, 8)).astype(np.float32)
  features[1:] = features[0]  # a still video: the joints stay where they were
  keypoints = propagate.propagate_keypoints(points, features, 8, propagate.propagation.Protocol())
  assert keypoints.shape == (3, 2, 2)
  np.testing.assert_array_equal(keypoints[0], points)
  given = propagate.propagation.keypoints_from_labels(
    propagate.propagation.keypoint_labels(points, (4, 4), 8), 8
  )
  np.testing.assert_allclose(keypoints[1:], np.stack([given, given]), atol=0.5)
  propagate.write_keypoints(str(tmp_path / 'out'), frames, keypoints)
  written = json.loads((tmp_path / 'out' / 'keypoints.json').read_text())
  assert np.asarray(written).shape == (3, 2, 2)
  assert len(os.listdir(tmp_path / 'out' / 'overlay')) == 3


def test_a_joint_outside_the_frame_is_named(tmp_path):
  (tmp_path / 'joints.json').write_text('[[12, 20], [40, 3]]')
  with pytest.raises(ValueError, match=r'joint 1 at \[40.0, 3.0\] is outside the 32x32 frame'):
    propagate.read_keypoints(str(tmp_path / 'joints.json'), (32, 32))
