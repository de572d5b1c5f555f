"""label_propagation: DAVIS-2017 J&F of first-frame masks propagated by the model's features.

Every `every_steps`, each sequence's frames go through the task's `propagation_features`
(e.g. the CRW's layer3, `tasks/crw.py`), the first frame's masks are propagated to the
other frames by `vidjax.propagation` (videowalk's protocol: context, radius, top-k,
temperature) and the masks are scored by `evaluators/davis.py`, number for number the
official J&F. The sequences:

- source='vidjax_synthetic/<config>': the first `num_sequences` videos of the embedded
  data's validation split, rendered in memory with their first frame's objects, exactly as
  `tools/export_davis.py` writes them (so a run's numbers equal `tools/propagate.py` +
  `tools/davis_eval.py` on the export);
- source=<a DAVIS folder>: the sequences of `davis_set` ('val') at 480p, read from disk at
  every evaluation (all of DAVIS-17 val would take gigabytes of memory);
- source=<a prepared dataset>, e.g. 'davis/480p' (`data/builders/davis.py`, in
  `config.input.data_dir`): its split `davis_set`, in the order of the sequences' names,
  read by the `sequence` loader at every evaluation; the same frames and masks as the
  folder it was prepared from.

config.evals.<name>:
  type='label_propagation'; every_steps; at_start (the initial, random network: a
    baseline logged at step 0);
  source, davis_set, num_sequences (0: all);
  image_scale: frames resized by this factor before the features (e.g. 2 on the 64-pixel
    embedded frames, whose stride-8 feature maps are only 8 x 8);
  frames_per_batch: frames whose features are computed at once (memory, not results, for
    an encoder of single frames);
  context, radius, topk, temperature: `propagation.Protocol` (videowalk's DAVIS command).

Metrics: the official table ('J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean',
'F-Recall', 'F-Decay') and 'copy/J&F-Mean', the baseline that repeats the first frame's
masks (computed once). Each host evaluates every sequence; the evaluation is small
(DAVIS-17 val: 30 sequences) next to training.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging
from flax import linen as nn
from jax.sharding import Mesh

from vidjax import propagation
from vidjax.data import davis as davis_data
from vidjax.data import pipeline
from vidjax.data.builders import synthetic, synthetic_scenes, video_common
from vidjax.data.loaders import sequence as sequence_loader
from vidjax.evaluators import davis
from vidjax.tasks import base

SYNTHETIC = 'vidjax_synthetic/'
DEFAULTS = dict(
  at_start=False,
  source='vidjax_synthetic/default',
  davis_set='val',
  num_sequences=0,
  image_scale=1.0,
  frames_per_batch=16,
  context=20,
  radius=12.0,
  topk=10,
  temperature=0.05,
)
KEYS = ('type', 'every_steps', *DEFAULTS)


def synthetic_sequences(
  config_name: str, num_sequences: int
) -> list[tuple[str, np.ndarray, np.ndarray]]:
  """(name, uint8 frames [T, H, W, 3], DAVIS labels [T, H, W]) of the first validation
  videos of vidjax_synthetic/<config_name>, named as tools/export_davis.py names them."""
  configs = {c.name: c for c in synthetic.VidjaxSynthetic.BUILDER_CONFIGS}
  if config_name not in configs:
    raise ValueError(f'source={SYNTHETIC}{config_name}: no such config; one of {sorted(configs)}.')
  config = configs[config_name]
  available = synthetic_scenes.num_examples(config, 'validation')
  sequences = []
  for index in range(min(num_sequences or available, available)):
    video = synthetic_scenes.render_video(config, 'validation', index)
    labels = davis_data.first_frame_objects(video['masks'])
    sequences.append((f'validation_{index:05d}', video['frames'], labels))
  return sequences


def _text(value: bytes | str) -> str:
  return value.decode() if isinstance(value, bytes) else str(value)


class Evaluator:
  """J&F of mask propagation on DAVIS-layout sequences or the embedded videos."""

  def __init__(
    self,
    name: str,
    eval_config: ml_collections.ConfigDict,
    config: ml_collections.ConfigDict,
    model: nn.Module,
    task: base.Task,
    mesh: Mesh,
  ):
    del mesh
    self.name = name
    self.every_steps = eval_config.every_steps
    self.at_start = eval_config.at_start
    self.decode_failures: list[str] = []
    self.protocol = propagation.Protocol(
      context=eval_config.context,
      radius=eval_config.radius,
      topk=eval_config.topk,
      temperature=eval_config.temperature,
    )
    self.frames_per_batch = eval_config.frames_per_batch
    self.source = eval_config.source
    where = f'config.evals.{name}'
    if eval_config.image_scale <= 0 or self.frames_per_batch < 1:
      raise ValueError(
        f'{where}: image_scale={eval_config.image_scale} must be positive and '
        f'frames_per_batch={self.frames_per_batch} at least 1.'
      )
    self._sequences = self._loader = None
    if self.source.startswith(SYNTHETIC):
      self._sequences = synthetic_sequences(
        self.source[len(SYNTHETIC) :], eval_config.num_sequences
      )
      self.names = [sequence for sequence, _, _ in self._sequences]
    elif os.path.isdir(self.source):
      self.names = davis_data.sequences(self.source, eval_config.davis_set)
    elif self.source.partition('/')[0] in video_common.known_datasets():
      dataset = pipeline.open_dataset(self.source, eval_config.davis_set, config.input.data_dir)
      self._loader = sequence_loader.Loader(dataset, config.input)
      # tfds stores records in the order of their keys' hashes; read them by name.
      self._index = {_text(record['video_id']): i for i, record in enumerate(dataset.source)}
      self.names = sorted(self._index)
    else:
      raise FileNotFoundError(
        f'{where}.source={self.source!r}: neither {SYNTHETIC}<config>, a DAVIS folder nor a '
        "prepared dataset such as 'davis/480p'."
      )
    if eval_config.num_sequences:
      self.names = self.names[: eval_config.num_sequences]
    self._copy_score = None
    scale = eval_config.image_scale

    @jax.jit
    def features(variables, frames):
      frames = frames.astype(jnp.float32) / 255.0
      if scale != 1.0:
        t, height, width, channels = frames.shape
        size = (t, round(height * scale), round(width * scale), channels)
        frames = jax.image.resize(frames, size, method='linear')
      return task.propagation_features(model, variables, frames)

    self._features = features

  def files(self) -> dict[str, str]:
    """No files: the metrics are the whole result."""
    return {}

  @property
  def dataset_manifest(self) -> dict:
    return {'source': self.source, 'sequences': self.names}

  def sequences(self):
    """(name, frames, labels) of every evaluated sequence."""
    if self._sequences is not None:
      yield from self._sequences
      return
    if self._loader is not None:
      for name in self.names:
        example = self._loader.eval_example(self._index[name])
        if example['decode_failed']:  # left out of the scores and reported with them
          self.decode_failures.append(name)
          continue
        yield name, example['frames'], example['labels']
      return
    for sequence in self.names:
      _, labels = davis_data.annotations(self.source, sequence)
      yield sequence, davis_data.read_frames(self.source, sequence), labels

  def video_features(self, variables, frames: np.ndarray) -> jax.Array:
    """Features [T, h, w, C] of uint8 frames, `frames_per_batch` at a time."""
    return jnp.asarray(
      propagation.batched(
        lambda batch: self._features(variables, batch), frames, self.frames_per_batch
      )
    )

  def propagate(self, features: jax.Array, labels: np.ndarray) -> np.ndarray:
    """uint8 masks [T - 2, H, W] of frames 1..T-2 propagated from labels[0]."""
    return propagation.propagate_masks(features, labels[0], self.protocol)[1:-1]

  def run(self, state, constants) -> dict[str, float]:
    del constants
    # One device computes each sequence (the variables replicated over a mesh would make
    # every device compute the same frames).
    variables = jax.device_get(state.variables)
    scores, copies = [], []
    self.decode_failures = []
    for sequence, frames, labels in self.sequences():
      features = self.video_features(variables, frames)
      scores.append((sequence, davis.evaluate_sequence(labels, self.propagate(features, labels))))
      if self._copy_score is None:
        copy = np.repeat(np.where(labels[:1] == davis_data.VOID, 0, labels[:1]), len(labels) - 2, 0)
        copies.append((sequence, davis.evaluate_sequence(labels, copy)))
    table = davis.summarise(scores)
    if self._copy_score is None:
      self._copy_score = davis.summarise(copies)['J&F-Mean']
    per_object = table.pop('per_object')
    logging.info('%s: J&F %.4f over %d objects', self.name, table['J&F-Mean'], len(per_object))
    return {
      **table,
      'copy/J&F-Mean': self._copy_score,
      'num_sequences': len(scores),
      'num_objects': len(per_object),
    }
