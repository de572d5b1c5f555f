// oneDNN convolutions for XLA CPU, called through the XLA FFI (see onednn.py).
//
// One handler computes the forward pass, the input gradient or the kernel gradient of an
// N-d convolution in vidjax's layouts: activations (N, *spatial, C) and kernels
// (*spatial, C_in / groups, C_out), both row-major, as XLA hands them over. The forward pass
// and the input gradient read and write activations in place (oneDNN's channels-last
// kernels); the kernel is reordered to the blocked layout oneDNN picks, which is cheap next
// to the convolution. Primitives are built once per shape and kept: building one
// JIT-compiles its kernel.
//
// Two kernel gradients take another route, because oneDNN 3.2's channels-last kernel
// gradient is slow for them (docs/models.md, "Speed on CPU"): that of a k x 1 x 1 (temporal)
// convolution is one GEMM per tap and batch element, on views of XLA's buffers (up to 4x
// faster); that of a spatially strided 1 x k x k convolution is a 2D one over all frames
// (about 2x faster).

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;

namespace {

enum Mode : int64_t { kForward = 0, kInputGrad = 1, kKernelGrad = 2 };

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

std::vector<int64_t> RowMajorStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

// (N, *spatial, C) row-major, in oneDNN's logical (N, C, *spatial) order.
memory::desc ActivationDesc(const std::vector<int64_t>& shape) {
  const std::vector<int64_t> row_major = RowMajorStrides(shape);
  const size_t rank = shape.size();
  memory::dims dims = {shape[0], shape[rank - 1]};
  memory::dims strides = {row_major[0], row_major[rank - 1]};
  for (size_t i = 1; i + 1 < rank; ++i) {
    dims.push_back(shape[i]);
    strides.push_back(row_major[i]);
  }
  return memory::desc(dims, memory::data_type::f32, strides);
}

// (*spatial, C_in / G, C_out) row-major, output channels group-major, in oneDNN's logical
// (C_out, C_in, *spatial) order, or (G, C_out / G, C_in / G, *spatial) when grouped.
memory::desc KernelDesc(const std::vector<int64_t>& shape, int64_t groups) {
  const std::vector<int64_t> row_major = RowMajorStrides(shape);
  const size_t spatial = shape.size() - 2;
  const int64_t in = shape[spatial], out = shape[spatial + 1];
  memory::dims dims, strides;
  if (groups > 1) {
    dims = {groups, out / groups, in};
    strides = {out / groups, 1, out};
  } else {
    dims = {out, in};
    strides = {1, out};
  }
  for (size_t i = 0; i < spatial; ++i) {
    dims.push_back(shape[i]);
    strides.push_back(row_major[i]);
  }
  return memory::desc(dims, memory::data_type::f32, strides);
}

memory::desc AnyLayout(const memory::desc& desc) {
  return memory::desc(desc.get_dims(), memory::data_type::f32, memory::format_tag::any);
}

// One tap of a temporal kernel gradient: kernel[tap] = sum over batch elements and frame
// groups of x's frames that the tap reads, transposed, times dy's frames it wrote.
struct TemporalTap {
  dnnl::matmul product;  // (C_in, rows) x (rows, C_out), accumulated into the kernel.
  memory::desc x_frames, dy_frames, kernel;
  int64_t x_offset = 0, dy_offset = 0;              // Of the first product, in elements.
  int64_t batch = 0, frame_groups = 0;              // Products per batch element, and their
  int64_t x_batch_stride = 0, dy_batch_stride = 0;  // strides in x and dy.
  int64_t x_group_stride = 0, dy_group_stride = 0;
  size_t scratchpad_bytes = 0;
};

struct Convolution {
  std::vector<TemporalTap> temporal_taps;  // Non-empty: a temporal kernel gradient.
  dnnl::primitive primitive;
  memory::desc kernel;           // vidjax's layout.
  memory::desc primitive_kernel;  // The layout the primitive reads or writes.
  dnnl::reorder kernel_reorder;   // Between the two, when they differ.
  memory::desc x, y;               // Activations, channels-last.
  size_t scratchpad_bytes = 0;
};

struct Attributes {
  int64_t mode, groups;
  memory::dims strides, dilation, padding_lo, padding_hi;
};

// Whether `Build` computes this kernel gradient by `TemporalTaps`: a 3D convolution whose
// kernel, strides and padding are 1, 1 and 0 in both spatial dims.
bool IsTemporalKernelGrad(const Attributes& attrs, const std::vector<int64_t>& kernel_shape) {
  return attrs.mode == kKernelGrad && kernel_shape.size() == 5 && attrs.groups == 1 &&
         kernel_shape[0] > 1 && kernel_shape[1] == 1 && kernel_shape[2] == 1 &&
         attrs.strides[1] == 1 && attrs.strides[2] == 1 && attrs.padding_lo[1] == 0 &&
         attrs.padding_hi[1] == 0 && attrs.padding_lo[2] == 0 && attrs.padding_hi[2] == 0;
}

// Whether `Build` computes this kernel gradient as a 2D one over all frames (the same
// buffers, frames viewed as batch elements): a 3D convolution with a 1 x k x k kernel (k > 1),
// strided in space only. (Strided 1 x 1 x 1 ones are as fast or faster in 3D.)
bool IsStridedSpatialKernelGrad(const Attributes& attrs,
                                const std::vector<int64_t>& kernel_shape) {
  return attrs.mode == kKernelGrad && kernel_shape.size() == 5 && kernel_shape[0] == 1 &&
         (kernel_shape[1] > 1 || kernel_shape[2] > 1) && attrs.strides[0] == 1 &&
         attrs.padding_lo[0] == 0 && attrs.padding_hi[0] == 0 &&
         (attrs.strides[1] > 1 || attrs.strides[2] > 1);
}

template <typename T>
std::vector<T> DropFirst(const std::vector<T>& values) {
  return std::vector<T>(values.begin() + 1, values.end());
}

// Output frame t of tap k reads input frame t * stride + k * dilation - padding. With a
// temporal stride of 1 the frames a tap reads are contiguous, one GEMM per batch element;
// otherwise one GEMM per output frame.
std::vector<TemporalTap> TemporalTaps(const Attributes& attrs, const std::vector<int64_t>& x_shape,
                                      const std::vector<int64_t>& kernel_shape,
                                      const std::vector<int64_t>& y_shape) {
  const int64_t batch = x_shape[0], frames = x_shape[1], out_frames = y_shape[1];
  const int64_t pixels = x_shape[2] * x_shape[3], in = x_shape[4], out = y_shape[4];
  const int64_t stride = attrs.strides[0], dilation = attrs.dilation[0] + 1;
  std::vector<TemporalTap> taps(kernel_shape[0]);
  for (int64_t k = 0; k < kernel_shape[0]; ++k) {
    TemporalTap& tap = taps[k];
    tap.kernel = memory::desc({in, out}, memory::data_type::f32, {out, 1});
    const int64_t shift = k * dilation - attrs.padding_lo[0];  // Input frame of output frame 0.
    int64_t first = 0, last = out_frames - 1;  // Output frames whose input frame exists.
    while (first <= last && first * stride + shift < 0) ++first;
    while (last >= first && last * stride + shift >= frames) --last;
    if (first > last) continue;  // The tap reads only padding: its gradient is zero.
    const int64_t count = last - first + 1;
    const int64_t rows = (stride == 1 ? count : 1) * pixels;
    tap.batch = batch;
    tap.frame_groups = stride == 1 ? 1 : count;
    tap.x_offset = (first * stride + shift) * pixels * in;
    tap.dy_offset = first * pixels * out;
    tap.x_batch_stride = frames * pixels * in;
    tap.dy_batch_stride = out_frames * pixels * out;
    tap.x_group_stride = stride * pixels * in;
    tap.dy_group_stride = pixels * out;
    tap.x_frames = memory::desc({in, rows}, memory::data_type::f32, {1, in});
    tap.dy_frames = memory::desc({rows, out}, memory::data_type::f32, {out, 1});
    dnnl::post_ops accumulate;
    accumulate.append_sum();
    dnnl::primitive_attr primitive_attr;
    primitive_attr.set_post_ops(accumulate);
    primitive_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::matmul::primitive_desc product(Engine(), tap.x_frames, tap.dy_frames, tap.kernel,
                                         primitive_attr);
    tap.product = dnnl::matmul(product);
    tap.scratchpad_bytes = product.scratchpad_desc().get_size();
  }
  return taps;
}

// Operand shapes: forward (x, kernel) -> y; input grad (dy, kernel) -> dx;
// kernel grad (x, dy) -> dkernel. The primitive picks the kernel's layout. (Letting the
// kernel gradient pick blocked activations too, with reorders, was measured 10-90 % slower.)
std::unique_ptr<Convolution> Build(const Attributes& attrs, const std::vector<int64_t>& x_shape,
                                   const std::vector<int64_t>& kernel_shape,
                                   const std::vector<int64_t>& y_shape) {
  if (IsStridedSpatialKernelGrad(attrs, kernel_shape)) {
    const Attributes frames{attrs.mode,           attrs.groups,
                            DropFirst(attrs.strides), DropFirst(attrs.dilation),
                            DropFirst(attrs.padding_lo), DropFirst(attrs.padding_hi)};
    std::vector<int64_t> x_frames = DropFirst(x_shape), y_frames = DropFirst(y_shape);
    x_frames[0] *= x_shape[0];
    y_frames[0] *= y_shape[0];
    return Build(frames, x_frames, DropFirst(kernel_shape), y_frames);
  }
  auto conv = std::make_unique<Convolution>();
  if (IsTemporalKernelGrad(attrs, kernel_shape)) {
    conv->temporal_taps = TemporalTaps(attrs, x_shape, kernel_shape, y_shape);
    return conv;
  }
  const memory::desc x = ActivationDesc(x_shape), y = ActivationDesc(y_shape);
  conv->x = x;
  conv->y = y;
  conv->kernel = KernelDesc(kernel_shape, attrs.groups);
  const memory::desc kernel = AnyLayout(conv->kernel);
  dnnl::primitive_attr primitive_attr;
  primitive_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const auto algorithm = dnnl::algorithm::convolution_direct;
  dnnl::convolution_forward::primitive_desc forward(
      Engine(), dnnl::prop_kind::forward_training, algorithm, x, kernel, y, attrs.strides,
      attrs.dilation, attrs.padding_lo, attrs.padding_hi, primitive_attr);
  if (attrs.mode == kForward) {
    conv->primitive = dnnl::convolution_forward(forward);
    conv->primitive_kernel = forward.weights_desc();
    conv->scratchpad_bytes = forward.scratchpad_desc().get_size();
  } else if (attrs.mode == kInputGrad) {
    dnnl::convolution_backward_data::primitive_desc backward(
        Engine(), algorithm, x, kernel, y, attrs.strides, attrs.dilation,
        attrs.padding_lo, attrs.padding_hi, forward, primitive_attr);
    conv->primitive = dnnl::convolution_backward_data(backward);
    conv->primitive_kernel = backward.weights_desc();
    conv->scratchpad_bytes = backward.scratchpad_desc().get_size();
  } else {
    dnnl::convolution_backward_weights::primitive_desc backward(
        Engine(), algorithm, x, kernel, y, attrs.strides, attrs.dilation,
        attrs.padding_lo, attrs.padding_hi, forward, primitive_attr);
    conv->primitive = dnnl::convolution_backward_weights(backward);
    conv->primitive_kernel = backward.diff_weights_desc();
    conv->scratchpad_bytes = backward.scratchpad_desc().get_size();
  }
  if (conv->primitive_kernel != conv->kernel) {
    conv->kernel_reorder =
        attrs.mode == kKernelGrad
            ? dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), conv->primitive_kernel,
                                                          Engine(), conv->kernel))
            : dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), conv->kernel, Engine(),
                                                          conv->primitive_kernel));
  }
  return conv;
}

