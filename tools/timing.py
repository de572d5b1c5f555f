"""What the benchmark's side-by-side comparisons share: the best of several rounds."""

import time
from collections.abc import Callable
from typing import Any


def best_seconds(function: Callable[[], Any], rounds: int) -> tuple[float, Any]:
  """(the fastest of `rounds` calls of `function`, in seconds; the last call's result)."""
  best, result = float('inf'), None
  for _ in range(rounds):
    start = time.perf_counter()
    result = function()
    best = min(best, time.perf_counter() - start)
  return best, result
