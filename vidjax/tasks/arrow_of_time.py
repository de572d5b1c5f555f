"""Arrow of Time: is this clip playing forward or backward? (Wei et al., CVPR 2018)

The `arrow` sampler gives every training example a clip and the same frames reversed,
'reversed' [B, 2] = (0, 1); both go into one batch, one logit, the binary cross-entropy
(`tasks/clip_pairs.py`). The paper trains on optical-flow stacks and removes the cues that
give the direction away without the content's physics (black borders, camera motion);
see docs/arrow_of_time.md for what applies to vidjax's data. The `pretext` evaluator reads
'aux/arrow/'.
"""

from __future__ import annotations

from vidjax.tasks import clip_pairs


class Task(clip_pairs.PairedClipsTask):
  """Binary direction classification of clip pairs (forward, reversed)."""

  label = 'reversed'
  name = 'arrow'
  sampler = 'arrow'
  kinds = ('forward', 'reversed')
