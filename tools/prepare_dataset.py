r"""Prepares a dataset from its manually downloaded files (tfds array_record, no TensorFlow).

  python tools/prepare_dataset.py --dataset ucf101 --config split1 \
    --manual_dir ~/data/ucf101 --data_dir ~/tensorflow_datasets --workers 16

`--manual_dir` holds the dataset in its official layout (see the builder's module
docstring in vidjax/data/builders/). Videos are transcoded in parallel, with a progress
bar, into `<data_dir>/downloads/vidjax_transcoded/`, which outlives an interruption: run
the same command again and only what is not there yet is transcoded. At the end the tool
prints a summary of the validation report and where the report (every file left out and
why, every missing file) and the manifest (example count and id hash per split) are.

For `image_folder` and `video_folder`, `--config` names your dataset (any name; read it
as e.g. 'video_folder/my_videos'); `--short_side` sets its stored short side.

On Apache Beam (the video datasets; `pip install -e '.[beam]'`), for datasets of millions
of videos: the transcoding and the writing of the shards run on the runner's workers,
with the same report and manifest (vidjax/data/beam_prepare.py):

  python tools/prepare_dataset.py --dataset web_videos --config ig_sample \
    --manual_dir gs://my-bucket/lists --data_dir gs://my-bucket/tfds \
    --beam_runner DataflowRunner \
    --beam_options='--project=my-project --region=us-central1 --temp_location=gs://my-bucket/tmp'

`--beam_runner DirectRunner` runs the same pipeline on this machine.
"""

import dataclasses
import os
import shlex
import sys

import tensorflow_datasets as tfds
from absl import app, flags
from etils import epath

from vidjax.data.builders import video_common

FLAGS = flags.FLAGS
flags.DEFINE_string('dataset', None, 'Dataset name, e.g. ucf101, hmdb51, kinetics, ssv2.')
flags.DEFINE_string('manual_dir', None, 'Folder holding the dataset in its official layout.')
flags.DEFINE_string('data_dir', None, 'tfds data directory to write the prepared dataset to.')
flags.DEFINE_string(
  'config', None, "Builder config (default: the builder's); a new name for *_folder datasets."
)
flags.DEFINE_integer('workers', os.cpu_count(), 'Worker processes for transcoding.')
flags.DEFINE_integer(
  'short_side', None, 'Stored short side of a new image_folder/video_folder config.'
)
flags.DEFINE_string(
  'beam_runner', None, 'Apache Beam runner (DirectRunner, DataflowRunner, FlinkRunner...).'
)
flags.DEFINE_string(
  'beam_options', None, "The Beam pipeline's options, as its command line ('--project=...')."
)

# Entries of each kind printed per split; the report has them all.
_SHOWN = 10


def _config(
  builder_cls: type[video_common.ManualBuilder], name: str | None, short_side: int | None
) -> str | tfds.core.BuilderConfig:
  """The config to build: a builder config by name, or a new one for *_folder datasets."""
  name = name or builder_cls.DEFAULT_CONFIG_NAME
  configs = builder_cls.builder_configs
  if name in configs:
    if short_side is not None and short_side != configs[name].short_side:
      raise ValueError(
        f'--short_side={short_side}: config {name!r} of {builder_cls.name} has short side '
        f'{configs[name].short_side}; pick the config with the short side you want '
        f'({", ".join(configs)}).'
      )
    return name
  if not builder_cls.USER_CONFIGS:
    raise ValueError(
      f'--config={name}: {builder_cls.name} has no such config; configs: {", ".join(configs)}.'
    )
  default = configs[builder_cls.DEFAULT_CONFIG_NAME]
  changes = {} if short_side is None else {'short_side': short_side}
  return dataclasses.replace(
    default, name=name, description=f'{name} ({default.description})', **changes
  )


