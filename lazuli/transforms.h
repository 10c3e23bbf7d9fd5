// Function transforms: reverse mode (vjp, grad, value_and_grad), forward mode (jvp),
// vectorisation (vmap), and user rules (custom_function, checkpoint). They compose: each
// rule is written with ops, so the result of a transform can be transformed again.
#pragma once
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "lazuli/array.h"

namespace lazuli {

using Fn = std::function<std::vector<array>(const std::vector<array>&)>;
using UnaryFn = std::function<array(const array&)>;
using ScalarFn = std::function<array(const std::vector<array>&)>;

// Outputs of fun at primals, and cotangents . d fun(primals) (one per primal).
std::pair<std::vector<array>, std::vector<array>> vjp(const Fn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents);
std::pair<array, array> vjp(const UnaryFn& fun, const array& primal, const array& cotangent);

// Outputs of fun at primals, and d fun(primals) . tangents (one per output).
std::pair<std::vector<array>, std::vector<array>> jvp(const Fn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& tangents);
std::pair<array, array> jvp(const UnaryFn& fun, const array& primal, const array& tangent);

// fun returns a scalar (0-d) first output; its gradient with respect to the arguments in
// argnums. Arguments must be floating point (or complex).
using ValueAndGradFn = std::function<std::pair<std::vector<array>, std::vector<array>>(const std::vector<array>&)>;
ValueAndGradFn value_and_grad(const Fn& fun, const std::vector<int>& argnums = {0});
std::function<std::pair<array, std::vector<array>>(const std::vector<array>&)> value_and_grad(
    const ScalarFn& fun, const std::vector<int>& argnums = {0});
std::function<std::pair<array, array>(const array&)> value_and_grad(const UnaryFn& fun);
std::function<std::vector<array>(const std::vector<array>&)> grad(const ScalarFn& fun,
                                                                  const std::vector<int>& argnums = {0});
UnaryFn grad(const UnaryFn& fun);

// fun mapped over axis in_axes[i] of argument i (-1: not mapped); outputs stacked on
// out_axes[j]. Empty in_axes/out_axes mean 0 for all.
Fn vmap(const Fn& fun, const std::vector<int>& in_axes = {}, const std::vector<int>& out_axes = {});
UnaryFn vmap(const UnaryFn& fun, int in_axis = 0, int out_axis = 0);

// Identity whose derivative is zero.
array stop_gradient(const array& a, StreamOrDevice s = {});

// User rules. vjp gets (primals, cotangents, outputs); jvp gets (primals, tangents,
// argnums of the tangents); vmap gets (inputs, axes) and returns (outputs, out_axes).
using VjpRule = std::function<std::vector<array>(const std::vector<array>&, const std::vector<array>&,
                                                 const std::vector<array>&)>;
using JvpRule = std::function<std::vector<array>(const std::vector<array>&, const std::vector<array>&,
                                                 const std::vector<int>&)>;
using VmapRule = std::function<std::pair<std::vector<array>, std::vector<int>>(const std::vector<array>&,
                                                                                const std::vector<int>&)>;
Fn custom_function(Fn fun, std::optional<VjpRule> vjp = {}, std::optional<JvpRule> jvp = {},
                   std::optional<VmapRule> vmap = {});
Fn custom_vjp(Fn fun, VjpRule vjp);
// fun whose intermediate values are recomputed in the backward pass instead of kept.
Fn checkpoint(Fn fun);

// Jacobians: out[i][j] = d output_i / d input_j, shaped output_i.shape + input_j.shape.
// jacrev builds rows with vjp (good for few outputs), jacfwd columns with jvp (few inputs).
std::function<std::vector<std::vector<array>>(const std::vector<array>&)> jacrev(const Fn& fun);
std::function<std::vector<std::vector<array>>(const std::vector<array>&)> jacfwd(const Fn& fun);
UnaryFn jacrev(const UnaryFn& fun);
UnaryFn jacfwd(const UnaryFn& fun);
// Hessian of a scalar function of one array: shape x.shape + x.shape.
UnaryFn hessian(const UnaryFn& fun);

}  // namespace lazuli
