"""SpeedNet: is this clip at normal speed or sped up? (Benaim et al., arXiv 2004.06130)

The `speed` sampler gives every training example a pair of clips of the same moment,
'sped_up' [B, 2] = (0, 1); both go into one batch, one logit, the binary cross-entropy
(`tasks/clip_pairs.py`; S3D-G in the paper). The speediness of a clip is the sigmoid of
'aux/speed_logit'; the `pretext` evaluator reads 'aux/speed/'.
"""

from __future__ import annotations

from vidjax.tasks import clip_pairs


class Task(clip_pairs.PairedClipsTask):
  """Binary speed classification of clip pairs (normal, sped up)."""

  label = 'sped_up'
  name = 'speed'
  sampler = 'speed'
  kinds = ('normal', 'sped_up')
