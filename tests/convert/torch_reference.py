"""PyTorchVideo as the reference implementation for checkpoint-conversion tests.

The import goes through `vidjax.convert.pytorchvideo.torch_hub`, which registers a
torchvision stand-in where torchvision is missing (see there).
"""

import types

import numpy as np

from vidjax.convert import pytorchvideo


def import_pytorchvideo_models() -> types.ModuleType:
  """`pytorchvideo.models.hub`, with the torchvision stand-in if needed (see torch_hub)."""
  return pytorchvideo.torch_hub()


def randomize(model, seed: int = 0) -> None:
  """Random weights and BatchNorm statistics, so that every weight and statistic matters.

  Convolution and linear weights ~ N(0, 1 / fan_in) and biases ~ N(0, 0.1); BatchNorm
  weight ~ N(1, 0.1), bias and running_mean ~ N(0, 0.1), running_var ~ U(0.5, 1.5).
  """
  import torch

  generator = torch.Generator().manual_seed(seed)

  def normal(tensor, mean, std):
    tensor.copy_(mean + std * torch.randn(tensor.shape, generator=generator))

  with torch.no_grad():
    for module in model.modules():
      if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
        normal(module.weight, 1.0, 0.1)
        normal(module.bias, 0.0, 0.1)
        normal(module.running_mean, 0.0, 0.1)
        module.running_var.copy_(0.5 + torch.rand(module.running_var.shape, generator=generator))
      elif isinstance(module, (torch.nn.Conv3d, torch.nn.Linear)):
        fan_in = int(np.prod(module.weight.shape[1:]))
        normal(module.weight, 0.0, fan_in**-0.5)
        if module.bias is not None:
          normal(module.bias, 0.0, 0.1)
