import dataclasses

import numpy as np
import pytest
from data_testing import one_record_dataset

from vidjax import configs
from vidjax.data import decode, encode, pipeline
from vidjax.data.loaders import clip


@pytest.fixture
def input_config(synthetic_data_dir):
  config = configs.base_config().input
  config.dataset = 'vidjax_synthetic/tiny'
  config.data_dir = synthetic_data_dir
  config.sampling.num_frames = 4
  config.pp.crop_size = 28
  config.pp.flip_label_swaps = configs.SYNTHETIC_FLIP_SWAPS
  return config


def _batches(iterator, n):
  return [next(iterator) for _ in range(n)]


def test_train_batches_shapes_and_determinism(input_config):
  first = _batches(pipeline.make_train_input(input_config, 0, 4, 0, 1).iterator, 3)
  again = _batches(pipeline.make_train_input(input_config, 0, 4, 0, 1).iterator, 3)
  other = _batches(pipeline.make_train_input(input_config, 1, 4, 0, 1).iterator, 3)
  assert first[0]['video'].shape == (4, 4, 28, 28, 3) and first[0]['video'].dtype == np.uint8
  assert first[0]['label'].dtype == np.int32
  for a, b in zip(first, again, strict=True):
    np.testing.assert_array_equal(a['video'], b['video'])
    np.testing.assert_array_equal(a['label'], b['label'])
  assert not all(np.array_equal(a['video'], b['video']) for a, b in zip(first, other, strict=True))


def test_iterator_state_resumes_the_exact_stream(input_config):
  iterator = pipeline.make_train_input(input_config, 0, 4, 0, 1).iterator
  _batches(iterator, 3)
  state = iterator.get_state()
  expected = _batches(iterator, 2)
  resumed = pipeline.make_train_input(input_config, 0, 4, 0, 1).iterator
  resumed.set_state(state)
  for a, b in zip(expected, _batches(resumed, 2), strict=True):
    np.testing.assert_array_equal(a['video'], b['video'])


def test_hosts_read_disjoint_shards_and_epochs_reshuffle():
  hosts = [pipeline.train_index_stream(10, 0, host, 2) for host in range(2)]
  first_epoch = [{int(stream[i]) for i in range(5)} for stream in hosts]
  assert first_epoch[0].isdisjoint(first_epoch[1])
  assert first_epoch[0] | first_epoch[1] == set(range(10))
  single = pipeline.train_index_stream(10, 0, 0, 1)
  epochs = [[int(single[i]) for i in range(e * 10, e * 10 + 10)] for e in range(2)]
  assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(10))
  assert epochs[0] != epochs[1]


def test_flip_label_map_swaps_names():
  names = ('move_left', 'move_right', 'grow')
  np.testing.assert_array_equal(
    clip.flip_label_map(names, [('move_left', 'move_right')]), [1, 0, 2]
  )
  with pytest.raises(ValueError, match="unknown: \\['spin'\\]"):
    clip.flip_label_map(names, [('grow', 'spin')])


@pytest.mark.parametrize('num_hosts', [1, 3])
def test_eval_counts_every_example_once(input_config, num_hosts):
  num_examples = None
  total, batches = 0, []
  for host in range(num_hosts):
    eval_input = pipeline.make_eval_input(input_config, 'validation', 5, 2, 3, host, num_hosts)
    num_examples = eval_input.num_examples
    host_batches = list(eval_input)
    batches.append(len(host_batches))
    for batch in host_batches:
      assert batch['video'].shape == (5, 6, 4, 28, 28, 3)
      total += int(batch['mask'].sum())
  assert total == num_examples
  assert len(set(batches)) == 1  # every host runs the same number of (collective) steps


def test_corrupt_video_is_replaced_and_counted(input_config):
  dataset = pipeline.open_dataset(input_config.dataset, 'train', input_config.data_dir)

  class CorruptFirst:
    def __len__(self):
      return len(dataset.source)

    def __getitem__(self, index):
      record = dict(dataset.source[index])
      if index == 0:
        record['video'] = b'not a video at all'
      return record

  broken = dataclasses.replace(dataset, source=CorruptFirst())
  loader = clip.Loader(broken, input_config)
  example = loader.train_example(0, np.random.default_rng(0))
  assert example['video'].shape == (4, 28, 28, 3)
  assert loader.decode_failures == 1
  assert example['label'] in (
    int(dataset.source[1]['label']),
    int(loader._flip_map[int(dataset.source[1]['label'])]),
  )


