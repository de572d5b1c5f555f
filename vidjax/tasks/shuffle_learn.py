"""Shuffle & Learn: is a tuple of frames in temporal order? (Misra et al., ECCV 2016)

The `tuples` sampler gives every example three frames, video [B, 3, h, w, 3], and
'in_order' [B] (1: (b, c, d) forward or backward; 0: (b, a, d) or (b, e, d)); the siamese
network (`models/tuple_order.py`) gives one logit, trained with the binary cross-entropy.
`predict` scores each view ('aux/order/accuracy', 'aux/order/loss'), which the `pretext`
evaluator averages.
"""

from __future__ import annotations

from vidjax.tasks import clip_pairs


class Task(clip_pairs.BinaryFieldTask):
  """Binary temporal-order verification of frame tuples."""

  label = 'in_order'
  name = 'order'
  kinds = ('shuffled', 'in_order')
