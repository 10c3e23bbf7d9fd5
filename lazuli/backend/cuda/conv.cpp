// CUDA backend: the Convolution primitive. cuDNN (when the build found it) runs 1-, 2- and
// 3-d convolutions of float32 (FMA math: no TF32), float16 and bfloat16 (tensor cores,
// float accumulation) and float64, channels-last (NHWC inputs, KHWC filters, as Lazuli
// stores them), groups and flips (CUDNN_CONVOLUTION) included. cuDNN pads symmetrically
// and has no input dilation: other paddings and input dilation first go through a
// zero-inserting copy of the input. Only the GEMM-like and direct algorithms are used, whose
// rounding is that of a plain sum (Winograd and FFT ones stray further from the CPU's
// results). What cuDNN cannot run (more spatial dims, a configuration it rejects, a build
// without it) goes to a direct convolution kernel (conv.cu).
#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/conv.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/primitives/conv.h"

#ifdef LAZULI_CUDNN
#include <cudnn.h>
#endif

namespace lazuli::cuda {
namespace {

ConvGeometry make_geometry(const Convolution::Params& p, const array& x, const array& w, const array& out) {
  ConvGeometry g;
  g.d = static_cast<int>(x.ndim()) - 2;
  if (g.d > kMaxConvDims)
    throw std::invalid_argument("[conv] the GPU convolution takes at most " + std::to_string(kMaxConvDims) +
                                " spatial dimensions, got " + std::to_string(g.d) + ".");
  g.n = x.shape(0), g.ci = x.shape(-1), g.co = w.shape(0), g.groups = p.groups, g.flip = p.flip;
  for (int i = 0; i < g.d; ++i) {
    g.in[i] = x.shape(1 + i), g.ker[i] = w.shape(1 + i), g.out[i] = out.shape(1 + i);
    g.stride[i] = p.stride[i], g.lo[i] = p.padding_lo[i], g.hi[i] = p.padding_hi[i];
    g.kernel_dilation[i] = p.kernel_dilation[i], g.input_dilation[i] = p.input_dilation[i];
  }
  return g;
}

#ifdef LAZULI_CUDNN

// A failed cuDNN step: the caller falls back to the direct kernel.
struct CudnnUnavailable {};
void check_cudnn(cudnnStatus_t s) {
  if (s != CUDNN_STATUS_SUCCESS) throw CudnnUnavailable{};
}

// The cuDNN handle of a Lazuli stream (null when cuDNN cannot start here: then every
// convolution takes the direct kernel).
cudnnHandle_t cudnn_handle(const GpuContext& ctx) {
  cudnnHandle_t h = per_stream<cudnnHandle_t>(ctx, [] {
    cudnnHandle_t made = nullptr;
    return cudnnCreate(&made) == CUDNN_STATUS_SUCCESS ? made : nullptr;
  });
  if (h && cudnnSetStream(h, ctx.stream) != CUDNN_STATUS_SUCCESS) return nullptr;
  return h;
}

// Descriptors destroyed on every path out.
struct CudnnDescriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  CudnnDescriptors() {
    check_cudnn(cudnnCreateTensorDescriptor(&x));
    check_cudnn(cudnnCreateTensorDescriptor(&y));
    check_cudnn(cudnnCreateFilterDescriptor(&w));
    check_cudnn(cudnnCreateConvolutionDescriptor(&conv));
  }
  ~CudnnDescriptors() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
};

// The forward algorithm and math type for one configuration, cached: asking cuDNN's
// heuristics costs more than many small convolutions. Only the GEMM-like and direct
// algorithms qualify (see the top of this file); float32 and float64 keep FMA math.
struct Algorithm {
  cudnnConvolutionFwdAlgo_t algo;
  cudnnMathType_t math;
};
std::optional<Algorithm> forward_algorithm(const std::vector<int64_t>& key, cudnnHandle_t handle,
                                           const CudnnDescriptors& desc, bool fp32_or_64) {
  static std::mutex mutex;
  static auto* cache = new std::map<std::vector<int64_t>, std::optional<Algorithm>>;  // never destroyed
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache->find(key);
    if (it != cache->end()) return it->second;
  }
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int returned = 0;
  check_cudnn(cudnnGetConvolutionForwardAlgorithm_v7(handle, desc.x, desc.w, desc.conv, desc.y,
                                                     CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf));
  std::optional<Algorithm> pick;
  for (int i = 0; i < returned && !pick; ++i) {
    const auto& c = perf[i];
    bool plain_sum = c.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
                     c.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
                     c.algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || c.algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
    bool exact_math = !fp32_or_64 || c.mathType == CUDNN_FMA_MATH || c.mathType == CUDNN_DEFAULT_MATH;
    if (c.status == CUDNN_STATUS_SUCCESS && plain_sum && exact_math)
      pick = Algorithm{c.algo, fp32_or_64 ? CUDNN_FMA_MATH : c.mathType};
  }
  std::lock_guard<std::mutex> lock(mutex);
  cache->emplace(key, pick);
  return pick;
}

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

