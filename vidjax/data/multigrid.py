"""PySlowFast's multigrid training (Wu et al., "A Multigrid Method for Efficiently Training
Video Models", CVPR 2020, arXiv 1912.00998): coarse, large batches of short, small clips
for much of training, so that a step's cost stays that of the base shape while it sees
many more clips.

config.multigrid:
  long_cycle: within every stage of the step learning-rate schedule but the last, the
    shapes of `long_cycle_factors` ((time factor, space factor) of the base clip) take
    equal numbers of steps in turn; the batch grows so that batch x frames x crop^2 stays
    the base's (PySlowFast rounds the batch factor, as here); the last stage (its
    "fine-tuning phase") trains at the base shape. The sampling stride of a clip with
    fewer frames is drawn per clip between the base stride and the stride that keeps the
    base clip's span (`stride` sampling). The learning rate is scaled by the shape's
    batch factor, and the schedule's last decay moves to the middle of the last stage
    (`learning_rate`). Needs `optim.schedule.name = 'step'`.
  short_cycle: every three steps, two with smaller crops (`short_cycle_factors` of the base
    crop) and proportionally larger batches, then one at the long cycle's shape.
  Resizing (`pp.resize_short_side`, `pp.scale_jitter`) shrinks with the crop, "a larger
  span in a sampling grid" as PySlowFast puts it.

Differences from PySlowFast, and why:
  - Steps, not epochs: the schedule divides each learning-rate stage's steps between the
    long-cycle shapes, which is what PySlowFast's epoch split amounts to (each shape of a
    stage gets the same number of iterations). A multigrid run of `total_steps` steps sees
    more clips than a plain one; PySlowFast instead shortens the run at a fixed number of
    epochs, so set total_steps from `examples_before(total_steps)` to match an epoch budget.
  - The short cycle is counted in steps (step % 3), PySlowFast counts batches from the
    start of each epoch.
  - BatchNorm normalises over the whole global batch at every shape; PySlowFast switches
    between sub-batch and synchronised BatchNorm to keep 8 clips per normalisation group.

Each distinct shape compiles once (`jax.jit` caches per input shape): at most
len(long_cycle_factors) x 3 shapes, plus the base.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import grain
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from vidjax import optim
from vidjax.data import loaders, pipeline


@dataclasses.dataclass(frozen=True)
class Shape:
  """The global batch size and clip shape of a step; strides drawn in [stride, max_stride]."""

  batch_size: int
  num_frames: int
  crop_size: int
  max_stride: int


def enabled(config: ml_collections.ConfigDict) -> bool:
  return bool(config.multigrid.long_cycle or config.multigrid.short_cycle)


def check(config: ml_collections.ConfigDict) -> None:
  """Errors for settings multigrid cannot go with, naming the keys."""
  problems = []
  if config.input.sources:
    problems.append('config.input.sources is set (multigrid reshapes a single input)')
  if config.input.loader != 'clip':
    problems.append(f"config.input.loader={config.input.loader!r} (multigrid needs 'clip')")
  if config.input.pp.repeated_augmentation != 1:
    problems.append('config.input.pp.repeated_augmentation is not 1')
  if config.multigrid.long_cycle and config.optim.schedule.name != 'step':
    problems.append(
      f'config.optim.schedule.name={config.optim.schedule.name!r} (the long cycle runs '
      "within the stages of the 'step' schedule)"
    )
  if problems:
    raise ValueError(
      f'config.multigrid is on, but {"; ".join(problems)}. Change these or switch '
      'config.multigrid.long_cycle and short_cycle off.'
    )


def _long_cycle_shapes(config: ml_collections.ConfigDict) -> list[Shape]:
  frames, crop = config.input.sampling.num_frames, config.input.pp.crop_size
  batch, stride = config.input.batch_size, config.input.sampling.stride
  shapes = []
  for time_factor, space_factor in config.multigrid.long_cycle_factors:
    num_frames = int(round(frames * time_factor))
    crop_size = int(round(crop * space_factor))
    factor = int(round(frames * crop**2 / (num_frames * crop_size**2)))
    max_stride = stride * (frames // num_frames)
    shapes.append(Shape(batch * factor, num_frames, crop_size, max_stride))
  return shapes


def _short_cycle(config: ml_collections.ConfigDict, long_shape: Shape) -> list[Shape]:
  """The three shapes of a short cycle around `long_shape` (the last is itself)."""
  crop = config.input.pp.crop_size
  shapes = []
  for factor in config.multigrid.short_cycle_factors:
    crop_size = int(round(factor * crop))
    batch_factor = int(round((long_shape.crop_size / (factor * crop)) ** 2))
    shapes.append(
      dataclasses.replace(
        long_shape, batch_size=long_shape.batch_size * batch_factor, crop_size=crop_size
      )
    )
  return [*shapes, long_shape]


def _base_shape(config: ml_collections.ConfigDict) -> Shape:
  return Shape(
    config.input.batch_size,
    config.input.sampling.num_frames,
    config.input.pp.crop_size,
    config.input.sampling.stride,
  )


def _long_cycle_of_steps(config: ml_collections.ConfigDict) -> list[Shape]:
  """The long cycle's shape of every step (the base shape without the long cycle)."""
  total = config.total_steps
  of_step = [_base_shape(config)] * total
  if config.multigrid.long_cycle:
    cycle = _long_cycle_shapes(config)
    bounds = [0, *(int(b * total) for b in config.optim.schedule.boundaries), total]
    for start, end in zip(bounds[:-2], bounds[1:-1], strict=True):  # every stage but the last
      for step in range(start, end):
        of_step[step] = cycle[(step - start) * len(cycle) // (end - start)]
  return of_step


def schedule(config: ml_collections.ConfigDict) -> tuple[list[Shape], np.ndarray]:
  """(the distinct shapes, the index of each step's shape), for steps 0..total_steps - 1."""
  check(config)
  shapes_of_step = _long_cycle_of_steps(config)
  if config.multigrid.short_cycle:
    cycles = {shape: _short_cycle(config, shape) for shape in set(shapes_of_step)}
    shapes_of_step = [cycles[shape][step % 3] for step, shape in enumerate(shapes_of_step)]
  distinct = list(dict.fromkeys(shapes_of_step))
  index = {shape: i for i, shape in enumerate(distinct)}
  return distinct, np.array([index[shape] for shape in shapes_of_step], np.int32)


def learning_rate(config: ml_collections.ConfigDict) -> optax.Schedule:
  """PySlowFast's learning rate under the long cycle (`init_multigrid`): the step
  schedule's rate times the long-cycle shape's batch factor (8, 4, 2, 1 by default; the
  short cycle's larger batches keep the rate), and the last decay in the middle of the
  last stage, which trains at the base shape."""
  check(config)
  boundaries = config.optim.schedule.boundaries
  last_stage = ml_collections.ConfigDict(config.optim.schedule.to_dict())
  last_stage.boundaries = (*boundaries[:-1], (boundaries[-1] + 1) / 2)
  stepped = optim.make_schedule(last_stage, config.total_steps)
  base_batch = config.input.batch_size
  factors = jnp.asarray(
    [shape.batch_size / base_batch for shape in _long_cycle_of_steps(config)], jnp.float32
  )

  def rate(step):
    return stepped(step) * factors[jnp.clip(step, 0, config.total_steps - 1)]

  return rate


def _shape_config(input_config, shape: Shape, stride: int) -> ml_collections.ConfigDict:
  scale = shape.crop_size / input_config.pp.crop_size
  pp = input_config.pp
  overrides = {
    'sampling': {'num_frames': shape.num_frames, 'stride': stride},
    'pp': {
      'crop_size': shape.crop_size,
      'resize_short_side': int(round(pp.resize_short_side * scale)),
      'scale_jitter': tuple(int(round(s * scale)) for s in pp.scale_jitter),
    },
  }
  return pipeline.with_overrides(input_config, overrides, 'config.multigrid')


class _StepBatches:
  """Step -> this host's batch at that step's shape: positions [offset, offset + batch) of
  the global shuffled stream, host h taking the h-th block of them."""

  def __init__(self, config, dataset, seed: int, process_index: int, process_count: int):
    self._shapes, self._shape_of_step = schedule(config)
    sizes = np.array([shape.batch_size for shape in self._shapes])[self._shape_of_step]
    self.offsets = np.concatenate([[0], np.cumsum(sizes)])
    for shape in self._shapes:
      if shape.batch_size % process_count:
        raise ValueError(
          f'Multigrid batch size {shape.batch_size} (of shape {shape}) does not divide over '
          f'{process_count} hosts; change config.input.batch_size.'
        )
    self._loaders = {
      (shape, stride): loaders.module('clip').Loader(
        dataset, _shape_config(config.input, shape, stride)
      )
      for shape in self._shapes
      for stride in range(config.input.sampling.stride, shape.max_stride + 1)
    }
    self._stride = config.input.sampling.stride
    self._stride_mode = config.input.sampling.mode == 'stride'
    self._stream = grain.MapDataset.range(len(dataset.source)).shuffle(seed=seed).repeat()
    self._seed = seed
    self._host = (process_index, process_count)

  @property
  def loaders(self) -> list[Any]:
    return list(self._loaders.values())

  def __call__(self, step: int) -> dict[str, np.ndarray]:
    shape = self._shapes[self._shape_of_step[step]]
    per_host = shape.batch_size // self._host[1]
    first = int(self.offsets[step]) + self._host[0] * per_host
    examples = []
    for position in range(first, first + per_host):
      rng = np.random.default_rng([self._seed, position])
      stride = self._stride
      if self._stride_mode:
        stride = int(rng.integers(self._stride, shape.max_stride + 1))
      loader = self._loaders[(shape, stride)]
      examples.append(loader.train_example(int(self._stream[position]), rng))
    return {key: np.stack([e[key] for e in examples]) for key in examples[0]}


@dataclasses.dataclass
class MultigridInput:
  """The training stream under multigrid, with TrainInput's interface."""

  iterator: grain.DatasetIterator
  batches: _StepBatches
  dataset: pipeline.Dataset

  def examples_before(self, step: int) -> int:
    """The number of clips in all hosts' batches of the steps before `step`."""
    return int(self.batches.offsets[step])

  @property
  def decode_failures(self) -> int:
    return sum(loader.decode_failures for loader in self.batches.loaders)

  @property
  def rejected_samples_kept(self) -> int:
    return sum(loader.rejected_samples_kept for loader in self.batches.loaders)


def make_train_input(
  config: ml_collections.ConfigDict, seed: int, process_index: int, process_count: int
) -> MultigridInput:
  """The multigrid training stream of this host: one batch per step, its shape the
  schedule's; the iterator's state is the step, so a resumed run reads the same batches."""
  input_config = config.input
  loaders.module(input_config.loader).check_train_config(input_config)
  dataset = pipeline.open_dataset(input_config.dataset, input_config.split, input_config.data_dir)
  dataset = pipeline.with_label_space(dataset, input_config, resample_seed=seed)
  batches = _StepBatches(config, dataset, seed, process_index, process_count)
  ds = (
    grain.MapDataset.range(config.total_steps)
    .map(batches)
    .to_iter_dataset(pipeline.read_options(input_config))
  )
  return MultigridInput(iterator=iter(ds), batches=batches, dataset=dataset)
