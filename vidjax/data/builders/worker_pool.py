"""The pool of worker processes that dataset preparation transcodes and decodes in."""

import concurrent.futures
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import tqdm


def parallel_map(
  fn: Callable[[Any], Any],
  items: Sequence[Any],
  workers: int,
  desc: str,
  progress: bool = True,
) -> Iterator[tuple[Any, Any]]:
  """Yields `(item, fn(item))` as they complete, in any order, with a progress bar.

  `fn` runs in `workers` processes (started with 'spawn': forking a process that may run
  JAX or tfds threads can deadlock), or in this process when `workers` <= 1. `fn` must be
  a module-level function; at most a few items per worker are in flight, so that the
  pool drains quickly when the caller stops.
  """
  with tqdm.tqdm(total=len(items), desc=desc, unit='file', disable=not progress) as bar:
    if workers <= 1:
      for item in items:
        result = fn(item)
        bar.update()
        yield item, result
      return
    context = multiprocessing.get_context('spawn')
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
      queue, pending = iter(items), {}
      while True:
        for item in queue:
          pending[pool.submit(fn, item)] = item
          if len(pending) >= 4 * workers:
            break
        if not pending:
          return
        done, _ = concurrent.futures.wait(pending, return_when='FIRST_COMPLETED')
        for future in done:
          item = pending.pop(future)
          bar.update()
          yield item, future.result()
