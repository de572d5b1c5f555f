"""`fps`: `num_frames` frames at `target_fps` whatever the video's frame rate: the stride
is the fractional `fps / target_fps` (`sampling.fps_stride`), otherwise as `stride`."""

from __future__ import annotations

from vidjax.data import sampling
from vidjax.data.samplers import VideoMeta, stride


class Sampler(stride.Sampler):
  def __init__(self, *, num_frames: int, target_fps: float, policy: str):
    super().__init__(num_frames=num_frames, stride=1, policy=policy)
    self.target_fps = target_fps

  def clip_stride(self, meta: VideoMeta) -> float:
    return sampling.fps_stride(meta.fps, self.target_fps)