std::unique_ptr<uint8_t[]> Scratchpad(size_t bytes, memory* scratchpad) {
  std::unique_ptr<uint8_t[]> data(new uint8_t[bytes + 1]);
  *scratchpad = memory(memory::desc({static_cast<int64_t>(bytes)}, memory::data_type::u8,
                                    memory::format_tag::a),
                       Engine(), data.get());
  return data;
}

void RunTemporalTaps(const std::vector<TemporalTap>& taps, float* x_data, float* kernel_data,
                     float* dy_data) {
  dnnl::stream stream(Engine());
  for (size_t k = 0; k < taps.size(); ++k) {
    const TemporalTap& tap = taps[k];
    float* kernel = kernel_data + k * tap.kernel.get_size() / sizeof(float);
    std::fill(kernel, kernel + tap.kernel.get_size() / sizeof(float), 0.0f);
    if (tap.batch == 0) continue;
    memory scratchpad;
    auto scratchpad_data = Scratchpad(tap.scratchpad_bytes, &scratchpad);
    memory kernel_memory(tap.kernel, Engine(), kernel);
    for (int64_t n = 0; n < tap.batch; ++n) {
      for (int64_t g = 0; g < tap.frame_groups; ++g) {
        memory x(tap.x_frames, Engine(),
                 x_data + tap.x_offset + n * tap.x_batch_stride + g * tap.x_group_stride);
        memory dy(tap.dy_frames, Engine(),
                  dy_data + tap.dy_offset + n * tap.dy_batch_stride + g * tap.dy_group_stride);
        tap.product.execute(stream, {{DNNL_ARG_SRC, x},
                                     {DNNL_ARG_WEIGHTS, dy},
                                     {DNNL_ARG_DST, kernel_memory},
                                     {DNNL_ARG_SCRATCHPAD, scratchpad}});
      }
    }
  }
  stream.wait();
}

