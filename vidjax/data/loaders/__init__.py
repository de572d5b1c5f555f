"""Loaders: one record of a prepared dataset -> one example of host arrays, by kind.

`config.input.loader` names the module (`vidjax.data.loaders.<name>`): 'clip' (video
clips, with flow and audio) and 'image' (single images); 'keyframe' (a clip with the boxes
and labels of its actors) and 'sequence' (every frame, for propagation) follow the same
interface. A loader module defines:

  Loader(dataset, input_config)      with
    train_example(index, rng) -> dict   one training example (random sampling and crop);
    eval_example(index, num_clips, num_crops) -> dict
                                         every test view of example `index`, plus 'index',
                                         'mask' and 'decode_failed' (never another example);
    empty_example(num_views) -> dict     a masked example of zeros (padding, failures);
    decode_failures                      how many records failed to decode so far.
  input_shapes(input_config) -> {key: shape}   the model inputs of one training example.
  check_train_config(input_config)             errors for settings that cannot go together.

The label is optional: a dataset without one gives examples without 'label'.
"""

from __future__ import annotations

import types

from vidjax import configs


def module(name: str) -> types.ModuleType:
  """The loader module `name` (or a dotted module path of your own); an unknown name lists
  the known ones."""
  return configs.load_module('data.loaders', name, flag='config.input.loader')
