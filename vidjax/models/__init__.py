"""Model zoo: one architecture family per module, each exposing `Model`."""

from collections.abc import Mapping
from typing import Any


def model_inputs(model: Any, batch: Mapping[str, Any]) -> Any:
  """The `x` that `model` is applied to, taken from a (preprocessed) batch.

  A model reads the video array unless its class names the batch keys it needs in an
  `input_keys` attribute (multi-modal models, e.g. ('video', 'flow')): it then gets the dict
  of those entries. A model that reads whichever of several keys a batch has (UniDual: a
  video batch, an image batch or both) names them in `any_input_keys` instead, and gets the
  dict of those present. The model states its inputs once, and the task, the evaluators and
  the trainer's initialisation all build them here.
  """
  any_keys = getattr(model, 'any_input_keys', None)
  if any_keys is not None:
    present = {k: batch[k] for k in any_keys if k in batch}
    if not present:
      raise KeyError(
        f'{type(model).__module__}.Model reads any of the batch keys {list(any_keys)}; the '
        f'input has {sorted(batch)}.'
      )
    return present
  keys = getattr(model, 'input_keys', None)
  if keys is None:
    return batch['video']
  missing = [k for k in keys if k not in batch]
  if missing:
    raise KeyError(
      f'{type(model).__module__}.Model needs the batch keys {missing}, which the input does '
      f'not produce (it has {sorted(batch)}); enable them in config.input (e.g. '
      'config.input.flow.enabled=True).'
    )
  return {k: batch[k] for k in keys}
