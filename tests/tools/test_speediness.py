"""SpeedNet's speediness and adaptive speed-up: the logic on videos of known speed, and
tools/speediness.py and tools/speedup_video.py end to end on a generated video."""

import dataclasses
import importlib.util
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from tests.tools.test_extract_features import _random_variables
from vidjax import checkpoint, configs, speediness
from vidjax.data import decode, encode
from vidjax.data.builders import synthetic, synthetic_scenes

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load_tool(name):
  spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, 'tools', f'{name}.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _segments(num_frames=120):
  """True speeds: 40 frames at 1, 40 at 2, 40 at 1; the frames' content is the scene's
  time, so a clip's mean step between frames is its speed."""
  speed = np.repeat([1.0, 2.0, 1.0], num_frames // 3)
  scene_time = np.concatenate([[0.0], np.cumsum(speed[:-1])])
  frames = np.broadcast_to(scene_time[:, None, None, None], (num_frames, 2, 2, 1))
  return speed, frames


def _ideal_scorer(clips):
  """P(sped up) of an ideal SpeedNet: a clip whose scene moves more than 1.4 a frame."""
  steps = np.diff(clips[:, :, 0, 0, 0], axis=1).mean(axis=1)
  return 1.0 / (1.0 + np.exp(-20.0 * (steps - 1.4)))


def test_an_ideal_classifier_gives_the_true_speeds_and_a_schedule_near_the_ideal():
  speed, frames = _segments()
  probabilities = speediness.frame_probabilities(_ideal_scorer, frames, window=8, hop=1)
  assert probabilities.shape == (len(speediness.FACTORS), 120)
  max_normal, curve = speediness.speediness(probabilities)
  # Away from the segments' borders (where windows, up to 15 frames long, straddle two
  # speeds): at speed 1 the largest factor that still looks normal is 1.25; at speed 2 it
  # is 0.5 (0.75 steps 1.43 on average).
  inside = np.r_[0:25, 55:65, 95:120]
  assert set(max_normal[inside][speed[inside] == 1]) == {1.25}
  assert set(max_normal[inside][speed[inside] == 2]) == {0.5}
  assert np.corrcoef(curve, speed)[0, 1] > 0.9
  for target in (1.5, 2.0):
    rates = speediness.adaptive_rates(max_normal, target, smoothing_frames=2.0, max_rate=4.0)
    assert rates.min() >= 1 and rates.max() <= 4
    np.testing.assert_allclose(np.sum(1 / rates), 120 / target, rtol=1e-6)
    positions = speediness.output_positions(rates)
    assert abs(len(positions) - 120 / target) <= 1.5
    ideal = speediness.ideal_rates(speed, target, max_rate=4.0)
    adaptive_error = np.mean(np.abs(rates - ideal) / ideal)
    uniform_error = np.mean(np.abs(target - ideal) / ideal)
    assert adaptive_error < uniform_error / 2
    # Fast moments are sped up less than slow ones.
    assert rates[40:80].mean() < rates[:40].mean() / 1.5


def test_windows_cover_every_frame_and_a_short_video_is_refused():
  starts = speediness.window_starts(20, window=4, factor=2.0, hop=3)
  assert starts.tolist() == [0, 3, 6, 9, 12, 13]  # the last one ends at the end
  with pytest.raises(ValueError, match='spans 7 frames; the video has 6'):
    speediness.window_starts(6, window=4, factor=2.0, hop=1)


def test_retimed_audio_has_one_frame_of_sound_per_output_frame():
  rate, fps = 1000, 10.0
  waveform = np.sin(np.arange(3000) / 10.0).astype(np.float32)  # 3 s, 30 frames
  positions = speediness.output_positions(np.full(30, 2.0))
  retimed = speediness.retime_audio(waveform, rate, fps, positions, 30)
  assert len(positions) == 15 and len(retimed) == 15 * 100
  # Twice the rate: output sample i is source sample 2 i.
  np.testing.assert_allclose(retimed[:50], waveform[:100:2], atol=1e-6)


@pytest.fixture(scope='module')
def speednet_workdir(tmp_path_factory):
  """(config, workdir) of the SpeedNet smoke model with random variables in a checkpoint."""
  config = configs.load_config_file(
    os.path.join(REPO, 'experiments', 'speednet', 'synthetic.py') + ':smoke'
  )
  model = configs.load_module('models', config.model_name).Model(**config.model)
  variables = _random_variables(model, jax.ShapeDtypeStruct((1, 4, 28, 28, 3), jnp.float32))
  replicated = NamedSharding(Mesh(np.array(jax.devices()), ('data',)), PartitionSpec())
  state = jax.device_put(dict(step=jnp.int32(1), **variables), replicated)
  workdir = str(tmp_path_factory.mktemp('speednet'))
  checkpointer = checkpoint.Checkpointer(os.path.join(workdir, 'checkpoints'), max_to_keep=1)
  checkpointer.save(1, state, {'data': 0})
  checkpointer.wait()
  checkpointer.close()
  return config, workdir


@pytest.fixture(scope='module')
def speed_video(tmp_path_factory):
  """A validation video of the `speed` config at 32 x 32 with its soundtrack, and its
  true speeds."""
  config = dataclasses.replace(
    synthetic.VidjaxSynthetic.builder_configs['speed'], height=32, width=32
  )
  video = synthetic_scenes.render_video(config, 'validation', 1)
  path = str(tmp_path_factory.mktemp('video') / 'speed.mp4')
  with open(path, 'wb') as f:
    f.write(encode.encode_video(video['frames'], config.fps, video['audio'], 16000))
  return path, video['frame_speed']


def test_the_tools_run_end_to_end(speednet_workdir, speed_video, tmp_path):
  config, workdir = speednet_workdir
  path, true_speed = speed_video
  record = _load_tool('speediness').video_speediness(
    path, config, workdir, factors=(0.5, 1.0, 2.0), hop=2, batch_size=8
  )
  assert record['num_frames'] == 48 and record['window'] == 4
  assert np.shape(record['probabilities']) == (3, 48) and len(record['speediness']) == 48
  assert set(record['max_normal_factor']) <= {0.5, 1.0, 2.0}
  json.dumps(record)
  with open(path, 'rb') as f:
    _load_tool('speediness').draw(record, f.read(), str(tmp_path / 'curve.png'), true_speed)
  assert os.path.getsize(tmp_path / 'curve.png') > 10_000

  out, uniform = str(tmp_path / 'fast.mp4'), str(tmp_path / 'uniform.mp4')
  schedule = _load_tool('speedup_video').speed_up(
    path, config, workdir, speedup=2.0, out=out, uniform_out=uniform, hop=2, batch_size=8
  )
  for written, expected in ((out, len(schedule['source_positions'])), (uniform, 24)):
    with open(written, 'rb') as f:
      info = decode.probe(f.read())
    assert abs(info.num_frames - 24) <= 1 and info.num_frames == expected
    assert info.fps == 8.0 and info.has_audio
  assert os.path.exists(tmp_path / 'fast.json')


def test_scores_against_the_truth_of_an_ideal_classifier():
  speed, frames = _segments()
  probabilities = speediness.frame_probabilities(_ideal_scorer, frames, window=8, hop=1)
  scores = speediness.score_against_truth(probabilities, speed, speedup=2.0)
  assert scores['accuracy'] > 85 and scores['balanced_accuracy'] > 85
  assert scores['correlation'] > 0.9
  assert scores['adaptive_error'] < scores['uniform_error'] / 2
  with pytest.raises(ValueError, match='needs factor 1'):
    speediness.score_against_truth(probabilities[:2], speed, factors=(0.5, 0.75))
