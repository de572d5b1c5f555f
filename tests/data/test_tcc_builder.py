"""vidjax/tfrecord.py and the `tcc` builder on TFRecords written as TCC writes them."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tests.data import tcc_records
from vidjax import tfrecord
from vidjax.data import decode, pipeline
from vidjax.data.builders import tcc, video_common


def test_sequence_example_round_trip(tmp_path):
  context = {
    'name': tcc_records.feature([b'video_1']),
    'len': tcc_records.feature([3]),
    'scores': tcc_records.feature([0.5, -1.25]),
    'ids': tcc_records.feature([-7, 2**40], packed=False),
  }
  lists = {'frame_labels': [tcc_records.feature([k]) for k in (0, 1, 1)]}
  path = str(tmp_path / 'a.tfrecord')
  tcc_records.write_records(path, [tcc_records.sequence_example(context, lists), b''])
  records = list(tfrecord.read_records(path))
  assert len(records) == 2 and records[1] == b''
  parsed_context, parsed_lists = tfrecord.parse_sequence_example(records[0])
  assert parsed_context['name'] == [b'video_1']
  np.testing.assert_array_equal(parsed_context['len'], [3])
  np.testing.assert_array_equal(parsed_context['scores'], np.float32([0.5, -1.25]))
  np.testing.assert_array_equal(parsed_context['ids'], [-7, 2**40])
  assert [list(step) for step in parsed_lists['frame_labels']] == [[0], [1], [1]]


def test_read_records_names_the_file_and_offset_of_bad_framing(tmp_path):
  path = str(tmp_path / 'bad.tfrecord')
  tcc_records.write_records(path, [b'first', b'second'])
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:  # the second record's length checksum broken
    f.write(data[:21] + bytes([data[21] ^ 1]) + data[22:])
  with pytest.raises(ValueError, match=r'bad.tfrecord: record 1 at byte 21: bad length checksum'):
    list(tfrecord.read_records(path))
  with open(path, 'wb') as f:
    f.write(data[:-3])
  with pytest.raises(ValueError, match=r'record 1 at byte 21: truncated data'):
    list(tfrecord.read_records(path))


def _frames(num_frames: int, seed: int) -> np.ndarray:
  rng = np.random.default_rng(seed)
  frames = np.zeros((num_frames, 33, 40, 3), np.uint8)  # odd height: cropped to 32
  for t in range(num_frames):
    frames[t, :, 4 * t : 4 * t + 8] = rng.integers(100, 255, 3)
  return frames


def test_tcc_builder_reads_the_records_and_reports_broken_videos(tmp_path):
  manual = tmp_path / 'pouring'
  manual.mkdir()
  good = {f'pouring_{k}': (_frames(6, k), np.array([0, 0, 1, 2, 3, 4])[:6]) for k in range(3)}
  records = [tcc_records.tcc_video(name, *video) for name, video in good.items()]
  broken_jpeg = tcc_records.sequence_example(
    {'name': tcc_records.feature([b'broken'])},
    {'video': [tcc_records.feature([b'not a jpeg'])], 'frame_labels': [tcc_records.feature([0])]},
  )
  short_labels = tcc_records.tcc_video('short', _frames(4, 9), [0, 1])
  tcc_records.write_records(str(manual / 'pouring_train-0-of-2.tfrecord'), records[:2])
  tcc_records.write_records(str(manual / 'pouring_train-1-of-2.tfrecord'), [broken_jpeg])
  tcc_records.write_records(str(manual / 'pouring_val-0-of-1.tfrecord'), [records[2], short_labels])
  builder = tcc.Tcc(config='pouring', data_dir=str(tmp_path / 'data'), workers=1, progress=False)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))

  assert set(builder.info.splits) == {'train', 'val'}
  for split, names in (('train', ['pouring_0', 'pouring_1']), ('val', ['pouring_2'])):
    source = pipeline.open_dataset('tcc/pouring', split, str(tmp_path / 'data')).source
    assert sorted(record['video_id'].decode() for record in source) == names
    for record in source:
      frames, phases = good[record['video_id'].decode()]
      np.testing.assert_array_equal(record['frame_phase'], phases)
      assert (record['num_frames'], record['height'], record['width']) == (6, 32, 40)
      decoded = decode.decode_frames(record['video'], range(6))
      assert np.abs(decoded.astype(int) - frames[:, :32].astype(int)).mean() < 6
  report = video_common.read_report(str(tmp_path / 'data'), 'tcc/pouring')
  (train_bad,) = report['splits']['train']['left_out']
  assert 'pouring_train-1-of-2.tfrecord: record 0 (broken)' in train_bad['error']
  (val_bad,) = report['splits']['val']['left_out']
  assert 'record 1 (short): 2 frame labels for 4 frames' in val_bad['error']


def test_tcc_builder_without_records_says_what_it_expects(tmp_path):
  builder = tcc.Tcc(config='situp', data_dir=str(tmp_path / 'data'), workers=1, progress=False)
  with pytest.raises(FileNotFoundError, match=r'No situp_\{train,val,test\}\*.tfrecord files'):
    builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path))
    )


def test_the_alignment_evaluator_reads_a_prepared_tcc_dataset(tmp_path):
  """Embeddings of a prepared dataset's videos, a chunk of timesteps a call, equal one
  call on all of them; the phases are the records'."""
  import jax
  import jax.numpy as jnp

  from vidjax import configs, train
  from vidjax.evaluators import alignment
  from vidjax.models import tcc as tcc_model

  manual = tmp_path / 'manual'
  manual.mkdir()
  phases = np.array([0, 0, 1, 1, 2, 3, 4])
  videos = [tcc_records.tcc_video(f'v{k}', _frames(7, k), phases) for k in range(4)]
  tcc_records.write_records(str(manual / 'pouring_train-0-of-1.tfrecord'), videos[:2])
  tcc_records.write_records(str(manual / 'pouring_val-0-of-1.tfrecord'), videos[2:])
  data_dir = str(tmp_path / 'data')
  builder = tcc.Tcc(config='pouring', data_dir=data_dir, workers=1, progress=False)
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))

  config = configs.load_config_file('experiments/tcc/pouring.py:smoke')
  config.input.data_dir = data_dir
  config.evals.alignment.update(source='tcc/pouring', test_split='val', chunk=3)
  model = tcc_model.Model(**config.model)
  variables = model.init(jax.random.key(0), jnp.zeros((1, 2, 32, 32, 3)), train=False)
  state = train.TrainState(
    step=jnp.zeros((), jnp.int32),
    params=variables['params'],
    batch_stats=variables['batch_stats'],
    opt_state={},
    task_state={},
  )
  evaluator = alignment.Evaluator('alignment', config.evals.alignment, config, model, None, None)
  assert evaluator.num_phases == 5
  assert evaluator.dataset_manifest == {'source': 'tcc/pouring', 'num_videos': 2, 'fit_videos': 2}
  embeddings, found = evaluator.embeddings(state.variables, 'test')
  assert [len(e) for e in embeddings] == [7, 7]
  for phase in found:
    np.testing.assert_array_equal(phase, phases)
  whole_video = config.evals.alignment.copy_and_resolve_references()
  whole_video.chunk = 7
  whole = alignment.Evaluator('alignment', whole_video, config, model, None, None)
  np.testing.assert_allclose(
    whole.embeddings(state.variables, 'test')[0][0], embeddings[0], rtol=1e-5, atol=1e-5
  )
  results = evaluator.run(state, None)
  assert results['num_videos'] == 2 and 0.0 <= results['phase_accuracy'] <= 100.0
