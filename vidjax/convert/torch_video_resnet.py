"""Plain-torch references: torchvision's video ResNets and VMZ's PyTorch models ([torch] extra).

The networks that torchvision- and VMZ-format checkpoints come from, used by the parity
tests and by tools/benchmark.py (`Arch.torch_model`). torchvision cannot be installed beside
the pinned CPU torch, and VMZ's models import it, so the modules are restated here from
their published source, module for module and with the same attribute names (hence the same
state-dict keys):
torchvision/models/video/resnet.py (VideoResNet, BasicBlock, Bottleneck, Conv3DSimple,
Conv2Plus1D, Conv3DNoTemporal, BasicStem, R2Plus1dStem; `r3d_18`, `mc3_18`, `r2plus1d_18`)
and facebookresearch/VMZ pt/vmz/models/{utils,r2plus1d,csn}.py (BasicStem_Pool,
R2Plus1dStem_Pool, Conv3DDepthwise, IPConv3DDepthwise, VMZ's Conv2Plus1D, BatchNorm
eps 1e-3; `r2plus1d_34`, `r2plus1d_152`, `ir_csn_152`, `ip_csn_152`). Initialisation is
PyTorch's default (the parity tests set every weight). The builders take `layers` so
that the tests can run reduced variants through the same code.
"""

import torch.nn as nn


class Conv3DSimple(nn.Conv3d):
  def __init__(self, in_planes, out_planes, midplanes=None, stride=1, padding=1):
    super().__init__(
      in_channels=in_planes,
      out_channels=out_planes,
      kernel_size=(3, 3, 3),
      stride=stride,
      padding=padding,
      bias=False,
    )

  @staticmethod
  def get_downsample_stride(stride):
    return stride, stride, stride


class Conv2Plus1D(nn.Sequential):
  """torchvision's: the mid width is the block's `midplanes`."""

  def __init__(self, in_planes, out_planes, midplanes, stride=1, padding=1):
    super().__init__(
      nn.Conv3d(
        in_planes,
        midplanes,
        kernel_size=(1, 3, 3),
        stride=(1, stride, stride),
        padding=(0, padding, padding),
        bias=False,
      ),
      nn.BatchNorm3d(midplanes),
      nn.ReLU(inplace=True),
      nn.Conv3d(
        midplanes,
        out_planes,
        kernel_size=(3, 1, 1),
        stride=(stride, 1, 1),
        padding=(padding, 0, 0),
        bias=False,
      ),
    )

  @staticmethod
  def get_downsample_stride(stride):
    return stride, stride, stride


class Conv3DNoTemporal(nn.Conv3d):
  def __init__(self, in_planes, out_planes, midplanes=None, stride=1, padding=1):
    super().__init__(
      in_channels=in_planes,
      out_channels=out_planes,
      kernel_size=(1, 3, 3),
      stride=(1, stride, stride),
      padding=(0, padding, padding),
      bias=False,
    )

  @staticmethod
  def get_downsample_stride(stride):
    return 1, stride, stride


class BasicBlock(nn.Module):
  expansion = 1

  def __init__(self, inplanes, planes, conv_builder, stride=1, downsample=None):
    midplanes = (inplanes * planes * 3 * 3 * 3) // (inplanes * 3 * 3 + 3 * planes)
    super().__init__()
    self.conv1 = nn.Sequential(
      conv_builder(inplanes, planes, midplanes, stride),
      nn.BatchNorm3d(planes),
      nn.ReLU(inplace=True),
    )
    self.conv2 = nn.Sequential(conv_builder(planes, planes, midplanes), nn.BatchNorm3d(planes))
    self.relu = nn.ReLU(inplace=True)
    self.downsample = downsample
    self.stride = stride

  def forward(self, x):
    residual = x
    out = self.conv1(x)
    out = self.conv2(out)
    if self.downsample is not None:
      residual = self.downsample(x)
    out += residual
    return self.relu(out)


