// CPU: unary elementwise ops. Dense inputs run as one flat loop (vectorised through
// Highway for the transcendental float functions); other layouts run by strided runs.
#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cpu/simd_math.h"
#include "lazuli/primitives.h"

namespace lazuli {
using namespace cpu;

namespace {

template <typename Op, typename T>
void unary_kernel(const array& in, array& out) {
  using C = compute_t<T>;
  using R = decltype(Op{}(C{}));
  // 16-bit floats compute in float and round back to their own type.
  using Out = std::conditional_t<std::is_same_v<R, C>, T, R>;
  const T* src = static_cast<const T*>(const_cast<array&>(in).raw_data());
  Op op;
  if (allocate_like(in, out)) {
    Out* dst = static_cast<Out*>(out.raw_data());
    parallel_for(in.data_size(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) dst[i] = static_cast<Out>(op(static_cast<C>(src[i])));
    });
    return;
  }
  Out* dst = static_cast<Out*>(out.raw_data());
  for_each_run<2>(in.shape(), {&out.strides(), &in.strides()}, [&](auto off, auto st, int64_t n) {
    Out* o = dst + off[0];
    const T* s = src + off[1];
    for (int64_t i = 0; i < n; ++i) o[i * st[0]] = static_cast<Out>(op(static_cast<C>(s[i * st[1]])));
  });
}

template <typename Op>
void run_unary(const array& in, array& out, const char* name) {
  dispatch_dtype(in.dtype(), [&](auto t) {
    using T = decltype(t);
    if constexpr ((Op::kinds & kind_of_v<T>) != 0) {
      unary_kernel<Op, T>(in, out);
    } else {
      throw std::invalid_argument(std::string("[") + name + "] " + dtype_name(in.dtype()) + " inputs are not supported.");
    }
  });
}

}  // namespace

void Unary::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.dtype() == out.dtype() && (in.dtype() == float32 || in.dtype() == float64) &&
      in.flags().contiguous && in.data_size() == in.size() && simd_supported(op_)) {
    const void* src = const_cast<array&>(in).raw_data();
    allocate_like(in, out);  // may take over the input's buffer: src stays valid
    simd_unary(op_, in.dtype(), src, out.raw_data(), in.size());
    return;
  }
  switch (op_) {
#define LAZULI_UNARY_CASE(Name, opname) \
  case UnaryOp::Name: return run_unary<math::Name>(in, out, #opname);
    LAZULI_UNARY_OPS(LAZULI_UNARY_CASE)
#undef LAZULI_UNARY_CASE
  }
}

}  // namespace lazuli
