"""alignment: how well per-frame embeddings align videos of one action (TCC's evaluation).

The embedder (`models/tcc.py`) embeds every frame of each video (each frame a timestep
with its context frames, `chunk` timesteps a call); the embeddings are scored as
google-research `tcc/evaluation/` does, on videos with per-frame phase labels: those of
`vidjax_synthetic/<config>` (the `phases` config), rendered in memory, or of a prepared
dataset that has them (`tcc/pouring`, `data/builders/tcc.py`), decoded when evaluated:

- **kendalls_tau** (`kendalls_tau.py`): for every ordered pair of validation videos, each
  frame of the first (every `stride`-th) takes its nearest frame of the second (squared
  Euclidean distance); Kendall's tau between the frames' order and their neighbours'
  order, averaged over pairs (NaNs dropped). 1 is a perfect alignment.
- **phase_accuracy** (`classification.py`): a classifier of the frames' phases fitted on
  the embeddings of the `fit_videos` first training videos, scored on the validation
  videos' frames, in percent. The official one is an RBF SVM (sklearn's SVC); here a
  multinomial logistic regression (the `linear_probe` evaluator's L-BFGS fit), so that the
  evaluation needs no other library.
- **phase_progression** (`event_completion.py`): for each phase transition, the target of a
  frame is (t - transition frame) / video length, the transition frame being the last of
  the phase before; a linear regression per transition fitted on the training videos'
  embeddings, the validation R^2 averaged over transitions. The official regression is
  plain least squares; here the embeddings are standardised and the regression has a
  small ridge (`RIDGE`), without which an untrained embedder scored R^2 = -1e5.

config.evals.<name>: type='alignment', every_steps, at_start (the initial embedder: the
baseline), source ('vidjax_synthetic/phases' or 'tcc/<config>'), num_videos (of
test_split, 'validation'; TCC's records call it 'val'), fit_videos (of fit_split,
'train'), stride (of Kendall's tau: TCC's 2 for Pouring, 5 for Penn Action), l2,
fit_iterations, chunk.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import scipy.stats
from flax import linen as nn
from jax.sharding import Mesh

from vidjax.data import decode, pipeline, preprocess
from vidjax.data.builders import synthetic, synthetic_scenes, video_common
from vidjax.evaluators import linear_probe
from vidjax.tasks import base

SYNTHETIC = 'vidjax_synthetic/'
DEFAULTS = dict(
  at_start=False,
  source='vidjax_synthetic/phases',
  num_videos=30,
  fit_videos=60,
  stride=1,
  l2=1e-3,
  fit_iterations=200,
  test_split='validation',
  fit_split='train',
  chunk=64,
)
KEYS = ('type', 'every_steps', *DEFAULTS)
# Ridge of the progression regressions, per example, on standardised embeddings: an
# untrained embedder's near-constant dimensions otherwise get huge weights, and the
# validation R^2 reached -1e5 with plain least squares.
RIDGE = 1e-3


def _rendered(video: dict) -> tuple[np.ndarray, np.ndarray]:
  return video['frames'], video['frame_phase']


def kendalls_tau(embeddings: list[np.ndarray], stride: int = 1) -> float:
  """Mean Kendall's tau over ordered pairs of videos' frame embeddings [T_i, D]."""
  taus = []
  for a, b in itertools.permutations(range(len(embeddings)), 2):
    first, second = embeddings[a][::stride], embeddings[b][::stride]
    distances = ((first[:, None] - second[None]) ** 2).sum(-1)
    nearest = np.argmin(distances, axis=1)
    taus.append(scipy.stats.kendalltau(np.arange(len(first)), nearest).statistic)
  taus = np.asarray(taus, np.float64)
  return float(np.mean(taus[~np.isnan(taus)])) if np.any(~np.isnan(taus)) else float('nan')


def progression_targets(phases: np.ndarray, num_phases: int) -> np.ndarray:
  """[T, num_phases - 1] targets (t - transition) / T of each phase transition; the
  transition frame is the last frame of phase k, or the first of phase k + 1 when phase
  k is absent."""
  length = len(phases)
  targets = []
  for k in range(num_phases - 1):
    inside = np.flatnonzero(phases == k)
    transition = inside[-1] if len(inside) else np.flatnonzero(phases > k)[0]
    targets.append((np.arange(length) - transition) / length)
  return np.stack(targets, axis=1)


def r_squared(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
  """R^2 of each column."""
  residual = ((truth - predicted) ** 2).sum(0)
  total = ((truth - truth.mean(0)) ** 2).sum(0)
  return 1 - residual / np.maximum(total, 1e-12)


def standardised(fit: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Both feature sets [N, D] standardised with the fit set's statistics (as the probes')."""
  mean, std = fit.mean(0), fit.std(0) + 1e-6
  return (fit - mean) / std, (test - mean) / std


def phase_progression(
  fit, fit_phases, test, test_phases, num_phases: int, ridge: float = RIDGE
) -> float:
  """Mean validation R^2 of linear regressions from embeddings to progression targets,
  on embeddings standardised with the fit videos' statistics, with a small ridge."""
  fit_x, test_x = standardised(np.concatenate(fit), np.concatenate(test))
  targets = np.concatenate([progression_targets(p, num_phases) for p in fit_phases])
  offset = targets.mean(0)
  gram = fit_x.T @ fit_x + ridge * len(fit_x) * np.eye(fit_x.shape[1])
  weights = np.linalg.solve(gram, fit_x.T @ (targets - offset))
  test_targets = np.concatenate([progression_targets(p, num_phases) for p in test_phases])
  return float(np.mean(r_squared(test_x @ weights + offset, test_targets)))


