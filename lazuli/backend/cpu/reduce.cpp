// CPU: reductions. The input is viewed as (outer, reduced, inner) blocks: a row reduction
// when inner is 1, a column reduction (rows accumulated into a vector) otherwise. Layouts
// that are neither are first copied so the reduced axes come last.
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

#include "lazuli/backend/common/blocks.h"
#include "lazuli/backend/cpu/accumulate.h"
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives/reduce.h"
#include "lazuli/primitives.h"

namespace lazuli {
using namespace cpu;

namespace {

// Sums accumulate 16-bit floats in float and float32 in float within a block, blocks in
// double, so a long sum keeps float32 accuracy.
template <typename T> using acc_t = std::conditional_t<is_half_type<T>::value, float, T>;

// Sum of n contiguous floats with 32 independent lanes, so the vector adds pipeline
// instead of waiting on one accumulator.
template <typename T>
float sum_lanes(const T* x, int64_t n) {
  constexpr int L = 32;
  float acc[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
#pragma omp simd
    for (int j = 0; j < L; ++j) acc[j] += static_cast<float>(x[i + j]);
  float total = 0;
  for (; i < n; ++i) total += static_cast<float>(x[i]);
  for (int j = 0; j < L; ++j) total += acc[j];
  return total;
}

// Max or min of n contiguous values with 16 independent lanes (vector compares and
// blends). A NaN sticks in its lane: neither comparison below replaces it.
template <typename Op, typename T>
T minmax_lanes(const T* x, int64_t n) {
  constexpr int L = 16;
  constexpr bool is_max = std::is_same_v<Op, MaxOp>;
  T acc[L];
  for (int j = 0; j < L; ++j) acc[j] = Op::template init<T>();
  int64_t i = 0;
  for (; i + L <= n; i += L)
#pragma omp simd
    for (int j = 0; j < L; ++j) {
      T v = x[i + j];
      bool take = is_max ? v > acc[j] : v < acc[j];
      if constexpr (std::is_floating_point_v<T>) take = take || v != v;
      acc[j] = take ? v : acc[j];
    }
  T total = Op::template init<T>();
  for (int j = 0; j < L; ++j) total = Op::combine(total, acc[j]);
  for (; i < n; ++i) total = Op::combine(total, x[i]);
  return total;
}

// Reduces n contiguous values.
template <typename Op, typename A, typename T>
A reduce_row(const T* x, int64_t n) {
  if constexpr ((std::is_same_v<Op, MaxOp> || std::is_same_v<Op, MinOp>) && std::is_same_v<A, T> &&
                std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    return minmax_lanes<Op>(x, n);
  } else if constexpr (std::is_same_v<Op, SumOp> && std::is_same_v<A, float>) {
    // Float sums: lanes within blocks of 4096, blocks in double, for float32 accuracy on
    // long rows.
    double total = 0;
    for (int64_t b = 0; b < n; b += 4096) total += sum_lanes(x + b, std::min<int64_t>(4096, n - b));
    return static_cast<A>(total);
  } else if constexpr (std::is_same_v<Op, SumOp> && std::is_arithmetic_v<A>) {
    A acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; ++i) acc += static_cast<A>(x[i]);
    return acc;
  } else {
    A acc = Op::template init<A>();
    for (int64_t i = 0; i < n; ++i) acc = Op::combine(acc, cast_value<A>(x[i]));
    return acc;
  }
}

template <typename Op, typename T, typename Out>
void reduce_blocks(const T* x, Out* out, int64_t outer, int64_t red, int64_t inner) {
  using A = std::conditional_t<std::is_same_v<Out, bool>, bool, acc_t<Out>>;
  if (inner == 1) {
    if (outer == 1) {
      // One long row: every core takes a part, then the parts combine.
      int nt = std::max<int64_t>(1, std::min<int64_t>(thread_count(), red / kGrain));
      std::unique_ptr<A[]> parts(new A[nt]);  // not std::vector: vector<bool> packs bits
      std::fill(parts.get(), parts.get() + nt, Op::template init<A>());
      parallel_for(nt, 1, [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p)
          parts[p] = reduce_row<Op, A>(x + red * p / nt, red * (p + 1) / nt - red * p / nt);
      });
      A acc = Op::template init<A>();
      for (int p = 0; p < nt; ++p) acc = Op::combine(acc, parts[p]);
      out[0] = cast_value<Out>(acc);
      return;
    }
    parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(red, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) out[o] = cast_value<Out>(reduce_row<Op, A>(x + o * red, red));
    });
    return;
  }
  // Column reduction: rows of `inner` values are accumulated into a vector. Rows stream
  // through memory in order; the cores split the outer blocks or, when there are too few,
  // the rows, each into a partial vector that is combined at the end.
  auto accumulate = [&](const T* base, int64_t rows, A* a) {
    int64_t r = 0;
    if constexpr (std::is_same_v<Op, SumOp> && std::is_arithmetic_v<A>) {
      for (; r + 4 <= rows; r += 4) {  // four rows per pass: fewer accumulator loads/stores
        const T* r0 = base + r * inner;
        const T *r1 = r0 + inner, *r2 = r1 + inner, *r3 = r2 + inner;
#pragma omp simd
        for (int64_t c = 0; c < inner; ++c)
          a[c] += (static_cast<A>(r0[c]) + static_cast<A>(r1[c])) + (static_cast<A>(r2[c]) + static_cast<A>(r3[c]));
      }
    }
    for (; r < rows; ++r) {
      const T* row = base + r * inner;
      for (int64_t c = 0; c < inner; ++c) a[c] = Op::combine(a[c], cast_value<A>(row[c]));
    }
  };
  auto fresh = [&] {
    std::unique_ptr<A[]> acc(new A[inner]);
    std::fill(acc.get(), acc.get() + inner, Op::template init<A>());
    return acc;
  };
  int64_t parts = std::min<int64_t>(thread_count(), red * inner / kGrain);
  if (outer >= thread_count() || parts <= 1) {
    parallel_for(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(red * inner, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        auto acc = fresh();
        accumulate(x + o * red * inner, red, acc.get());
        for (int64_t c = 0; c < inner; ++c) out[o * inner + c] = cast_value<Out>(acc[c]);
      }
    });
    return;
  }
  for (int64_t o = 0; o < outer; ++o) {
    std::vector<std::unique_ptr<A[]>> partial(parts);
    parallel_for(parts, 1, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        int64_t r0 = red * p / parts, r1 = red * (p + 1) / parts;
        partial[p] = fresh();
        accumulate(x + (o * red + r0) * inner, r1 - r0, partial[p].get());
      }
    });
    for (int64_t c = 0; c < inner; ++c) {
      A v = partial[0][c];
      for (int64_t p = 1; p < parts; ++p) v = Op::combine(v, partial[p][c]);
      out[o * inner + c] = cast_value<Out>(v);
    }
  }
}

