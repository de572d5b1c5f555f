"""The named configs of `vidjax_synthetic` (`synthetic.VidjaxSynthetic.BUILDER_CONFIGS`).

Each is a `VidjaxSyntheticConfig` (`synthetic_scenes`, where every field is documented);
a `tiny_*` config is its namesake at test size.
"""

from vidjax.data.builders.synthetic_scenes import VidjaxSyntheticConfig

CONFIGS = (
  VidjaxSyntheticConfig(name='default', description='1200/300 videos, 64x64, 16 frames.'),
  VidjaxSyntheticConfig(
    name='tiny',
    description='64/32 videos at 32x32 for tests.',
    num_train=64,
    num_validation=32,
    height=32,
    width=32,
  ),
  VidjaxSyntheticConfig(
    name='tiny_shapes',
    description='64/32 videos at 32x32 of one object, labelled by its shape (transfer tests).',
    num_train=64,
    num_validation=32,
    height=32,
    width=32,
    objects_per_video=(1, 1),
    label_kind='shape',
  ),
  VidjaxSyntheticConfig(
    name='shapes',
    description=(
      '1200/300 videos, 64x64, of one object labelled by its shape: the appearance classes '
      'of `images` in video (joint image/video training on related tasks).'
    ),
    objects_per_video=(1, 1),
    label_kind='shape',
  ),
  VidjaxSyntheticConfig(
    name='events',
    description=(
      '1200/300 videos, 64x64, 32 frames (4 s): the default scenes with audio-visual events '
      "(an object flashes and makes its shape's sound, about two per second) for "
      'audio-visual synchronisation.'
    ),
    num_frames=32,
    events_per_second=2.0,
  ),
  VidjaxSyntheticConfig(
    name='arrow',
    description=(
      '1200/300 videos, 64x64, 32 frames (4 s): the `events` scenes whose flashes fade '
      'over a few frames after an abrupt onset, as their clicks do, so that a clip has an '
      'arrow of time that reversal breaks (the actions alone are time-symmetric: each has '
      'its reverse among the classes).'
    ),
    num_frames=32,
    events_per_second=2.0,
    flash_decay_frames=2.0,
  ),
  VidjaxSyntheticConfig(
    name='speed',
    description=(
      '1200/300 videos, 64x64, 48 frames (6 s) of the default scenes whose motion bounces '
      'back and forth: training videos at natural speed, validation videos in segments '
      "at normal and at twice the speed, with every frame's speed stored (SpeedNet)."
    ),
    num_frames=48,
    speeds=(1.0, 2.0),
  ),
  VidjaxSyntheticConfig(
    name='phases',
    description=(
      '1200/300 videos, 64x64, 32 frames: one object moves right, grows, turns and rises, '
      'one after the other, in phases whose lengths differ from video to video, beside '
      "objects that stand still; every frame's phase is stored (temporal alignment, TCC)."
    ),
    num_frames=32,
    phases=('move_right', 'grow', 'rotate_cw', 'move_up'),
  ),
  VidjaxSyntheticConfig(
    name='tiny_phases',
    description='64/32 phased videos at 32x32, 16 frames, for tests.',
    num_train=64,
    num_validation=32,
    height=32,
    width=32,
    phases=('move_right', 'grow', 'rotate_cw', 'move_up'),
  ),
  VidjaxSyntheticConfig(
    name='keypoints',
    description=(
      '1200/300 videos, 64x64, 16 frames of one object doing one of the 10 actions, with '
      'five keypoints fixed to its body in every frame and one frame in four marked '
      'labelled (pose propagation from sparse labels, PoseWarper).'
    ),
    objects_per_video=(1, 1),
    keypoints_per_object=5,
  ),
  VidjaxSyntheticConfig(
    name='tiny_keypoints',
    description='64/32 keypoint videos at 32x32, 8 frames, for tests.',
    num_train=64,
    num_validation=32,
    height=32,
    width=32,
    num_frames=8,
    objects_per_video=(1, 1),
    keypoints_per_object=5,
  ),
  VidjaxSyntheticConfig(
    name='interactions',
    description=(
      '1200/300 videos, 112x112, 32 frames (4 s) of 2-3 actors that stand or move, turn, '
      'follow or lead one another, meet, or carry an object, annotated at a keyframe a '
      'second (3 per video) with boxes, multi-label actions and detector boxes; one '
      'record per keyframe (spatio-temporal action localization, AVA / ACAR).'
    ),
    height=112,
    width=112,
    num_frames=32,
    objects_per_video=(2, 4),
    interactions=True,
  ),
  VidjaxSyntheticConfig(
    name='interactions_long',
    description=(
      '600/150 interaction videos, 112x112, 64 frames (8 s), 7 keyframes each; half the '
      'actors fade almost out of view for 3 s while their actions go on, so that a '
      "keyframe's clip may not show them (long-term context: the feature bank, ACFB)."
    ),
    num_train=600,
    num_validation=150,
    height=112,
    width=112,
    num_frames=64,
    objects_per_video=(2, 4),
    interactions=True,
    hidden_seconds=3.0,
  ),
  VidjaxSyntheticConfig(
    name='tiny_interactions',
    description='64/32 interaction videos at 64x64, 24 frames (2 keyframes each), for tests.',
    num_train=64,
    num_validation=32,
    height=64,
    width=64,
    num_frames=24,
    objects_per_video=(2, 4),
    interactions=True,
  ),
  VidjaxSyntheticConfig(
    name='untrimmed',
    description='1200/300 videos, 64x64, 64 frames (8 s), 16 of them of action (SCSampler).',
    num_frames=64,
    action_frames=16,
  ),
  VidjaxSyntheticConfig(
    name='tiny_untrimmed',
    description='64/32 untrimmed videos at 32x32, 32 frames with 8 of action, for tests.',
    num_train=64,
    num_validation=32,
    height=32,
    width=32,
    num_frames=32,
    action_frames=8,
  ),
  VidjaxSyntheticConfig(
    name='tags',
    description='1200/300 videos, 64x64, 16 frames, noisy hashtags; other scenes than default.',
    seed=1,
    hashtags=True,
  ),
  VidjaxSyntheticConfig(
    name='tiny_tags',
    description='96/32 videos at 32x32, 8 frames, noisy hashtags, for tests.',
    num_train=96,
    num_validation=32,
    height=32,
    width=32,
    num_frames=8,
    seed=1,
    hashtags=True,
  ),
  VidjaxSyntheticConfig(
    name='images',
    description='Single 64x64 images of one object; label = shape class.',
    num_train=2000,
    num_validation=500,
    num_frames=1,
    objects_per_video=(1, 1),
    view='image',
  ),
)
