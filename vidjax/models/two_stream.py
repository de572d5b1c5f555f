"""Two-stream network (Simonyan & Zisserman, NIPS 2014): appearance and motion, fused late.

The spatial stream is a 2D CNN on single RGB frames; the temporal stream is a 2D CNN on a
stack of L optical-flow fields (x and y of each: 2L input channels, L = 10 in the paper)
starting at the same frame. Each stream is a single-frame network
(`vidjax.models.single_frame`), so each averages its softmax over the sampled positions
of a clip, and the two streams' class scores are fused by averaging, as in the paper.

As in the paper, each displacement field has its mean vector subtracted (a cheap
compensation of camera motion), and the streams are trained as separate classifiers: with
the classification task's `frame_level_loss`, every stream's prediction at every position
is its own example (aux['frame_logits']), and the streams share no parameters.

The 2D CNNs are torchvision ResNets rather than the paper's CNN-M-2048, so that the
spatial stream can start from ImageNet weights.
"""

from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidjax.models import single_frame


class Model(nn.Module):
  """Spatial (RGB) and temporal (stacked flow) ResNet streams with softmax-average fusion.

  Attributes:
    num_classes: number of output classes.
    depth: ResNet depth of both streams, 10, 18 or 34 (10 with a small width is the tiny
      variant for tests).
    width: channels of stage 1 of both streams; stages have width * (1, 2, 4, 8).
    dropout_rate: dropout before each stream's classifier (the paper: 0.5 to 0.9).
    subtract_mean_flow: subtract every flow field's mean displacement (the paper's
      camera-motion compensation).
    dtype: computation dtype name, e.g. 'float32' or 'bfloat16'.
    lowering: convolution lowering, see `vidjax.models.layers.conv_lowering`.
  """

  # The batch entries this model reads (see `vidjax.models.model_inputs`).
  input_keys: ClassVar[tuple[str, ...]] = ('video', 'flow')

  num_classes: int
  depth: int = 18
  width: int = 64
  dropout_rate: float = 0.0
  subtract_mean_flow: bool = True
  dtype: Any = 'float32'
  lowering: str = 'auto'

  @nn.compact
  def __call__(
    self, x: dict[str, jax.Array], *, train: bool
  ) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Classifies clips from their frames and the flow fields that follow them.

    Args:
      x: 'video', normalised RGB [B, T, H, W, 3], and 'flow' [B, T * L, H, W, 2] (x, y), the
        L fields following each of the T frames, position-major (`vidjax.data.flow`).
      train: batch statistics and dropout on (True) or running averages (False).

    Returns:
      logits [B, num_classes]: log of the average of the two streams' softmax scores
      (float32), and aux with 'rgb_logits' and 'flow_logits' [B, num_classes] (each stream's
      log-probabilities averaged over the T positions), 'frame_logits' [B, 2T, num_classes]
      (every position of the spatial then the temporal stream, for per-stream training
      losses) and 'features' [B, 16 * width] (both streams' pooled features).
    """
    video, flow = x['video'], x['flow']
    b, t, h, w = video.shape[:4]
    if flow.shape[1] % t or flow.shape[2:] != (h, w, 2):
      raise ValueError(
        f"x['flow'] has shape {flow.shape}; a video of {t} frames of {h}x{w} needs "
        f'[B, {t} * L, {h}, {w}, 2] (config.input.flow.stack = L).'
      )
    stack = flow.shape[1] // t
    if self.subtract_mean_flow:
      flow = flow - jnp.mean(flow, axis=(2, 3), keepdims=True)
    # The L fields of a position become 2L channels, ordered (field, component) as the
    # paper interleaves d^x and d^y.
    flow = flow.reshape(b, t, stack, h, w, 2).transpose(0, 1, 3, 4, 2, 5)
    flow = flow.reshape(b, t, h, w, 2 * stack)

    def stream(name: str) -> single_frame.Model:
      return single_frame.Model(
        num_classes=self.num_classes,
        depth=self.depth,
        width=self.width,
        dropout_rate=self.dropout_rate,
        dtype=self.dtype,
        lowering=self.lowering,
        name=name,
      )

    rgb_logits, rgb_aux = stream('rgb_stream')(video, train=train)
    flow_logits, flow_aux = stream('flow_stream')(flow, train=train)
    if self.num_classes == 0:  # the backbones alone: both streams' features
      features = jnp.concatenate([rgb_aux['features'], flow_aux['features']], -1)
      return features, {'features': features}
    # Both streams' logits are log-probabilities: average the probabilities in log space.
    logits = jax.nn.logsumexp(jnp.stack([rgb_logits, flow_logits]), axis=0) - jnp.log(2.0)
    aux = {
      'rgb_logits': rgb_logits,
      'flow_logits': flow_logits,
      'frame_logits': jnp.concatenate([rgb_aux['frame_logits'], flow_aux['frame_logits']], 1),
      'features': jnp.concatenate([rgb_aux['features'], flow_aux['features']], -1),
    }
    return logits, aux
