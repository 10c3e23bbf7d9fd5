// CPU: gather (Take) and scatter along an axis. Indices are read in their own dtype where
// they are used and checked there: an out-of-range index raises (after the pass) instead of
// reading or writing outside the buffer.
#include <cstring>
#include <stdexcept>
#include <string>

#include "lazuli/backend/common/blocks.h"
#include "lazuli/backend/cpu/index_util.h"
#include "lazuli/primitives.h"

namespace lazuli {
using namespace cpu;

namespace {


// How far ahead a random gather prefetches its source element.
constexpr int64_t kPrefetch = 16;
// The shortest row (in elements) a scatter splits its destination range for.
constexpr int64_t kMinSplitRow = 64;

// out[o, j, :] = src[o, idx[j], :] for the rows r = o * n + j in [0, outer * n).
template <typename U, typename I>
void take_rows(const U* src, U* dst, const I* idx, int64_t n, const Blocks& b, FirstBad& bad) {
  int64_t dim = b.dim, inner = b.inner, plane = dim * inner;
  // Captured by value: loads through the closure would repeat on every element.
  parallel_for(b.outer * n, std::max<int64_t>(1, kGrain / inner), [=, &bad](int64_t r0, int64_t r1) {
    int64_t o = r0 / n, j = r0 % n;
    const U* base = src + o * plane;
    if (inner == 1 && b.outer == 1) {
      // Random single elements: the source reads miss cache, so ask for them early.
      for (int64_t r = r0; r < r1; ++r) {
        if (r + kPrefetch < r1) __builtin_prefetch(src + wrap_index(idx[r + kPrefetch], dim));
        int64_t v = wrap_index(idx[r], dim);
        if (!in_range(v, dim)) return bad.record(r);
        dst[r] = src[v];
      }
      return;
    }
    for (int64_t r = r0; r < r1; ++r) {
      int64_t v = wrap_index(idx[j], dim);
      if (!in_range(v, dim)) return bad.record(j);
      if (inner == 1) dst[r] = base[v];
      else std::memcpy(dst + r * inner, base + v * inner, inner * sizeof(U));
      if (++j == n) j = 0, base += plane;
    }
  });
}

// Applies the updates upd[o, j, :] of one outer block o whose index lands in [lo, lo + width)
// to out[o, idx[j], :], in index order (repeats combine in order, the last Set wins).
template <typename T, typename I, typename F>
void scatter_block(T* out, const T* upd, const I* idx, int64_t n, const Blocks& b, int64_t o, uint64_t lo,
                   uint64_t width, F combine, FirstBad& bad) {
  int64_t dim = b.dim, inner = b.inner;
  out += o * dim * inner;
  upd += o * n * inner;
  if (inner == 1) {
    // Random single elements: the destination reads miss cache, so ask for them early.
    for (int64_t j = 0; j < n; ++j) {
      if (j + kPrefetch < n) __builtin_prefetch(out + wrap_index(idx[j + kPrefetch], dim));
      int64_t v = wrap_index(idx[j], dim);
      if (!in_range(v, dim)) return bad.record(j);
      if (static_cast<uint64_t>(v) - lo < width) out[v] = combine(out[v], upd[j]);
    }
    return;
  }
  for (int64_t j = 0; j < n; ++j) {
    int64_t v = wrap_index(idx[j], dim);
    if (!in_range(v, dim)) return bad.record(j);
    if (static_cast<uint64_t>(v) - lo >= width) continue;
    T* dst = out + v * inner;
    const T* src = upd + j * inner;
    for (int64_t k = 0; k < inner; ++k) dst[k] = combine(dst[k], src[k]);
  }
}

template <typename T, typename I, typename F>
void scatter_rows(T* out, const T* upd, const I* idx, int64_t n, const Blocks& b, F combine, FirstBad& bad) {
  int64_t parts = thread_count();
  // Splitting the destination range makes every core scan all the indices, with an
  // unpredictable branch on each: that pays only when each index moves a long row (single
  // elements measured 4x slower split in two than on one core).
  if (b.outer >= parts || b.outer * n * b.inner < kGrain || b.dim < parts || b.inner < kMinSplitRow) {
    // Outer blocks are independent: split them over the cores.
    int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(n * b.inner, 1));
    parallel_for(b.outer, grain, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) scatter_block(out, upd, idx, n, b, o, 0, b.dim, combine, bad);
    });
    return;
  }
  // Few outer blocks: split the destination axis into ranges instead. Each range scans all
  // the indices in order and applies those landing in it, so no two cores write one element
  // and repeated indices still combine in order.
  run_chunks(b.outer * parts, [&](int64_t c) {
    int64_t o = c / parts, p = c % parts;
    int64_t lo = b.dim * p / parts, hi = b.dim * (p + 1) / parts;
    scatter_block(out, upd, idx, n, b, o, lo, hi - lo, combine, bad);
  });
}