template <typename Op, typename In, typename Out>
void run(const array& in, array& out, int64_t outer, int64_t red, int64_t inner) {
  const In* x = static_cast<const In*>(const_cast<array&>(in).raw_data());
  Out* o = static_cast<Out*>(out.raw_data());
  if (red == 0) {
    std::fill(o, o + out.size(), cast_value<Out>(Op::template init<acc_t<Out>>()));
    return;
  }
  reduce_blocks<Op, In, Out>(x, o, outer, red, inner);
}

// The reduction over a row-major input, with the axes in `axes`, as (outer, red, inner).
bool as_blocks(const Shape& shape, const std::vector<int>& axes, int64_t& outer, int64_t& red, int64_t& inner) {
  std::vector<bool> reduced(shape.size(), false);
  for (int a : axes) reduced[a] = true;
  return lazuli::as_blocks(shape, reduced, outer, red, inner);
}

}  // namespace

void Reduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array in = inputs[0];
  auto& out = outputs[0];
  allocate(out);
  int64_t outer, red, inner;
  if (!in.flags().row_contiguous || in.data_size() != in.size() || !as_blocks(in.shape(), axes_, outer, red, inner)) {
    // Copy with the kept axes first and the reduced axes last: a row reduction.
    std::vector<int> perm;
    for (int d = 0; d < static_cast<int>(in.ndim()); ++d)
      if (std::find(axes_.begin(), axes_.end(), d) == axes_.end()) perm.push_back(d);
    for (int a : axes_) perm.push_back(a);
    Shape pshape;
    Strides pstrides;
    for (int d : perm) pshape.push_back(in.shape()[d]), pstrides.push_back(in.strides()[d]);
    array tmp(pshape, in.dtype(), nullptr, {});
    allocate(tmp);
    array view(pshape, in.dtype(), nullptr, {});
    view.copy_shared_buffer(in, pstrides, layout_flags(pshape, pstrides), in.data_size(), 0);
    copy_to(view, tmp, tmp.strides(), 0);
    in = tmp;
    red = 1;
    for (int a : axes_) red *= inputs[0].shape()[a];
    inner = 1;
    outer = red ? in.size() / red : out.size();
  }
  auto dispatch = [&](auto op) {
    using Op = decltype(op);
    dispatch_dtype(in.dtype(), [&](auto i) {
      using In = decltype(i);
      if constexpr (std::is_same_v<Op, AndOp> || std::is_same_v<Op, OrOp>) {
        run<Op, In, bool>(in, out, outer, red, inner);
      } else if constexpr ((std::is_same_v<Op, MaxOp> || std::is_same_v<Op, MinOp>) && is_complex_type<In>::value) {
        throw std::invalid_argument("[" + name() + "] complex64 inputs cannot be ordered.");
      } else {
        run<Op, In, In>(in, out, outer, red, inner);
      }
    });
  };
  switch (op_) {
    case ReduceOp::Sum: return dispatch(SumOp{});
    case ReduceOp::Prod: return dispatch(ProdOp{});
    case ReduceOp::Max: return dispatch(MaxOp{});
    case ReduceOp::Min: return dispatch(MinOp{});
    case ReduceOp::And: return dispatch(AndOp{});
    case ReduceOp::Or: return dispatch(OrOp{});
  }
}

