"""The AVA model: logits per actor slot that depend neither on the other clips of the batch
nor on the clip's padded slots (what lets the evaluation run at any batch size), with
ACAR's head, whose attention spans the clip's actors (the linear head classifies each box
alone; the smoke runs cover it); a clip of padding alone stays finite."""

import jax
import numpy as np

from vidjax.models import ava

BACKBONE = dict(model_name='video_resnet', depth=10, width=4, block='r2plus1d')


def test_logits_per_actor_do_not_depend_on_the_batch_or_the_padding():
  model = ava.Model(
    backbone=BACKBONE, num_classes=5, head='acar', context_maps=1,
    head_config=dict(reduce_dim=8, hidden_dim=8, depth=1),
  )  # fmt: skip
  rng = np.random.default_rng(0)
  video = rng.normal(size=(3, 4, 64, 64, 3)).astype(np.float32)
  boxes = np.array(
    [
      [[0.1, 0.1, 0.5, 0.6], [0.5, 0.3, 0.9, 0.9], [0.0, 0.0, 0.0, 0.0]],
      [[0.2, 0.2, 0.7, 0.8], [0.3, 0.6, 0.6, 0.2], [0.0, 0.0, 0.0, 0.0]],
      [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
    ],
    np.float32,
  )
  mask = np.array([[True, True, False], [True, False, False], [False, False, False]])
  inputs = dict(video=video, boxes=boxes, box_mask=mask)
  variables = model.init(jax.random.key(0), inputs, train=False)
  apply = jax.jit(lambda x: model.apply(variables, x, train=False)[0])
  logits = np.asarray(apply(inputs))
  assert logits.shape == (3, 3, 5) and np.isfinite(logits).all()
  alone = np.asarray(apply({k: v[:1] for k, v in inputs.items()}))
  np.testing.assert_allclose(alone[0][mask[0]], logits[0][mask[0]], rtol=1e-5, atol=1e-5)
  moved = dict(inputs, boxes=boxes.copy())
  moved['boxes'][1, 1:] = [0.1, 0.1, 0.9, 0.9]  # clip 1's padded slots
  np.testing.assert_allclose(np.asarray(apply(moved))[1, 0], logits[1, 0], rtol=1e-5, atol=1e-5)
