// CPU: the general gather and scatter (Gather, ScatterSlices). Each index tuple names a
// window of the source; windows are copied as runs of contiguous elements. Every index is
// checked against its axis first: an out-of-range one raises instead of reading or writing
// outside the buffer.
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>

#include "lazuli/backend/common/scatter.h"
#include "lazuli/backend/cpu/index_util.h"
#include "lazuli/primitives/indexing.h"

namespace lazuli {
using namespace cpu;

namespace {

Strides row_strides(const Shape& shape) {
  Strides st(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * shape[d + 1];
  return st;
}

// The element offset in `shape` (row-major) where each index tuple's window starts, after
// checking that the window fits: an index i on an axis of size dim with window w is valid
// in [-dim, dim - w] (negatives count from the end).
std::vector<int64_t> window_starts(const std::vector<array>& indices, const std::vector<int>& axes,
                                   const Shape& shape, const Shape& window, const char* op) {
  size_t n = indices.empty() ? 1 : indices[0].size();
  std::vector<int64_t> starts(n, 0);
  Strides st = row_strides(shape);
  for (size_t k = 0; k < indices.size(); ++k) {
    array idx = row_major(indices[k]);
    int64_t dim = shape[axes[k]], hi = dim - window[axes[k]], stride = st[axes[k]];
    std::atomic<int64_t> bad{-1};
    dispatch_dtype(idx.dtype(), [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_integral_v<T>) {
        const T* p = static_cast<const T*>(idx.raw_data());
        parallel_for(static_cast<int64_t>(n), kGrain, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            int64_t v = wrap_index(p[i], dim);
            if (v < 0 || v > hi) {
              int64_t expected = -1;
              bad.compare_exchange_strong(expected, i);
              return;
            }
            starts[i] += v * stride;
          }
        });
        if (int64_t i = bad.load(); i >= 0) {
          std::string range = hi == dim - 1 ? "" : " (a window of " + std::to_string(dim - hi) + " must fit)";
          throw std::out_of_range(std::string("[") + op + "] Index " + std::to_string(p[i]) +
                                  " is out of bounds for axis " + std::to_string(axes[k]) + " with size " +
                                  std::to_string(dim) + range + ".");
        }
      }
    });
  }
  return starts;
}

// A window as `count` runs of `run` contiguous elements; run_offsets[r] is where run r
// starts relative to the window's first element (in a row-major array of `shape`).
struct Runs {
  int64_t run = 1;
  std::vector<int64_t> offsets;
};
Runs window_runs(const Shape& shape, const Shape& window) {
  int nd = static_cast<int>(shape.size());
  Runs r;
  int d = nd;  // dims [d, nd) form one contiguous run
  while (d > 0) {
    r.run *= window[d - 1];
    --d;
    if (window[d] != shape[d]) break;
  }
  Strides st = row_strides(shape);
  r.offsets.push_back(0);
  for (int e = d - 1; e >= 0; --e) {  // outer window dims, innermost first
    size_t m = r.offsets.size();
    std::vector<int64_t> grown;
    grown.reserve(m * window[e]);
    for (int32_t i = 0; i < window[e]; ++i)
      for (size_t j = 0; j < m; ++j) grown.push_back(i * st[e] + r.offsets[j]);
    r.offsets = std::move(grown);
  }
  return r;
}

template <typename U>
void gather_runs(const U* src, U* dst, const std::vector<int64_t>& starts, const Runs& runs) {
  int64_t per_window = static_cast<int64_t>(runs.offsets.size()), run = runs.run;
  int64_t total = static_cast<int64_t>(starts.size()) * per_window;
  parallel_for(total, std::max<int64_t>(1, kGrain / std::max<int64_t>(run, 1)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const U* from = src + starts[t / per_window] + runs.offsets[t % per_window];
      U* to = dst + t * run;
      if (run == 1) *to = *from;
      else std::memcpy(to, from, run * sizeof(U));
    }
  });
}

// One index array of whole-row windows (take along the first axis, x[idx] from Python):
// read each index in its own dtype where it is used, without a pass building window
// starts, and check it there. Returns false when the layout is not this one.
template <typename U, typename I>
void gather_rows_of(const U* src, U* dst, const I* p, int64_t n, int64_t dim, int64_t row, FirstBad& bad) {
  constexpr int64_t kPrefetch = 16;  // how far ahead a random element gather asks for its source
  // Captured by value: loads through the closure would repeat on every element.
  parallel_for(n, std::max<int64_t>(1, kGrain / std::max<int64_t>(row, 1)), [=, &bad](int64_t i0, int64_t i1) {
    if (row == 1) {
      for (int64_t i = i0; i < i1; ++i) {
        if (i + kPrefetch < i1) __builtin_prefetch(src + wrap_index(p[i + kPrefetch], dim));
        int64_t v = wrap_index(p[i], dim);
        if (!in_range(v, dim)) return bad.record(i);
        dst[i] = src[v];
      }
      return;
    }
    for (int64_t i = i0; i < i1; ++i) {
      int64_t v = wrap_index(p[i], dim);
      if (!in_range(v, dim)) return bad.record(i);
      std::memcpy(dst + i * row, src + v * row, row * sizeof(U));
    }
  });
}