// a, b -> out as in `Convolve`.
void Run(const Convolution& conv, int64_t mode, float* x_data, float* kernel_data,
         float* y_data) {
  if (!conv.temporal_taps.empty()) {
    RunTemporalTaps(conv.temporal_taps, x_data, kernel_data, y_data);
    return;
  }
  dnnl::stream stream(Engine());
  memory user_kernel(conv.kernel, Engine(), kernel_data);
  const bool reorder_kernel = conv.primitive_kernel != conv.kernel;
  memory kernel = reorder_kernel ? memory(conv.primitive_kernel, Engine()) : user_kernel;
  if (reorder_kernel && mode != kKernelGrad) {
    conv.kernel_reorder.execute(stream, user_kernel, kernel);
  }
  memory scratchpad;
  auto scratchpad_data = Scratchpad(conv.scratchpad_bytes, &scratchpad);
  memory x(conv.x, Engine(), x_data);
  memory y(conv.y, Engine(), y_data);
  if (mode == kForward) {
    conv.primitive.execute(stream, {{DNNL_ARG_SRC, x},
                                    {DNNL_ARG_WEIGHTS, kernel},
                                    {DNNL_ARG_DST, y},
                                    {DNNL_ARG_SCRATCHPAD, scratchpad}});
  } else if (mode == kInputGrad) {
    conv.primitive.execute(stream, {{DNNL_ARG_DIFF_DST, y},
                                    {DNNL_ARG_WEIGHTS, kernel},
                                    {DNNL_ARG_DIFF_SRC, x},
                                    {DNNL_ARG_SCRATCHPAD, scratchpad}});
  } else {
    conv.primitive.execute(stream, {{DNNL_ARG_SRC, x},
                                    {DNNL_ARG_DIFF_DST, y},
                                    {DNNL_ARG_DIFF_WEIGHTS, kernel},
                                    {DNNL_ARG_SCRATCHPAD, scratchpad}});
    if (reorder_kernel) conv.kernel_reorder.execute(stream, kernel, user_kernel);
  }
  stream.wait();
}

