"""Every notebook in notebooks/ runs top to bottom in its smoke mode."""

import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import FAST_COMPILE_XLA_FLAGS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, 'notebooks', '*.ipynb')))
# The pictures each notebook draws.
FIGURES = {
  'quickstart.ipynb': 2,  # the metrics and the clips
  'unidual.ipynb': 3,  # both tasks' curves, images and clips with predictions
  'gradient_blending.ipynb': 3,  # per-head V and T losses, weights, final comparison
  'speednet.ipynb': 3,  # speediness against the truth, the rates, the sped-up frames
  'label_propagation.ipynb': 2,  # propagated and true masks, J&F against the baselines
  'ava.ipynb': 2,  # AP per action with true and detected boxes, keyframes with actions
}


def test_there_are_notebooks():
  assert NOTEBOOKS


@pytest.mark.slow
@pytest.mark.parametrize('path', NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_in_smoke_mode(path, synthetic_images_data_dir, monkeypatch, tmp_path):
  # The kernel inherits the environment: smoke mode and the tests' tiny dataset.
  monkeypatch.setenv('VIDJAX_NOTEBOOK_SMOKE', '1')
  monkeypatch.setenv('TFDS_DATA_DIR', synthetic_images_data_dir)
  monkeypatch.setenv('XLA_FLAGS', FAST_COMPILE_XLA_FLAGS)  # one device, as in a notebook
  monkeypatch.setenv('VIDJAX_NOTEBOOK_WORKDIR', str(tmp_path / 'workdir'))
  notebook = nbformat.read(path, as_version=4)
  NotebookClient(notebook, timeout=600, resources={'metadata': {'path': REPO}}).execute()
  errors = [
    output
    for cell in notebook.cells
    if cell.cell_type == 'code'
    for output in cell.outputs
    if output.output_type == 'error'
  ]
  assert not errors
  images = [
    output
    for cell in notebook.cells
    if cell.cell_type == 'code'
    for output in cell.outputs
    if 'image/png' in output.get('data', {})
  ]
  assert len(images) == FIGURES[os.path.basename(path)]