class Bottleneck(nn.Module):
  expansion = 4

  def __init__(self, inplanes, planes, conv_builder, stride=1, downsample=None):
    super().__init__()
    midplanes = (inplanes * planes * 3 * 3 * 3) // (inplanes * 3 * 3 + 3 * planes)
    self.conv1 = nn.Sequential(
      nn.Conv3d(inplanes, planes, kernel_size=1, bias=False),
      nn.BatchNorm3d(planes),
      nn.ReLU(inplace=True),
    )
    self.conv2 = nn.Sequential(
      conv_builder(planes, planes, midplanes, stride),
      nn.BatchNorm3d(planes),
      nn.ReLU(inplace=True),
    )
    self.conv3 = nn.Sequential(
      nn.Conv3d(planes, planes * self.expansion, kernel_size=1, bias=False),
      nn.BatchNorm3d(planes * self.expansion),
    )
    self.relu = nn.ReLU(inplace=True)
    self.downsample = downsample
    self.stride = stride

  def forward(self, x):
    residual = x
    out = self.conv1(x)
    out = self.conv2(out)
    out = self.conv3(out)
    if self.downsample is not None:
      residual = self.downsample(x)
    out += residual
    return self.relu(out)


class BasicStem(nn.Sequential):
  def __init__(self):
    super().__init__(
      nn.Conv3d(3, 64, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
      nn.BatchNorm3d(64),
      nn.ReLU(inplace=True),
    )


class R2Plus1dStem(nn.Sequential):
  def __init__(self):
    super().__init__(
      nn.Conv3d(3, 45, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
      nn.BatchNorm3d(45),
      nn.ReLU(inplace=True),
      nn.Conv3d(45, 64, kernel_size=(3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
      nn.BatchNorm3d(64),
      nn.ReLU(inplace=True),
    )


class VideoResNet(nn.Module):
  def __init__(self, block, conv_makers, layers, stem, num_classes=400):
    super().__init__()
    self.inplanes = 64
    self.stem = stem()
    self.layer1 = self._make_layer(block, conv_makers[0], 64, layers[0], stride=1)
    self.layer2 = self._make_layer(block, conv_makers[1], 128, layers[1], stride=2)
    self.layer3 = self._make_layer(block, conv_makers[2], 256, layers[2], stride=2)
    self.layer4 = self._make_layer(block, conv_makers[3], 512, layers[3], stride=2)
    self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
    self.fc = nn.Linear(512 * block.expansion, num_classes)

  def forward(self, x):
    x = self.stem(x)
    x = self.layer1(x)
    x = self.layer2(x)
    x = self.layer3(x)
    x = self.layer4(x)
    x = self.avgpool(x)
    return self.fc(x.flatten(1))

  def _make_layer(self, block, conv_builder, planes, blocks, stride=1):
    downsample = None
    if stride != 1 or self.inplanes != planes * block.expansion:
      ds_stride = conv_builder.get_downsample_stride(stride)
      downsample = nn.Sequential(
        nn.Conv3d(
          self.inplanes, planes * block.expansion, kernel_size=1, stride=ds_stride, bias=False
        ),
        nn.BatchNorm3d(planes * block.expansion),
      )
    layers = [block(self.inplanes, planes, conv_builder, stride, downsample)]
    self.inplanes = planes * block.expansion
    for _ in range(1, blocks):
      layers.append(block(self.inplanes, planes, conv_builder))
    return nn.Sequential(*layers)


def r3d_18(layers=(2, 2, 2, 2), num_classes=400):
  return VideoResNet(BasicBlock, [Conv3DSimple] * 4, list(layers), BasicStem, num_classes)


def mc3_18(layers=(2, 2, 2, 2), num_classes=400):
  return VideoResNet(
    BasicBlock, [Conv3DSimple] + [Conv3DNoTemporal] * 3, list(layers), BasicStem, num_classes
  )


def r2plus1d_18(layers=(2, 2, 2, 2), num_classes=400):
  return VideoResNet(BasicBlock, [Conv2Plus1D] * 4, list(layers), R2Plus1dStem, num_classes)


# VMZ (pt/vmz/models/utils.py).


class BasicStem_Pool(nn.Sequential):  # noqa: N801 (VMZ's name)
  def __init__(self):
    super().__init__(
      nn.Conv3d(3, 64, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
      nn.BatchNorm3d(64),
      nn.ReLU(inplace=True),
      nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
    )


class R2Plus1dStem_Pool(nn.Sequential):  # noqa: N801 (VMZ's name)
  def __init__(self):
    super().__init__(
      nn.Conv3d(3, 45, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
      nn.BatchNorm3d(45),
      nn.ReLU(inplace=True),
      nn.Conv3d(45, 64, kernel_size=(3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
      nn.BatchNorm3d(64),
      nn.ReLU(inplace=True),
      nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
    )


class Conv3DDepthwise(nn.Conv3d):
  def __init__(self, in_planes, out_planes, midplanes=None, stride=1, padding=1):
    assert in_planes == out_planes
    super().__init__(
      in_channels=in_planes,
      out_channels=out_planes,
      kernel_size=(3, 3, 3),
      stride=stride,
      padding=padding,
      groups=in_planes,
      bias=False,
    )

  @staticmethod
  def get_downsample_stride(stride):
    return stride, stride, stride


class IPConv3DDepthwise(nn.Sequential):
  def __init__(self, in_planes, out_planes, midplanes, stride=1, padding=1):
    assert in_planes == out_planes
    super().__init__(
      nn.Conv3d(in_planes, out_planes, kernel_size=1, bias=False),
      nn.BatchNorm3d(out_planes),
      Conv3DDepthwise(out_planes, out_planes, None, stride),
    )

  @staticmethod
  def get_downsample_stride(stride):
    return stride, stride, stride


class VMZConv2Plus1D(nn.Sequential):
  """VMZ's Conv2Plus1D: the mid width comes from this conv's own widths (the block's
  `midplanes` argument is ignored)."""

  def __init__(self, in_planes, out_planes, midplanes, stride=1, padding=1):
    midplanes = (in_planes * out_planes * 3 * 3 * 3) // (in_planes * 3 * 3 + 3 * out_planes)
    super().__init__(
      nn.Conv3d(
        in_planes,
        midplanes,
        kernel_size=(1, 3, 3),
        stride=(1, stride, stride),
        padding=(0, padding, padding),
        bias=False,
      ),
      nn.BatchNorm3d(midplanes),
      nn.ReLU(inplace=True),
      nn.Conv3d(
        midplanes,
        out_planes,
        kernel_size=(3, 1, 1),
        stride=(stride, 1, 1),
        padding=(padding, 0, 0),
        bias=False,
      ),
    )

  @staticmethod
  def get_downsample_stride(stride):
    return stride, stride, stride


def _generic_resnet(**kwargs):
  model = VideoResNet(**kwargs)
  # VMZ: "We need exact Caffe2 momentum for BatchNorm scaling".
  for m in model.modules():
    if isinstance(m, nn.BatchNorm3d):
      m.eps = 1e-3
      m.momentum = 0.9
  return model


def r2plus1d_34(layers=(3, 4, 6, 3), num_classes=400, use_pool1=False):
  return _generic_resnet(
    block=BasicBlock,
    conv_makers=[VMZConv2Plus1D] * 4,
    layers=list(layers),
    stem=R2Plus1dStem_Pool if use_pool1 else R2Plus1dStem,
    num_classes=num_classes,
  )


def r2plus1d_152(layers=(3, 8, 36, 3), num_classes=400, use_pool1=True):
  return _generic_resnet(
    block=Bottleneck,
    conv_makers=[VMZConv2Plus1D] * 4,
    layers=list(layers),
    stem=R2Plus1dStem_Pool if use_pool1 else R2Plus1dStem,
    num_classes=num_classes,
  )


def ir_csn_152(layers=(3, 8, 36, 3), num_classes=400, use_pool1=True):
  return _generic_resnet(
    block=Bottleneck,
    conv_makers=[Conv3DDepthwise] * 4,
    layers=list(layers),
    stem=BasicStem_Pool if use_pool1 else BasicStem,
    num_classes=num_classes,
  )


def ip_csn_152(layers=(3, 8, 36, 3), num_classes=400, use_pool1=True):
  return _generic_resnet(
    block=Bottleneck,
    conv_makers=[IPConv3DDepthwise] * 4,
    layers=list(layers),
    stem=BasicStem_Pool if use_pool1 else BasicStem,
    num_classes=num_classes,
  )
