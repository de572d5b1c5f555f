r"""Writes the actor-context feature bank of a split with a trained ACAR model (ACFB).

  python tools/extract_feature_bank.py --config experiments/ava/synthetic.py:variant=acar \
    --workdir workdirs/ava/acar --split train --output workdirs/ava/bank_train.npz
  python tools/extract_feature_bank.py --config experiments/ava/synthetic.py:variant=acar \
    --workdir workdirs/ava/acar --split validation --output workdirs/ava/bank_validation.npz

ACAR-Net's actor-context feature bank, as LFB builds its bank: a first model (the ACAR
head, `variant=acar`) is trained; this tool runs it on every keyframe of a split, on the
whole frame and on its mirror image, and stores each actor's pooled first-order
actor-context feature (aux['actor_context']) in one file (`vidjax/data/feature_bank.py`).
A second model (`variant=acfb`) then trains with `config.input.keyframe.bank.path` set to
the training split's bank, and evaluates with the validation split's
(`experiments/ava/synthetic.py`'s docstring has the commands).

With a config of several sources (experiments/ava/ava_kinetics.py: AVA and the Kinetics
part of AVA-Kinetics), `--source` names the one whose dataset is read; each source has its
own bank:

  for source in ava kinetics; do for split in train validation; do \
    python tools/extract_feature_bank.py --config experiments/ava/ava_kinetics.py \
      --workdir workdirs/ava_kinetics_r101_acar --source $source --split $split \
      --output ~/banks/ava_kinetics_r101/${source}_$split.npz; done; done

The boxes are the person detector's (`--boxes detections`, scoring at least
`config.input.keyframe.detection_threshold`), as LFB's bank, or the ground truth's
(`--boxes ground_truth`). The model and its weights are the experiment config's and the
workdir's latest checkpoint. A keyframe that cannot be decoded gets no entry (its window
reads fewer), and is reported.
"""

import os
import sys

import jax
import numpy as np
import tqdm
from absl import app, flags
from ml_collections import config_flags

from vidjax import inference, logs
from vidjax.data import feature_bank, pipeline, preprocess
from vidjax.evaluators import common

FLAGS = flags.FLAGS


def _define_flags() -> None:
  # Defined only when run as a program, so that tests can import several tools at once.
  config_flags.DEFINE_config_file(
    'config', None, "Experiment file of the trained ACAR model (model.head 'acar')."
  )
  flags.DEFINE_string('workdir', None, 'Workdir of the training run (its latest checkpoint).')
  flags.DEFINE_string('split', 'train', 'Split of config.input.dataset whose keyframes to read.')
  flags.DEFINE_string(
    'source', '', 'With several sources (config.input.sources), the one whose dataset to read.'
  )
  flags.DEFINE_string('output', None, 'The bank file to write (.npz).')
  flags.DEFINE_enum('boxes', 'detections', ['detections', 'ground_truth'], 'Whose boxes.')
  flags.DEFINE_integer('batch_size', 16, 'Keyframes per forward pass.')
  flags.mark_flags_as_required(['config', 'workdir', 'output'])


def source_input(input_config, source: str):
  """The input config whose dataset the bank is of: config.input, or with several sources
  the one named `source`."""
  sources = pipeline.source_configs(input_config)
  if not sources:
    if source:
      raise ValueError(f'--source={source!r}, but the config has one source: leave it out.')
    return input_config
  if source not in sources:
    raise ValueError(
      f'--source={source!r}: the config reads several sources; name one of {sorted(sources)}.'
    )
  return sources[source]


def extract(model, variables, input_config, split: str, boxes: str, batch_size: int) -> dict:
  """The bank of `split`'s keyframes: {'video_ids', 'timestamps', 'features', 'mask'}
  (feature_bank.write's arguments) and 'failed', the indices that did not decode."""
  input_config = pipeline.with_overrides(
    input_config, {'keyframe': {'boxes': boxes, 'bank': {'path': ''}}}, '--boxes'
  )
  input_ = pipeline.make_eval_input(input_config, split, batch_size, 1, feature_bank.VIEWS, 0, 1)

  @jax.jit
  def actor_context(variables, batch):
    batch = preprocess.model_batch(batch, input_config.pp, train=False)
    flat, num_views = common.flatten_views(batch)
    _, aux = model.apply(variables, flat, train=False)
    features = aux['actor_context']
    return features.reshape(-1, num_views, *features.shape[1:])

  bank = {'video_ids': [], 'timestamps': [], 'features': [], 'mask': [], 'failed': []}
  for batch in tqdm.tqdm(input_, total=input_.num_batches, unit='batch', desc=split):
    inputs = {k: batch[k] for k in ('video', 'boxes', 'box_mask')}
    features = np.asarray(actor_context(variables, inputs))
    for k in np.flatnonzero(batch['mask'] | batch['decode_failed']):
      index = int(batch['index'][k])
      if batch['decode_failed'][k]:
        bank['failed'].append(index)
        continue
      video_id = input_.video_id(index)
      bank['video_ids'].append(video_id.decode() if isinstance(video_id, bytes) else video_id)
      bank['timestamps'].append(int(batch['timestamp'][k]))
      bank['features'].append(features[k])
      bank['mask'].append(batch['box_mask'][k, 0])
  return bank


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logs.quiet_library_logs()
  config = FLAGS.config
  if config.get('model_name') != 'ava' or config.model.get('head') != 'acar':
    raise app.UsageError(
      '--config: the bank is the features of an ACAR model (model_name ava, model.head '
      f"'acar'); got model_name={config.get('model_name')!r}, head="
      f'{config.get("model", {}).get("head")!r}.'
    )
  try:
    model, variables, step = inference.load_model(config, FLAGS.workdir)
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f'extract_feature_bank: {e}')
  print(f'ACAR model from step {step} of {FLAGS.workdir}.', file=sys.stderr)
  try:
    input_config = source_input(config.input, FLAGS.source)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  bank = extract(model, variables, input_config, FLAGS.split, FLAGS.boxes, FLAGS.batch_size)
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  feature_bank.write(
    FLAGS.output, bank['video_ids'], bank['timestamps'], np.stack(bank['features']), bank['mask']
  )
  print(
    f'Wrote the bank of {len(bank["video_ids"])} keyframes of {FLAGS.split} to '
    f'{FLAGS.output}; {len(bank["failed"])} did not decode: {bank["failed"][:10]}',
    file=sys.stderr,
  )


if __name__ == '__main__':
  _define_flags()
  app.run(main)
