r"""Converts a published PyTorch or Caffe2 checkpoint into a vidjax checkpoint (init_from).

  pip install -e '.[torch]'
  python tools/convert_checkpoint.py --source pytorchvideo --arch x3d_s \
    --input X3D_S.pyth --output ~/checkpoints/x3d_s_k400

Sources: `pytorchvideo` (PyTorchVideo hub and PySlowFast `.pyth`), `pyslowfast`
(PySlowFast's AVA models, Caffe2 `.pkl`), `acar` (ACAR-Net's AVA models), `hrnet`,
`torchvision` (torchvision.models.video `.pth`), `videowalk` (the contrastive random walk's
released `pretrained.pth`, ajabri/videowalk) and `vmz` (facebookresearch/VMZ). A PyTorch file
is read with `torch.load(weights_only=True)`, a Caffe2 pickle with an unpickler that takes
numpy arrays only: no pickled code runs. A checkpoint that does not fit the
architecture is refused with every unused, missing and mis-shaped key named.

A checkpoint fine-tuned on another label set (say R(2+1)D-18 on UCF101's 101 classes) keeps
its classifier with `--num_classes`:
  python tools/convert_checkpoint.py --source torchvision --arch r2plus1d_18 \
    --num_classes 101 --input r2plus1d_18_ucf101.pth --output ~/checkpoints/r2plus1d_18_ucf101

The output directory holds the params and batch statistics (`state/`) and `arch.json`,
the `model_name` and `model` kwargs to put in the experiment config, e.g.
  --config.model_name=x3d --config.init_from.path=~/checkpoints/x3d_s_k400
`python tools/convert_checkpoint.py --list` prints the architectures of every source.
"""

import json
import os
import sys

from absl import app, flags

from vidjax import checkpoint
from vidjax.convert import torch_checkpoint

FLAGS = flags.FLAGS
flags.DEFINE_enum('source', None, torch_checkpoint.SOURCES, 'Where the checkpoint comes from.')
flags.DEFINE_string('arch', None, 'Architecture name of the source, e.g. x3d_s, r2plus1d_18.')
flags.DEFINE_string('input', None, 'The PyTorch checkpoint file (.pyth, .pth, .pt).')
flags.DEFINE_string('output', None, 'Directory to write the vidjax checkpoint to.')
flags.DEFINE_integer(
  'num_classes', None, "The checkpoint's class count, where it differs from the arch's name."
)
flags.DEFINE_bool('list', False, 'List the architectures of every source and exit.')


def list_archs() -> str:
  lines = []
  for source in torch_checkpoint.SOURCES:
    for name, arch in sorted(torch_checkpoint.source_archs(source).items()):
      lines.append(f'{source:13s} {name:24s} {arch.model_name} {arch.model_kwargs}')
  return '\n'.join(lines)


def convert(
  source: str, arch: str, input_path: str, output: str, num_classes: int | None = None
) -> dict:
  """Converts and writes; returns the arch.json contents."""
  spec, variables = torch_checkpoint.convert_file(source, arch, input_path, num_classes)
  checkpoint.save_variables(output, variables)
  description = {
    'source': source,
    'arch': arch,
    'input': os.path.abspath(input_path),
    'model_name': spec.model_name,
    'model': spec.model_kwargs,
    'input_shape': list(spec.input_shape),
  }
  if spec.normalisation:
    # The frames' normalisation the checkpoint expects: config.input.pp.mean and .std.
    description['pp'] = {key: list(values) for key, values in spec.normalisation.items()}
  with open(os.path.join(output, 'arch.json'), 'w') as f:
    json.dump(description, f, indent=1)
  return description


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if FLAGS.list:
    print(list_archs())
    return
  missing = [f'--{name}' for name in ('source', 'arch', 'input', 'output') if not FLAGS[name].value]
  if missing:
    sys.exit(f'convert_checkpoint: missing {", ".join(missing)} (see --help).')
  try:
    description = convert(FLAGS.source, FLAGS.arch, FLAGS.input, FLAGS.output, FLAGS.num_classes)
  except (ValueError, FileNotFoundError, ImportError) as e:
    sys.exit(f'convert_checkpoint: {e}')
  print(
    f'Wrote {FLAGS.output}. Use it with --config.model_name={description["model_name"]} '
    f'--config.init_from.path={FLAGS.output} and config.model = {description["model"]}.'
  )
  if 'pp' in description:
    print(f'Its input normalisation: config.input.pp mean and std = {description["pp"]}.')


if __name__ == '__main__':
  app.run(main)
