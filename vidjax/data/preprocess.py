"""The one place a batch becomes model input, on the device under `jit`.

The trainer (through `Task.preprocess`), every evaluator, `vidjax.inference` and the tools
that run models call `model_batch`, so a modality that trains is also evaluated and served
the same way. Per key of the batch:

  video  uint8 [..., T, H, W, 3] -> float32, normalised with pp.mean / pp.std; in training
         each clip (the axis after the batch) also gets the device augmentations of
         `augment.train_augment` (RandAugment, colour jitter, greyscale, erasing).
  image  uint8 [..., H, W, 3] -> the same, as a one-frame clip.
  flow   uint8 codes [..., 2] -> float32 in units of the flow bound (`flow.dequantize`).
  audio  float32 log-mel [..., frames, mels]: already model input (computed on the host).
  boxes, box_mask  actor boxes [..., N, 4] and their mask [..., N] (the `keyframe`
         loader): already model input.

Every other key (labels, masks, fields a sampler decided) passes through unchanged. In
training, Mixup / CutMix (`pp.mix`) is applied last, over the whole batch.
"""

from __future__ import annotations

import jax
import ml_collections

from vidjax.data import augment, flow

# The batch keys that are model input (evaluation views flatten them); the rest pass through.
MODEL_INPUT_KEYS = ('video', 'image', 'flow', 'audio', 'boxes', 'box_mask', 'bank', 'bank_mask')


def model_batch(
  batch: dict[str, jax.Array],
  pp: ml_collections.ConfigDict,
  *,
  train: bool,
  rngs: dict[str, jax.Array] | None = None,
) -> dict[str, jax.Array]:
  """Model input from a loaded batch (see the module docstring for each key).

  Args:
    batch: host-loaded arrays, batch axis first (evaluation batches may carry a view axis
      after it: video [B, V, T, H, W, 3]).
    pp: the preprocessing config of the input that produced the batch (config.input.pp,
      or a source's own).
    train: training draws augmentations; evaluation only normalises.
    rngs: with `train`, the 'augment' and 'mix' streams.

  Returns:
    The batch with its model inputs converted; in training, mixed by `pp.mix`.
  """
  if train and not (rngs and {'augment', 'mix'} <= set(rngs)):
    raise ValueError('model_batch(train=True) needs rngs with the "augment" and "mix" streams.')
  result = dict(batch)
  if 'video' in batch:
    result['video'] = _pixels(batch['video'], pp, train=train, rng=_stream(rngs, 'augment', 0))
  if 'image' in batch:
    clips = batch['image'][..., None, :, :, :]
    clips = _pixels(clips, pp, train=train, rng=_stream(rngs, 'augment', 1))
    result['image'] = clips[..., 0, :, :, :]
  if 'flow' in batch:
    result['flow'] = flow.dequantize(batch['flow'])
  if train and 'video' in result:
    result = augment.mix_batch(rngs['mix'], result, pp.mix)
  return result


def _stream(rngs: dict[str, jax.Array] | None, name: str, index: int) -> jax.Array | None:
  """Stream `name` for the `index`-th modality: video keeps the stream itself, so a
  video-only run draws exactly what it drew before images existed."""
  if rngs is None or name not in rngs:
    return None
  return rngs[name] if index == 0 else jax.random.fold_in(rngs[name], index)


def _pixels(
  clips: jax.Array, pp: ml_collections.ConfigDict, *, train: bool, rng: jax.Array | None
) -> jax.Array:
  """uint8 [..., T, H, W, 3] -> normalised float32, augmented per clip in training."""
  if not train:
    return augment.to_float(clips, pp.mean, pp.std)
  leading = clips.shape[:-4]
  flat = clips.reshape(-1, *clips.shape[-4:])
  return augment.train_augment(rng, flat, pp).reshape(*leading, *flat.shape[1:])