class Evaluator:
  """Kendall's tau, phase classification and phase progression of per-frame embeddings."""

  def __init__(
    self,
    name: str,
    eval_config: ml_collections.ConfigDict,
    config: ml_collections.ConfigDict,
    model: nn.Module,
    task: base.Task,
    mesh: Mesh,
  ):
    del task, mesh
    self.name = name
    self.every_steps, self.at_start = eval_config.every_steps, eval_config.at_start
    self.decode_failures: list[str] = []
    self.stride, self.l2 = eval_config.stride, eval_config.l2
    self.fit_iterations = eval_config.fit_iterations
    self.source = eval_config.source
    self.num_phases, self._videos = self._open_videos(name, eval_config, config.input.data_dir)
    sampling, pp = config.input.sampling, config.input.pp
    num_context = sampling.get('num_context', 1)
    context_stride = sampling.get('context_stride', 1)
    self._chunk = eval_config.chunk

    @jax.jit
    def embed(variables, frames, steps):
      # Each timestep with its context frames before it (clamped at frame 0).
      back = context_stride * jnp.arange(num_context - 1, -1, -1)
      clip = frames[jnp.maximum(steps[:, None] - back, 0).reshape(-1)][None]
      inputs = preprocess.model_batch({'video': clip}, pp, train=False)
      embeddings, _ = model.apply(variables, inputs['video'], train=False)
      return embeddings[0]

    self._embed = embed

  def _open_videos(self, name: str, eval_config, data_dir: str) -> tuple[int, dict]:
    """(number of phases, {split: [a zero-argument reader of (frames, phases)]})."""
    splits = (('fit', eval_config.fit_split, eval_config.fit_videos),)
    splits += (('test', eval_config.test_split, eval_config.num_videos),)
    if self.source.startswith(SYNTHETIC):
      configs = {c.name: c for c in synthetic.VidjaxSynthetic.BUILDER_CONFIGS}
      data_config = configs.get(self.source[len(SYNTHETIC) :])
      if data_config is None or not data_config.phases:
        raise ValueError(
          f'config.evals.{name}.source={self.source!r}: a config with phases is needed, such '
          f'as {SYNTHETIC}phases.'
        )
      videos = {}
      for role, split, count in splits:
        rendered = (
          synthetic_scenes.render_video(data_config, split, index)
          for index in range(min(count, synthetic_scenes.num_examples(data_config, split)))
        )
        videos[role] = [functools.partial(_rendered, v) for v in rendered]
      return len(data_config.phases), videos
    dataset_name, _, config_name = self.source.partition('/')
    if dataset_name not in video_common.known_datasets():
      raise ValueError(
        f'config.evals.{name}.source={self.source!r}: neither {SYNTHETIC}<config> nor a '
        f'prepared dataset with phase labels, such as tcc/pouring.'
      )
    builder_configs = video_common.builder_class(dataset_name).builder_configs
    num_phases = getattr(builder_configs.get(config_name), 'num_phases', None)
    if num_phases is None:
      raise ValueError(f'config.evals.{name}.source={self.source!r} has no phase labels.')
    videos = {}
    for role, split, count in splits:
      source = pipeline.open_dataset(self.source, split, data_dir).source
      videos[role] = [
        functools.partial(self._read_record, source, index)
        for index in range(min(count, len(source)))
      ]
    return num_phases, videos

  def _read_record(self, source, index: int) -> tuple[np.ndarray, np.ndarray] | None:
    record = source[index]
    try:
      frames = decode.decode_frames(record['video'], range(int(record['num_frames'])))
    except decode.DecodeError as error:
      self.decode_failures.append(f'{self.source}[{index}]: {error}')
      return None
    return frames, np.asarray(record['frame_phase'])

  def files(self) -> dict[str, str]:
    """No files: the metrics are the whole result."""
    return {}

  @property
  def dataset_manifest(self) -> dict:
    return {
      'source': self.source,
      'num_videos': len(self._videos['test']),
      'fit_videos': len(self._videos['fit']),
    }

  def _embed_video(self, variables, frames: np.ndarray) -> np.ndarray:
    """[T, D]: every frame a timestep, embedded `chunk` timesteps a call (one compiled
    shape for videos of any length; the last chunk repeats its last step)."""
    chunks = []
    for start in range(0, len(frames), self._chunk):
      steps = np.arange(start, start + self._chunk)
      embeddings = self._embed(variables, frames, np.minimum(steps, len(frames) - 1))
      chunks.append(np.asarray(embeddings)[: len(frames) - start])
    return np.concatenate(chunks)

  def embeddings(self, variables, role: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(per-frame embeddings [T, D], phases [T]) of the 'fit' or 'test' videos (those that
    decode)."""
    embeddings, phases = [], []
    for read in self._videos[role]:
      video = read()
      if video is not None:
        embeddings.append(self._embed_video(variables, video[0]))
        phases.append(video[1])
    return embeddings, phases

  def run(self, state, constants) -> dict[str, float]:
    del constants
    test, test_phases = self.embeddings(state.variables, 'test')
    fit, fit_phases = self.embeddings(state.variables, 'fit')
    fit_x, test_x = standardised(np.concatenate(fit), np.concatenate(test))
    weights, bias = linear_probe.fit_logistic_regression(
      jnp.asarray(fit_x),
      jnp.asarray(np.concatenate(fit_phases)),
      num_classes=self.num_phases,
      l2=self.l2,
      iterations=self.fit_iterations,
    )
    logits = test_x @ np.asarray(weights) + np.asarray(bias)
    accuracy = np.mean(np.argmax(logits, -1) == np.concatenate(test_phases))
    return {
      'kendalls_tau': kendalls_tau(test, self.stride),
      'phase_accuracy': 100.0 * float(accuracy),
      'phase_progression': phase_progression(fit, fit_phases, test, test_phases, self.num_phases),
      'num_videos': len(test),
    }
