"""The cache of transcoded videos that dataset preparation writes and reuses.

Each listed video is transcoded once into `<cache dir>/<2 hex>/<sha1 of its id>.mp4`
(H.264 at the config's short side, a keyframe every `KEYFRAME_INTERVAL_S`, AAC kept),
with its metadata (`.json`) and its soundtrack as the records store it (`PCM_SUFFIX`,
'audio_pcm': 16 kHz mono s16le, `data/audio.py`) written first, so that a video in the
cache always has both. Every file is written then renamed, so an interrupted prepare
never leaves a partial file that looks done. The jobs are module-level functions for the
worker processes of `worker_pool.parallel_map`.
"""

import dataclasses
import hashlib
import json
import os

from absl import logging
from etils import epath

from vidjax.data import audio, decode, encode

# x264 quality of the stored videos: visually transparent at these resolutions.
CRF = 23
KEYFRAME_INTERVAL_S = 1.0
# Next to each cached video: its soundtrack as the records store it ('audio_pcm').
PCM_SUFFIX = '.s16le'


def write_atomic(path: str, data: bytes) -> None:
  # Write-then-rename: an interrupted prepare never leaves a partial file that looks done.
  with open(path + '.tmp', 'wb') as f:
    f.write(data)
  os.replace(path + '.tmp', path)


class TranscodeError(Exception):
  """A source that cannot be transcoded: it is left out and reported, never fatal."""


def transcode_source(source: str, short_side: int) -> tuple[bytes, decode.VideoInfo, bytes]:
  """`(video, its metadata, its soundtrack as 'audio_pcm')` of one source, as stored.

  Raises:
    TranscodeError: the source does not decode or cannot be read; the message names why.
  """
  try:
    data, info = encode.transcode(_read(source), short_side, KEYFRAME_INTERVAL_S, CRF)
  except (decode.DecodeError, OSError) as e:
    raise TranscodeError(f'{type(e).__name__}: {e}') from e
  return data, info, soundtrack_pcm_or_empty(data, info.has_audio)


def transcode_job(job: tuple[str, str, str, int]) -> str | None:
  """Transcodes one source into the cache; returns the error, or None on success."""
  example_id, source, destination, short_side = job
  try:
    data, info, pcm = transcode_source(source, short_side)
  except TranscodeError as e:
    return str(e)
  # Failing to write (a full disk) stops the prepare rather than leaving the video out.
  os.makedirs(os.path.dirname(destination), exist_ok=True)
  # The metadata and the soundtrack go first: a video file in the cache always has them.
  metadata = {'example_id': example_id, 'source': source, 'info': dataclasses.asdict(info)}
  write_atomic(destination + '.json', json.dumps(metadata).encode())
  write_atomic(destination + PCM_SUFFIX, pcm)
  write_atomic(destination, data)
  return None


def source_exists(path: str) -> bool:
  """Whether a listed file exists: a local path, or a URI of an `etils.epath` backend."""
  if '://' not in path:
    return os.path.isfile(path)
  try:
    return epath.Path(path).is_file()
  except Exception as error:  # noqa: BLE001 (a backend's own errors: the file is unreachable)
    logging.warning('Cannot reach %s: %s', path, error)
    return False


def _read(source: str) -> str | bytes:
  """A local path as it is (PyAV streams it); a URI of another `etils.epath` backend
  (gs://, s3://) read whole, since PyAV cannot open those."""
  if '://' not in source:
    return source
  return epath.Path(source).read_bytes()


def add_soundtrack(destination: str) -> None:
  """Adds the soundtrack to a video cached before the cache held soundtracks."""
  with open(destination, 'rb') as f:
    data = f.read()
  with open(destination + '.json') as f:
    has_audio = json.load(f)['info']['has_audio']
  write_atomic(destination + PCM_SUFFIX, soundtrack_pcm_or_empty(data, has_audio))


def soundtrack_pcm_or_empty(video: bytes, has_audio: bool) -> bytes:
  """The record's 'audio_pcm'; empty without audio, or when the audio does not decode
  (the loader then tries the mp4 itself, and reads silence if that fails too)."""
  if not has_audio:
    return b''
  try:
    return audio.soundtrack_pcm(video)
  except decode.DecodeError as e:
    logging.warning('No stored soundtrack: %s', e)
    return b''


def cache_path(cache_dir: str, example_id: str) -> str:
  # Hashed names: ids may hold any character (HMDB51 names, user paths); the id and the
  # source are in the `.json` next to each video. 256 sub-folders keep folders small.
  digest = hashlib.sha1(example_id.encode('utf-8')).hexdigest()
  return os.path.join(cache_dir, digest[:2], digest + '.mp4')
