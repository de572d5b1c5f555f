r"""PoseTrack prediction files from a PoseWarper / HRNet run, for tools/posetrack_eval.py.

  python tools/posetrack_predict.py \
      --config experiments/posewarper/posetrack.py:hrnet=~/checkpoints/hrnet_w48 \
      --workdir workdirs/posewarper_posetrack --posetrack_root ~/data/posetrack_data \
      --split val --out results/posetrack_val --aggregate
  python tools/posetrack_eval.py --gt_dir ~/data/posetrack_data/annotations/val \
      --pred_dir results/posetrack_val --json posetrack_val.json

Every person box of every labelled frame, cut out as in training and mapped back into the
frame (`vidjax/pose_inference.py`); `--aggregate` adds PoseWarper's temporal aggregation
over frames t-2..t+2. The boxes are the annotations' (ground truth), not detections.
Without a checkpoint in `--workdir`, the config's `init_from` (e.g. a converted HRNet:
the single-frame baseline).
"""

from absl import app, flags

from vidjax import configs, logs, pose_inference

FLAGS = flags.FLAGS
flags.DEFINE_string('config', None, 'The posewarper experiment file[:arg].', required=True)
flags.DEFINE_string('workdir', None, 'The training run (its latest checkpoint).')
flags.DEFINE_string('posetrack_root', None, 'The posetrack_data folder.', required=True)
flags.DEFINE_string('split', 'val', 'The annotation folder to predict.')
flags.DEFINE_string('out', None, 'Write one prediction JSON a video here.', required=True)
flags.DEFINE_bool('aggregate', False, "PoseWarper's temporal pose aggregation.")
flags.DEFINE_integer('batch_size', 32, 'Person crops per model call.')
flags.DEFINE_integer('max_videos', 0, 'Predict only the first N videos (0: all).')


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logs.quiet_library_logs()
  config = configs.load_config_file(FLAGS.config)
  model, variables = pose_inference.load_posewarper(config, FLAGS.workdir)
  predictor = pose_inference.PosePredictor(config, model, variables, aggregate=FLAGS.aggregate)
  written = pose_inference.predict_posetrack(
    predictor, FLAGS.posetrack_root, FLAGS.split, FLAGS.out, FLAGS.batch_size, FLAGS.max_videos
  )
  print(f'Wrote {len(written)} prediction files to {FLAGS.out}.')


if __name__ == '__main__':
  app.run(main)
