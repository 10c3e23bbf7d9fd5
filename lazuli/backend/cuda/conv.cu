// CUDA backend: the convolution family's own kernels (conv.h): a direct convolution for
// what cuDNN does not run, and the zero-inserting copy that turns input dilation and
// asymmetric padding into a plain convolution for cuDNN.
#include "lazuli/backend/cuda/conv.h"
#include "lazuli/backend/cuda/device_util.cuh"

namespace lazuli::cuda {
namespace {

template <typename S, typename A>
__global__ void conv_direct_kernel(ConvGeometry g, const S* x, const S* w, S* out, int64_t total) {
  const int64_t ci_g = g.ci / g.groups, co_g = g.co / g.groups;
  int64_t ksp = 1;
  for (int i = 0; i < g.d; ++i) ksp *= g.ker[i];
  LAZULI_GRID_STRIDE(idx, total) {
    // idx = ((n * out[0] + o_0) * out[1] + ...) * C_out + co
    int64_t rem = idx / g.co, co = idx - idx / g.co * g.co;
    int64_t o[kMaxConvDims];
    for (int i = g.d - 1; i >= 0; --i) o[i] = rem % g.out[i], rem /= g.out[i];
    const int64_t n = rem, grp = co / co_g;
    A acc = A(0);
    for (int64_t kp = 0; kp < ksp; ++kp) {
      // Kernel tap per dim (row-major over ker), and the input element it reads.
      int64_t k = kp, off = n, hit = 1;
      int64_t tap[kMaxConvDims];
      for (int i = g.d - 1; i >= 0; --i) tap[i] = k % g.ker[i], k /= g.ker[i];
      for (int i = 0; i < g.d; ++i) {
        int64_t pos = o[i] * g.stride[i] + tap[i] * g.kernel_dilation[i] - g.lo[i];
        int64_t dil = g.input_dilation[i];
        hit &= pos >= 0 && pos % dil == 0 && pos / dil < g.in[i];
        off = off * g.in[i] + (hit ? pos / dil : 0);
      }
      if (!hit) continue;
      const S* xr = x + off * g.ci + grp * ci_g;
      const S* wr = w + (co * ksp + (g.flip ? ksp - 1 - kp : kp)) * ci_g;
      for (int64_t c = 0; c < ci_g; ++c) acc += static_cast<A>(load(xr[c])) * static_cast<A>(load(wr[c]));
    }
    out[idx] = convert<S>(acc);
  }
}

template <int Bytes> struct alignas(Bytes) word {
  unsigned char b[Bytes];
};

struct Lengths {
  int64_t v[kMaxConvDims];
};

template <typename W>
__global__ void pad_dilate_kernel(ConvGeometry g, Lengths padded, const W* x, W* dst, int64_t total) {
  LAZULI_GRID_STRIDE(idx, total) {
    int64_t rem = idx / g.ci, c = idx - idx / g.ci * g.ci;
    int64_t q[kMaxConvDims];
    for (int i = g.d - 1; i >= 0; --i) q[i] = rem % padded.v[i], rem /= padded.v[i];
    int64_t off = rem;
    bool hit = true;
    for (int i = 0; i < g.d; ++i) {
      int64_t pos = q[i] - g.lo[i], dil = g.input_dilation[i];
      hit = hit && pos >= 0 && pos % dil == 0 && pos / dil < g.in[i];
      off = off * g.in[i] + (hit ? pos / dil : 0);
    }
    dst[idx] = hit ? x[off * g.ci + c] : W{};
  }
}

template <typename W>
void pad_dilate_as(const ConvGeometry& g, const Lengths& p, const void* x, void* dst, int64_t total, cudaStream_t s) {
  pad_dilate_kernel<<<blocks_for(total), kThreads, 0, s>>>(g, p, static_cast<const W*>(x), static_cast<W*>(dst), total);
  check_launch("pad_dilate_kernel");
}

}  // namespace

void launch_conv_direct(Dtype t, const ConvGeometry& g, const void* x, const void* w, void* out, cudaStream_t s) {
  int64_t total = g.n * g.co;
  for (int i = 0; i < g.d; ++i) total *= g.out[i];
  if (total == 0) return;
  auto run = [&](auto storage, auto accumulate) {
    using S = decltype(storage);
    using A = decltype(accumulate);
    conv_direct_kernel<S, A><<<blocks_for(total), kThreads, 0, s>>>(g, static_cast<const S*>(x),
                                                                    static_cast<const S*>(w), static_cast<S*>(out), total);
    check_launch("conv_direct_kernel");
  };
  if (t == float32) run(float{}, float{});
  else if (t == float64) run(double{}, double{});
  else if (t == float16) run(__half{}, float{});
  else if (t == bfloat16) run(__nv_bfloat16{}, float{});
  else throw std::invalid_argument("[conv] Convolution supports floating-point inputs only, got " + dtype_name(t) + ".");
}

void launch_pad_dilate(int itemsize, const ConvGeometry& g, const int64_t* padded, const void* x, void* dst,
                       cudaStream_t s) {
  Lengths p{};
  int64_t total = g.n * g.ci;
  for (int i = 0; i < g.d; ++i) p.v[i] = padded[i], total *= padded[i];
  if (total == 0) return;
  switch (itemsize) {
    case 2: return pad_dilate_as<word<2>>(g, p, x, dst, total, s);
    case 4: return pad_dilate_as<word<4>>(g, p, x, dst, total, s);
    case 8: return pad_dilate_as<word<8>>(g, p, x, dst, total, s);
  }
  throw std::invalid_argument("[conv] unsupported element width " + std::to_string(itemsize) + ".");
}

}  // namespace lazuli::cuda
