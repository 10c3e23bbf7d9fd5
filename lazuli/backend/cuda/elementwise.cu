// CUDA backend: elementwise kernels. One grid-stride kernel per (functor, element type)
// serves every layout: the host merges dimensions first, so dense and scalar-broadcast
// operands arrive as one dimension and take the path without divisions.
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