def prepare(
  dataset: str,
  manual_dir: str,
  data_dir: str,
  config: str | None = None,
  workers: int | None = None,
  short_side: int | None = None,
  progress: bool = True,
  beam_runner: str | None = None,
  beam_options: str | None = None,
) -> video_common.ManualBuilder:
  """Prepares `dataset` unless it is prepared; returns its builder.

  With `beam_runner` or `beam_options` (the pipeline's options as a command line), the
  preparation runs on Apache Beam.

  Raises:
    ValueError: unknown dataset or config, or `short_side` differs from the prepared one.
    FileNotFoundError: `manual_dir` is missing or not in the dataset's official layout.
  """
  builder_cls = video_common.builder_class(dataset)
  builder = builder_cls(
    data_dir=data_dir,
    config=_config(builder_cls, config, short_side),
    workers=workers,
    progress=progress,
  )
  if builder.is_prepared():
    full_name = f'{dataset}/{builder.builder_config.name}'
    prepared = video_common.read_manifest(data_dir, full_name)['config']
    if short_side is not None and prepared.get('short_side') != short_side:
      raise ValueError(
        f'--short_side={short_side}: {full_name} is already prepared in {data_dir} with '
        f'short side {prepared.get("short_side")}; choose another --config name.'
      )
    print(f'{full_name} is already prepared in {builder.data_path}.')
    return builder
  if not epath.Path(manual_dir).is_dir():
    raise FileNotFoundError(
      f'--manual_dir={manual_dir} is not a directory; point it at the extracted dataset '
      f'({builder_cls.MANUAL_DOWNLOAD_INSTRUCTIONS})'
    )
  download_config = tfds.download.DownloadConfig(manual_dir=manual_dir)
  if beam_runner or beam_options:
    download_config.beam_runner = beam_runner
    download_config.beam_options = _pipeline_options(beam_options or '')
  builder.download_and_prepare(download_config=download_config)
  return builder


def _pipeline_options(command_line: str):
  try:
    from apache_beam.options import pipeline_options  # noqa: PLC0415
  except ImportError as e:
    raise ValueError("Preparing on Apache Beam needs apache-beam: pip install -e '.[beam]'") from e
  return pipeline_options.PipelineOptions(shlex.split(command_line))


def summary(builder: video_common.ManualBuilder) -> str:
  """A readable summary of the report of a prepared dataset, with the files' locations."""
  full_name = f'{builder.name}/{builder.builder_config.name}'
  report = video_common.read_report(os.fspath(builder.data_dir_root), full_name)
  lines = [f'{report["dataset"]} {report["version"]}: {builder.data_path}']
  if 'transcoding' in report:
    counts = report['transcoding']
    where = f'cache: {report["cache_dir"]}' if 'cache_dir' in report else 'on Apache Beam'
    lines.append(
      f'  videos: {counts["transcoded"]} transcoded, {counts["reused"]} reused from the '
      f'cache, {counts["failed"]} failed ({where})'
    )
  for split, outcome in report['splits'].items():
    lines.append(
      f'  {split}: {outcome["num_examples"]} examples of {outcome["num_listed"]} listed, '
      f'{outcome["num_missing"]} missing, {outcome["num_left_out"]} left out'
    )
    for entry in outcome['missing'][:_SHOWN]:
      lines.append(f'    missing: {entry["path"]}')
    for entry in outcome['left_out'][:_SHOWN]:
      lines.append(f'    left out: {entry["path"]}: {entry["error"]}')
    hidden = max(0, len(outcome['missing']) - _SHOWN) + max(0, len(outcome['left_out']) - _SHOWN)
    if hidden:
      lines.append(f'    ... and {hidden} more in the report')
  lines.append(f'Report:   {builder.data_path / video_common.REPORT_FILENAME}')
  lines.append(f'Manifest: {builder.data_path / video_common.MANIFEST_FILENAME}')
  return '\n'.join(lines)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  try:
    builder = prepare(
      FLAGS.dataset,
      FLAGS.manual_dir,
      FLAGS.data_dir,
      config=FLAGS.config,
      workers=FLAGS.workers,
      short_side=FLAGS.short_side,
      beam_runner=FLAGS.beam_runner,
      beam_options=FLAGS.beam_options,
    )
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f'prepare_dataset: {e}')
  print(summary(builder))


if __name__ == '__main__':
  flags.mark_flags_as_required(['dataset', 'manual_dir', 'data_dir'])
  app.run(main)
