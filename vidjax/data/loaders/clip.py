"""The `clip` loader: a video record -> the sampled frames, cropped, with flow and audio.

Training examples are one random clip with a random crop and flip (the same box and flip
for every frame, the flow and, through `Crop`, for anything spatial); evaluation examples
are the T clips x S crops of the multi-view test. See `vidjax.data.loaders` for the
interface every loader implements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import ml_collections
import numpy as np
from PIL import Image

from vidjax.data import audio, decode, flow, loaders, samplers, sampling
from vidjax.data.crop import Crop, crop_black_borders


def flip_label_map(label_names: Sequence[str], swaps: Sequence[Sequence[str]]) -> np.ndarray:
  """Label permutation applied with a horizontal flip (e.g. 'move_left' <-> 'move_right')."""
  mapping = np.arange(len(label_names))
  for pair in swaps:
    missing = [n for n in pair if n not in label_names]
    if len(pair) != 2 or missing:
      raise ValueError(
        f'config.input.pp.flip_label_swaps entry {tuple(pair)}: needs two class names of '
        f'the dataset; unknown: {missing}.'
      )
    a, b = (label_names.index(n) for n in pair)
    mapping[a], mapping[b] = b, a
  return mapping


def resize_short_side(frames: np.ndarray, size: int) -> np.ndarray:
  height, width = frames.shape[1:3]
  if size == 0 or min(height, width) == size:
    return frames
  scale = size / min(height, width)
  new_size = (round(width * scale), round(height * scale))
  return np.stack([np.asarray(Image.fromarray(f).resize(new_size, Image.BILINEAR)) for f in frames])


def train_crop(height: int, width: int, rng: np.random.Generator, pp) -> Crop:
  """The training crop of a frame of height x width (pp.train_crop: 'random',
  'scale_jitter' or 'random_resized'), then a flip with probability 1/2 when `pp.flip`;
  one `Crop` for every frame and everything spatial of an example."""
  size = pp.crop_size
  if pp.train_crop == 'random':
    # A crop of the frame resized to pp.resize_short_side (0 keeps it), as a source box.
    scale = pp.resize_short_side / min(height, width) if pp.resize_short_side else 1.0
    resized_height, resized_width = round(height * scale), round(width * scale)
    y, x = sampling.random_crop(rng, resized_height, resized_width, size)
    scale_y, scale_x = resized_height / height, resized_width / width
    box = (y / scale_y, x / scale_x, size / scale_y, size / scale_x)
  elif pp.train_crop == 'scale_jitter':
    box = sampling.scale_jitter_crop(rng, height, width, size, pp.scale_jitter)
  else:
    rrc = pp.random_resized_crop
    box = sampling.random_resized_crop(rng, height, width, rrc.area, rrc.aspect_ratio)
  flip = bool(pp.flip and rng.random() < 0.5)
  return Crop(*box, size=size, flip=flip)


def test_views(clips: np.ndarray, pp: ml_collections.ConfigDict, num_crops: int) -> np.ndarray:
  """The S test crops of each decoded clip: uint8 [T, t, H, W, 3] -> [T * S, t, h, w, 3],
  clip-major, after the evaluation resize (`pp.resize_short_side`)."""
  size = pp.crop_size
  views = []
  for clip in clips:
    clip = resize_short_side(clip, pp.resize_short_side)
    for y, x in sampling.multi_crops(clip.shape[1], clip.shape[2], size, num_crops):
      views.append(clip[:, y : y + size, x : x + size])
  return np.stack(views)


class Loader:
  """Reads a record, decodes the sampled frames, crops; replaces undecodable videos.

  A decode failure is logged with the video id and the decoder's error, counted in
  `decode_failures` (reported by the trainer as data/decode_failures), and the example is
  replaced by the next index, deterministically, so that training never crashes and a
  resumed run still sees the same stream.
  """

  def __init__(self, dataset, input_config: ml_collections.ConfigDict):
    self._sampler = samplers.build(input_config.sampling)
    self._pp = input_config.pp
    self._flow = input_config.flow
    self._audio = input_config.audio
    self._input_config = input_config
    self._has_label = bool(dataset.label_names)
    self._multi_hot = dataset.multi_hot
    self._flip_map = flip_label_map(dataset.label_names, self._pp.flip_label_swaps)
    self._reader = loaders.RecordReader(dataset.source, 'video', 'video_id', (decode.DecodeError,))
    # Training samples kept although the sampler's `accept` test rejected every draw.
    self.rejected_samples_kept = 0

  def _decode(
    self,
    index: int,
    sample_of: Callable[[samplers.VideoMeta], samplers.Sample],
    *,
    substitute: bool,
  ):
    """Returns (record, sample, frames) of `index`.

    `sample_of` maps the record's VideoMeta to the sampler's Sample; its frame indices may
    have any shape, and the frames come back with that shape in front of [H, W, 3]. With
    flow enabled, the last axis holds every sampled frame followed by `stack` more (see
    `_modalities`).
    A video that fails to decode is counted and logged; with `substitute` (training) the
    next decodable one takes its place, otherwise (evaluation) the DecodeError is raised.
    """

    def frames_of(record: Mapping):
      labelled = record.get('labelled_frames')  # sparse pose labels, where marked
      meta = samplers.VideoMeta(int(record['num_frames']), float(record['fps']), labelled)
      for _ in range(samplers.MAX_DRAWS):
        sample = sample_of(meta)
        indices = np.asarray(sample.frames)
        if self._flow.enabled:
          # Each sampled frame is followed by the frames its flow fields reach (flow.py).
          pairs = flow.frame_indices(indices, int(record['num_frames']), self._flow.stack)
          indices = pairs.reshape(*pairs.shape[:-2], -1)
        frames = decode.decode_frames(record['video'], np.asarray(indices).reshape(-1))
        frames = frames.reshape(*np.shape(indices), *frames.shape[1:])
        if sample.accept is None or sample.accept(self._sampled(frames)):
          break
      else:
        self.rejected_samples_kept += 1
      return sample, frames

    record, (sample, frames) = self._reader.read(index, frames_of, substitute=substitute)
    return record, sample, frames

  def _sampled(self, frames: np.ndarray) -> np.ndarray:
    """The sampler's own frames among those decoded (without the frames flow adds)."""
    if not self._flow.enabled:
      return frames
    runs = frames.reshape(*frames.shape[:-4], -1, self._flow.stack + 1, *frames.shape[-3:])
    return runs[..., 0, :, :, :]

  @property
  def decode_failures(self) -> int:
    return self._reader.decode_failures

  def _modalities(self, frames: np.ndarray) -> dict[str, np.ndarray]:
    """Splits cropped (and flipped) decoded frames into the example's visual inputs.

    Args:
      frames: uint8 [..., F, h, w, 3] as `_decode` returned them, after the spatial
        transforms: F = T, or F = T * (stack + 1) with flow enabled.

    Returns:
      'video' uint8 [..., T, h, w, 3] and, with flow enabled, 'flow' uint8
      [..., T * stack, h, w, 2] computed on exactly these pixels.
    """
    if not self._flow.enabled:
      return {'video': np.ascontiguousarray(frames)}
    stack = self._flow.stack
    runs = frames.reshape(*frames.shape[:-4], -1, stack + 1, *frames.shape[-3:])
    fields = flow.compute(runs, self._flow.preset)
    fields = fields.reshape(*frames.shape[:-4], -1, *fields.shape[-3:])
    return {
      'video': np.ascontiguousarray(runs[..., 0, :, :, :]),
      'flow': flow.quantize(fields, self._flow.bound),
    }

  def _clip_audio(
    self, record: Mapping, sample: samplers.Sample, repeats: int = 1
  ) -> dict[str, np.ndarray]:
    """'audio' and 'has_audio' of the sample's clips (and any other audio its
    `audio_frames` names), or nothing with audio disabled.

    The features of clip i are repeated `repeats` times along the first axis, so that
    they line up with clip-major views (every crop of a clip hears the same audio).
    """
    if not self._audio.enabled:
      return {}
    spans = sample.audio_frames or {'audio': sample.frames}
    # One decode of the soundtrack covers every span.
    stacked = np.stack([np.asarray(indices) for indices in spans.values()])
    features, has_audio = audio.clip_audio(record, stacked, self._audio)
    example = {
      key: np.repeat(value, repeats, axis=0) for key, value in zip(spans, features, strict=True)
    }
    return {**example, 'has_audio': np.bool_(has_audio)}

  def train_example(self, index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One random clip, random crop and flip: video uint8 [T, h, w, 3], the label (swapped
    by a flip where pp.flip_label_swaps says so) and the sampler's fields."""
    record, sample, frames = self._decode(
      index, lambda meta: self._sampler.train(rng, meta), substitute=True
    )
    if self._pp.crop_black_borders:
      frames = crop_black_borders(frames)
    crop = train_crop(frames.shape[-3], frames.shape[-2], rng, self._pp)
    frames = crop.frames(frames)
    label = label_of(record)
    if crop.flip and label:
      # The swaps are pairs, so the map is its own inverse: a multi-hot label is permuted
      # by it as a class index is mapped.
      label = {
        'label': label['label'][self._flip_map]
        if self._multi_hot
        else np.int32(self._flip_map[label['label']])
      }
    return {
      **self._modalities(frames),
      **self._clip_audio(record, sample),
      **label,
      **sample.fields,
      **keypoints_of(record, sample, crop),
    }

  def eval_example(self, index: int, num_clips: int, num_crops: int) -> dict[str, np.ndarray]:
    """All T x S views of video `index`: video uint8 [T*S, t, h, w, 3] (clip-major), the
    label when the dataset has one, the sampler's fields ([T*S, ...]: its test-time
    fields are per clip), 'index', and 'mask' / 'decode_failed': a video that
    cannot be decoded gives zeros with mask False and decode_failed True, never another
    video (evaluation must score every example of the split exactly once)."""
    try:
      record, sample, clips = self._decode(
        index, lambda meta: self._sampler.eval(meta, num_clips), substitute=False
      )
    except decode.DecodeError:
      return dict(
        self.empty_example(num_clips * num_crops),
        index=np.int32(index),
        decode_failed=np.bool_(True),
      )
    if self._pp.crop_black_borders:
      clips = crop_black_borders(clips)
    return {
      **self._modalities(test_views(clips, self._pp, num_crops)),
      **self._clip_audio(record, sample, repeats=num_crops),
      **label_of(record),
      # A sampler's test-time fields are per clip; every crop of a clip shares them.
      **{key: np.repeat(value, num_crops, axis=0) for key, value in sample.fields.items()},
      'index': np.int32(index),
      'mask': np.bool_(True),
      'decode_failed': np.bool_(False),
    }

  def empty_example(self, num_views: int) -> dict[str, np.ndarray]:
    """An evaluation example of zeros, masked out (padding and undecodable videos):
    index -1, mask and decode_failed False."""
    shapes = {key: (num_views, *shape) for key, shape in input_shapes(self._input_config).items()}
    example = {
      key: np.zeros(shape, np.float32 if key == 'audio' else np.uint8)
      for key, shape in shapes.items()
    }
    # The sampler's fields and audio spans, as zeros shaped like a real example's.
    probe = self._sampler.eval(samplers.VideoMeta(num_frames=10_000, fps=25.0), num_views)
    example.update({key: np.zeros_like(value) for key, value in probe.fields.items()})
    if self._audio.enabled:
      for key in probe.audio_frames or ():
        example[key] = np.zeros_like(example['audio'])
      example['has_audio'] = np.bool_(False)
    if self._has_label:
      example['label'] = (
        np.zeros(len(self._flip_map), np.float32) if self._multi_hot else np.int32(0)
      )
    example.update(index=np.int32(-1), mask=np.bool_(False), decode_failed=np.bool_(False))
    return example


def keypoints_of(record: Mapping, sample: samplers.Sample, crop: Crop) -> dict[str, np.ndarray]:
  """The keypoints of every object at the sampler's 'keyframe' through the clip's crop:
  'keypoints' float32 [N, K, 2] ((y, x) output pixels) and 'keypoint_visible' bool
  [N, K] (false outside the crop); nothing without keypoints or a keyframe."""
  if 'keypoints' not in record or 'keyframe' not in sample.fields:
    return {}
  keyframe = int(sample.fields['keyframe'])
  points = crop.keypoints(np.asarray(record['keypoints'], np.float32)[:, keyframe])
  inside = np.all((points >= 0) & (points < crop.size), axis=-1)
  visible = np.asarray(record['keypoint_visible'])[:, keyframe] & inside
  return {'keypoints': points.astype(np.float32), 'keypoint_visible': visible}


def label_of(record: Mapping) -> dict[str, np.ndarray]:
  """{'label': int32} of a record (float32 [K] where it is multi-hot), or nothing for a
  dataset without labels."""
  if 'label' not in record:
    return {}
  label = np.asarray(record['label'])
  return {'label': label.astype(np.float32) if label.ndim else np.int32(label)}


TRAIN_CROPS = ('random', 'scale_jitter', 'random_resized')


def check_train_config(input_config: ml_collections.ConfigDict) -> None:
  """Errors for training settings that cannot go together, naming the keys."""
  pp, flow_enabled = input_config.pp, input_config.flow.enabled
  pixel_level = {
    'rand_augment.num_ops': pp.rand_augment.num_ops > 0,
    'random_erasing.prob': pp.random_erasing.prob > 0,
    'mix.mixup_alpha': pp.mix.mixup_alpha > 0,
    'mix.cutmix_alpha': pp.mix.cutmix_alpha > 0,
  }
  if flow_enabled and any(pixel_level.values()):
    # These act on the RGB video on the device; the flow would no longer match it.
    on = [f'config.input.pp.{key}' for key, enabled in pixel_level.items() if enabled]
    raise ValueError(
      f'{", ".join(on)}: not supported together with config.input.flow.enabled (the optical '
      'flow would no longer match the augmented video); switch one of them off.'
    )
  if pp.train_crop not in TRAIN_CROPS:
    raise ValueError(f'config.input.pp.train_crop={pp.train_crop!r}; choose one of {TRAIN_CROPS}.')
  if pp.repeated_augmentation < 1:
    raise ValueError(
      f'config.input.pp.repeated_augmentation={pp.repeated_augmentation!r}: the number of '
      'copies of each video in a batch, an integer >= 1 (1 = off).'
    )


def input_shapes(input_config: ml_collections.ConfigDict) -> dict[str, tuple[int, ...]]:
  """Shapes of one training example's model inputs, without the batch axis: 'video' and,
  when enabled, 'flow' and 'audio'."""
  num_frames, size = input_config.sampling.num_frames, input_config.pp.crop_size
  shapes = {'video': (num_frames, size, size, 3)}
  if input_config.flow.enabled:
    shapes['flow'] = (num_frames * input_config.flow.stack, size, size, 2)
  if input_config.audio.enabled:
    shapes['audio'] = (input_config.audio.spectrogram_frames, input_config.audio.num_mels)
  return shapes
