"""Tests of tools/demo.py: top-k on a video, label names, the annotated output video."""

import importlib.util
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vidjax import checkpoint, configs, model_size
from vidjax.data import decode, encode

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tools', 'demo.py')
CONFIG = os.path.join(REPO, 'experiments', 'quickstart.py') + ':smoke'
NAMES = [f'class_{i}' for i in range(10)]


def _load_tool():
  spec = importlib.util.spec_from_file_location('demo_tool', TOOL)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


demo = _load_tool()


def test_top_classes_is_the_softmax_of_the_mean_logits():
  logits = np.array([[1.0, 3.0, 0.0, 2.0], [3.0, 1.0, 0.0, 2.0]])
  top = demo.top_classes(logits, ['a', 'b', 'c', 'd'], 3)
  mean = np.array([2.0, 2.0, 0.0, 2.0])
  probs = np.exp(mean) / np.exp(mean).sum()
  # Ties keep the class order.
  assert [name for name, _ in top] == ['a', 'b', 'd']
  np.testing.assert_allclose([p for _, p in top], probs[[0, 1, 3]])


def test_draw_predictions_writes_in_the_top_left_corner():
  frames = np.full((3, 64, 96, 3), 128, np.uint8)
  drawn = demo.draw_predictions(frames, [('move_left', 0.875), ('grow', 0.1)])
  assert drawn.shape == frames.shape and drawn.dtype == np.uint8
  corner = drawn[:, :24, :64]
  # Dark box, light (anti-aliased) text.
  assert (corner == 0).any() and corner.max() > 200
  np.testing.assert_array_equal(drawn[:, 40:, 70:], frames[:, 40:, 70:])
  # The same text on every frame.
  np.testing.assert_array_equal(drawn[0], drawn[2])


def test_labels_from_the_dataset_or_a_file(synthetic_data_dir, tmp_path):
  config = configs.load_config_file(CONFIG)
  config.input.data_dir = synthetic_data_dir
  names = demo.read_labels(None, config, 10)
  assert len(names) == 10 and 'move_left' in names
  labels = tmp_path / 'labels.txt'
  labels.write_text('a\nb\n\nc\n')
  assert demo.read_labels(str(labels), config, 3) == ['a', 'b', 'c']
  with pytest.raises(ValueError, match='--labels=.* has 3 class names, the model 10'):
    demo.read_labels(str(labels), config, 10)


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
  """A workdir whose checkpoint holds random variables of the quickstart smoke model."""
  config = configs.load_config_file(CONFIG)
  model = configs.load_module('models', config.model_name).Model(**config.model)
  shape = (1, config.input.sampling.num_frames, 28, 28, 3)
  abstract = model_size.abstract_variables(model, jax.ShapeDtypeStruct(shape, jnp.float32))
  rng = np.random.default_rng(0)
  # Positive values: BN variances must be.
  variables = jax.tree.map(
    lambda s: jnp.asarray(rng.uniform(0.5, 1.0, s.shape) / np.sqrt(np.prod(s.shape[:-1])), s.dtype),
    abstract,
  )
  workdir = str(tmp_path_factory.mktemp('workdir'))
  checkpointer = checkpoint.Checkpointer(os.path.join(workdir, 'checkpoints'), max_to_keep=1)
  checkpointer.save(2, dict(step=jnp.int32(2), **variables), {})
  checkpointer.wait()
  checkpointer.close()
  return workdir


def test_command_line_prints_top5_and_writes_the_annotated_video(workdir, tmp_path):
  # Smooth frames, which survive the re-encoding nearly unchanged.
  t, y, x = np.meshgrid(np.arange(10), np.arange(96), np.arange(128), indexing='ij')
  frames = np.stack([100 + x, 100 + y, 120 + 5 * t], axis=-1).astype(np.uint8)
  video = tmp_path / 'clip.mp4'
  video.write_bytes(encode.encode_video(frames, fps=10))
  labels = tmp_path / 'labels.txt'
  labels.write_text('\n'.join(NAMES))
  output = tmp_path / 'out' / 'annotated.mp4'
  result = subprocess.run(
    [sys.executable, TOOL, f'--config={CONFIG}', f'--workdir={workdir}', f'--video={video}',
     f'--labels={labels}', f'--output_video={output}', '--num_clips=2'],
    cwd=REPO, capture_output=True, text=True, timeout=150,
  )  # fmt: skip
  assert result.returncode == 0, result.stderr
  lines = result.stdout.strip().splitlines()
  assert len(lines) == 5
  ranks, names, probs = zip(*(line.replace(':', '').split()[:3] for line in lines), strict=True)
  assert ranks == ('1.', '2.', '3.', '4.', '5.') and set(names) <= set(NAMES)
  probs = [float(p) for p in probs]
  assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 100.05
  info = decode.probe(output.read_bytes())
  assert (info.num_frames, info.height, info.width) == (10, 96, 128)
  annotated = decode.decode_frames(output.read_bytes(), range(10)).astype(int)
  original = decode.decode_frames(video.read_bytes(), range(10))
  # The text box changed the top-left corner; the rest is the video re-encoded.
  assert np.abs(annotated[:, :20, :40] - original[:, :20, :40]).mean() > 40
  assert np.abs(annotated[:, 72:, 100:] - original[:, 72:, 100:]).mean() < 3