const Convolution& Cached(const Attributes& attrs, const std::vector<int64_t>& x_shape,
                          const std::vector<int64_t>& kernel_shape,
                          const std::vector<int64_t>& y_shape) {
  static std::mutex mutex;
  static auto* cache = new std::unordered_map<std::string, std::unique_ptr<Convolution>>();
  std::ostringstream key;
  for (const auto* values : {&x_shape, &kernel_shape, &y_shape, &attrs.strides, &attrs.dilation,
                             &attrs.padding_lo, &attrs.padding_hi}) {
    for (int64_t v : *values) key << v << ',';
    key << ';';
  }
  key << attrs.mode << ';' << attrs.groups;
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = (*cache)[key.str()];
  if (!entry) entry = Build(attrs, x_shape, kernel_shape, y_shape);
  return *entry;
}

memory::dims ToDims(ffi::Span<const int64_t> values) {
  return memory::dims(values.begin(), values.end());
}

std::vector<int64_t> Shape(const ffi::Buffer<ffi::F32>& buffer) {
  auto dims = buffer.dimensions();
  return std::vector<int64_t>(dims.begin(), dims.end());
}

ffi::Error Convolve(ffi::Buffer<ffi::F32> a, ffi::Buffer<ffi::F32> b,
                    ffi::ResultBuffer<ffi::F32> out, int64_t mode, ffi::Span<const int64_t> strides,
                    ffi::Span<const int64_t> dilation, ffi::Span<const int64_t> padding_lo,
                    ffi::Span<const int64_t> padding_hi, int64_t groups) {
  if (mode < kForward || mode > kKernelGrad) {
    return ffi::Error(ffi::ErrorCode::kInvalidArgument, "vidjax_onednn_conv: bad mode");
  }
  // oneDNN counts dilation from 0 (no dilation), XLA from 1.
  memory::dims onednn_dilation;
  for (int64_t d : dilation) onednn_dilation.push_back(d - 1);
  const Attributes attrs{mode,           groups,           ToDims(strides), onednn_dilation,
                         ToDims(padding_lo), ToDims(padding_hi)};
  float* kernel_data;
  float *x_data, *y_data;
  std::vector<int64_t> x_shape, kernel_shape, y_shape;
  if (mode == kForward) {
    x_shape = Shape(a), kernel_shape = Shape(b), y_shape = Shape(*out);
    x_data = a.typed_data(), kernel_data = b.typed_data(), y_data = out->typed_data();
  } else if (mode == kInputGrad) {
    y_shape = Shape(a), kernel_shape = Shape(b), x_shape = Shape(*out);
    y_data = a.typed_data(), kernel_data = b.typed_data(), x_data = out->typed_data();
  } else {
    x_shape = Shape(a), y_shape = Shape(b), kernel_shape = Shape(*out);
    x_data = a.typed_data(), y_data = b.typed_data(), kernel_data = out->typed_data();
  }
  try {
    Run(Cached(attrs, x_shape, kernel_shape, y_shape), mode, x_data, kernel_data, y_data);
  } catch (const dnnl::error& e) {
    return ffi::Error(ffi::ErrorCode::kInternal,
                      std::string("vidjax_onednn_conv: oneDNN: ") + e.what());
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(VidjaxOnednnConv, Convolve,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("mode")
                                  .Attr<ffi::Span<const int64_t>>("strides")
                                  .Attr<ffi::Span<const int64_t>>("dilation")
                                  .Attr<ffi::Span<const int64_t>>("padding_lo")
                                  .Attr<ffi::Span<const int64_t>>("padding_hi")
                                  .Attr<int64_t>("groups"));
