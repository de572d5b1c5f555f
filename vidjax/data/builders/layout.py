"""Reading a dataset's official layout: annotation files and folder trees.

The builders' `_list_sources` use these so that a missing or misplaced file is reported
the same way for every dataset: with the file's name and the layout that was expected.
"""

import collections
from collections.abc import Sequence

from etils import epath


def find_file(directory: epath.Path, name: str, layout: str) -> epath.Path:
  """`directory / name`, or a FileNotFoundError that describes the expected layout."""
  path = directory / name
  if not path.is_file():
    raise FileNotFoundError(f'{name} not found in {directory}; expected {layout}')
  return path


def annotation_lines(path: epath.Path) -> list[tuple[int, str]]:
  """`(line number, stripped line)` of the non-blank lines of a text annotation file.

  Official list files come with Windows line endings and trailing spaces; both go.
  """
  lines = path.read_text(encoding='utf-8-sig').splitlines()
  return [(number, line.strip()) for number, line in enumerate(lines, 1) if line.strip()]


def sources_in_folders(
  root: epath.Path, extensions: Sequence[str]
) -> dict[str, dict[str, list[epath.Path]]]:
  """`{split: {class: [files]}}` of a `root/<split>/<class>/<file>` tree, sorted.

  Files are matched by extension, case-insensitively; other files are ignored.
  """
  tree = collections.defaultdict(dict)
  for split_dir in sorted(p for p in root.iterdir() if p.is_dir()):
    for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
      files = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in extensions)
      if files:
        tree[split_dir.name][class_dir.name] = files
  return dict(tree)
