"""ruff lint and format are part of the suite (DESIGN.md, Style)."""

import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize('command', [['check'], ['format', '--check']])
def test_ruff(command):
  ruff = shutil.which('ruff')
  assert ruff, 'ruff is installed by the [test] extra: pip install -e ".[test]"'
  result = subprocess.run([ruff, *command, '.'], cwd=REPO, capture_output=True, text=True)
  assert result.returncode == 0, result.stdout + result.stderr
