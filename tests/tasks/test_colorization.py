"""Colourisation tracking: Lab conversion, colour quantisation, the copy-colour loss."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from skimage import color

from vidjax.models import colorizer
from vidjax.tasks import base, colorization

CENTRES = [[-40.0, 30.0], [0.0, 0.0], [25.0, -35.0], [50.0, 50.0]]


def test_lab_matches_skimage_and_converts_back():
  rgb = np.random.default_rng(0).uniform(size=(500, 3)).astype(np.float32)
  rgb[:4] = [[0, 0, 0], [1, 1, 1], [0.02, 0.01, 0.03], [1, 0, 0]]  # the linear segment too
  lab = np.asarray(colorization.rgb_to_lab(rgb))
  np.testing.assert_allclose(lab, color.rgb2lab(rgb.astype(np.float64)), atol=2e-3)
  np.testing.assert_allclose(colorization.lab_to_rgb(lab), rgb, atol=1e-4)


def test_quantisation_round_trip_maps_each_colour_to_its_nearest_centre():
  centres = jnp.asarray(CENTRES)
  np.testing.assert_array_equal(colorization.quantise(centres, centres), np.arange(4))
  ab = np.random.default_rng(1).uniform(-60, 60, size=(1000, 2)).astype(np.float32)
  indices = np.asarray(colorization.quantise(jnp.asarray(ab), centres))
  brute = np.argmin(((ab[:, None] - np.asarray(CENTRES)[None]) ** 2).sum(-1), axis=1)
  np.testing.assert_array_equal(indices, brute)
  # A colour decoded from its index is quantised to the same index again.
  decoded = np.asarray(CENTRES)[indices]
  np.testing.assert_array_equal(colorization.quantise(jnp.asarray(decoded), centres), indices)


def test_kmeans_finds_separated_clusters():
  rng = np.random.default_rng(2)
  truth = np.array([[-30.0, 10.0], [20.0, 20.0], [5.0, -40.0]])
  ab = np.concatenate([c + rng.normal(scale=1.0, size=(200, 2)) for c in truth])
  centres = colorization.fit_centres(ab, 3)
  found = centres[np.argsort(centres[:, 0])]
  np.testing.assert_allclose(found, truth[np.argsort(truth[:, 0])], atol=0.5)


def test_cell_means_average_blocks():
  values = jnp.arange(16.0).reshape(1, 1, 4, 4, 1)
  np.testing.assert_allclose(
    colorization.cell_means(values, 2)[0, 0, ..., 0], [[2.5, 4.5], [10.5, 12.5]]
  )
  with pytest.raises(ValueError, match='multiple of the feature stride 8'):
    colorization.cell_means(jnp.zeros((1, 1, 12, 12, 2)), 8)


def test_copying_from_a_matching_reference_predicts_its_colour():
  # Two positions per frame; the target's position j has reference 1's embedding at j.
  embeddings = np.zeros((1, 4, 1, 2, 2), np.float32)
  embeddings[0, 1, 0] = embeddings[0, 3, 0] = [[20.0, 0.0], [0.0, 20.0]]
  labels = np.zeros((1, 4, 1, 2), np.int32)
  labels[0, 1, 0] = [2, 3]
  predicted = colorization.copy_colours(jnp.asarray(embeddings), jnp.asarray(labels), 4, 1.0)
  np.testing.assert_allclose(predicted[0], np.eye(4)[[2, 3]], atol=1e-6)
  # Identical embeddings everywhere: the histogram of the references' colours.
  flat = colorization.copy_colours(jnp.ones((1, 4, 1, 2, 2)), jnp.asarray(labels), 4, 1.0)
  np.testing.assert_allclose(flat[0], [[4 / 6, 0, 1 / 6, 1 / 6]] * 2, atol=1e-6)


def test_the_loss_trains_the_network_from_lightness_only():
  task = colorization.Task(colour_centres=CENTRES)
  model = colorizer.Model(depth=10, width=4, conv3d_layers=2, conv3d_width=4, embed_dim=8)
  # A solid colour per 8 x 8 cell, so that the cells' quantised colours differ.
  cells = np.random.default_rng(3).integers(0, 255, size=(2, 4, 2, 2, 3), dtype=np.uint8)
  video = cells.repeat(8, axis=2).repeat(8, axis=3)
  ctx = base.Context(
    step=jnp.zeros((), jnp.int32),
    rngs={'dropout': jax.random.key(0)},
    train=True,
    state={},
    constants=task.constants(),
    pp=ml_collections.ConfigDict(),
  )
  batch = task.preprocess({'video': jnp.asarray(video)}, ctx)
  assert batch['video'].shape == (2, 4, 16, 16, 1) and batch['colour_labels'].shape == (2, 4, 2, 2)
  variables = model.init(jax.random.key(0), jnp.zeros((1, 4, 16, 16, 3)), train=False)

  def loss(params):
    return task.loss_and_metrics(model, {**variables, 'params': params}, batch, ctx)[0]

  value, grads = jax.value_and_grad(loss)(variables['params'])
  assert np.isfinite(value) and 0 < value < 10
  assert any(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads))
  features = task.propagation_features(model, variables, jnp.asarray(video[0]) / 255.0)
  assert features.shape == (4, 2, 2, 8)


def test_centres_are_refused_naming_the_key_and_the_tool(tmp_path):
  with pytest.raises(ValueError, match='colour_centres.*tools/colour_clusters.py'):
    colorization.Task(colour_centres=())
  with pytest.raises(FileNotFoundError, match='tools/colour_clusters.py'):
    colorization.Task(colour_centres=str(tmp_path / 'none.json'))
  (tmp_path / 'c.json').write_text('[[1, 2], [3, 4]]')
  np.testing.assert_array_equal(
    colorization.Task(colour_centres=str(tmp_path / 'c.json')).centres, [[1, 2], [3, 4]]
  )
