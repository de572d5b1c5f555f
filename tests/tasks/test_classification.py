import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from vidjax.tasks import base, classification


class FixedLogits(nn.Module):
  """Returns the logits it is given in the batch, to test the losses in isolation."""

  @nn.compact
  def __call__(self, x, *, train):
    bias = self.param('bias', nn.initializers.zeros, (x.shape[-1],))
    frame_logits = x + bias
    logits = jax.nn.logsumexp(jax.nn.log_softmax(frame_logits), axis=1) - jnp.log(x.shape[1])
    return logits, {'frame_logits': frame_logits}


_EVAL_CONTEXT = base.Context(step=0, rngs={}, train=False, state={}, constants={}, pp=None)


def _run(task, video, label, **mix):
  model = FixedLogits()
  variables = model.init(jax.random.key(0), video, train=False)
  loss, (_, metrics) = task.loss_and_metrics(
    model, variables, {'video': video, 'label': label, **mix}, _EVAL_CONTEXT
  )
  return float(loss), metrics


def test_softmax_with_label_smoothing():
  frame_logits = jax.random.normal(jax.random.key(1), (4, 1, 5))
  labels = jnp.array([0, 1, 2, 3])
  task = classification.Task(label_smoothing=0.1, multi_label=False, frame_level_loss=False)
  loss, metrics = _run(task, frame_logits, labels)
  logits = jax.nn.log_softmax(frame_logits[:, 0])
  targets = 0.9 * jax.nn.one_hot(labels, 5) + 0.1 / 5
  np.testing.assert_allclose(loss, float(-(targets * logits).sum(-1).mean()), rtol=1e-5)
  np.testing.assert_allclose(float(metrics['top1']), float((logits.argmax(-1) == labels).mean()))


def test_frame_level_loss_averages_per_frame_cross_entropy():
  frame_logits = jax.random.normal(jax.random.key(2), (3, 4, 6))
  labels = jnp.array([5, 0, 2])
  task = classification.Task(label_smoothing=0.0, multi_label=False, frame_level_loss=True)
  loss, _ = _run(task, frame_logits, labels)
  expected = optax.softmax_cross_entropy_with_integer_labels(
    frame_logits, jnp.broadcast_to(labels[:, None], (3, 4))
  ).mean()
  np.testing.assert_allclose(loss, float(expected), rtol=1e-5)


def test_multi_label_sigmoid():
  logits = jnp.array([[[2.0, -1.0, 0.5]], [[-3.0, 1.0, 0.0]]])
  targets = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
  task = classification.Task(label_smoothing=0.0, multi_label=True, frame_level_loss=False)
  loss, metrics = _run(task, logits, targets)
  model_logits = jax.nn.log_softmax(logits[:, 0])  # FixedLogits' clip logits for T = 1
  expected = optax.sigmoid_binary_cross_entropy(model_logits, targets).sum(-1).mean()
  np.testing.assert_allclose(loss, float(expected), rtol=1e-5)
  assert float(metrics['top1']) == 1.0  # each top class is a positive label


def test_mixed_batch_gives_soft_targets_with_label_smoothing():
  labels, partners = jnp.array([0, 1, 2, 3]), jnp.array([2, 3, 0, 1])
  noise = jax.random.normal(jax.random.key(3), (4, 2, 5))
  frame_logits = noise + 4 * jax.nn.one_hot(labels, 5)[:, None]  # predicts `labels`
  weight = jnp.full((4,), 0.7)
  mix = dict(mix_label=partners, mix_weight=weight)
  targets = classification.targets({'label': labels, **mix}, 5, multi_label=False)
  np.testing.assert_allclose(targets.sum(-1), 1.0, rtol=1e-6)
  np.testing.assert_allclose(targets[jnp.arange(4), labels], 0.7, rtol=1e-6)
  np.testing.assert_allclose(targets[jnp.arange(4), partners], 0.3, rtol=1e-6)
  # Cross-entropy is linear in the targets: the mixed loss is the mix of the two losses,
  # smoothing included; top1 is measured against the clip's own label.
  task = classification.Task(label_smoothing=0.1, multi_label=False, frame_level_loss=False)
  loss, metrics = _run(task, frame_logits, labels, **mix)
  own, _ = _run(task, frame_logits, labels)
  other, _ = _run(task, frame_logits, partners)
  np.testing.assert_allclose(loss, 0.7 * own + 0.3 * other, rtol=1e-5)
  assert float(metrics['top1']) == 1.0
  frame_task = classification.Task(label_smoothing=0.0, multi_label=False, frame_level_loss=True)
  loss, _ = _run(frame_task, frame_logits, labels, **mix)
  own, _ = _run(frame_task, frame_logits, labels)
  other, _ = _run(frame_task, frame_logits, partners)
  np.testing.assert_allclose(loss, 0.7 * own + 0.3 * other, rtol=1e-5)


def test_mixed_multi_label_targets():
  labels = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
  mixed = classification.targets(
    {'label': labels, 'mix_label': labels[::-1], 'mix_weight': jnp.array([0.25, 0.25])},
    3,
    multi_label=True,
  )
  np.testing.assert_allclose(mixed, [[0.25, 0.75, 0.25], [0.75, 0.25, 0.75]])
