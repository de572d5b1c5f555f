"""SCSampler's evaluation (Korbar, Tran & Torresani, ICCV 2019, arXiv 1904.04289): a light
sampler scores every clip of a long video, and the heavy classifier runs on the top-K clips
only; against the classifier on every clip, on K evenly spaced clips and on K random ones.

The model being trained is the sampler. Trained by the classification task on clips of
the untrimmed training videos (labelled with their video's class), a clip's saliency is
its top class probability; trained by SCSampler's ranking task (`tasks/scsampler.py`), it
is the task's 'saliency'. The heavy classifier is another run's checkpoint:
`classifier_config` (its experiment file, which gives its model) and
`classifier_checkpoint`. The evaluator's `input` must give the classifier's clip (its
sampling and pp, as experiments/scsampler/synthetic.py copies them); the sampler sees the
same clip resized to its own input size (the ranking task's `sampler_size`, else
config.input.pp.crop_size), so that its cost is its own.

Reported, for K = top_k (accuracies in percent, top-1 of the averaged class probabilities
over the chosen clips):
  - all_clips_top1: every clip; uniform_top1: K evenly spaced; random_top1: K at random
    (one fixed draw per video); scsampler_top1: the sampler's K most salient;
    oracle_top1: the K clips where the classifier is most confident of the true class (an
    upper bound no sampler can know); sampler_top1: the sampler's own prediction from all
    clips (where it has class outputs);
  - gflops_per_video_<all_clips|uniform|scsampler>: the classifier's FLOPs per clip times
    the clips it runs on, plus, for SCSampler, the sampler's on every clip (XLA's cost
    analysis, `vidjax.model_size`).

config.evals.<name>: type='scsampler', split, batch_size, every_steps, num_clips (the clips
of a video, evenly spaced; enough to cover it), num_crops (1), top_k, classifier_config
('path.py[:arg]'), classifier_checkpoint (a step directory), pred, input (see `common`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vidjax import configs, model_size, models, parallel
from vidjax.data import pipeline
from vidjax.evaluators import common
from vidjax.tasks import base, scsampler

DEFAULTS = dict(common.SPLIT_DEFAULTS, top_k=1, classifier_config='', classifier_checkpoint='')
KEYS = ('type', 'split', 'batch_size', 'every_steps', 'num_clips', 'num_crops', *DEFAULTS)


def _accuracy(probs: np.ndarray, labels: np.ndarray, chosen: np.ndarray) -> float:
  """Top-1 in percent of the class probabilities [N, V, C] averaged over the chosen clips
  (a boolean [N, V])."""
  averaged = (probs * chosen[..., None]).sum(1) / chosen.sum(1, keepdims=True)
  return 100.0 * float(np.mean(averaged.argmax(-1) == labels))


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
  """A boolean [N, V]: each row's k highest scores."""
  chosen = np.zeros(scores.shape, bool)
  np.put_along_axis(chosen, np.argsort(-scores, axis=1, kind='stable')[:, :k], True, axis=1)
  return chosen