def test_undecodable_video_is_a_clear_error(workdir, tmp_path):
  video = tmp_path / 'broken.mp4'
  video.write_bytes(b'garbage')
  result = subprocess.run(
    [sys.executable, TOOL, f'--config={CONFIG}', f'--workdir={workdir}', f'--video={video}'],
    cwd=REPO, capture_output=True, text=True, timeout=150,
  )  # fmt: skip
  assert result.returncode != 0
  assert f'--video={video}' in result.stderr and 'cannot open container' in result.stderr


# The linear head: its model compiles faster than ACAR's, and the demo reads either alike.
AVA_CONFIG = os.path.join(REPO, 'experiments', 'ava', 'synthetic.py') + ':smoke,variant=linear'


def test_person_boxes_are_read_per_second_and_bad_rows_named(tmp_path):
  from vidjax import ava_inference  # noqa: PLC0415

  path = tmp_path / 'people.csv'
  path.write_text('2,0.1,0.2,0.5,0.9,0.98\n1,0.5,0.5,0.7,0.8\n2,0.6,0.1,0.9,0.5\n')
  boxes = ava_inference.read_person_boxes(str(path))
  assert list(boxes) == [1.0, 2.0] and boxes[2.0].shape == (2, 4)
  path.write_text('1,0.1,0.2,0.5,0.9\n3,0.5,0.5,0.4,0.8\n')
  with pytest.raises(ValueError, match=r'people.csv:2: box .* x1 < x2'):
    ava_inference.read_person_boxes(str(path))


def test_actions_of_each_person_box(tmp_path):
  from vidjax import ava_inference  # noqa: PLC0415

  config = configs.load_config_file(AVA_CONFIG)
  model = configs.load_module('models', config.model_name).Model(**config.model)
  actors, size = config.input.keyframe.max_actors, config.input.pp.crop_size
  example = {
    'video': jnp.zeros((1, config.input.sampling.num_frames, size, size, 3)),
    'boxes': jnp.zeros((1, actors, 4)),
    'box_mask': jnp.ones((1, actors), bool),
  }
  variables = model.init(jax.random.key(0), example, train=False)
  workdir = str(tmp_path / 'workdir')
  checkpointer = checkpoint.Checkpointer(os.path.join(workdir, 'checkpoints'), max_to_keep=1)
  checkpointer.save(1, dict(step=jnp.int32(1), **variables), {})
  checkpointer.wait()
  checkpointer.close()
  frames = np.random.default_rng(0).integers(0, 255, (20, 48, 64, 3), np.uint8)
  video = encode.encode_video(frames, fps=8)
  people = {1.0: np.array([[0.1, 0.1, 0.5, 0.9]], np.float32), 2.4: np.array(
    [[0.1, 0.1, 0.5, 0.9], [0.5, 0.2, 0.9, 0.6]], np.float32)}  # fmt: skip
  scores = ava_inference.ActionDetector(config, workdir)(video, people)
  assert [s.shape for s in scores.values()] == [(1, 10), (2, 10)]
  for probabilities in scores.values():
    # A softmax over the 5 movements, sigmoids over the rest.
    np.testing.assert_allclose(probabilities[:, :5].sum(-1), 1.0, rtol=1e-5)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_draw_actions_outlines_each_box():
  frames = np.full((2, 60, 80, 3), 60, np.uint8)
  boxes = np.array([[0.25, 0.5, 0.75, 0.9]], np.float32)
  drawn = demo.draw_actions(frames, boxes, [[('walk', 0.9), ('talk', 0.4)]])
  # The yellow outline at the box's left edge, the rest of the frame's lower left untouched.
  assert (drawn[0, 35:50, 20, :2] > 200).all() and (drawn[0, 35:50, 20, 2] < 100).all()
  np.testing.assert_array_equal(drawn[:, 50:, :10], frames[:, 50:, :10])