void ArgReduce::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  allocate(out);
  // Walk each output position's line along the axis through the input's own strides.
  Shape line_shape = in.shape();
  line_shape[axis_] = 1;
  Strides in_st = in.strides();
  int64_t len = in.shape()[axis_], step = in.strides()[axis_];
  uint32_t* po = static_cast<uint32_t*>(out.raw_data());
  dispatch_dtype(in.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr (is_complex_type<T>::value) {
      throw std::invalid_argument("[" + name() + "] complex64 inputs cannot be ordered.");
    } else {
      using C = compute_t<T>;
      const T* px = static_cast<const T*>(const_cast<array&>(in).raw_data());
      bool want_max = op_ == ArgReduceOp::ArgMax;
      for_each_run<2>(line_shape, {&out.strides(), &in_st}, [&](auto off, auto st, int64_t n) {
        for (int64_t k = 0; k < n; ++k) {
          const T* x = px + off[1] + k * st[1];
          C best = static_cast<C>(x[0]);
          uint32_t arg = 0;
          for (int64_t i = 1; i < len; ++i) {
            C v = static_cast<C>(x[i * step]);
            if constexpr (std::is_floating_point_v<C>)
              if (best != best) break;  // the first NaN is the answer
            bool better = want_max ? (v > best) : (v < best);
            if constexpr (std::is_floating_point_v<C>) better = better || (v != v);
            if (better) best = v, arg = static_cast<uint32_t>(i);
          }
          po[off[0] + k * st[0]] = arg;
        }
      });
    }
  });
}

void NumberOfElements::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  allocate(out);
  double v = value(inputs[0].shape());
  dispatch_dtype(out.dtype(), [&](auto t) {
    using T = decltype(t);
    *static_cast<T*>(out.raw_data()) = cast_value<T>(v);
  });
}

}  // namespace lazuli
