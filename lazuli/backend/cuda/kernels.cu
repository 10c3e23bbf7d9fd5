// CUDA backend: elementwise kernels. One grid-stride kernel per (functor, element type)
// serves every layout: the host merges dimensions first, so dense and scalar-broadcast
// operands arrive as one dimension and take the path without divisions.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <limits>
#include <string>
#include <type_traits>

#include "lazuli/backend/common/math.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/kernels.h"

namespace lazuli::cuda {
namespace {

// Element types as the device stores them; 16-bit floats compute in float.
template <typename T> struct device_type { using type = T; };
template <> struct device_type<float16_t> { using type = __half; };
template <> struct device_type<bfloat16_t> { using type = __nv_bfloat16; };
template <typename S> inline constexpr bool is_half_v = std::is_same_v<S, __half> || std::is_same_v<S, __nv_bfloat16>;
template <typename S> using compute_t = std::conditional_t<is_half_v<S>, float, S>;

template <typename S> __device__ compute_t<S> load(S v) {
  if constexpr (std::is_same_v<S, __half>) return __half2float(v);
  else if constexpr (std::is_same_v<S, __nv_bfloat16>) return __bfloat162float(v);
  else return v;
}

// Value conversion with the rules of cast_value (backend/common/cast.h): nonzero is true,
// out-of-range floats give what NumPy gives on x86 rather than undefined behaviour.
template <typename To, typename From> __device__ To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (is_half_v<From>) {
    return convert<To>(load(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_same_v<To, __half>) {
    return __float2half(static_cast<float>(v));
  } else if constexpr (std::is_same_v<To, __nv_bfloat16>) {
    return __float2bfloat16(static_cast<float>(v));
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return math::float_to_int<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

template <int N> __device__ void offsets(int64_t i, const Indexer<N>& ix, int64_t (&off)[N]) {
  if (ix.ndim == 1) {
    for (int k = 0; k < N; ++k) off[k] = i * ix.strides[k][0];
    return;
  }
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = ix.ndim - 1; d >= 0; --d) {
    int64_t q = i / ix.shape[d], r = i - q * ix.shape[d];
    for (int k = 0; k < N; ++k) off[k] += r * ix.strides[k][d];
    i = q;
  }
}

constexpr int kThreads = 256;
int blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65536 ? b : 65536);  // grid-stride loops cover the rest
}
#define LAZULI_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

template <typename Op, typename S, typename Out>
__global__ void unary_kernel(const S* src, Out* dst, int64_t n, Indexer<1> ix) {
  Op op;
  LAZULI_GRID_STRIDE(i, n) {
    int64_t off[1];
    offsets(i, ix, off);
    dst[i] = convert<Out>(op(load(src[off[0]])));
  }
}

template <typename Op, typename S, typename Out>
__global__ void binary_kernel(const S* a, const S* b, Out* dst, int64_t n, Indexer<2> ix) {
  Op op;
  LAZULI_GRID_STRIDE(i, n) {
    int64_t off[2];
    offsets(i, ix, off);
    dst[i] = convert<Out>(op(load(a[off[0]]), load(b[off[1]])));
  }
}

template <typename In, typename Out>
__global__ void convert_kernel(const In* src, Out* dst, int64_t n, Indexer<1> ix) {
  LAZULI_GRID_STRIDE(i, n) {
    int64_t off[1];
    offsets(i, ix, off);
    dst[i] = convert<Out>(src[off[0]]);
  }
}

template <typename W>
__global__ void select_kernel(const bool* c, const W* x, const W* y, W* dst, int64_t n, Indexer<3> ix) {
  LAZULI_GRID_STRIDE(i, n) {
    int64_t off[3];
    offsets(i, ix, off);
    dst[i] = c[off[0]] ? x[off[1]] : y[off[2]];
  }
}

void check_launch(const char* what) { check_cuda(cudaGetLastError(), what); }

// Calls f(S{}) with S the device storage type of t; complex64 has no device kernels yet.
template <typename F> void dispatch(Dtype t, const char* op, F&& f) {
  if (t == complex64)
    throw std::invalid_argument(std::string("[") + op + "] complex64 is not supported on the GPU yet.");
  dispatch_dtype(t, [&](auto host) {
    if constexpr (!std::is_same_v<decltype(host), complex64_t>) f(typename device_type<decltype(host)>::type{});
  });
}

// The output type a functor's result is stored as, as on the CPU: the input's own type
// when the op maps compute type to compute type (16-bit floats round back), else its result.
template <typename Op, typename S, typename... Args>
using result_t = std::conditional_t<std::is_same_v<decltype(Op{}(compute_t<Args>{}...)), compute_t<S>>, S,
                                    decltype(Op{}(compute_t<Args>{}...))>;

// The output buffer was sized from the graph's dtype: it must match what the kernel stores.
template <typename Out> void check_output(Dtype out, const char* name) {
  if (sizeof(Out) != out.size)
    throw std::logic_error(std::string("[") + name + "] GPU kernel output type does not match " + dtype_name(out) + ".");
}

template <typename Op>
void unary_typed(const char* name, Dtype in, Dtype out, const void* src, void* dst, int64_t n, const Indexer<1>& ix,
                 cudaStream_t s) {
  dispatch(in, name, [&](auto v) {
    using S = decltype(v);
    if constexpr ((Op::kinds & math::kind_of<compute_t<S>>) != 0) {
      using Out = result_t<Op, S, S>;
      check_output<Out>(out, name);
      unary_kernel<Op, S, Out><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const S*>(src), static_cast<Out*>(dst),
                                                                   n, ix);
      check_launch(name);
    } else {
      throw std::invalid_argument(std::string("[") + name + "] " + dtype_name(in) + " inputs are not supported.");
    }
  });
}

template <typename Op>
void binary_typed(const char* name, Dtype in, Dtype out, const void* a, const void* b, void* dst, int64_t n,
                  const Indexer<2>& ix, cudaStream_t s) {
  dispatch(in, name, [&](auto v) {
    using S = decltype(v);
    if constexpr ((Op::kinds & math::kind_of<compute_t<S>>) != 0) {
      using Out = result_t<Op, S, S, S>;
      check_output<Out>(out, name);
      binary_kernel<Op, S, Out><<<blocks_for(n), kThreads, 0, s>>>(
          static_cast<const S*>(a), static_cast<const S*>(b), static_cast<Out*>(dst), n, ix);
      check_launch(name);
    } else {
      throw std::invalid_argument(std::string("[") + name + "] " + dtype_name(in) + " inputs are not supported.");
    }
  });
}

}  // namespace

