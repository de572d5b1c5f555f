r"""The embedded videos and their object masks, written in DAVIS-2017's layout.

  python tools/export_davis.py --config default --out data/synthetic_davis --num_videos 60
  python tools/davis_eval.py --davis_root data/synthetic_davis \
      --results_dir data/synthetic_davis/first_frame_copy --set val

so that the DAVIS tools (`tools/davis_eval.py`, mask propagation) run on the embedded data.
The `train` set is the first `--num_videos` videos of the config's train split, `val` those
of its validation split, each rendered as the synthetic builder renders it (the same
pixels and masks, a pure function of config, split and index). Frames are JPEGs (quality
95), annotations indexed PNGs. Objects are those of the first frame, numbered 1..N in the
scene's order; an object that is not in the first frame (one that appears later) is
background throughout, as DAVIS-2017 annotates only objects given in the first frame.

Also writes `first_frame_copy/`, the baseline that repeats the first frame's mask in every
frame, ready for tools/davis_eval.py.
"""

import os

from absl import app, flags
from PIL import Image

from vidjax.data import davis
from vidjax.data.builders import synthetic, synthetic_scenes

FLAGS = flags.FLAGS
SETS = {'train': 'train', 'val': 'validation'}  # DAVIS set -> split of the embedded data


def _define_flags() -> None:
  # Defined only when run as a program, so that tests can import several tools at once.
  configs = [config.name for config in synthetic.VidjaxSynthetic.BUILDER_CONFIGS]
  flags.DEFINE_enum('config', 'default', configs, 'Config of vidjax_synthetic to export.')
  flags.DEFINE_string('out', None, 'The DAVIS folder to write.')
  flags.DEFINE_integer('num_videos', 60, 'Videos per set (at most the split size).')
  flags.mark_flags_as_required(['out'])


def export(config_name: str, out: str, num_videos: int) -> dict[str, list[str]]:
  """Writes the DAVIS folder; returns {set: sequence names}."""
  config = {c.name: c for c in synthetic.VidjaxSynthetic.BUILDER_CONFIGS}[config_name]
  if config.num_frames < 3:
    raise ValueError(
      f'--config={config_name}: {config.num_frames} frame(s); DAVIS needs 3 or more.'
    )
  os.makedirs(os.path.join(out, 'ImageSets', '2017'), exist_ok=True)
  written = {}
  for davis_set, split in SETS.items():
    names = []
    for index in range(min(num_videos, synthetic_scenes.num_examples(config, split))):
      video = synthetic_scenes.render_video(config, split, index)
      labels = davis.first_frame_objects(video['masks'])
      name = f'{split}_{index:05d}'
      folders = {
        kind: os.path.join(out, kind, '480p', name) for kind in ('JPEGImages', 'Annotations')
      }
      folders['copy'] = os.path.join(out, 'first_frame_copy', name)
      for folder in folders.values():
        os.makedirs(folder, exist_ok=True)
      for t, (frame, mask) in enumerate(zip(video['frames'], labels, strict=True)):
        Image.fromarray(frame).save(os.path.join(folders['JPEGImages'], f'{t:05d}.jpg'), quality=95)
        davis.write_mask(os.path.join(folders['Annotations'], f'{t:05d}.png'), mask)
        davis.write_mask(os.path.join(folders['copy'], f'{t:05d}.png'), labels[0])
      names.append(name)
    with open(os.path.join(out, 'ImageSets', '2017', f'{davis_set}.txt'), 'w') as f:
      f.write('\n'.join(names) + '\n')
    written[davis_set] = names
  return written


def main(argv) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  written = export(FLAGS.config, FLAGS.out, FLAGS.num_videos)
  counts = ', '.join(f'{len(names)} {davis_set}' for davis_set, names in written.items())
  print(f'Wrote {counts} sequences of vidjax_synthetic/{FLAGS.config} to {FLAGS.out}.')


if __name__ == '__main__':
  _define_flags()
  app.run(main)
