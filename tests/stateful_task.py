"""A task whose state changes at every evaluation (for the trainer's resume tests).

Used as `--config.task=tests.stateful_task` (a dotted module path): classification whose
loss is scaled by a weight that `update_state` recomputes from the evaluation's loss and
the step, and a counter of the updates.
"""

import jax.numpy as jnp
import numpy as np

from vidjax.tasks import classification


class Task(classification.Task):
  def init_state(self):
    return {'num_updates': jnp.zeros((), jnp.int32), 'loss_weight': jnp.ones((), jnp.float32)}

  def loss_and_metrics(self, model, variables, batch, ctx):
    loss, (model_state, metrics) = super().loss_and_metrics(model, variables, batch, ctx)
    metrics = dict(metrics, loss_weight=ctx.state['loss_weight'])
    return loss * ctx.state['loss_weight'], (model_state, metrics)

  def update_state(self, state, step, eval_results):
    (eval_loss,) = [v for k, v in eval_results.items() if k.endswith('/loss')]
    weight = 1.0 / (1.0 + eval_loss) + 0.01 * step
    return {'num_updates': state['num_updates'] + 1, 'loss_weight': np.float32(weight)}