void launch_unary(UnaryOp op, Dtype in, Dtype out, const void* src, void* dst, int64_t n, const Indexer<1>& ix,
                  cudaStream_t s) {
  switch (op) {
#define LAZULI_UNARY_CASE(Name, opname) \
  case UnaryOp::Name: return unary_typed<math::Name>(#opname, in, out, src, dst, n, ix, s);
    LAZULI_UNARY_OPS(LAZULI_UNARY_CASE)
#undef LAZULI_UNARY_CASE
  }
}

void launch_binary(BinaryOp op, Dtype in, Dtype out, const void* a, const void* b, void* dst, int64_t n,
                   const Indexer<2>& ix, cudaStream_t s) {
  switch (op) {
#define LAZULI_BINARY_CASE(Name, opname) \
  case BinaryOp::Name: return binary_typed<math::Name>(#opname, in, out, a, b, dst, n, ix, s);
    LAZULI_BINARY_OPS(LAZULI_BINARY_CASE)
#undef LAZULI_BINARY_CASE
  }
}

void launch_convert(Dtype in, Dtype out, const void* src, void* dst, int64_t n, const Indexer<1>& ix, cudaStream_t s) {
  if (in == out) {  // a copy moves bytes: any dtype, complex64 included
    auto run = [&](auto word) {
      using W = decltype(word);
      convert_kernel<W, W><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const W*>(src), static_cast<W*>(dst), n, ix);
      check_launch("copy");
    };
    switch (in.size) {
      case 1: return run(uint8_t{});
      case 2: return run(uint16_t{});
      case 4: return run(uint32_t{});
      default: return run(uint64_t{});
    }
  }
  dispatch(in, "astype", [&](auto i) {
    dispatch(out, "astype", [&](auto o) {
      using I = decltype(i);
      using O = decltype(o);
      convert_kernel<I, O><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const I*>(src), static_cast<O*>(dst), n, ix);
      check_launch("astype");
    });
  });
}

void launch_select(int itemsize, const void* cond, const void* x, const void* y, void* dst, int64_t n,
                   const Indexer<3>& ix, cudaStream_t s) {
  auto run = [&](auto word) {  // select only moves elements: dispatch on their width
    using W = decltype(word);
    select_kernel<W><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const bool*>(cond), static_cast<const W*>(x),
                                                         static_cast<const W*>(y), static_cast<W*>(dst), n, ix);
    check_launch("where");
  };
  switch (itemsize) {
    case 1: return run(uint8_t{});
    case 2: return run(uint16_t{});
    case 4: return run(uint32_t{});
    default: return run(uint64_t{});
  }
}

}  // namespace lazuli::cuda
