"""Dataset preparation on Apache Beam: a video builder's splits as Beam transforms.

`tools/prepare_dataset.py --beam_runner=...` (or `--beam_options=...`) hands the
transcoding and the writing of the array_record shards to a Beam runner: the DirectRunner
on one machine; Dataflow, Flink or Spark on many. tfds's own Beam support writes the
shards; this module gives it, per split, the transform from the listed sources to the
examples:

- the builder lists the sources (it reads the annotation files) on the machine that
  launches the pipeline;
- a worker checks that a source exists, transcodes it in memory exactly as the local
  path does (`transcode_cache.transcode_source`, same parameters, same bytes), and emits
  the example, or why the source is left out;
- each split's outcomes (one small record per source) are gathered into one JSON file in
  tfds's `incomplete.*` folder. The launching machine reads them into the same report
  and manifest as the local path (`record_outcomes`), then deletes them.

What differs from the local path: there is no transcode cache (the workers keep nothing
between sources; the runner retries failed work itself, and a rerun transcodes again),
and the list of sources travels with the pipeline (about 100 bytes a video).
"""

import collections
import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam
from etils import epath

from vidjax.data.builders import transcode_cache, video_common

_OUTCOMES = 'outcomes'
_OUTCOMES_FOLDER = 'vidjax_beam_outcomes'


class _SourceToExample(beam.DoFn):
  """A listed source -> its example (the main output) and its outcome (`_OUTCOMES`)."""

  def __init__(self, short_side: int, min_frames: int):
    self._short_side = short_side
    self._min_frames = min_frames

  def process(self, indexed_source: tuple[int, video_common.Source]) -> Iterator[Any]:
    index, source = indexed_source
    outcome = {'index': index, 'example_id': source.example_id, 'path': source.path}
    if not transcode_cache.source_exists(source.path):
      yield beam.pvalue.TaggedOutput(_OUTCOMES, {**outcome, 'kind': 'missing'})
      return
    try:
      video, info, audio_pcm = transcode_cache.transcode_source(source.path, self._short_side)
    except transcode_cache.TranscodeError as e:
      yield beam.pvalue.TaggedOutput(_OUTCOMES, {**outcome, 'kind': 'failed', 'error': str(e)})
      return
    info = dataclasses.asdict(info)
    if error := video_common.too_short(info['num_frames'], self._min_frames):
      yield beam.pvalue.TaggedOutput(_OUTCOMES, {**outcome, 'kind': 'too_short', 'error': error})
      return
    yield beam.pvalue.TaggedOutput(_OUTCOMES, {**outcome, 'kind': 'example'})
    yield source.example_id, video_common.video_example(source, video, audio_pcm, info)


@beam.ptransform_fn
def _split_examples(
  root: beam.pvalue.PBegin,
  sources: list[video_common.Source],
  short_side: int,
  min_frames: int,
  outcomes_path: str,
) -> beam.PCollection:
  results = (
    root
    | 'List' >> beam.Create(list(enumerate(sources)))
    # Without it, a runner may keep every source on the worker that created the list.
    | 'Spread' >> beam.Reshuffle()
    | 'Transcode'
    >> beam.ParDo(_SourceToExample(short_side, min_frames)).with_outputs(_OUTCOMES, main='examples')
  )
  _ = (
    results[_OUTCOMES]
    | 'Gather' >> beam.combiners.ToList()
    | 'WriteOutcomes' >> beam.Map(_write_json, path=outcomes_path)
  )
  return results.examples


def _write_json(records: list[dict[str, Any]], path: str) -> None:
  path = epath.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(records))


def _outcomes_path(data_path: epath.Path, split: str) -> epath.Path:
  return data_path / _OUTCOMES_FOLDER / f'{split}.json'


def split_transforms(
  listing: video_common.Listing, short_side: int, min_frames: int, data_path: epath.Path
) -> dict[str, beam.PTransform]:
  """`{split: transform from the pipeline's root to its (key, example) pairs}` for tfds.

  `data_path` is the folder tfds writes the dataset to (its `incomplete.*` folder while
  it prepares): the workers write the outcomes there.
  """
  return {
    split: _split_examples(
      sources, short_side, min_frames, os.fspath(_outcomes_path(data_path, split))
    )
    for split, sources in listing.splits.items()
  }


def record_outcomes(
  listing: video_common.Listing,
  data_path: epath.Path,
  record_split: Callable[..., None],
) -> dict[str, Any]:
  """Reads the outcomes the workers wrote into the builder's report, then deletes them.

  Args:
    listing: the sources the pipeline was built from.
    data_path: as given to `split_transforms`.
    record_split: the builder's `_record_split`, called per split as the local path does,
      with the missing and left-out files in the order the annotations list them.

  Returns:
    The report's 'transcoding' counts: sources transcoded and failed (per listed source),
    and the runner.
  """
  kinds = collections.Counter()
  for split, sources in listing.splits.items():
    outcomes = json.loads(_outcomes_path(data_path, split).read_text())
    outcomes.sort(key=lambda outcome: outcome['index'])
    file = lambda outcome: {'example_id': outcome['example_id'], 'path': outcome['path']}
    record_split(
      split,
      len(sources),
      [outcome['example_id'] for outcome in outcomes if outcome['kind'] == 'example'],
      [file(outcome) for outcome in outcomes if outcome['kind'] == 'missing'],
      [{**file(outcome), 'error': outcome['error']} for outcome in outcomes if 'error' in outcome],
    )
    kinds.update(outcome['kind'] for outcome in outcomes)
  (data_path / _OUTCOMES_FOLDER).rmtree()
  return {
    'on': 'apache_beam',
    'reused': 0,
    'transcoded': kinds['example'] + kinds['too_short'],
    'failed': kinds['failed'],
  }
