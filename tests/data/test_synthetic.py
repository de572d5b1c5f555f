"""Tests of the `vidjax_synthetic` tfds builder (built once, config `tiny`)."""

import collections
import dataclasses
import hashlib
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

from vidjax import configs
from vidjax.data import decode, encode, pipeline
from vidjax.data.builders import synthetic, synthetic_events, synthetic_scenes
from vidjax.data.loaders import image as image_loader

TINY = synthetic.VidjaxSynthetic.builder_configs['tiny']


def _records(data_dir: str, split: str, config='tiny') -> list[dict]:
  source = tfds.data_source(
    'vidjax_synthetic',
    data_dir=data_dir,
    split=split,
    builder_kwargs=dict(config=config, file_format='array_record'),
  )
  return [source[i] for i in range(len(source))]


@pytest.fixture(scope='module')
def tiny_dir(tmp_path_factory) -> str:
  data_dir = str(tmp_path_factory.mktemp('tfds'))
  synthetic.ensure_built(data_dir, 'tiny')
  return data_dir


@pytest.fixture(scope='module')
def train(tiny_dir) -> list[dict]:
  return _records(tiny_dir, 'train')


def test_counts_and_clean_reports(tiny_dir, train):
  assert len(train) == 64 and len(_records(tiny_dir, 'validation')) == 32
  root = synthetic.sources_dir(tiny_dir, 'tiny')
  for split, num in (('train', 64), ('validation', 32)):
    with open(os.path.join(root, f'{split}_report.json')) as f:
      assert json.load(f) == {'split': split, 'num_examples': num, 'left_out': []}
    assert os.path.exists(os.path.join(root, split, f'{split}_00000.mp4'))
    assert os.path.exists(os.path.join(root, split, f'{split}_00000.npz'))


def test_ensure_built_is_idempotent(tiny_dir, capsys):
  builder = synthetic.ensure_built(tiny_dir, 'tiny')
  assert builder.is_prepared() and capsys.readouterr().out == ''
  assert builder.info.features['label'].names == list(synthetic.ACTION_NAMES)


def test_features(train):
  t, h, w = TINY.num_frames, TINY.height, TINY.width
  for ex in train:
    n = len(ex['object_actions'])
    assert 2 <= n <= 3
    assert 0 <= ex['label'] < len(synthetic.ACTION_NAMES)
    assert 0 <= ex['audio_label'] < len(synthetic.ACTION_NAMES)
    assert (ex['object_actions'] == ex['label']).all()  # per_object_actions=False
    assert ex['object_shapes'].dtype == np.int64 and ex['object_shapes'].shape == (n,)
    assert ((ex['object_shapes'] >= 0) & (ex['object_shapes'] < len(synthetic.SHAPE_NAMES))).all()
    assert ex['boxes'].dtype == np.float32 and ex['boxes'].shape == (n, t, 4)
    assert ex['object_visible'].dtype == bool and ex['object_visible'].shape == (n, t)
    assert ex['masks'].dtype == np.uint8 and ex['masks'].shape == (t, h, w)
    assert ex['masks'].max() <= n
    assert (ex['num_frames'], ex['fps'], ex['has_audio']) == (t, TINY.fps, True)
    assert ex['video_id'].decode().startswith('train_')
    info = decode.probe(ex['video'])
    assert (info.num_frames, info.height, info.width, info.has_audio) == (t, h, w, True)


def test_labels_balanced(train):
  counts = collections.Counter(ex['label'] for ex in train)
  assert sorted(counts) == list(range(10)) and min(counts.values()) >= 6


