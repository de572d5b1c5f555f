r"""Propagates a first-frame mask through a video by feature affinity (videowalk's protocol).

  python tools/convert_checkpoint.py --source torchvision --arch resnet18 \
      --checkpoint resnet18-f37072fd.pth --out weights/resnet18_imagenet
  python tools/propagate.py clip.mp4 --first_mask clip_00000.png \
      --checkpoint weights/resnet18_imagenet --out masks/

VIDEO is a video file or a folder of frames (.jpg / .png, in name order: a DAVIS
JPEGImages sequence). --first_mask is an indexed PNG of the first frame (0 background,
object ids above), at the frame size. Writes OUT/00000.png ... (indexed PNGs with DAVIS's
palette, frame 0 being the given mask) and OUT/overlay/*.jpg (the frames with the masks
drawn over them), ready for tools/davis_eval.py when VIDEO is a DAVIS sequence.

Keypoints instead of a mask (videowalk's JHMDB protocol): --first_keypoints is a JSON file
of the first frame's joints, [[x, y], ...] in pixels (0-based); each becomes a label channel
holding a small Gaussian on the feature map, and each frame's joint is the weighted mean of
its channel's 3 strongest cells (`propagation.keypoint_labels`, `keypoints_from_labels`).
Writes OUT/keypoints.json ([frame][joint] = [x, y], [-1, -1] for a lost joint) and the
overlays; vidjax.evaluators.pck scores them as videowalk's eval_pck.py does.

Features: layer3 of a ResNet-18 (or --depth 50) with the contrastive random walk's
changes (layers 3 and 4 at stride 1: one node per 8 x 8 pixels; `models/resnet.py`), from
--checkpoint (a converted torchvision ImageNet ResNet, or any vidjax checkpoint whose
network is a 2D ResNet named 'resnet', such as experiments/crw/'s: give its --width and
--padding_mode=reflect); frames at their own resolution, ImageNet normalisation, as
videowalk's test code. Without --checkpoint the network is random (a
baseline). The propagation's constants are videowalk's DAVIS command (`vidjax/propagation.py`).
A 480p frame has 6,420 nodes and its context 21 frames of them: about 0.4 TFLOP a frame,
seconds on an accelerator and minutes on a CPU.
"""

import json
import os

import cv2
import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from PIL import Image

from vidjax import checkpoint, propagation
from vidjax.data import davis, decode
from vidjax.models import crw
from vidjax.tasks import crw as crw_task

FLAGS = flags.FLAGS
FRAME_SUFFIXES = ('.jpg', '.jpeg', '.png')


def _define_flags() -> None:
  # Defined only when run as a program, so that tests can import several tools at once.
  flags.DEFINE_string('first_mask', None, 'Indexed PNG of the first frame.')
  flags.DEFINE_string('first_keypoints', None, 'JSON [[x, y], ...] of the first frame (instead).')
  flags.DEFINE_string('out', None, 'Folder for the masks (and overlay/).')
  flags.DEFINE_string('checkpoint', None, 'Converted ResNet or vidjax checkpoint step directory.')
  flags.DEFINE_integer('depth', 18, 'ResNet depth of the checkpoint (18, 34, 50, ...).')
  flags.DEFINE_integer('width', 64, "Channels of the checkpoint's first stage.")
  flags.DEFINE_enum(
    'padding_mode', 'zeros', ['zeros', 'reflect'], 'reflect for CRW models (experiments/crw/).'
  )
  defaults = propagation.Protocol()
  flags.DEFINE_integer('context', defaults.context, 'Previous frames in the context.')
  flags.DEFINE_float('radius', defaults.radius, 'Radius of the context, in feature cells.')
  flags.DEFINE_integer('topk', defaults.topk, 'Context nodes each node copies from.')
  flags.DEFINE_float('temperature', defaults.temperature, 'Softmax temperature.')
  flags.DEFINE_integer('batch_size', 4, 'Frames per forward pass of the network.')
  flags.mark_flags_as_required(['out'])
  flags.register_multi_flags_validator(
    ['first_mask', 'first_keypoints'],
    lambda values: sum(v is not None for v in values.values()) == 1,
    message='Give one of --first_mask and --first_keypoints.',
  )


