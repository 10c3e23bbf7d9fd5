// CPU: binary elementwise ops and select. Broadcasting never materialises: a broadcast
// input is read with stride 0, and the inner loop is specialised for the common strides.
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives.h"

namespace lazuli {
using namespace cpu;

namespace {

// Both inputs dense with the same layout as each other and the output shape.
bool same_dense_layout(const array& a, const array& b) {
  return a.flags().contiguous && b.flags().contiguous && a.shape() == b.shape() &&
         a.strides() == b.strides() && a.data_size() == a.size() && b.data_size() == b.size();
}

template <typename Op, typename T>
void binary_kernel(const array& a, const array& b, array& out) {
  using C = compute_t<T>;
  using R = decltype(Op{}(C{}, C{}));
  using Out = std::conditional_t<std::is_same_v<R, C>, T, R>;
  const T* pa = static_cast<const T*>(const_cast<array&>(a).raw_data());
  const T* pb = static_cast<const T*>(const_cast<array&>(b).raw_data());
  Op op;
  auto f = [op](T x, T y) { return static_cast<Out>(op(static_cast<C>(x), static_cast<C>(y))); };

  if (same_dense_layout(a, b) && a.shape() == out.shape()) {
    if (!(b.is_donatable() && sizeof(Out) == sizeof(T) && allocate_like(b, out))) allocate_like(a, out);
    Out* o = static_cast<Out*>(out.raw_data());
    parallel_for(a.size(), kGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) o[i] = f(pa[i], pb[i]);
    });
    return;
  }
  allocate(out);
  Out* po = static_cast<Out*>(out.raw_data());
  Strides sa = broadcast_strides(a, out.shape()), sb = broadcast_strides(b, out.shape());
  for_each_run<3>(out.shape(), {&out.strides(), &sa, &sb}, [&](auto off, auto st, int64_t n) {
    Out* o = po + off[0];
    const T* x = pa + off[1];
    const T* y = pb + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
      T yv = *y;
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
      T xv = *x;
      for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
    }
  });
}

template <typename Op>
void run_binary(const array& a, const array& b, array& out, const char* name) {
  dispatch_dtype(a.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr ((Op::kinds & kind_of_v<T>) != 0) {
      binary_kernel<Op, T>(a, b, out);
    } else {
      throw std::invalid_argument(std::string("[") + name + "] " + dtype_name(a.dtype()) + " inputs are not supported.");
    }
  });
}

}  // namespace

void Binary::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  switch (op_) {
#define LAZULI_BINARY_CASE(Name, opname) \
  case BinaryOp::Name: return run_binary<math::Name>(inputs[0], inputs[1], outputs[0], #opname);
    LAZULI_BINARY_OPS(LAZULI_BINARY_CASE)
#undef LAZULI_BINARY_CASE
  }
}

void DivMod::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& a = inputs[0];
  auto& b = inputs[1];
  auto& q = outputs[0];
  auto& r = outputs[1];
  allocate(q);
  allocate(r);
  Strides sa = broadcast_strides(a, q.shape()), sb = broadcast_strides(b, q.shape());
  dispatch_dtype(a.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr ((math::FloorDivide::kinds & kind_of_v<T>) == 0) {
      throw std::invalid_argument("[divmod] " + dtype_name(a.dtype()) + " inputs are not supported.");
    } else {
      using C = compute_t<T>;
      const T* pa = static_cast<const T*>(const_cast<array&>(a).raw_data());
      const T* pb = static_cast<const T*>(const_cast<array&>(b).raw_data());
      T* pq = static_cast<T*>(q.raw_data());
      T* pr = static_cast<T*>(r.raw_data());
      for_each_run<3>(q.shape(), {&q.strides(), &sa, &sb}, [&](auto off, auto st, int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
          C x = static_cast<C>(pa[off[1] + i * st[1]]), y = static_cast<C>(pb[off[2] + i * st[2]]);
          pq[off[0] + i * st[0]] = static_cast<T>(math::FloorDivide{}(x, y));
          pr[off[0] + i * st[0]] = static_cast<T>(math::Remainder{}(x, y));
        }
      });
    }
  });
}

void Select::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  allocate(out);
  Strides sc = broadcast_strides(inputs[0], out.shape());
  Strides sx = broadcast_strides(inputs[1], out.shape());
  Strides sy = broadcast_strides(inputs[2], out.shape());
  const bool* pc = static_cast<const bool*>(const_cast<array&>(inputs[0]).raw_data());
  // Select only moves elements: dispatch on their width, not their type.
  auto run = [&](auto word) {
    using W = decltype(word);
    const W* px = static_cast<const W*>(const_cast<array&>(inputs[1]).raw_data());
    const W* py = static_cast<const W*>(const_cast<array&>(inputs[2]).raw_data());
    W* po = static_cast<W*>(out.raw_data());
    for_each_run<4>(out.shape(), {&out.strides(), &sc, &sx, &sy}, [&](auto off, auto st, int64_t n) {
      for (int64_t i = 0; i < n; ++i)
        po[off[0] + i * st[0]] = pc[off[1] + i * st[1]] ? px[off[2] + i * st[2]] : py[off[3] + i * st[3]];
    });
  };
  switch (out.itemsize()) {
    case 1: return run(uint8_t{});
    case 2: return run(uint16_t{});
    case 4: return run(uint32_t{});
    default: return run(uint64_t{});
  }
}

}  // namespace lazuli
