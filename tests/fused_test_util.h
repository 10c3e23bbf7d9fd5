// Shared by fused_source_test.cpp (the generated kernels compile) and gpu_fused_test.cpp
// (they run): fused programs that cover every elementwise op over every dtype it takes.
#pragma once
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "lazuli/backend/common/math.h"
#include "lazuli/primitives/compiled.h"

namespace lazuli::fused_test {

inline std::vector<Dtype> every_dtype() {
  std::vector<Dtype> all;
  for (int i = 0; i < num_dtypes; ++i) all.push_back(dtype_from_index(i));
  return all;
}

// The value of an Arity-operand functor on values of type C (only its type is used).
template <typename Op, typename C, int Arity> auto apply_to() {
  if constexpr (Arity == 1) return Op{}(C{});
  else return Op{}(C{}, C{});
}

// The dtype the elementwise kernels store an op's result as: the input's own dtype when
// the functor maps the compute type (float for 16-bit floats) to itself, else the
// functor's result type; nullopt when the functor does not take the dtype.
template <typename Op, int Arity> std::optional<Dtype> result_dtype(Dtype in) {
  std::optional<Dtype> out;
  dispatch_dtype(in, [&](auto host) {
    using S = decltype(host);
    using C = std::conditional_t<std::is_same_v<S, float16_t> || std::is_same_v<S, bfloat16_t>, float, S>;
    if constexpr ((Op::kinds & math::kind_of<C>) != 0) {
      using R = decltype(apply_to<Op, C, Arity>());
      out = std::is_same_v<R, C> ? in : dtype_of<R>;
    }
  });
  return out;
}

struct Program {
  std::vector<FusedStep> steps;
  std::vector<int> outputs;
};

// Every unary op that takes dtype t, each a step on input 0 and an output.
inline Program unary_ops(Dtype t, Stream s) {
  Program p;
  auto add = [&](UnaryOp op, std::optional<Dtype> out) {
    if (!out) return;
    p.steps.push_back({std::make_shared<Unary>(s, op), {0}, *out});
    p.outputs.push_back(static_cast<int>(p.steps.size()));
  };
#define LAZULI_UNARY_CASE(Name, opname) add(UnaryOp::Name, result_dtype<math::Name, 1>(t));
  LAZULI_UNARY_OPS(LAZULI_UNARY_CASE)
#undef LAZULI_UNARY_CASE
  return p;
}

// Every binary op that takes dtype t, each a step on inputs 0 and 1 and an output.
inline Program binary_ops(Dtype t, Stream s) {
  Program p;
  auto add = [&](BinaryOp op, std::optional<Dtype> out) {
    if (!out) return;
    p.steps.push_back({std::make_shared<Binary>(s, op), {0, 1}, *out});
    p.outputs.push_back(1 + static_cast<int>(p.steps.size()));
  };
#define LAZULI_BINARY_CASE(Name, opname) add(BinaryOp::Name, result_dtype<math::Name, 2>(t));
  LAZULI_BINARY_OPS(LAZULI_BINARY_CASE)
#undef LAZULI_BINARY_CASE
  return p;
}

// Input 0 (of dtype `from`) cast to every dtype, copied and through stop_gradient.
inline Program casts(Dtype from, Stream s) {
  Program p;
  for (Dtype to : every_dtype()) p.steps.push_back({std::make_shared<AsType>(s, to), {0}, to});
  p.steps.push_back({std::make_shared<Copy>(s), {0}, from});
  p.steps.push_back({std::make_shared<StopGradient>(s), {0}, from});
  for (size_t k = 1; k <= p.steps.size(); ++k) p.outputs.push_back(static_cast<int>(k));
  return p;
}

}  // namespace lazuli::fused_test