def read_frames(path: str) -> np.ndarray:
  """uint8 RGB [T, H, W, 3] of a video file or of a folder of frames."""
  if os.path.isdir(path):
    names = sorted(n for n in os.listdir(path) if n.lower().endswith(FRAME_SUFFIXES))
    if not names:
      raise FileNotFoundError(f'{path} holds no frames ({", ".join(FRAME_SUFFIXES)}).')
    frames = [np.asarray(Image.open(os.path.join(path, n)).convert('RGB')) for n in names]
    sizes = {f.shape for f in frames}
    if len(sizes) > 1:
      raise ValueError(f'{path}: frames of different sizes {sorted(sizes)}.')
    return np.stack(frames)
  with open(path, 'rb') as f:
    data = f.read()
  return decode.decode_frames(data, range(decode.probe(data).num_frames))


def encoder(depth: int, width: int = 64, padding_mode: str = 'zeros') -> crw.Model:
  """The contrastive random walk's network, whose `frame_features` are layer3 of a ResNet
  with layers 3 and 4 at stride 1 (output stride 8), as videowalk's test code uses it;
  reflect padding for a CRW model trained from scratch (its `--model-type scratch`), zeros
  for ImageNet ResNets."""
  return crw.Model(depth=depth, width=width, padding_mode=padding_mode)


def frame_features(
  frames: np.ndarray,
  checkpoint_dir: str | None,
  depth: int,
  batch_size: int,
  width: int = 64,
  padding_mode: str = 'zeros',
):
  """Features [T, ceil(H/8), ceil(W/8), C] of uint8 frames [T, H, W, 3]."""
  model = encoder(depth, width, padding_mode)
  normalised = frames.astype(np.float32) / 255.0
  # The weights do not depend on the frame size: a small clip initialises them.
  variables = model.init(jax.random.key(0), np.zeros((1, 1, 64, 64, 3), np.float32), train=False)
  if checkpoint_dir:
    # Converted ImageNet ResNets, vidjax's single-frame and CRW models hold the trunk as 'resnet'.
    trunk = {collection: {'resnet': tree['resnet']} for collection, tree in variables.items()}
    restored = checkpoint.read_variables(checkpoint_dir, trunk, flag='--checkpoint')
    variables = {c: {**tree, 'resnet': restored[c]['resnet']} for c, tree in variables.items()}
  # The CRW task's features: layer3 of ImageNet-normalised frames.
  task = crw_task.Task()
  apply = jax.jit(lambda batch: task.propagation_features(model, variables, batch))
  return propagation.batched(apply, normalised, batch_size)


def propagate_keypoints(
  first_keypoints: np.ndarray, features: np.ndarray, stride: float, protocol: propagation.Protocol
) -> np.ndarray:
  """float32 keypoints [T, K, 2] (x, y pixels; -1 when lost) of every frame from the
  first one's [K, 2]."""
  labels = propagation.keypoint_labels(first_keypoints, features.shape[1:3], stride)
  propagated = propagation.propagate(jnp.asarray(features), jnp.asarray(labels), protocol)
  keypoints = [propagation.keypoints_from_labels(frame, stride) for frame in np.asarray(propagated)]
  keypoints[0] = np.asarray(first_keypoints, np.float32)
  return np.stack(keypoints)


