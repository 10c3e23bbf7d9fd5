// CPU: scans. Each line along the axis runs sequentially; lines run in parallel. A line
// that is contiguous (the axis is last) is scanned on its own; otherwise blocks of
// neighbouring lines are scanned together, one step of the axis at a time.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "lazuli/backend/cpu/accumulate.h"
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives.h"

namespace lazuli {
using namespace cpu;

namespace {

template <typename A>
constexpr bool is_float_v = std::is_floating_point_v<A>;

template <typename Op, typename T>
void scan_lines(const array& in, array& out, int axis, bool reverse, bool inclusive) {
  using A = compute_t<T>;
  Shape line_shape = in.shape();
  line_shape[axis] = 1;
  const int64_t len = in.shape()[axis];
  const int64_t in_step = in.strides()[axis], out_step = out.strides()[axis];
  const T* px = static_cast<const T*>(const_cast<array&>(in).raw_data());
  T* po = static_cast<T*>(out.raw_data());
  // Position i of the scan order is element idx(i) of the line.
  auto idx = [&](int64_t i) { return reverse ? len - 1 - i : i; };
  // Lines [k0, k1) of a run whose first line starts at (x, o) and whose lines step by
  // (xs, os).
  auto lines = [&](const T* x, T* o, int64_t xs, int64_t os, int64_t k0, int64_t k1) {
    if (in_step == 1 && out_step == 1) {  // contiguous lines: one at a time
      for (int64_t k = k0; k < k1; ++k) {
        const T* xl = x + k * xs;
        T* ol = o + k * os;
        A acc = Op::template init<A>();
        for (int64_t i = 0; i < len; ++i) {
          int64_t j = idx(i);
          A v = cast_value<A>(xl[j]);
          if (inclusive) acc = Op::combine(acc, v), ol[j] = cast_value<T>(acc);
          else ol[j] = cast_value<T>(acc), acc = Op::combine(acc, v);
        }
      }
      return;
    }
    // Strided lines: a block of neighbouring lines advances together, one step of the
    // axis at a time, so reads and writes stream through memory.
    constexpr int64_t kBlock = 2048;
    A acc[kBlock];
    for (int64_t b = k0; b < k1; b += kBlock) {
      int64_t m = std::min(kBlock, k1 - b);
      std::fill(acc, acc + m, Op::template init<A>());
      for (int64_t i = 0; i < len; ++i) {
        int64_t j = idx(i);
        const T* xr = x + j * in_step + b * xs;
        T* orow = o + j * out_step + b * os;
        for (int64_t k = 0; k < m; ++k) {
          A v = cast_value<A>(xr[k * xs]);
          if (inclusive) acc[k] = Op::combine(acc[k], v), orow[k * os] = cast_value<T>(acc[k]);
          else orow[k * os] = cast_value<T>(acc[k]), acc[k] = Op::combine(acc[k], v);
        }
      }
    }
  };
  const int64_t total_lines = static_cast<int64_t>(in.size()) / len;
  const int64_t grain = std::max<int64_t>(1, kGrain / len);
  for_each_run<2>(line_shape, {&out.strides(), &in.strides()}, [&](auto off, auto st, int64_t n) {
    const T* x = px + off[1];
    T* o = po + off[0];
    // One run holding every line runs on the calling thread: split it across the cores,
    // one long chunk each (long rows of neighbouring lines stream best).
    if (n == total_lines && n > 1)
      parallel_for(n, std::max<int64_t>(grain, (n + thread_count() - 1) / thread_count()),
                   [&](int64_t b, int64_t e) { lines(x, o, st[1], st[0], b, e); });
    else
      lines(x, o, st[1], st[0], 0, n);
  });
}

}  // namespace

void Scan::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const array& in = inputs[0];
  array& out = outputs[0];
  allocate(out);
  if (in.size() == 0) return;
  dispatch_dtype(in.dtype(), [&](auto t) {
    using T = decltype(t);
    using A = compute_t<T>;
    auto run = [&](auto op) { scan_lines<decltype(op), T>(in, out, axis_, reverse_, inclusive_); };
    switch (op_) {
      case ScanOp::Sum: return run(SumOp{});
      case ScanOp::Prod: return run(ProdOp{});
      default: break;
    }
    if constexpr (is_complex_type<T>::value) {
      throw std::invalid_argument("[" + name() + "] complex64 inputs cannot be ordered.");
    } else {
      switch (op_) {
        case ScanOp::Max: return run(MaxOp{});
        case ScanOp::Min: return run(MinOp{});
        case ScanOp::LogAddExp:
          if constexpr (is_float_v<A>) return run(LogAddExpOp{});
          else throw std::invalid_argument("[" + name() + "] needs a floating-point input.");
        default: break;
      }
    }
  });
}

}  // namespace lazuli