def test_boxes_contain_masks(train):
  t, h, w = TINY.num_frames, TINY.height, TINY.width
  for ex in train:
    boxes = ex['boxes']
    assert ((boxes >= 0) & (boxes <= 1)).all()
    assert (boxes[..., 2] >= boxes[..., 0]).all() and (boxes[..., 3] >= boxes[..., 1]).all()
    for i in range(len(boxes)):
      for f in range(t):
        rows, cols = np.nonzero(ex['masks'][f] == i + 1)
        if ex['object_visible'][i, f]:
          assert boxes[i, f, 2] > boxes[i, f, 0] and boxes[i, f, 3] > boxes[i, f, 1]
        if rows.size:
          ymin, xmin, ymax, xmax = boxes[i, f] * [h, w, h, w]
          assert ymin - 1 <= rows.min() and rows.max() + 1 <= ymax
          assert xmin - 1 <= cols.min() and cols.max() + 1 <= xmax
  visible = np.concatenate([ex['object_visible'].ravel() for ex in train])
  assert 0.6 < visible.mean() < 1.0


def test_record_is_the_rendered_video(train):
  for ex in train[:8]:
    index = int(ex['video_id'].decode().split('_')[1])
    rendered = synthetic.render_video(TINY, 'train', index)
    assert rendered['label'] == ex['label'] and rendered['audio_label'] == ex['audio_label']
    np.testing.assert_array_equal(rendered['masks'], ex['masks'])
    frames = decode.decode_frames(ex['video'], range(TINY.num_frames)).astype(int)
    # H.264 keeps the content (and drops part of the per-frame pixel noise).
    error = np.abs(frames - rendered['frames']).mean()
    other = synthetic.render_video(TINY, 'train', (index + 1) % TINY.num_train)['frames']
    assert error < 10 and error < 0.5 * np.abs(frames - other).mean()
    # Encoding is deterministic too: the same seed gives the same bytes.
    video = encode.encode_video(rendered['frames'], TINY.fps, rendered['audio'])
    assert video == ex['video']


def test_seed_changes_the_data():
  other = dataclasses.replace(TINY, name='tiny_seed1', seed=1)
  a = [synthetic.render_video(TINY, 'train', i) for i in range(10)]
  b = [synthetic.render_video(other, 'train', i) for i in range(10)]
  assert [x['label'] for x in a] != [x['label'] for x in b]
  assert all(not np.array_equal(x['frames'], y['frames']) for x, y in zip(a, b, strict=True))
  again = synthetic.render_video(TINY, 'train', 3)
  np.testing.assert_array_equal(again['frames'], a[3]['frames'])


def test_sources_independent_of_threads_and_resumable(tmp_path):
  config = dataclasses.replace(TINY, name='tiny_small', num_train=6)
  files = {}
  for threads in (1, 2):
    directory = tmp_path / str(threads)
    synthetic.write_sources(config, 'train', str(directory), threads=threads)
    files[threads] = {p.name: p.read_bytes() for p in sorted(directory.iterdir())}
  assert files[1] == files[2] and len(files[1]) == 12
  # An interrupted build resumes: missing files come back identical, others are kept.
  directory = tmp_path / '1'
  (directory / 'train_00002.mp4').unlink()
  (directory / 'train_00004.mp4').write_bytes(b'kept')
  synthetic.write_sources(config, 'train', str(directory))
  assert (directory / 'train_00002.mp4').read_bytes() == files[1]['train_00002.mp4']
  assert (directory / 'train_00004.mp4').read_bytes() == b'kept'


def _nearest_tone(waveform: np.ndarray, rate: int) -> int:
  spectrum = np.abs(np.fft.rfft(waveform))
  peak = np.fft.rfftfreq(len(waveform), 1 / rate)[spectrum.argmax()]
  return int(np.argmin(np.abs(np.log(np.asarray(synthetic_scenes.TONE_HZ) / peak))))


def test_audio_tone_names_audio_label(tiny_dir, train):
  examples = train + _records(tiny_dir, 'validation')
  matches, agreements = [], []
  for ex in examples:
    waveform, rate = decode.decode_audio(ex['video'])
    assert rate == synthetic.AUDIO_SAMPLE_RATE
    assert len(waveform) >= TINY.num_frames / TINY.fps * rate
    matches.append(_nearest_tone(waveform, rate) == ex['audio_label'])
    agreements.append(ex['audio_label'] == ex['label'])
  assert np.mean(matches) >= 0.95
  assert 0.65 <= np.mean(agreements) <= 0.93  # audio_agreement = 0.8