def read_keypoints(path: str, frame_size: tuple[int, int]) -> np.ndarray:
  """[K, 2] float32 joints of a JSON file [[x, y], ...], checked against the frame size."""
  try:
    with open(path) as f:
      points = np.asarray(json.load(f), np.float32)
  except (OSError, ValueError) as error:
    raise ValueError(f'--first_keypoints={path}: not a readable JSON list ({error}).') from None
  height, width = frame_size
  if points.ndim != 2 or points.shape[1] != 2 or not len(points):
    raise ValueError(f'--first_keypoints={path}: [[x, y], ...] expected, got shape {points.shape}.')
  outside = (
    (points[:, 0] < 0) | (points[:, 0] >= width) | (points[:, 1] < 0) | (points[:, 1] >= height)
  )
  if outside.any():
    raise ValueError(
      f'--first_keypoints={path}: joint {int(np.flatnonzero(outside)[0])} at '
      f'{points[outside][0].tolist()} is outside the {width}x{height} frame.'
    )
  return points


def write_keypoints(out: str, frames: np.ndarray, keypoints: np.ndarray) -> None:
  """OUT/keypoints.json and OUT/overlay/<t>.jpg frames with the joints drawn as dots."""
  os.makedirs(os.path.join(out, 'overlay'), exist_ok=True)
  with open(os.path.join(out, 'keypoints.json'), 'w') as f:
    json.dump(np.round(keypoints, 2).tolist(), f)
  colours = davis.palette()
  for t, (frame, points) in enumerate(zip(frames, keypoints, strict=True)):
    image = frame.copy()
    for k, (x, y) in enumerate(points):
      if x >= 0:
        cv2.circle(image, (int(round(x)), int(round(y))), 3, colours[k + 1].tolist(), -1)
    Image.fromarray(image).save(os.path.join(out, 'overlay', f'{t:05d}.jpg'))


def write_masks(out: str, frames: np.ndarray, masks: np.ndarray) -> None:
  """OUT/<t>.png indexed masks and OUT/overlay/<t>.jpg frames with the masks over them."""
  os.makedirs(os.path.join(out, 'overlay'), exist_ok=True)
  colours = davis.palette()
  for t, (frame, mask) in enumerate(zip(frames, masks, strict=True)):
    davis.write_mask(os.path.join(out, f'{t:05d}.png'), mask)
    blend = np.where(mask[..., None] > 0, 0.5 * frame + 0.5 * colours[mask], frame)
    Image.fromarray(blend.astype(np.uint8)).save(os.path.join(out, 'overlay', f'{t:05d}.jpg'))


def main(argv) -> None:
  if len(argv) != 2:
    raise app.UsageError(
      'Usage: propagate.py VIDEO (--first_mask PNG | --first_keypoints JSON) --out DIR'
    )
  frames = read_frames(argv[1])
  if FLAGS.first_mask:
    first_mask = davis.read_mask(FLAGS.first_mask)
    if first_mask.shape != frames.shape[1:3]:
      raise ValueError(
        f'--first_mask={FLAGS.first_mask}: {first_mask.shape[1]}x{first_mask.shape[0]} pixels, '
        f'the frames of {argv[1]} {frames.shape[2]}x{frames.shape[1]}.'
      )
  else:
    first_keypoints = read_keypoints(FLAGS.first_keypoints, frames.shape[1:3])
  if not FLAGS.checkpoint:
    print('No --checkpoint: the features are those of a random network (a baseline).')
  features = frame_features(
    frames, FLAGS.checkpoint, FLAGS.depth, FLAGS.batch_size, FLAGS.width, FLAGS.padding_mode
  )
  protocol = propagation.Protocol(FLAGS.context, FLAGS.radius, FLAGS.topk, FLAGS.temperature)
  if FLAGS.first_mask:
    masks = propagation.propagate_masks(features, first_mask, protocol)
    write_masks(FLAGS.out, frames, masks)
    print(f'Wrote {len(masks)} masks to {FLAGS.out} (overlays in {FLAGS.out}/overlay).')
    return
  stride = round(frames.shape[1] / features.shape[1])  # 8: the features' output stride
  keypoints = propagate_keypoints(first_keypoints, features, stride, protocol)
  write_keypoints(FLAGS.out, frames, keypoints)
  print(f'Wrote the joints of {len(keypoints)} frames to {FLAGS.out}/keypoints.json.')


if __name__ == '__main__':
  _define_flags()
  app.run(main)
