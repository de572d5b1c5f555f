"""tools/label_space.py: the classes training would build, printed and written."""

import json
import os
import subprocess
import sys

from vidjax.data import label_space, pipeline

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_label_space_tool_reports_the_space_training_builds(synthetic_data_dir, tmp_path):
  out = tmp_path / 'space.json'
  result = subprocess.run(
    [
      sys.executable,
      os.path.join(REPO, 'tools', 'label_space.py'),
      '--dataset=vidjax_synthetic/tiny_tags',
      f'--data_dir={synthetic_data_dir}',
      '--kind=noun',
      '--min_count=2',
      f'--json={out}',
    ],
    capture_output=True,
    text=True,
    env={**os.environ, 'PYTHONPATH': REPO},
    timeout=300,
  )
  assert result.returncode == 0, result.stderr
  space = pipeline.build_label_space(
    'vidjax_synthetic/tiny_tags', 'train', synthetic_data_dir, 'noun', 2, ''
  )
  written = json.loads(out.read_text())
  assert written == {
    'kind': 'noun',
    'min_count': 2,
    'classes': dict(zip(space.names, space.counts, strict=True)),
  }
  source = pipeline.open_dataset('vidjax_synthetic/tiny_tags', 'train', synthetic_data_dir).source
  tags = pipeline.split_tags('vidjax_synthetic/tiny_tags', 'train', synthetic_data_dir)
  kept = len(label_space.relabel(source, tags, space))
  assert f'{len(space.names)} classes; {kept} of {len(source)} videos have one.' in result.stdout
