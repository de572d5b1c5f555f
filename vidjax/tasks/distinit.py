"""DistInit (Girdhar et al., ICCV 2019, arXiv 1901.09244): a video network learns from an
image network, on videos without labels.

The teacher is a trained 2D image classifier (`single_frame`: a torchvision ResNet, e.g.
ImageNet's ResNet-50 converted with tools/convert_checkpoint.py, or the embedded data's
shape classifier). It is a task constant: its variables are read once from
`teacher_checkpoint`, replicated into the step, and never trained or checkpointed. On
each training clip it classifies `teacher_frames` frames drawn at random (all frames with
0); the average of its per-frame softmaxes at `temperature` is the clip's soft label. The
student, any video network whose classifier has the teacher's classes, is trained to
match it with the distillation loss of Hinton et al.:

  loss = T^2 KL(mean_t softmax(teacher_t / T) || softmax(student / T)),

the T^2 keeping the gradient's scale independent of T. The paper's optional feature loss
is not implemented. The student is then fine-tuned on the labelled task
(experiments/transfer/synthetic_finetune.py, experiments/transfer/finetune.py).

The teacher sees the student's frames, resized to `teacher_size` (0 keeps the student's
crop) and renormalised from the input's pp.mean / pp.std to `teacher_mean` /
`teacher_std` (empty: the input's), so that a student trained on 112-pixel crops can learn
from a teacher that expects 224-pixel ImageNet-normalised images.

Metrics: 'loss', 'kl' (the KL divergence at T = 1, comparable across temperatures),
'agreement' (the student's top class is the soft label's) and 'teacher_entropy'. `predict`
adds per clip 'aux/distill/accuracy' (agreement) and 'aux/distill/kl', for the `pretext`
evaluator on held-out videos (there the teacher sees `teacher_frames` evenly spaced
frames).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn
from jax.scipy.special import xlogy

from vidjax import checkpoint, configs
from vidjax.tasks import base


def soft_labels(frame_logits: jax.Array, temperature: float) -> jax.Array:
  """The teacher's clip distribution [B, K]: its per-frame softmaxes [B, T, K] at
  `temperature`, averaged over the frames."""
  return jnp.mean(jax.nn.softmax(frame_logits / temperature, axis=-1), axis=1)


def distillation_loss(student_logits: jax.Array, targets: jax.Array, temperature: float):
  """Per clip: T^2 KL(targets || softmax(student_logits / T))."""
  log_student = jax.nn.log_softmax(student_logits / temperature, axis=-1)
  kl = jnp.sum(xlogy(targets, targets) - targets * log_student, axis=-1)
  return temperature**2 * kl


class Task(base.Task):
  """Distillation of a frozen image teacher's frame-averaged predictions into a video
  student."""

  batch_keys = ('video',)
  rng_names = ('teacher',)

  def __init__(
    self,
    *,
    teacher_checkpoint: str,
    teacher_model: dict,
    teacher_model_name: str = 'single_frame',
    temperature: float = 1.0,
    teacher_frames: int = 0,
    teacher_size: int = 0,
    teacher_mean: Sequence[float] = (),
    teacher_std: Sequence[float] = (),
  ):
    """See the module docstring.

    Args:
      teacher_checkpoint: the teacher's checkpoint step directory (its training run's
        WORKDIR/checkpoints/STEP, or tools/convert_checkpoint.py's output).
      teacher_model: the teacher's model kwargs (`num_classes`, `depth`, `width`, ...).
      teacher_model_name: a zoo model that classifies frames and returns
        aux['frame_logits'] [B, T, K].
      temperature: T of the softmaxes and of the loss.
      teacher_frames: frames of each clip the teacher classifies; 0: all of them.
      teacher_size: the teacher's input size in pixels (bilinear resize); 0: unchanged.
      teacher_mean, teacher_std: the teacher's normalisation (0..1 scale); empty: the
        input's pp.mean / pp.std.
    """
    if not teacher_checkpoint:
      raise ValueError(
        'config.task_kwargs.teacher_checkpoint is empty: DistInit needs a trained image '
        'teacher, e.g. the last checkpoint of experiments/distinit/teacher.py '
        '(WORKDIR/checkpoints/STEP) or tools/convert_checkpoint.py --arch resnet50 output.'
      )
    if temperature <= 0:
      raise ValueError(f'config.task_kwargs.temperature={temperature}: must be > 0.')
    if teacher_frames < 0 or teacher_size < 0:
      raise ValueError('config.task_kwargs.teacher_frames and teacher_size must be >= 0.')
    if len(teacher_mean) != len(teacher_std):
      raise ValueError('config.task_kwargs.teacher_mean and teacher_std: give both or neither.')
    self.teacher_checkpoint = teacher_checkpoint
    self.teacher = configs.load_module('models', teacher_model_name).Model(**teacher_model)
    self.temperature = temperature
    self.teacher_frames = teacher_frames
    self.teacher_size = teacher_size
    self.teacher_mean = tuple(teacher_mean)
    self.teacher_std = tuple(teacher_std)

  def constants(self) -> dict:
    """{'teacher': the teacher's params and batch stats}, read from its checkpoint."""
    example = jnp.zeros((1, 1, 32, 32, 3), jnp.float32)
    shapes = jax.eval_shape(lambda: self.teacher.init(jax.random.key(0), example, train=False))
    variables = checkpoint.restore_variables(
      self.teacher_checkpoint, shapes, flag='config.task_kwargs.teacher_checkpoint'
    )
    return {'teacher': variables}

  def _teacher_frames(self, video: jax.Array, ctx: base.Context) -> jax.Array:
    """The frames [B, K, h, w, 3] the teacher classifies, in its size and normalisation."""
    b, t = video.shape[:2]
    k = self.teacher_frames or t
    if k > t:
      raise ValueError(
        f'config.task_kwargs.teacher_frames={k}, but the clips have {t} frames; choose at '
        'most config.input.sampling.num_frames (0: all).'
      )
    if k < t:
      if ctx.train:
        keys = jax.random.split(ctx.rngs['teacher'], b)
        index = jax.vmap(lambda key: jnp.sort(jax.random.permutation(key, t)[:k]))(keys)
      else:
        index = jnp.broadcast_to(jnp.linspace(0, t - 1, k).round().astype(jnp.int32), (b, k))
      video = jnp.take_along_axis(video, index[:, :, None, None, None], axis=1)
    if self.teacher_size:
      video = jax.image.resize(
        video, (b, k, self.teacher_size, self.teacher_size, video.shape[-1]), 'bilinear'
      )
    if self.teacher_mean:
      pp = ctx.pp
      pixels = video * jnp.asarray(pp.std) + jnp.asarray(pp.mean)
      video = (pixels - jnp.asarray(self.teacher_mean)) / jnp.asarray(self.teacher_std)
    return video

  def targets(self, video: jax.Array, ctx: base.Context) -> jax.Array:
    """The teacher's soft labels [B, K] of a batch of clips (no gradient)."""
    frames = self._teacher_frames(video, ctx)
    _, aux = self.teacher.apply(ctx.constants['teacher'], frames, train=False)
    return jax.lax.stop_gradient(soft_labels(aux['frame_logits'], self.temperature))

  def _scores(self, logits: jax.Array, targets: jax.Array) -> dict[str, jax.Array]:
    if logits.shape[-1] != targets.shape[-1]:
      raise ValueError(
        f'The student has {logits.shape[-1]} outputs and the teacher {targets.shape[-1]} '
        "classes; set config.model.num_classes to the teacher's."
      )
    logits = logits.astype(jnp.float32)
    return {
      'loss': distillation_loss(logits, targets, self.temperature),
      'kl': distillation_loss(logits, targets, 1.0),
      'accuracy': (logits.argmax(-1) == targets.argmax(-1)).astype(jnp.float32),
    }

  def loss_and_metrics(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> tuple[jax.Array, tuple[dict, dict[str, jax.Array]]]:
    targets = self.targets(batch['video'], ctx)
    (logits, _), model_state = self.apply(model, variables, batch, ctx)
    scores = self._scores(logits, targets)
    entropy = -jnp.sum(xlogy(targets, targets), axis=-1)
    metrics = {
      'loss': scores['loss'].mean(),
      'kl': scores['kl'].mean(),
      'agreement': scores['accuracy'].mean(),
      'teacher_entropy': entropy.mean(),
    }
    return metrics['loss'], (model_state, metrics)

  def predict(
    self, model: nn.Module, variables: dict, batch: dict[str, jax.Array], ctx: base.Context
  ) -> dict[str, jax.Array]:
    """The model's outputs, and per clip 'aux/distill/accuracy' (agreement with the
    teacher) and 'aux/distill/kl'."""
    predictions = super().predict(model, variables, batch, ctx)
    scores = self._scores(predictions['logits'], self.targets(batch['video'], ctx))
    predictions['aux/distill/accuracy'] = scores['accuracy']
    predictions['aux/distill/kl'] = scores['kl']
    return predictions