def _frame_features(frame: np.ndarray, mask: np.ndarray) -> list[float]:
  """Simple statistics of one frame: object area, position, spread, size, contrast."""
  h, w = mask.shape
  ids = [i for i in np.unique(mask) if i]
  centres, extents = [], []
  for i in ids:
    rows, cols = np.nonzero(mask == i)
    centres.append((rows.mean() / h, cols.mean() / w))
    extents.append((np.ptp(rows) + 1) * (np.ptp(cols) + 1) / (h * w))
  centres = np.asarray(centres or [(0.5, 0.5)])
  inside = frame[mask > 0].mean() if (mask > 0).any() else 0.0
  return [
    (mask > 0).mean(),
    *centres.mean(axis=0),
    *centres.std(axis=0),
    np.mean(extents or [0.0]),
    inside - frame[mask == 0].mean(),
    frame[mask > 0].std() if (mask > 0).any() else 0.0,
  ]


def _nearest_mean_accuracy(features: np.ndarray, labels: np.ndarray) -> float:
  """Two-fold cross-validated accuracy of a nearest-class-mean classifier."""
  features = (features - features.mean(0)) / (features.std(0) + 1e-8)
  folds = np.arange(len(labels)) % 2
  correct = 0
  for fold in (0, 1):
    train, test = folds != fold, folds == fold
    means = np.stack([features[train & (labels == k)].mean(0) for k in range(10)])
    distances = ((features[test][:, None] - means[None]) ** 2).sum(-1)
    correct += (distances.argmin(1) == labels[test]).sum()
  return correct / len(labels)


def test_single_frame_cannot_tell_the_class():
  config = dataclasses.replace(TINY, name='tiny_stats', num_train=400)
  rng = np.random.default_rng(0)
  single, pairs, labels = [], [], []
  for index in range(config.num_train):
    ex = synthetic.render_video(config, 'train', index)
    frames, masks = ex['frames'].astype(np.float32), ex['masks']
    t = rng.integers(config.num_frames)
    single.append(_frame_features(frames[t], masks[t]))
    pairs.append(_frame_features(frames[0], masks[0]) + _frame_features(frames[-1], masks[-1]))
    labels.append(ex['label'])
  labels = np.asarray(labels)
  single, pairs = np.asarray(single), np.asarray(pairs)
  # Chance is 0.1; the same classifier on the first + last frame shows the features
  # carry the class as soon as time is visible.
  assert _nearest_mean_accuracy(single, labels) < 0.2
  assert _nearest_mean_accuracy(pairs, labels) > 0.5
  # No single statistic's per-class means differ beyond what label shuffles produce.
  for column in single.T:
    spread = np.std([column[labels == k].mean() for k in range(10)])
    shuffled = [
      np.std([column[p == k].mean() for k in range(10)])
      for p in (rng.permutation(labels) for _ in range(200))
    ]
    assert np.mean(np.asarray(shuffled) >= spread) > 0.005


