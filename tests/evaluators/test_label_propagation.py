"""The label_propagation evaluator: DAVIS J&F of propagated masks, inside training."""

import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from vidjax import configs, train
from vidjax.evaluators import davis, label_propagation
from vidjax.tasks import crw

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'tools'))
import export_davis  # noqa: E402


class Colours(nn.Module):
  """Features: each pixel's colour, strongly weighted, and its position (a tracker by colour)."""

  @nn.compact
  def __call__(self, frames):
    t, height, width, _ = frames.shape
    ys, xs = jnp.meshgrid(jnp.linspace(0, 1, height), jnp.linspace(0, 1, width), indexing='ij')
    position = jnp.broadcast_to(jnp.stack([ys, xs], -1), (t, height, width, 2))
    scale = self.param('scale', nn.initializers.constant(4.0), ())
    return jnp.concatenate([scale * frames, position], axis=-1)


class ColourTask(crw.Task):
  def propagation_features(self, model, variables, frames):
    return model.apply(variables, frames)


class Constant(ColourTask):
  def propagation_features(self, model, variables, frames):
    return jnp.ones_like(model.apply(variables, frames))


def evaluator(task, config=None, **overrides):
  eval_config = ml_collections.ConfigDict(
    dict(label_propagation.DEFAULTS, type='label_propagation', every_steps=1)
  )
  eval_config.update(source='vidjax_synthetic/tiny', num_sequences=2, frames_per_batch=3)
  eval_config.update(overrides)
  return label_propagation.Evaluator('davis', eval_config, config, Colours(), task, None)


def state():
  variables = Colours().init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
  return train.TrainState(
    step=jnp.zeros((), jnp.int32),
    params=variables['params'],
    batch_stats={},
    opt_state={},
    task_state={},
  )


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
  root = tmp_path_factory.mktemp('davis')
  export_davis.export('tiny', str(root), num_videos=2)
  return root


@pytest.fixture(scope='module')
def colour_results():
  return evaluator(ColourTask(), temperature=0.01).run(state(), None)


def test_colour_features_track_better_than_copying_and_constant_features_do_not(
  exported, colour_results
):
  assert colour_results['num_sequences'] == 2 and colour_results['num_objects'] >= 4
  copy = davis.evaluate_folder(
    str(exported), str(exported / 'first_frame_copy'), 'val', processes=1
  )
  assert colour_results['copy/J&F-Mean'] == pytest.approx(copy['J&F-Mean'], abs=1e-9)
  assert colour_results['J&F-Mean'] > copy['J&F-Mean'] + 0.05
  flat = evaluator(Constant()).run(state(), None)
  assert flat['J&F-Mean'] < colour_results['J&F-Mean'] - 0.2


def test_a_davis_folder_scores_as_the_embedded_videos_it_was_exported_from(
  exported, colour_results
):
  from_memory = evaluator(ColourTask())
  from_folder = evaluator(ColourTask(), temperature=0.01, source=str(exported), num_sequences=0)
  assert from_folder.names == from_memory.names
  for (_, frames, labels), (_, read, read_labels) in zip(
    from_memory.sequences(), from_folder.sequences(), strict=True
  ):
    np.testing.assert_array_equal(read_labels, labels)
    assert np.abs(read.astype(int) - frames).mean() < 8  # JPEG (quality 95) of noisy textures
  # The JPEG noise costs the colour tracker some J&F; it still tracks.
  folder = from_folder.run(state(), None)
  assert folder['J&F-Mean'] > folder['copy/J&F-Mean'] + 0.05
  assert folder['copy/J&F-Mean'] == pytest.approx(colour_results['copy/J&F-Mean'])


def test_a_prepared_davis_dataset_scores_as_the_folder_it_was_prepared_from(
  exported, tmp_path_factory
):
  """The davis builder on the export; the `sequence` loader gives the folder's frames and
  masks bit for bit, so the J&F are equal."""
  import tensorflow_datasets as tfds

  from vidjax.data.builders import davis as davis_builder

  data_dir = str(tmp_path_factory.mktemp('tfds'))
  builder = davis_builder.Davis(data_dir=data_dir, config='480p', workers=1, progress=False)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=exported))
  assert builder.info.splits['val'].num_examples == 2
  config = ml_collections.ConfigDict(dict(input=dict(data_dir=data_dir)))
  from_dataset = evaluator(ColourTask(), config, temperature=0.01, source='davis/480p')
  from_folder = evaluator(ColourTask(), temperature=0.01, source=str(exported))
  assert from_dataset.names == from_folder.names == ['validation_00000', 'validation_00001']
  for (_, frames, labels), (_, read, read_labels) in zip(
    from_dataset.sequences(), from_folder.sequences(), strict=True
  ):
    np.testing.assert_array_equal(frames, read)
    np.testing.assert_array_equal(labels, read_labels)
  # An unreadable frame is left out and reported, never replaced by another sequence.
  records = from_dataset._loader._reader._source
  first = from_dataset._index['validation_00000']
  broken = dict(records[first], frames=np.array([b'not a jpeg'], dtype=object))
  from_dataset._loader._reader._source = [broken if i == first else records[i] for i in range(2)]
  assert [name for name, _, _ in from_dataset.sequences()] == ['validation_00001']
  assert from_dataset.decode_failures == ['validation_00000']


def test_image_scale_resizes_the_frames_the_features_see():
  features = evaluator(ColourTask(), image_scale=2.0).video_features(
    state().variables, np.zeros((4, 32, 32, 3), np.uint8)
  )
  assert features.shape == (4, 64, 64, 5)


def test_an_unknown_source_is_refused_naming_the_key():
  with pytest.raises(FileNotFoundError, match=r'config.evals.davis.source=.*/no/such'):
    evaluator(ColourTask(), source='/no/such')
  with pytest.raises(ValueError, match='vidjax_synthetic/nope: no such config'):
    evaluator(ColourTask(), source='vidjax_synthetic/nope')


def test_a_task_without_propagation_features_says_which_tasks_have_them():
  classification = configs.load_module('tasks', 'classification').Task(
    label_smoothing=0.0, multi_label=False, frame_level_loss=False
  )
  with pytest.raises(NotImplementedError, match='crw, colorization'):
    evaluator(classification).run(state(), None)
