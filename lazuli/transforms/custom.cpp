// stop_gradient, user-supplied rules (custom_function), checkpoint, and Jacobians.
#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives.h"
#include "lazuli/transforms.h"
#include "lazuli/transforms/tape.h"

namespace lazuli {
using detail::fail;

array stop_gradient(const array& a, StreamOrDevice s) { return detail::make_node<StopGradient>({a}, a.dtype(), s); }

Fn custom_function(Fn fun, std::optional<VjpRule> vjp_rule, std::optional<JvpRule> jvp_rule,
                   std::optional<VmapRule> vmap_rule) {
  return [=](const std::vector<array>& args) {
    // The forward runs on copies that are no longer traced: the transforms see one node
    // whose rules are the user's (or fun's own, recomputed), not fun's inner graph.
    std::vector<array> inner;
    for (auto& a : args) inner.push_back(detail::untraced(stop_gradient(a)));
    std::vector<array> outs = fun(inner);
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    std::vector<array> inputs = args;
    for (auto& o : outs) {
      shapes.push_back(o.shape());
      dtypes.push_back(o.dtype());
      inputs.push_back(detail::untraced(stop_gradient(o)));
    }
    auto p = std::make_shared<CustomTransforms>(to_stream({}), fun, static_cast<int>(args.size()), vjp_rule, jvp_rule,
                                                vmap_rule);
    return array::make_arrays(shapes, dtypes, p, inputs);
  };
}

Fn custom_vjp(Fn fun, VjpRule vjp_rule) { return custom_function(std::move(fun), std::move(vjp_rule)); }

Fn checkpoint(Fn fun) {
  // No rule given: the backward pass re-runs fun under vjp, so fun's intermediates are
  // not kept from the forward pass.
  return custom_function(fun);
}

namespace {
// One-hot arrays of `shape` in `dtype`, one per element, in row-major order.
array one_hot(const Shape& shape, Dtype dtype, size_t k) {
  size_t n = shape_size(shape);
  array flat = equal(arange(0, static_cast<int>(n)), array(static_cast<int>(k)));
  return astype(reshape(flat, shape), dtype);
}
}  // namespace

std::function<std::vector<std::vector<array>>(const std::vector<array>&)> jacrev(const Fn& fun) {
  return [fun](const std::vector<array>& xs) {
    auto outs = fun(xs);
    std::vector<std::vector<array>> jac(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) {
      std::vector<std::vector<array>> rows(xs.size());  // rows[j][k]: d out_i[k] / d x_j
      for (size_t k = 0; k < outs[i].size(); ++k) {
        std::vector<array> cts;
        for (size_t m = 0; m < outs.size(); ++m)
          cts.push_back(m == i ? one_hot(outs[i].shape(), outs[i].dtype(), k) : zeros_like(outs[m]));
        auto grads = vjp(fun, xs, cts).second;
        for (size_t j = 0; j < xs.size(); ++j) rows[j].push_back(grads[j]);
      }
      for (size_t j = 0; j < xs.size(); ++j) {
        Shape shape = outs[i].shape();
        shape.insert(shape.end(), xs[j].shape().begin(), xs[j].shape().end());
        jac[i].push_back(rows[j].empty() ? zeros(shape, xs[j].dtype()) : reshape(stack(rows[j]), shape));
      }
    }
    return jac;
  };
}

std::function<std::vector<std::vector<array>>(const std::vector<array>&)> jacfwd(const Fn& fun) {
  return [fun](const std::vector<array>& xs) {
    auto outs = fun(xs);
    std::vector<std::vector<array>> jac(outs.size(), std::vector<array>(xs.size(), array(0.f)));
    for (size_t j = 0; j < xs.size(); ++j) {
      std::vector<std::vector<array>> cols(outs.size());  // cols[i][k]: d out_i / d x_j[k]
      for (size_t k = 0; k < xs[j].size(); ++k) {
        std::vector<array> tans;
        for (size_t m = 0; m < xs.size(); ++m)
          tans.push_back(m == j ? one_hot(xs[j].shape(), xs[j].dtype(), k) : zeros_like(xs[m]));
        auto t = jvp(fun, xs, tans).second;
        for (size_t i = 0; i < outs.size(); ++i) cols[i].push_back(t[i]);
      }
      for (size_t i = 0; i < outs.size(); ++i) {
        Shape shape = outs[i].shape();
        shape.insert(shape.end(), xs[j].shape().begin(), xs[j].shape().end());
        if (cols[i].empty()) {
          jac[i][j] = zeros(shape, outs[i].dtype());
          continue;
        }
        // Columns stacked last: (out..., n) then reshaped to (out..., x...).
        jac[i][j] = reshape(stack(cols[i], static_cast<int>(outs[i].ndim())), shape);
      }
    }
    return jac;
  };
}

static UnaryFn single(const std::function<std::vector<std::vector<array>>(const std::vector<array>&)>& jac) {
  return [jac](const array& x) { return jac({x})[0][0]; };
}
static Fn lift(const UnaryFn& fun) {
  return [fun](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; };
}
UnaryFn jacrev(const UnaryFn& fun) { return single(jacrev(lift(fun))); }
UnaryFn jacfwd(const UnaryFn& fun) { return single(jacfwd(lift(fun))); }
UnaryFn hessian(const UnaryFn& fun) { return jacfwd(grad(fun)); }

}  // namespace lazuli