// Runs the convolution through cuDNN; false (nothing written) where cuDNN will not.
bool conv_cudnn(const ConvGeometry& g0, const array& x0, const array& w, array& out, const GpuContext& ctx) {
  Dtype t = out.dtype();
  cudnnDataType_t type;
  if (t == float32) type = CUDNN_DATA_FLOAT;
  else if (t == float64) type = CUDNN_DATA_DOUBLE;
  else if (t == float16) type = CUDNN_DATA_HALF;
  else if (t == bfloat16) type = CUDNN_DATA_BFLOAT16;
  else return false;
  if (g0.d > 3) return false;
  cudnnHandle_t handle = cudnn_handle(ctx);
  if (!handle) return false;

  // Symmetric non-negative padding without input dilation goes to cuDNN as is; anything
  // else is made so by padding and dilating the input into a copy.
  ConvGeometry g = g0;
  bool plain = true;
  for (int i = 0; i < g.d; ++i) plain = plain && g.input_dilation[i] == 1 && g.lo[i] >= 0 && g.hi[i] == g.lo[i];
  array x = x0;
  int64_t pad[3] = {0, 0, 0};
  if (plain) {
    for (int i = 0; i < g.d; ++i) pad[i] = g.lo[i];
  } else {
    int64_t padded[kMaxConvDims];
    Shape shape{static_cast<int32_t>(g.n)};
    for (int i = 0; i < g.d; ++i) {
      // Just what the outputs read: the last output's last tap is the final element.
      padded[i] = (g.out[i] - 1) * g.stride[i] + (g.ker[i] - 1) * g.kernel_dilation[i] + 1;
      shape.push_back(static_cast<int32_t>(padded[i]));
    }
    shape.push_back(static_cast<int32_t>(g.ci));
    x = array(shape, t, nullptr, {});
    cpu::allocate(x);
    launch_pad_dilate(static_cast<int>(out.itemsize()), g, padded, data_of(x0), x.raw_data(), ctx.stream);
    for (int i = 0; i < g.d; ++i) g.in[i] = padded[i], g.lo[i] = g.hi[i] = 0, g.input_dilation[i] = 1;
  }

  // cuDNN's dims are (N, C, spatial...) whatever the layout; a 1-d convolution is a 2-d
  // one of height 1.
  const int sp = std::max(g.d, 2), nb = sp + 2;
  int xdims[5], wdims[5], ydims[5], pads[3], strides[3], dils[3];
  xdims[0] = static_cast<int>(g.n), xdims[1] = static_cast<int>(g.ci);
  wdims[0] = static_cast<int>(g.co), wdims[1] = static_cast<int>(g.ci / g.groups);
  ydims[0] = static_cast<int>(g.n), ydims[1] = static_cast<int>(g.co);
  int64_t all[] = {g.n, g.ci, g.co};
  for (int64_t v : all)
    if (!fits_int(v)) return false;
  for (int j = 0; j < sp; ++j) {
    int i = j - (sp - g.d);  // the spatial dim, or < 0 for the 1-d case's height
    int64_t vals[] = {i < 0 ? 1 : g.in[i], i < 0 ? 1 : g.ker[i], i < 0 ? 1 : g.out[i], i < 0 ? 0 : pad[i],
                      i < 0 ? 1 : g.stride[i], i < 0 ? 1 : g.kernel_dilation[i]};
    for (int64_t v : vals)
      if (!fits_int(v)) return false;
    xdims[2 + j] = int(vals[0]), wdims[2 + j] = int(vals[1]), ydims[2 + j] = int(vals[2]);
    pads[j] = int(vals[3]), strides[j] = int(vals[4]), dils[j] = int(vals[5]);
  }
  const bool fp32_or_64 = t == float32 || t == float64;
  try {
    CudnnDescriptors desc;
    check_cudnn(cudnnSetTensorNdDescriptorEx(desc.x, CUDNN_TENSOR_NHWC, type, nb, xdims));
    check_cudnn(cudnnSetFilterNdDescriptor(desc.w, type, CUDNN_TENSOR_NHWC, nb, wdims));
    check_cudnn(cudnnSetTensorNdDescriptorEx(desc.y, CUDNN_TENSOR_NHWC, type, nb, ydims));
    check_cudnn(cudnnSetConvolutionNdDescriptor(desc.conv, sp, pads, strides, dils,
                                                g.flip ? CUDNN_CONVOLUTION : CUDNN_CROSS_CORRELATION,
                                                t == float64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT));
    check_cudnn(cudnnSetConvolutionGroupCount(desc.conv, static_cast<int>(g.groups)));
    check_cudnn(cudnnSetConvolutionMathType(desc.conv, fp32_or_64 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
    int got[5];
    check_cudnn(cudnnGetConvolutionNdForwardOutputDim(desc.conv, desc.x, desc.w, nb, got));
    if (!std::equal(got, got + nb, ydims)) return false;

    std::vector<int64_t> key = {static_cast<int64_t>(type), g.groups, g.flip, nb};
    for (int i = 0; i < nb; ++i) key.insert(key.end(), {xdims[i], wdims[i]});
    for (int j = 0; j < sp; ++j) key.insert(key.end(), {pads[j], strides[j], dils[j]});
    std::optional<Algorithm> algo = forward_algorithm(key, handle, desc, fp32_or_64);
    if (!algo) return false;
    check_cudnn(cudnnSetConvolutionMathType(desc.conv, algo->math));
    size_t ws_bytes = 0;
    check_cudnn(cudnnGetConvolutionForwardWorkspaceSize(handle, desc.x, desc.w, desc.conv, desc.y, algo->algo,
                                                         &ws_bytes));
    DeviceBuffer ws(ws_bytes, ctx.stream);
    float alpha32 = 1, beta32 = 0;
    double alpha64 = 1, beta64 = 0;
    const void* alpha = t == float64 ? static_cast<const void*>(&alpha64) : &alpha32;
    const void* beta = t == float64 ? static_cast<const void*>(&beta64) : &beta32;
    cudnnStatus_t st = cudnnConvolutionForward(handle, alpha, desc.x, data_of(x), desc.w, data_of(w), desc.conv,
                                               algo->algo, ws.as<void>(), ws_bytes, beta, desc.y, out.raw_data());
    if (st != CUDNN_STATUS_SUCCESS)
      throw std::runtime_error(std::string("[cuda] cudnnConvolutionForward failed: ") + cudnnGetErrorString(st) + ".");
  } catch (const CudnnUnavailable&) {
    return false;
  }
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));  // before the padded copy is freed
  return true;
}

#endif  // LAZULI_CUDNN

void eval_conv(Convolution& p, const std::vector<array>& inputs, std::vector<array>& outs, const GpuContext& ctx) {
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  Dtype t = out.dtype();
  if (!is_floating_point(t))
    throw std::invalid_argument("[conv] Convolution supports floating-point inputs only, got " + dtype_name(t) + ".");
  // Inputs in the output's dtype, row-major.
  array x = dense_as(inputs[0], t, ctx.stream), w = dense_as(inputs[1], t, ctx.stream);
  ConvGeometry g = make_geometry(p.params(), x, w, out);
  if (x.shape(-1) == 0 || w.shape(-1) == 0 || w.size() == 0) {  // an empty sum
    LAZULI_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, out.nbytes(), ctx.stream));
    return;
  }
#ifdef LAZULI_CUDNN
  if (conv_cudnn(g, x, w, out, ctx)) return;
#endif
  launch_conv_direct(t, g, data_of(x), data_of(w), out.raw_data(), ctx.stream);
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));  // before converted inputs are freed
}

}  // namespace

LAZULI_GPU_KERNEL(Convolution, eval_conv);

}  // namespace lazuli::cuda
