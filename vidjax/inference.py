"""Inference outside the trainer, for tools/extract_features.py and tools/demo.py.

A trained model is its experiment config plus a workdir: `load_model` restores the
parameters and BN statistics of the workdir's latest checkpoint (or of `config.init_from.path`)
onto one device, whatever topology the checkpoint was saved from. `video_views` decodes the
T clips x S crops of one encoded video the way the multi-view evaluator sees them, and
`Predictor` runs the model over them in fixed-size batches.
"""

from __future__ import annotations

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from vidjax import checkpoint, configs, model_size, models
from vidjax.data import decode, pipeline, preprocess, samplers
from vidjax.data.loaders import clip

# The variable collections inference needs; the optimiser state is left on disk.
_COLLECTIONS = ('params', 'batch_stats')


def load_model(config: ml_collections.ConfigDict, workdir: str) -> tuple[nn.Module, dict, int]:
  """The model of `config` with the variables of its latest checkpoint in `workdir`.

  Args:
    config: the experiment config (as given to `vidjax.main`).
    workdir: the training run's workdir; without a checkpoint there, `config.init_from.path`.

  Returns:
    (model, variables {'params', 'batch_stats'} on the default device, checkpoint step;
    0 for `config.init_from.path`).

  Raises:
    FileNotFoundError: neither a checkpoint in `workdir` nor `config.init_from.path`.
  """
  model = configs.load_module('models', config.model_name).Model(**config.model)
  # The model's inputs as training builds them (the video, boxes, audio: the loader's).
  shapes = pipeline.input_shapes(config.input)
  example = models.model_inputs(
    model, {k: jax.ShapeDtypeStruct((1, *shape), jnp.float32) for k, shape in shapes.items()}
  )
  abstract = model_size.abstract_variables(model, example)
  abstract = {k: v for k, v in abstract.items() if k in _COLLECTIONS}
  directory = os.path.join(os.path.abspath(os.path.expanduser(workdir)), 'checkpoints')
  step = None
  if os.path.isdir(directory):
    checkpointer = checkpoint.Checkpointer(directory, max_to_keep=1)
    step = checkpointer.latest_step()
    checkpointer.close()
  if step is not None:
    path = os.path.join(directory, str(step))
  elif config.init_from.path:
    path, step = os.path.abspath(os.path.expanduser(config.init_from.path)), 0
  else:
    raise FileNotFoundError(
      f'No checkpoint in {directory} and no config.init_from.path: train first (python -m '
      'vidjax.main --config ... --workdir ...) or pass --workdir of a trained run.'
    )
  return model, checkpoint.read_variables(path, abstract), step


def video_views(
  data: bytes, input_config: ml_collections.ConfigDict, num_clips: int, num_crops: int
) -> np.ndarray:
  """The multi-view test clips of an encoded video, as `pipeline.make_eval_input` makes them.

  Args:
    data: the encoded video file.
    input_config: config.input (sampling and pp).
    num_clips: T clips (evenly spaced starts, or segment views: the sampler's `eval`).
    num_crops: S crops per clip (1 centre, 3 along the long side).

  Returns:
    uint8 [T * S, num_frames, crop, crop, 3], clip-major.

  Raises:
    decode.DecodeError: the video cannot be decoded.
  """
  info = decode.probe(data)
  meta = samplers.VideoMeta(info.num_frames, info.fps)
  clips = samplers.build(input_config.sampling).eval(meta, num_clips).frames
  frames = decode.decode_frames(data, clips.reshape(-1))
  frames = frames.reshape(*clips.shape, *frames.shape[1:])
  return clip.test_views(frames, input_config.pp, num_crops)


class Predictor:
  """Logits and features of views, `batch_size` views per (jitted, fixed-shape) call."""

  def __init__(
    self, model: nn.Module, variables: dict, pp: ml_collections.ConfigDict, batch_size: int
  ):
    self._variables = variables
    self._batch_size = batch_size

    @jax.jit
    def apply(variables, video):
      batch = preprocess.model_batch({'video': video}, pp, train=False)
      logits, aux = model.apply(variables, models.model_inputs(model, batch), train=False)
      if isinstance(logits, dict):
        # A model with a head per modality (UniDual): the video task's.
        return logits['video'], aux['features']['video']
      return logits, aux['features']

    self._apply = apply

  def __call__(self, views: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [V, T, H, W, 3] -> (logits [V, num_classes], features [V, D]) as numpy."""
    logits, features = [], []
    for start in range(0, len(views), self._batch_size):
      chunk = views[start : start + self._batch_size]
      # The last chunk is zero-padded so that every call reuses one compilation.
      padded = np.zeros((self._batch_size, *chunk.shape[1:]), chunk.dtype)
      padded[: len(chunk)] = chunk
      chunk_logits, chunk_features = self._apply(self._variables, padded)
      logits.append(np.asarray(chunk_logits[: len(chunk)]))
      features.append(np.asarray(chunk_features[: len(chunk)]))
    return np.concatenate(logits), np.concatenate(features)