bool gather_rows(array& a, const array& indices, const Shape& window, array& out) {
  for (size_t d = 1; d < window.size(); ++d)
    if (window[d] != a.shape()[d]) return false;
  if (window.empty() || window[0] != 1) return false;
  array idx = row_major(indices);
  int64_t n = static_cast<int64_t>(idx.size()), dim = a.shape()[0];
  int64_t row = static_cast<int64_t>(a.size() / std::max<int64_t>(dim, 1));
  FirstBad bad;
  dispatch_index(idx.dtype(), [&](auto t) {
    using I = decltype(t);
    dispatch_bits(a.itemsize(), [&](auto bits) {
      using U = decltype(bits);
      gather_rows_of(static_cast<const U*>(a.raw_data()), static_cast<U*>(out.raw_data()),
                     static_cast<const I*>(idx.raw_data()), n, dim, row, bad);
    });
  });
  if (int64_t i = bad.get(); i >= 0) raise_out_of_range("gather", index_text(idx, i), 0, dim);
  return true;
}


}  // namespace

void Gather::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array a = row_major(inputs[0]);
  auto& out = outputs[0];
  allocate(out);
  if (inputs.size() == 2 && axes_[0] == 0 && a.itemsize() <= 8 && gather_rows(a, inputs[1], slice_sizes_, out)) return;
  std::vector<array> indices(inputs.begin() + 1, inputs.end());
  auto starts = window_starts(indices, axes_, a.shape(), slice_sizes_, "gather");
  if (out.size() == 0) return;
  Runs runs = window_runs(a.shape(), slice_sizes_);
  dispatch_bits(a.itemsize(), [&](auto bits) {
    using U = decltype(bits);
    gather_runs(static_cast<const U*>(a.raw_data()), static_cast<U*>(out.raw_data()), starts, runs);
  });
}

void ScatterSlices::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  const array& src = inputs[0];
  // Updating in place when nobody else reads src (a KV cache written one step at a time
  // costs the update, not the cache).
  if (src.flags().row_contiguous && src.data_size() == src.size() && src.is_donatable()) {
    out.move_shared_buffer(src);
  } else {
    allocate(out);
    copy_to(src, out, out.strides(), 0);
  }
  array upd = row_major(inputs.back());
  int nd = static_cast<int>(out.ndim());
  Shape window(upd.shape().end() - nd, upd.shape().end());
  std::vector<array> indices(inputs.begin() + 1, inputs.end() - 1);
  auto starts = window_starts(indices, axes_, out.shape(), window, scatter_op_name(op_));
  if (upd.size() == 0) return;
  Runs runs = window_runs(out.shape(), window);
  int64_t per_window = static_cast<int64_t>(runs.offsets.size()), run = runs.run;
  dispatch_dtype(out.dtype(), [&](auto t) {
    using T = decltype(t);
    using C = compute_t<T>;
    T* o = static_cast<T*>(out.raw_data());
    const T* u = static_cast<const T*>(upd.raw_data());
    // Windows apply in index order (repeats combine in order; the last Set wins); the runs
    // of one window are disjoint, so they may split across cores.
    auto apply = [&](auto combine) {
      for (size_t w = 0; w < starts.size(); ++w) {
        T* base = o + starts[w];
        const T* src = u + static_cast<int64_t>(w) * per_window * run;
        parallel_for(per_window, std::max<int64_t>(1, kGrain / std::max<int64_t>(run, 1)), [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            T* dst = base + runs.offsets[r];
            const T* from = src + r * run;
            for (int64_t j = 0; j < run; ++j) dst[j] = combine(dst[j], from[j]);
          }
        });
      }
    };
    auto as = [](auto f) { return [f](T x, T y) { return static_cast<T>(f(static_cast<C>(x), static_cast<C>(y))); }; };
    switch (op_) {
      case ScatterOp::Set: return apply([](T, T y) { return y; });
      case ScatterOp::Add: return apply(as(math::Add{}));
      case ScatterOp::Prod: return apply(as(math::Multiply{}));
      case ScatterOp::Max:
        if constexpr (is_complex_type<T>::value) throw std::invalid_argument("[scatter_max] complex64 cannot be ordered.");
        else return apply(as(math::Maximum{}));
      case ScatterOp::Min:
        if constexpr (is_complex_type<T>::value) throw std::invalid_argument("[scatter_min] complex64 cannot be ordered.");
        else return apply(as(math::Minimum{}));
    }
  });
}

}  // namespace lazuli