def test_unknown_dataset_and_split_are_named(input_config):
  with pytest.raises(ValueError, match='no builder module vidjax.data.builders.kinetics9'):
    pipeline.open_dataset('kinetics9', 'train', input_config.data_dir)
  with pytest.raises(ValueError, match="no split 'test'"):
    pipeline.open_dataset(input_config.dataset, 'test', input_config.data_dir)


def test_split_slices_carve_a_held_out_set_out_of_train(input_config):
  held_out = pipeline.open_dataset(input_config.dataset, 'train[90%:]', input_config.data_dir)
  rest = pipeline.open_dataset(input_config.dataset, 'train[:90%]', input_config.data_dir)
  ids = [{r['video_id'] for r in d.source} for d in (held_out, rest)]
  assert (len(ids[0]), len(ids[1])) == (6, 58) and not ids[0] & ids[1]
  assert held_out.manifest['split'] == 'train[90%:]' and held_out.manifest['num_examples'] == 6
  eval_input = pipeline.make_eval_input(input_config, 'train[90%:]', 4, 1, 1, 0, 1)
  assert eval_input.num_examples == 6 and len(list(eval_input)) == 2
  with pytest.raises(ValueError, match=r"no split 'trian'"):
    pipeline.open_dataset(input_config.dataset, 'trian[:10%]', input_config.data_dir)


def test_two_sources_resume_both_iterators_exactly(input_config, synthetic_images_data_dir):
  input_config.sources = dict(
    video=dict(batch_size=4),
    image=dict(dataset='vidjax_synthetic/images', loader='image', batch_size=6),
  )
  input_config.data_dir = synthetic_images_data_dir

  def make():
    return pipeline.make_sources_input(input_config, 0, {'video': 4, 'image': 6}, 0, 1)

  iterator = make().iterator
  first = next(iterator)
  assert first['video']['video'].shape == (4, 4, 28, 28, 3)
  assert first['image']['image'].shape == (6, 28, 28, 3)
  _batches(iterator, 2)
  state = iterator.get_state()
  assert set(state) == {'video', 'image'}
  expected = _batches(iterator, 2)
  resumed = make().iterator
  resumed.set_state(state)
  for a, b in zip(expected, _batches(resumed, 2), strict=True):
    for source in ('video', 'image'):
      for key in a[source]:
        np.testing.assert_array_equal(a[source][key], b[source][key])
  with pytest.raises(ValueError, match=r"no data state for the sources \['image'\]"):
    make().iterator.set_state({'video': state['video']})


def test_letterboxed_video_loses_its_black_bars(input_config):
  """An H.264 video with black bars above and below (codec noise in them included): with
  pp.crop_black_borders the views show the picture, as those of the same video without
  the bars do."""
  dataset = pipeline.open_dataset(input_config.dataset, 'validation', input_config.data_dir)
  record = dict(dataset.source[0])
  frames = decode.decode_frames(record['video'], np.arange(int(record['num_frames'])))
  letterboxed = np.zeros((frames.shape[0], frames.shape[1] + 16, *frames.shape[2:]), np.uint8)
  letterboxed[:, 8:-8] = frames
  boxed_record = dict(record, video=encode.encode_video(letterboxed, float(record['fps'])))

  boxed = one_record_dataset(dataset, boxed_record)
  input_config.pp.crop_black_borders = True
  views = dict(num_clips=2, num_crops=3)
  cut = clip.Loader(boxed, input_config).eval_example(0, **views)['video']
  original = clip.Loader(dataset, input_config).eval_example(0, **views)['video']
  assert cut.shape == original.shape
  assert np.abs(cut.astype(np.float32) - original).mean() < 3.0
  input_config.pp.crop_black_borders = False
  uncut = clip.Loader(boxed, input_config).eval_example(0, **views)['video']
  assert uncut[0, :, :8].mean() < 30  # the first crop of the tall frame shows the top bar
