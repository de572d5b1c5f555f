"""Deformable convolution: values against a loop-by-loop NumPy restatement of the original
op, gradients against finite differences, and PoseWarper's identity initialisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from vidjax.models import deformable


def numpy_bilinear(image, y, x):
  """The original CUDA op's deformable_im2col_bilinear: zero beyond the border."""
  height, width = image.shape[:2]
  if y <= -1 or y >= height or x <= -1 or x >= width:
    return np.zeros(image.shape[-1])
  y0, x0 = int(np.floor(y)), int(np.floor(x))
  value = np.zeros(image.shape[-1])
  for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
    for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
      if 0 <= yy < height and 0 <= xx < width:
        value += wy * wx * image[yy, xx]
  return value


def numpy_deform_conv(x, offsets, kernel, stride, padding, dilation, groups):
  b, height, width, channels = x.shape
  kh, kw, _, features = kernel.shape
  out_h = (height + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
  out_w = (width + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
  per_group = channels // groups
  out = np.zeros((b, out_h, out_w, features))
  for n in range(b):
    for i in range(out_h):
      for j in range(out_w):
        for ki in range(kh):
          for kj in range(kw):
            tap = ki * kw + kj
            for g in range(groups):
              dy = offsets[n, i, j, 2 * (g * kh * kw + tap)]
              dx = offsets[n, i, j, 2 * (g * kh * kw + tap) + 1]
              y = i * stride - padding + ki * dilation + dy
              xx = j * stride - padding + kj * dilation + dx
              channels_g = slice(g * per_group, (g + 1) * per_group)
              sample = numpy_bilinear(x[n][..., channels_g], y, xx)
              out[n, i, j] += sample @ kernel[ki, kj, channels_g]
  return out


@pytest.mark.parametrize(
  'stride, padding, dilation, groups', [(1, 1, 1, 1), (1, 3, 3, 2), (2, 1, 1, 4), (1, 0, 2, 1)]
)
def test_values_match_the_original_op(stride, padding, dilation, groups):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 7, 6, 4))
  kernel = rng.normal(size=(3, 3, 4, 5))
  out_h = (7 + 2 * padding - 2 * dilation - 1) // stride + 1
  out_w = (6 + 2 * padding - 2 * dilation - 1) // stride + 1
  # Offsets up to 3 pixels: many samples fall off the image or straddle its border.
  offsets = rng.uniform(-3, 3, size=(2, out_h, out_w, 2 * groups * 9))
  got = deformable.deform_conv2d(
    jnp.asarray(x, jnp.float32),
    jnp.asarray(offsets, jnp.float32),
    jnp.asarray(kernel, jnp.float32),
    stride=stride,
    padding=padding,
    dilation=dilation,
    deformable_groups=groups,
  )
  expected = numpy_deform_conv(x, offsets, kernel, stride, padding, dilation, groups)
  np.testing.assert_allclose(got, expected, atol=1e-4)


def test_zero_offsets_are_an_ordinary_convolution():
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.normal(size=(1, 9, 8, 3)), jnp.float32)
  kernel = jnp.asarray(rng.normal(size=(3, 3, 3, 2)), jnp.float32)
  got = deformable.deform_conv2d(
    x, jnp.zeros((1, 9, 8, 18)), kernel, padding=2, dilation=2, deformable_groups=1
  )
  expected = jax.lax.conv_general_dilated(
    x,
    kernel,
    (1, 1),
    [(2, 2), (2, 2)],
    rhs_dilation=(2, 2),
    dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
  )
  np.testing.assert_allclose(got, expected, atol=1e-5)


def test_gradients_match_finite_differences():
  rng = np.random.default_rng(2)
  x = rng.normal(size=(1, 5, 5, 2))
  kernel = rng.normal(size=(3, 3, 2, 2))
  # Away from whole pixels, where the bilinear weights have no kink.
  offsets = rng.uniform(0.2, 0.8, size=(1, 5, 5, 36)) * rng.choice([-1, 1], size=36)

  def conv(x, offsets, kernel):
    return deformable.deform_conv2d(x, offsets, kernel, padding=1, deformable_groups=2)

  with jax.enable_x64(True):
    arguments = tuple(jnp.asarray(a, jnp.float64) for a in (x, offsets, kernel))
    check_grads(conv, arguments, order=1, modes=('rev',), eps=1e-5, atol=1e-6, rtol=1e-6)


def test_the_gradient_at_whole_pixels_is_the_forward_difference():
  """At zero offsets (PoseWarper's initialisation) the gradient with respect to an
  offset is the one-sided difference to the next pixel, as the CUDA op's: never zero, so
  zero-initialised offsets can learn."""
  image = jnp.asarray(np.random.default_rng(4).normal(size=(1, 6, 6, 1)), jnp.float32)
  kernel = deformable.identity_kernel_init(None, (1, 1, 1, 1))
  offsets = jnp.zeros((1, 6, 6, 2))

  def value_at(offsets, row, col):
    return deformable.deform_conv2d(image, offsets, kernel)[0, row, col, 0]

  gradient = jax.grad(value_at)(offsets, 2, 3)
  np.testing.assert_allclose(gradient[0, 2, 3, 0], image[0, 3, 3, 0] - image[0, 2, 3, 0], rtol=1e-5)
  np.testing.assert_allclose(gradient[0, 2, 3, 1], image[0, 2, 4, 0] - image[0, 2, 3, 0], rtol=1e-5)


def test_the_identity_initialisation_copies_the_input_while_offsets_are_zero():
  x = jnp.asarray(np.random.default_rng(3).normal(size=(2, 6, 6, 17)), jnp.float32)
  layer = deformable.DeformConv(
    17, dilation=3, deformable_groups=17, kernel_init=deformable.identity_kernel_init
  )
  offsets = jnp.zeros((2, 6, 6, 2 * 17 * 9))
  variables = layer.init(jax.random.key(0), x, offsets)
  np.testing.assert_allclose(layer.apply(variables, x, offsets), x, atol=1e-6)
  # A whole-pixel offset of every tap moves the copy by that much.
  shift = jnp.zeros((2, 6, 6, 17, 9, 2)).at[..., 1].set(1.0).reshape(offsets.shape)
  moved = layer.apply(variables, x, shift)
  np.testing.assert_allclose(moved[:, :, :-1], x[:, :, 1:], atol=1e-6)
  np.testing.assert_allclose(moved[:, :, -1], 0.0, atol=1e-6)


def test_bad_shapes_are_named():
  with pytest.raises(ValueError, match='offsets of shape'):
    deformable.deform_conv2d(
      jnp.zeros((1, 4, 4, 2)), jnp.zeros((1, 4, 4, 9)), jnp.zeros((3, 3, 2, 2)), padding=1
    )
  with pytest.raises(ValueError, match='divisible into the groups'):
    deformable.deform_conv2d(
      jnp.zeros((1, 4, 4, 3)),
      jnp.zeros((1, 4, 4, 36)),
      jnp.zeros((3, 3, 3, 2)),
      padding=1,
      deformable_groups=2,
    )