@pytest.mark.parametrize('damage', ['garbage', 'truncate'])
def test_corrupt_source_is_left_out(tiny_dir, tmp_path, damage):
  data_dir = str(tmp_path)
  shutil.copytree(synthetic.sources_dir(tiny_dir, 'tiny'), synthetic.sources_dir(data_dir, 'tiny'))
  path = os.path.join(synthetic.sources_dir(data_dir, 'tiny'), 'train', 'train_00007.mp4')
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(os.urandom(len(data)) if damage == 'garbage' else data[: len(data) // 2])
  synthetic.ensure_built(data_dir, 'tiny')
  records = _records(data_dir, 'train')
  assert len(records) == 63
  assert 'train_00007' not in {ex['video_id'].decode() for ex in records}
  with open(os.path.join(synthetic.sources_dir(data_dir, 'tiny'), 'train_report.json')) as f:
    report = json.load(f)
  assert report['num_examples'] == 63 and [e['path'] for e in report['left_out']] == [path]
  assert 'DecodeError' in report['left_out'][0]['error']
  for ex in records:
    assert decode.decode_frames(ex['video'], range(TINY.num_frames)).shape == (16, 32, 32, 3)
  assert len(_records(data_dir, 'validation')) == 32


def test_custom_config_changed_under_the_same_name_is_refused(tmp_path):
  small = dataclasses.replace(TINY, name='small', num_train=4, num_validation=2)
  builder = synthetic.ensure_built(str(tmp_path), small)
  assert builder.info.splits['train'].num_examples == 4
  with pytest.raises(ValueError, match='delete that folder'):
    synthetic.ensure_built(str(tmp_path), dataclasses.replace(small, seed=1))


def test_images_config(tmp_path):
  builder = synthetic.ensure_built(str(tmp_path), 'images')
  config = builder.builder_config
  records = _records(str(tmp_path), 'validation', config='images')
  assert len(records) == config.num_validation
  assert builder.info.features['label'].names == list(synthetic.SHAPE_NAMES)
  by_image = {}
  for ex in records:
    # Encoded as image_folder stores images (PNG here: lossless), read by the image loader.
    pixels = image_loader.decode_image(ex['image'])
    assert pixels.shape == (64, 64, 3) and (ex['height'], ex['width']) == (64, 64)
    by_image[hashlib.sha1(pixels.tobytes()).hexdigest()] = ex['label']
  assert set(by_image.values()) == set(range(len(synthetic.SHAPE_NAMES)))
  for index in range(10):
    rendered = synthetic.render_video(config, 'validation', index)
    key = hashlib.sha1(rendered['frames'][0].tobytes()).hexdigest()
    assert by_image[key] == rendered['object_shapes'][0]
  # The image loader: random crops and flips in training, the centre crop at evaluation.
  input_config = configs.base_config().input
  input_config.update(dataset='vidjax_synthetic/images', data_dir=str(tmp_path), loader='image')
  input_config.pp.update(crop_size=48, train_crop='random_resized')
  train_input = pipeline.make_train_input(input_config, 0, 4, 0, 1)
  batch = next(train_input.iterator)
  assert batch['image'].shape == (4, 48, 48, 3) and batch['label'].shape == (4,)
  eval_input = pipeline.make_eval_input(input_config, 'validation', 8, 1, 1, 0, 1)
  first = next(iter(eval_input))
  centre = image_loader.decode_image(records_by_id(records)[eval_input.video_id(0)]['image'])
  np.testing.assert_array_equal(first['image'][0], centre[8:56, 8:56])
  assert (
    first['mask'].all()
    and first['label'][0] == records_by_id(records)[eval_input.video_id(0)]['label']
  )


def records_by_id(records):
  return {r['image_id'].decode(): r for r in records}


def test_tiny_shapes_labels_each_video_by_its_one_object(synthetic_shapes_data_dir):
  builder = tfds.builder('vidjax_synthetic/tiny_shapes', data_dir=synthetic_shapes_data_dir)
  assert builder.info.features['label'].names == list(synthetic.SHAPE_NAMES)
  records = _records(synthetic_shapes_data_dir, 'train', config='tiny_shapes')
  assert all(len(r['object_shapes']) == 1 for r in records)
  assert all(r['label'] == r['object_shapes'][0] for r in records)
  assert len({int(r['label']) for r in records}) > 4  # several shape classes occur


def test_events_flash_an_object_as_a_click_sounds():
  """The `events` scenes: at each stored time one object turns bright for a frame and a
  click starts; everything else is the scene without events."""
  config = dataclasses.replace(TINY, name='tiny_events', num_frames=32, events_per_second=1.0)
  plain = dataclasses.replace(config, events_per_second=0.0)
  rate, fps = synthetic_scenes.AUDIO_SAMPLE_RATE, config.fps
  for index in range(4):
    example = synthetic.render_video(config, 'train', index)
    times, objects = example['event_times'], example['event_objects']
    frames = np.rint(times * fps).astype(int)
    assert len(times) >= 1 and np.all(np.diff(frames) >= synthetic_events.MIN_EVENT_GAP_FRAMES)
    assert frames.min() >= 1 and frames.max() <= config.num_frames - 2
    without = synthetic.render_video(plain, 'train', index)
    assert 'event_times' not in without
    changed = np.flatnonzero((example['frames'] != without['frames']).any(axis=(1, 2, 3)))
    assert set(changed) <= set(frames)
    for frame, obj in zip(frames, objects, strict=True):
      inside = example['masks'][frame] == obj + 1
      flashed, unflashed = example['frames'][frame][inside], without['frames'][frame][inside]
      assert flashed.astype(float).mean() > unflashed.astype(float).mean() + 20
    # Every object hums its shape's pitch; at an event the flashing object's sound starts,
    # at its pitch, far louder than the hum.
    added = example['audio'] - without['audio']
    hum_spectrum = np.abs(np.fft.rfft(added[: rate // 4] * np.hanning(rate // 4), n=rate))
    for shape in example['object_shapes']:
      pitch = round(synthetic_scenes.OBJECT_PITCH_HZ[shape])
      assert hum_spectrum[pitch - 5 : pitch + 6].max() > 10 * np.median(hum_spectrum)
    for time_s, obj in zip(times, objects, strict=True):
      start = round(time_s * rate)
      before = np.mean(added[max(0, start - rate // 20) : start] ** 2)
      assert np.mean(added[start : start + rate // 50] ** 2) > 10 * before
      sound = added[start : start + rate // 10] * np.hanning(rate // 10)
      spectrum = np.abs(np.fft.rfft(sound, n=rate))  # 1 Hz bins
      pitch = synthetic_scenes.OBJECT_PITCH_HZ[example['object_shapes'][obj]]
      assert abs(np.argmax(spectrum[100:]) + 100 - pitch) < 0.03 * pitch


def test_arrow_flashes_start_abruptly_and_fade():
  """`flash_decay_frames`: a flash is at full strength at its event and fades frame by
  frame after it, never before it; the rest of the scene is the one-frame flash's."""
  config = dataclasses.replace(
    TINY, name='tiny_arrow', num_frames=32, events_per_second=1.0, flash_decay_frames=2.0
  )
  one_frame = dataclasses.replace(config, flash_decay_frames=0.0)
  for index in range(3):
    example = synthetic.render_video(config, 'train', index)
    reference = synthetic.render_video(one_frame, 'train', index)
    np.testing.assert_array_equal(example['event_times'], reference['event_times'])
    frames = np.rint(example['event_times'] * config.fps).astype(int)
    changed = np.flatnonzero((example['frames'] != reference['frames']).any(axis=(1, 2, 3)))
    assert changed.min() > frames.min()  # the flash frames themselves are the same
    for frame, obj in zip(frames, example['event_objects'], strict=True):
      if frame + 2 >= config.num_frames:
        continue
      inside = example['masks'][frame] == obj + 1
      video = example['frames'].astype(float)
      before, flash, after, later = (video[t][inside].mean() for t in range(frame - 1, frame + 3))
      assert flash > after > later and after > before + 5


def test_a_parameter_added_later_matches_old_sources_at_its_default(tmp_path):
  small = dataclasses.replace(TINY, name='small', num_train=4, num_validation=2)
  root = synthetic.sources_dir(str(tmp_path), 'small')
  synthetic._claim_sources(root, small)
  with open(os.path.join(root, 'config.json')) as f:
    params = json.load(f)
  del params['events_per_second']  # as written before the parameter existed
  with open(os.path.join(root, 'config.json'), 'w') as f:
    json.dump(params, f)
  synthetic._claim_sources(root, small)
  with pytest.raises(ValueError, match='delete that folder'):
    synthetic._claim_sources(root, dataclasses.replace(small, events_per_second=1.0))


def test_speed_config_plays_validation_segments_at_their_stored_speeds():
  speed = dataclasses.replace(
    synthetic.VidjaxSynthetic.builder_configs['speed'], height=32, width=32
  )
  for index in range(3):
    assert (synthetic_scenes.frame_speeds(speed, 'train', index) == 1).all()
    speeds = synthetic_scenes.frame_speeds(speed, 'validation', index)
    assert set(speeds.tolist()) == {1.0, 2.0} and speeds.shape == (48,)
    changes = np.flatnonzero(np.diff(speeds)) + 1
    lengths = np.diff(np.concatenate([[0], changes]))
    assert lengths.min() >= 8 and lengths.max() <= 16  # the last segment may be cut short
    # Where the scene is in its sweep moves 1/31 of the range per frame at speed 1, twice
    # that at speed 2, bouncing at the ends.
    ramp = synthetic_scenes._scene_time(speed, 'validation', index, rng=None)
    assert ramp.min() >= -0.5 and ramp.max() <= 0.5
    steps = np.abs(np.diff(ramp)) * 31
    # (A step of at most 2 / 31 that ends below 0.43 from both ends cannot hold a bounce.)
    away_from_bounces = (np.abs(ramp[1:]) < 0.43) & (np.abs(ramp[:-1]) < 0.43)
    assert away_from_bounces.sum() > 20
    np.testing.assert_allclose(steps[away_from_bounces], speeds[:-1][away_from_bounces], atol=1e-5)
  video = synthetic_scenes.render_video(speed, 'validation', 0)
  np.testing.assert_array_equal(
    video['frame_speed'], synthetic_scenes.frame_speeds(speed, 'validation', 0)
  )
  assert video['frames'].shape == (48, 32, 32, 3)
  # Without speeds the scenes are those rendered before speeds existed: a sweep spans the
  # video exactly once.
  np.testing.assert_array_equal(
    synthetic_scenes._scene_time(TINY, 'train', 0, rng=None), np.linspace(-0.5, 0.5, 16)
  )


def test_untrimmed_videos_act_and_sound_only_within_their_stored_segment():
  config = synthetic.VidjaxSynthetic.builder_configs['tiny_untrimmed']
  starts = []
  for index in range(4):
    video = synthetic_scenes.render_video(config, 'train', index)
    start, end = video['action_segment']
    assert end - start == config.action_frames and start >= 0 and end <= config.num_frames
    starts.append(int(start))
    # The actions sweep from the segment's first frame to its last, and hold before and
    # after: the objects' boxes and masks change only within it.
    ramp = synthetic_scenes._scene_time(config, 'train', index, rng=None)
    assert (np.diff(ramp[start:end]) > 0).all()
    assert (ramp[: start + 1] == -0.5).all() and (ramp[end - 1 :] == 0.5).all()
    moves = np.abs(np.diff(video['boxes'], axis=1)).max(axis=(0, 2)) > 0
    moves |= np.diff(video['masks'].astype(int), axis=0).any(axis=(1, 2))
    assert not moves[:start].any() and not moves[end - 1 :].any()
    # The tone: loud during the action, noise alone elsewhere.
    samples_per_frame = synthetic_scenes.AUDIO_SAMPLE_RATE / config.fps
    audio = video['audio']
    inside = audio[int(start * samples_per_frame) : int(end * samples_per_frame)]
    outside = np.concatenate(
      [audio[: int(start * samples_per_frame)], audio[int(end * samples_per_frame) :]]
    )
    assert inside.std() > 2 * outside.std()
  assert len(set(starts)) > 1  # the segment's place varies