class Evaluator(common.SplitEvaluator):
  """Video accuracy and FLOPs per video of SCSampler's top-K clips against its baselines."""

  def __init__(self, name, eval_config, config, model, task, mesh):
    if not eval_config.classifier_config or not eval_config.classifier_checkpoint:
      raise ValueError(
        f"config.evals.{name}: set classifier_config (the heavy classifier's experiment "
        'file, e.g. experiments/quickstart.py) and classifier_checkpoint (its '
        'WORKDIR/checkpoints/STEP).'
      )
    classifier_config = configs.load_config_file(eval_config.classifier_config)
    super().__init__(name, eval_config, config, model, task, mesh)
    self.top_k = eval_config.top_k
    if not 1 <= self.top_k <= self.num_clips:
      raise ValueError(
        f'config.evals.{name}.top_k={self.top_k}: between 1 and num_clips={self.num_clips}.'
      )
    classifier = scsampler.classifier_model(classifier_config)
    if (
      isinstance(task, scsampler.Task)
      and task.classifier_checkpoint == eval_config.classifier_checkpoint
    ):
      # The ranking task holds this classifier among its constants: read it once.
      self._classifier_variables = None
    else:
      variables = scsampler.restore_classifier(
        classifier,
        classifier_config,
        eval_config.classifier_checkpoint,
        flag=f'config.evals.{name}.classifier_checkpoint',
      )
      self._classifier_variables = jax.device_put(variables, parallel.replicated(mesh))
    clip_shapes = pipeline.input_shapes(self.input_config)
    clip = models.model_inputs(
      classifier, {k: jnp.zeros((1, *s), jnp.float32) for k, s in clip_shapes.items()}
    )
    # The sampler's own input size: the ranking task's, or the training clips'.
    sampler_size = getattr(task, 'sampler_size', 0) or config.input.pp.crop_size
    sampler_clip = dict(clip_shapes)
    sampler_clip['video'] = (*clip_shapes['video'][:1], sampler_size, sampler_size, 3)
    sampler_input = models.model_inputs(
      model, {k: jnp.zeros((1, *s), jnp.float32) for k, s in sampler_clip.items()}
    )
    self.gflops = {
      'classifier': model_size.flops(
        classifier, model_size.abstract_variables(classifier, clip), clip
      )
      / 1e9,
      'sampler': model_size.flops(
        model, model_size.abstract_variables(model, sampler_input), sampler_input
      )
      / 1e9,
    }
    num_classes = classifier_config.model['num_classes']
    pp, where = self.input_config.pp, f'config.evals.{name}'

    def eval_step(state, classifier_variables, constants, batch):
      ctx = base.Context(
        step=state.step, rngs={}, train=False, state=state.task_state, constants=constants, pp=pp
      )
      flat, num_views = common.flatten_views(batch)
      flat = task.preprocess(flat, ctx)
      if classifier_variables is None:
        classifier_variables = constants['classifier']
      classifier_logits = classifier.apply(
        classifier_variables, models.model_inputs(classifier, flat), train=False
      )[0]

      def per_view(x):
        return x.reshape(-1, num_views, *x.shape[1:])

      video = flat['video']
      small = dict(
        flat,
        video=jax.image.resize(
          video, (*video.shape[:2], sampler_size, sampler_size, video.shape[-1]), 'bilinear'
        ),
      )
      sampler = task.predict(model, state.variables, small, ctx)
      outputs = {
        'classifier_probs': per_view(jax.nn.softmax(classifier_logits)),
        'label': batch['label'],
        'index': batch['index'],
        'mask': batch['mask'],
        'counted': batch['mask'] | batch['decode_failed'],
        'decode_failed': batch['decode_failed'],
      }
      # A clip classifier's saliency is its top class probability; the ranking task
      # gives its own ('saliency'), and class logits only with its combined loss.
      logits = sampler.get('logits')
      if logits is not None:
        if logits.shape[-1] != num_classes:
          raise ValueError(
            f'{where}: the sampler gives {logits.shape[-1]} class logits, the classifier '
            f'{num_classes} classes; the sampler must be trained on the same classes.'
          )
        outputs['sampler_probs'] = per_view(jax.nn.softmax(logits))
      saliency = sampler.get('saliency')
      if saliency is None:
        saliency = jax.nn.softmax(common.select(sampler, 'logits', where)).max(-1)
      outputs['saliency'] = per_view(saliency)
      return self.sums(None, batch), outputs

    step = jax.jit(eval_step, out_shardings=parallel.replicated(mesh))
    self._eval_step = lambda state, constants, batch: step(
      state, self._classifier_variables, constants, batch
    )

  def sums(self, output, batch):
    del output
    return {'videos': jnp.sum(batch['mask'])}

  def metrics(
    self, totals: dict[str, float], gathered: dict[str, np.ndarray], count: int
  ) -> dict[str, float]:
    probs, saliency, labels = gathered['classifier_probs'], gathered['saliency'], gathered['label']
    num_videos, num_clips = probs.shape[:2]
    k = self.top_k
    uniform = np.zeros((num_videos, num_clips), bool)
    uniform[:, np.round(np.linspace(0, num_clips - 1, k)).astype(int)] = True
    rng = np.random.default_rng(0)
    random = _top_k(rng.random((num_videos, num_clips)), k)
    true_class = np.take_along_axis(probs, labels[:, None, None], axis=-1)[..., 0]
    every = np.ones((num_videos, num_clips), bool)
    classifier, sampler_cost = self.gflops['classifier'], self.gflops['sampler']
    results = {
      'all_clips_top1': _accuracy(probs, labels, every),
      'uniform_top1': _accuracy(probs, labels, uniform),
      'random_top1': _accuracy(probs, labels, random),
      'scsampler_top1': _accuracy(probs, labels, _top_k(saliency, k)),
      'oracle_top1': _accuracy(probs, labels, _top_k(true_class, k)),
      'gflops_per_video_all_clips': classifier * num_clips,
      'gflops_per_video_uniform': classifier * k,
      'gflops_per_video_scsampler': sampler_cost * num_clips + classifier * k,
    }
    if 'sampler_probs' in gathered:
      results['sampler_top1'] = _accuracy(gathered['sampler_probs'], labels, every)
    return results
