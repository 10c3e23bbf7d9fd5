// CUDA backend: elementwise kernels. One grid-stride kernel per (functor, element type)
// serves every layout: the host merges dimensions first, so dense and scalar-broadcast
// operands arrive as one dimension and take the path without divisions. Dense, aligned
// operands take a second kernel that moves 16 bytes per load, which memory bandwidth needs.
#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/elementwise.h"

namespace lazuli::cuda {
namespace {

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

// ---- the dense path: every operand contiguous (or one broadcast scalar), 16-byte aligned ----

template <typename T, int V> struct alignas(sizeof(T) * V) Pack {
  T v[V];
};
// Elements per thread: one 16-byte load of the input type.
template <typename S> constexpr int pack_of = sizeof(S) >= 16 ? 1 : int(16 / sizeof(S));

template <int V, typename S> __device__ Pack<S, V> load_pack(const S* p, int64_t i, bool scalar) {
  if (!scalar) return reinterpret_cast<const Pack<S, V>*>(p)[i];
  Pack<S, V> r;
#pragma unroll
  for (int k = 0; k < V; ++k) r.v[k] = p[0];
  return r;
}

template <typename Op, typename S, typename Out, int V>
__global__ void unary_dense_kernel(const S* src, Out* dst, int64_t n) {
  Op op;
  int64_t packs = n / V;
  LAZULI_GRID_STRIDE(i, packs) {
    Pack<S, V> x = load_pack<V>(src, i, false);
    Pack<Out, V> r;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = convert<Out>(op(load(x.v[k])));
    reinterpret_cast<Pack<Out, V>*>(dst)[i] = r;
  }
  LAZULI_GRID_STRIDE(j, n - packs * V) dst[packs * V + j] = convert<Out>(op(load(src[packs * V + j])));
}

template <typename Op, typename S, typename Out, int V>
__global__ void binary_dense_kernel(const S* a, const S* b, Out* dst, int64_t n, bool a_scalar, bool b_scalar) {
  Op op;
  int64_t packs = n / V;
  LAZULI_GRID_STRIDE(i, packs) {
    Pack<S, V> x = load_pack<V>(a, i, a_scalar), y = load_pack<V>(b, i, b_scalar);
    Pack<Out, V> r;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = convert<Out>(op(load(x.v[k]), load(y.v[k])));
    reinterpret_cast<Pack<Out, V>*>(dst)[i] = r;
  }
  LAZULI_GRID_STRIDE(j, n - packs * V) {
    int64_t i = packs * V + j;
    dst[i] = convert<Out>(op(load(a[a_scalar ? 0 : i]), load(b[b_scalar ? 0 : i])));
  }
}

// Whether operand k of `ix` can be read by the dense path: contiguous or one scalar, and
// aligned for loads of `bytes`.
template <int N> bool dense_operand(const Indexer<N>& ix, int k, const void* p, size_t bytes) {
  if (ix.ndim != 1) return false;
  if (ix.strides[k][0] == 0) return true;
  return ix.strides[k][0] == 1 && reinterpret_cast<uintptr_t>(p) % bytes == 0;
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
  dispatch_all(in, [&](auto v) {
    using S = decltype(v);
    if constexpr ((Op::kinds & math::kind_of<compute_t<S>>) != 0) {
      using Out = result_t<Op, S, S>;
      check_output<Out>(out, name);
      constexpr int V = pack_of<S>;
      if (dense_operand(ix, 0, src, sizeof(S) * V) && ix.strides[0][0] == 1)
        unary_dense_kernel<Op, S, Out, V>
            <<<blocks_for(n / V + 1), kThreads, 0, s>>>(static_cast<const S*>(src), static_cast<Out*>(dst), n);
      else
        unary_kernel<Op, S, Out><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const S*>(src),
                                                                     static_cast<Out*>(dst), n, ix);
      check_launch(name);
    } else {
      throw std::invalid_argument(std::string("[") + name + "] " + dtype_name(in) + " inputs are not supported.");
    }
  });
}

template <typename Op>
void binary_typed(const char* name, Dtype in, Dtype out, const void* a, const void* b, void* dst, int64_t n,
                  const Indexer<2>& ix, cudaStream_t s) {
  dispatch_all(in, [&](auto v) {
    using S = decltype(v);
    if constexpr ((Op::kinds & math::kind_of<compute_t<S>>) != 0) {
      using Out = result_t<Op, S, S, S>;
      check_output<Out>(out, name);
      constexpr int V = pack_of<S>;
      if (dense_operand(ix, 0, a, sizeof(S) * V) && dense_operand(ix, 1, b, sizeof(S) * V))
        binary_dense_kernel<Op, S, Out, V><<<blocks_for(n / V + 1), kThreads, 0, s>>>(
            static_cast<const S*>(a), static_cast<const S*>(b), static_cast<Out*>(dst), n, ix.strides[0][0] == 0,
            ix.strides[1][0] == 0);
      else
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
  if (in == out && ix.ndim == 1 && ix.strides[0][0] == 1) {  // a dense copy
    check_cuda(cudaMemcpyAsync(dst, src, n * in.size, cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync");
    return;
  }
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
  dispatch_all(in, [&](auto i) {
    dispatch_all(out, [&](auto o) {
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
