// CPU: gather (Take) and scatter along an axis. Indices are checked against the axis: an
// out-of-range index raises instead of reading or writing outside the buffer.
#include <cstring>
#include <stdexcept>
#include <string>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives.h"

namespace lazuli {
using namespace cpu;

namespace {

// A row-major copy of `a` (or `a` itself when it already is one).
array row_major(const array& a) {
  if (a.flags().row_contiguous && a.data_size() == a.size()) return a;
  array c(a.shape(), a.dtype(), nullptr, {});
  allocate(c);
  copy_to(a, c, c.strides(), 0);
  return c;
}

// Indices as int64 with negatives wrapped, after checking every one against `dim`.
std::vector<int64_t> checked_indices(const array& indices, int64_t dim, int axis, const char* op) {
  array idx = row_major(indices);
  std::vector<int64_t> out(idx.size());
  dispatch_dtype(idx.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_integral_v<T>) {
      const T* p = static_cast<const T*>(idx.raw_data());
      for (size_t i = 0; i < out.size(); ++i) {
        int64_t v = static_cast<int64_t>(p[i]);
        if (v < -dim || v >= dim)
          throw std::out_of_range(std::string("[") + op + "] Index " + std::to_string(v) +
                                  " is out of bounds for axis " + std::to_string(axis) + " with size " +
                                  std::to_string(dim) + ".");
        out[i] = v < 0 ? v + dim : v;
      }
    }
  });
  return out;
}

struct Blocks {
  int64_t outer = 1, dim = 1, inner = 1;  // a viewed as (outer, dim, inner)
};
Blocks blocks(const Shape& shape, int axis) {
  Blocks b;
  for (int d = 0; d < axis; ++d) b.outer *= shape[d];
  b.dim = shape[axis];
  for (size_t d = axis + 1; d < shape.size(); ++d) b.inner *= shape[d];
  return b;
}

template <typename T, typename F>
void scatter_rows(T* out, const T* upd, const std::vector<int64_t>& idx, const Blocks& b, F combine) {
  int64_t n = static_cast<int64_t>(idx.size());
  // Outer blocks are independent; within one, indices apply in order (repeats combine).
  parallel_for(b.outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(n * b.inner, 1)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t j = 0; j < n; ++j) {
        T* dst = out + (o * b.dim + idx[j]) * b.inner;
        const T* src = upd + (o * n + j) * b.inner;
        for (int64_t k = 0; k < b.inner; ++k) dst[k] = combine(dst[k], src[k]);
      }
  });
}

}  // namespace

void Take::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array a = row_major(inputs[0]);
  auto& out = outputs[0];
  allocate(out);
  Blocks b = blocks(a.shape(), axis_);
  auto idx = checked_indices(inputs[1], b.dim, axis_, "take");
  if (out.size() == 0) return;
  int64_t n = static_cast<int64_t>(idx.size()), row = b.inner * static_cast<int64_t>(a.itemsize());
  const char* src = static_cast<const char*>(a.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  parallel_for(b.outer * n, std::max<int64_t>(1, kGrain / std::max<int64_t>(b.inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t o = r / n, j = r % n;
      std::memcpy(dst + r * row, src + (o * b.dim + idx[j]) * row, row);
    }
  });
}

void Scatter::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  allocate(out);
  copy_to(inputs[0], out, out.strides(), 0);
  Blocks b = blocks(out.shape(), axis_);
  auto idx = checked_indices(inputs[1], b.dim, axis_, name().c_str());
  array upd = row_major(inputs[2]);
  if (upd.size() == 0) return;
  dispatch_dtype(out.dtype(), [&](auto t) {
    using T = decltype(t);
    using C = compute_t<T>;
    T* o = static_cast<T*>(out.raw_data());
    const T* u = static_cast<const T*>(upd.raw_data());
    auto as = [](auto f) { return [f](T x, T y) { return static_cast<T>(f(static_cast<C>(x), static_cast<C>(y))); }; };
    switch (op_) {
      case ScatterOp::Set: return scatter_rows(o, u, idx, b, [](T, T y) { return y; });
      case ScatterOp::Add: return scatter_rows(o, u, idx, b, as(math::Add{}));
      case ScatterOp::Prod: return scatter_rows(o, u, idx, b, as(math::Multiply{}));
      case ScatterOp::Max:
        if constexpr (is_complex_type<T>::value) throw std::invalid_argument("[scatter_max] complex64 cannot be ordered.");
        else return scatter_rows(o, u, idx, b, as(math::Maximum{}));
      case ScatterOp::Min:
        if constexpr (is_complex_type<T>::value) throw std::invalid_argument("[scatter_min] complex64 cannot be ordered.");
        else return scatter_rows(o, u, idx, b, as(math::Minimum{}));
    }
  });
}

}  // namespace lazuli