// Raises for the first index of `idx` outside [-dim, dim) (for outputs too empty to touch
// any index while gathering).
void check_all(array idx, int64_t dim, int axis, const char* op) {
  dispatch_index(idx.dtype(), [&](auto t) {
    using I = decltype(t);
    const I* p = static_cast<const I*>(idx.raw_data());
    for (size_t i = 0; i < idx.size(); ++i)
      if (!in_range(wrap_index(p[i], dim), dim)) raise_out_of_range(op, index_text(idx, i), axis, dim);
  });
}

}  // namespace

void Take::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array a = row_major(inputs[0]);
  array idx = row_major(inputs[1]);
  auto& out = outputs[0];
  allocate(out);
  Blocks b = blocks(a.shape(), axis_);
  if (out.size() == 0) return check_all(idx, b.dim, axis_, "take");
  int64_t n = static_cast<int64_t>(idx.size());
  FirstBad bad;
  dispatch_index(idx.dtype(), [&](auto i) {
    using I = decltype(i);
    dispatch_bits(a.itemsize(), [&](auto bits) {
      using U = decltype(bits);
      take_rows(static_cast<const U*>(a.raw_data()), static_cast<U*>(out.raw_data()),
                static_cast<const I*>(idx.raw_data()), n, b, bad);
    });
  });
  if (int64_t j = bad.get(); j >= 0) raise_out_of_range("take", index_text(idx, j), axis_, b.dim);
}

void Scatter::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  allocate(out);
  copy_to(inputs[0], out, out.strides(), 0);
  Blocks b = blocks(out.shape(), axis_);
  array idx = row_major(inputs[1]);
  array upd = row_major(inputs[2]);
  if (upd.size() == 0) return check_all(idx, b.dim, axis_, name().c_str());
  // Indices of int32 and int64 are read as they are; rarer index dtypes are widened first
  // (keeping the kernel's instantiations to two index types).
  if (idx.dtype() != int32 && idx.dtype() != int64) {
    array wide(idx.shape(), int64, nullptr, {});
    allocate(wide);
    int64_t* w = static_cast<int64_t*>(wide.raw_data());
    dispatch_index(idx.dtype(), [&](auto t) {
      using I = decltype(t);
      const I* p = static_cast<const I*>(idx.raw_data());
      for (size_t i = 0; i < idx.size(); ++i) {
        int64_t v = wrap_index(p[i], b.dim);
        if (!in_range(v, b.dim)) raise_out_of_range(name().c_str(), index_text(idx, i), axis_, b.dim);
        w[i] = v;
      }
    });
    idx = wide;
  }
  int64_t n = static_cast<int64_t>(idx.size());
  FirstBad bad;
  auto run = [&](const auto* ix) {
    dispatch_dtype(out.dtype(), [&](auto t) {
      using T = decltype(t);
      using C = compute_t<T>;
      T* o = static_cast<T*>(out.raw_data());
      const T* u = static_cast<const T*>(upd.raw_data());
      auto as = [](auto f) { return [f](T x, T y) { return static_cast<T>(f(static_cast<C>(x), static_cast<C>(y))); }; };
      switch (op_) {
        case ScatterOp::Set: return scatter_rows(o, u, ix, n, b, [](T, T y) { return y; }, bad);
        case ScatterOp::Add: return scatter_rows(o, u, ix, n, b, as(math::Add{}), bad);
        case ScatterOp::Prod: return scatter_rows(o, u, ix, n, b, as(math::Multiply{}), bad);
        case ScatterOp::Max:
          if constexpr (is_complex_type<T>::value) throw std::invalid_argument("[scatter_max] complex64 cannot be ordered.");
          else return scatter_rows(o, u, ix, n, b, as(math::Maximum{}), bad);
        case ScatterOp::Min:
          if constexpr (is_complex_type<T>::value) throw std::invalid_argument("[scatter_min] complex64 cannot be ordered.");
          else return scatter_rows(o, u, ix, n, b, as(math::Minimum{}), bad);
      }
    });
  };
  if (idx.dtype() == int32) run(static_cast<const int32_t*>(idx.raw_data()));
  else run(static_cast<const int64_t*>(idx.raw_data()));
  if (int64_t j = bad.get(); j >= 0) raise_out_of_range(name().c_str(), index_text(idx, j), axis_, b.dim);
}

}  // namespace lazuli
