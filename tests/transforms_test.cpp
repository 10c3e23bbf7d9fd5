// Transforms: every primitive's vjp and jvp against central finite differences in float64,
// its vmap against a loop over the batch, jvp against vjp (dot-product test), and the
// nested compositions (grad of grad, vmap of grad, jvp of vjp, vmap of vmap, ...).
#include <functional>
#include <map>
#include <set>

#include "checker.h"
#include "lazuli/primitives.h"

using namespace lazuli;
using namespace lazuli::test;

namespace {

// One or more checker cases for every registered primitive name.
std::multimap<std::string, Case> cases() {
  std::multimap<std::string, Case> c;
  auto un = [&](const char* name, std::function<array(const array&)> f, double lo, double hi, bool diff = true) {
    c.insert({name, Case{{{3, 4}}, lo, hi, unary_fn(f), diff}});
    c.insert({name, Case{{{4, 3}}, lo, hi, unary_fn(f), diff, true}});
  };
  un("Abs", [](auto& x) { return abs(x); }, 0.1, 2);
  un("Negative", [](auto& x) { return negative(x); }, -2, 2);
  un("Sign", [](auto& x) { return sign(x); }, 0.1, 2, false);
  un("Sqrt", [](auto& x) { return sqrt(x); }, 0.5, 3);
  un("Rsqrt", [](auto& x) { return rsqrt(x); }, 0.5, 3);
  un("Square", [](auto& x) { return square(x); }, -2, 2);
  un("Reciprocal", [](auto& x) { return reciprocal(x); }, 0.5, 3);
  un("Exp", [](auto& x) { return exp(x); }, -2, 2);
  un("Expm1", [](auto& x) { return expm1(x); }, -2, 2);
  un("Log", [](auto& x) { return log(x); }, 0.5, 3);
  un("Log1p", [](auto& x) { return log1p(x); }, -0.5, 3);
  un("Log2", [](auto& x) { return log2(x); }, 0.5, 3);
  un("Log10", [](auto& x) { return log10(x); }, 0.5, 3);
  un("Sin", [](auto& x) { return sin(x); }, -2, 2);
  un("Cos", [](auto& x) { return cos(x); }, -2, 2);
  un("Tan", [](auto& x) { return tan(x); }, -1, 1);
  un("ArcSin", [](auto& x) { return arcsin(x); }, -0.8, 0.8);
  un("ArcCos", [](auto& x) { return arccos(x); }, -0.8, 0.8);
  un("ArcTan", [](auto& x) { return arctan(x); }, -2, 2);
  un("Sinh", [](auto& x) { return sinh(x); }, -2, 2);
  un("Cosh", [](auto& x) { return cosh(x); }, -2, 2);
  un("Tanh", [](auto& x) { return tanh(x); }, -2, 2);
  un("ArcSinh", [](auto& x) { return arcsinh(x); }, -2, 2);
  un("ArcCosh", [](auto& x) { return arccosh(x); }, 1.5, 3);
  un("ArcTanh", [](auto& x) { return arctanh(x); }, -0.8, 0.8);
  un("Sigmoid", [](auto& x) { return sigmoid(x); }, -3, 3);
  un("Erf", [](auto& x) { return erf(x); }, -2, 2);
  un("ErfInv", [](auto& x) { return erfinv(x); }, -0.8, 0.8);
  un("Floor", [](auto& x) { return floor(x); }, 0.1, 0.9, false);
  un("Ceil", [](auto& x) { return ceil(x); }, 0.1, 0.9, false);
  un("Round", [](auto& x) { return round(x); }, 0.1, 0.4, false);
  un("LogicalNot", [](auto& x) { return logical_not(x); }, 0.5, 2, false);
  un("BitwiseInvert", [](auto& x) { return astype(bitwise_invert(astype(x, int32)), float64); }, 0, 5, false);
  un("IsNan", [](auto& x) { return isnan(x); }, -2, 2, false);
  un("IsInf", [](auto& x) { return isinf(x); }, -2, 2, false);
  un("IsPosInf", [](auto& x) { return isposinf(x); }, -2, 2, false);
  un("IsNegInf", [](auto& x) { return isneginf(x); }, -2, 2, false);
  // Complex ops, checked through real functions of complex intermediates.
  auto cplx = [](const array& x) { return add(astype(x, complex64), multiply(astype(square(x), complex64), array(complex64_t(0, 1)))); };
  auto un32 = [&](const char* name, std::function<array(const array&)> f) {
    for (auto& cs : {Case{{{3, 4}}, -1, 1, unary_fn(f)}, Case{{{4, 3}}, -1, 1, unary_fn(f), true, true}}) {
      Case k = cs;
      k.single_precision = true;
      c.insert({name, k});
    }
  };
  un32("Conjugate", [cplx](auto& x) { return astype(real(multiply(conjugate(cplx(x)), cplx(x))), float64); });
  un32("Real", [cplx](auto& x) { return astype(real(cplx(x)), float64); });
  un32("Imag", [cplx](auto& x) { return astype(imag(cplx(x)), float64); });

  auto bin = [&](const char* name, std::function<array(const array&, const array&)> f, double lo, double hi,
                 bool diff = true) {
    c.insert({name, Case{{{3, 4}, {3, 4}}, lo, hi, binary_fn(f), diff}});
    c.insert({name, Case{{{2, 3, 4}, {4}}, lo, hi, binary_fn(f), diff, false, {0, -1}}});  // broadcasting
    c.insert({name, Case{{{3, 4}, {1, 4}}, lo, hi, binary_fn(f), diff, true, {1, 0}}});   // transposed
  };
  bin("Add", [](auto& a, auto& b) { return add(a, b); }, -2, 2);
  bin("Subtract", [](auto& a, auto& b) { return subtract(a, b); }, -2, 2);
  bin("Multiply", [](auto& a, auto& b) { return multiply(a, b); }, -2, 2);
  bin("Divide", [](auto& a, auto& b) { return divide(a, b); }, 0.5, 2);
  bin("FloorDivide", [](auto& a, auto& b) { return floor_divide(a, b); }, 1.1, 1.9, false);
  bin("Remainder", [](auto& a, auto& b) { return remainder(multiply(a, array(3.0)), b); }, 1.05, 1.3);
  bin("Power", [](auto& a, auto& b) { return power(a, b); }, 0.5, 2);
  bin("Maximum", [](auto& a, auto& b) { return maximum(a, multiply(b, array(1.01))); }, -2, 2);
  bin("Minimum", [](auto& a, auto& b) { return minimum(a, multiply(b, array(1.01))); }, -2, 2);
  bin("ArcTan2", [](auto& a, auto& b) { return arctan2(a, b); }, 0.5, 2);
  bin("LogAddExp", [](auto& a, auto& b) { return logaddexp(a, b); }, -2, 2);
  bin("Equal", [](auto& a, auto& b) { return equal(a, b); }, -2, 2, false);
  bin("NotEqual", [](auto& a, auto& b) { return not_equal(a, b); }, -2, 2, false);
  bin("Less", [](auto& a, auto& b) { return less(a, b); }, -2, 2, false);
  bin("LessEqual", [](auto& a, auto& b) { return less_equal(a, b); }, -2, 2, false);
  bin("Greater", [](auto& a, auto& b) { return greater(a, b); }, -2, 2, false);
  bin("GreaterEqual", [](auto& a, auto& b) { return greater_equal(a, b); }, -2, 2, false);
  bin("LogicalAnd", [](auto& a, auto& b) { return logical_and(a, b); }, 0.5, 2, false);
  bin("LogicalOr", [](auto& a, auto& b) { return logical_or(a, b); }, 0.5, 2, false);
  bin("LogicalXor", [](auto& a, auto& b) { return logical_xor(a, b); }, 0.5, 2, false);
  auto ints = [](std::function<array(const array&, const array&)> f) {
    return [f](const array& a, const array& b) { return astype(f(astype(a, int32), astype(b, int32)), float64); };
  };
  bin("BitwiseAnd", ints([](auto& a, auto& b) { return bitwise_and(a, b); }), 0, 9, false);
  bin("BitwiseOr", ints([](auto& a, auto& b) { return bitwise_or(a, b); }), 0, 9, false);
  bin("BitwiseXor", ints([](auto& a, auto& b) { return bitwise_xor(a, b); }), 0, 9, false);
  bin("LeftShift", ints([](auto& a, auto& b) { return left_shift(a, b); }), 0, 5, false);
  bin("RightShift", ints([](auto& a, auto& b) { return right_shift(a, b); }), 0, 5, false);

  auto red = [&](const char* name, std::function<array(const array&, const std::vector<int>&)> f, bool diff = true) {
    for (auto axes : std::vector<std::vector<int>>{{1}, {0, 2}, {0, 1, 2}})
      c.insert({name, Case{{{2, 3, 4}}, 0.5, 2, unary_fn([f, axes](auto& x) { return f(x, axes); }), diff}});
    c.insert({name, Case{{{4, 3}}, 0.5, 2, unary_fn([f](auto& x) { return f(x, {0}); }), diff, true}});
  };
  red("Sum", [](auto& x, auto& ax) { return sum(x, ax); });
  red("Prod", [](auto& x, auto& ax) { return prod(x, ax); });
  red("Max", [](auto& x, auto& ax) { return max(x, ax); });
  red("Min", [](auto& x, auto& ax) { return min(x, ax); });
  red("All", [](auto& x, auto& ax) { return all(x, ax); }, false);
  red("Any", [](auto& x, auto& ax) { return any(x, ax); }, false);
  c.insert({"ArgMax", Case{{{3, 4}}, -2, 2, unary_fn([](auto& x) { return argmax(x, 1); }), false}});
  c.insert({"ArgMin", Case{{{3, 4}}, -2, 2, unary_fn([](auto& x) { return argmin(x, 0); }), false, true}});

  c.insert({"DivMod", Case{{{3, 4}, {4}}, 1.05, 1.3,
                           [](auto& x) {
                             auto qr = divmod(multiply(x[0], array(3.0)), x[1]);
                             return std::vector<array>{qr[0], qr[1]};
                           },
                           true, false, {0, -1}}});
  c.insert({"Select", Case{{{3, 4}, {3, 4}}, -2, 2,
                           binary_fn([](auto& a, auto& b) { return where(greater(a, b), multiply(a, b), sin(b)); })}});
  c.insert({"Select", Case{{{3, 4}, {4}}, -2, 2,
                           binary_fn([](auto& a, auto& b) { return where(greater(a, array(0.0)), a, b); }), true, false,
                           {1, -1}}});
  un32("AsType", [](auto& x) { return astype(astype(x, float32), float64); });
  c.insert({"AsType", Case{{{3, 4}}, -2, 2, unary_fn([](auto& x) { return astype(x, int32); }), false}});
  c.insert({"View", Case{{{3, 4}}, -2, 2, unary_fn([](auto& x) { return view(x, int64); }), false}});
  c.insert({"View", Case{{{3, 4}}, -2, 2, unary_fn([](auto& x) { return view(x, int32); }), false, true}});
  c.insert({"Copy", Case{{{3, 4}}, -2, 2, unary_fn([](auto& x) { return multiply(copy(x), x); }), true, true}});
  // Finite differences see through stop_gradient, so the case checks that no derivative
  // passes; StopGradientCustomFunctionAndCheckpoint checks mixed use.
  c.insert({"StopGradient", Case{{{3, 4}}, -2, 2, unary_fn([](auto& x) { return stop_gradient(square(x)); }), false}});
  c.insert({"Broadcast", Case{{{1, 4}}, -2, 2, unary_fn([](auto& x) { return multiply(broadcast_to(x, {3, 2, 4}), array(2.0)); })}});
  c.insert({"Reshape", Case{{{3, 4}}, -2, 2, unary_fn([](auto& x) { return sin(reshape(x, {2, 6})); })}});
  c.insert({"Reshape", Case{{{4, 3}}, -2, 2, unary_fn([](auto& x) { return sin(reshape(x, {12})); }), true, true}});
  c.insert({"Transpose", Case{{{2, 3, 4}}, -2, 2, unary_fn([](auto& x) { return square(transpose(x, {2, 0, 1})); })}});
  c.insert({"Slice", Case{{{5, 6}}, -2, 2, unary_fn([](auto& x) { return exp(slice(x, {1, 5}, {4, 0}, {2, -2})); })}});
  c.insert({"SliceUpdate", Case{{{4, 5}, {2, 2}}, -2, 2,
                                binary_fn([](auto& a, auto& b) { return sin(slice_update(a, b, {1, 0}, {3, 4}, {1, 2})); })}});
  c.insert({"AsStrided", Case{{{3, 4}}, -2, 2,
                              unary_fn([](auto& x) { return cos(as_strided(x, {3, 3}, {4, 1}, 1)); })}});
  // Overlapping windows read elements more than once.
  c.insert({"AsStrided", Case{{{8}}, -2, 2, unary_fn([](auto& x) { return sin(as_strided(x, {4, 3}, {1, 1}, 0)); })}});
  c.insert({"Concatenate", Case{{{2, 3}, {4, 3}}, -2, 2,
                                binary_fn([](auto& a, auto& b) { return tanh(concatenate({a, b, a}, 0)); })}});
  c.insert({"Arange", Case{{{5}}, -2, 2, unary_fn([](auto& x) { return multiply(x, arange(0.0, 5.0, 1.0, float64)); })}});
  c.insert({"Matmul", Case{{{3, 4}, {4, 2}}, -2, 2, binary_fn([](auto& a, auto& b) { return matmul(a, b); })}});
  c.insert({"Matmul", Case{{{2, 3, 4}, {4, 5}}, -2, 2, binary_fn([](auto& a, auto& b) { return matmul(a, b); }), true,
                           false, {0, -1}}});
  c.insert({"Matmul", Case{{{3, 4}, {4}}, -2, 2, binary_fn([](auto& a, auto& b) { return matmul(a, b); }), true, true,
                           {1, 0}}});
  array idx = array({2, 0, -1, 2}), rows = array({1, 0});
  c.insert({"Take", Case{{{3, 4}}, -2, 2, unary_fn([idx](auto& x) { return take(x, idx, 1); })}});
  c.insert({"Take", Case{{{4, 3}}, -2, 2, unary_fn([rows](auto& x) { return sin(take(x, rows, 0)); }), true, true}});
  c.insert({"Take", Case{{{3, 4}}, -2, 2, unary_fn([](auto& x) {
                      return take_along_axis(x, array({0, 3, 1, 2, 2, 1}, Shape{3, 2}), 1); })}});
  auto scat = [&](const char* name, std::function<array(const array&, const array&, const array&, int)> f,
                  double lo, double hi) {
    // Distinct positions in [0, 3): ties would make max/min non-differentiable.
    array at = array({2, 0});
    c.insert({name, Case{{{3, 4}, {3, 2}}, lo, hi,
                         binary_fn([f, at](auto& a, auto& u) { return f(a, at, u, 1); }), true, false, {0, -1}}});
    c.insert({name, Case{{{3, 4}, {2, 4}}, lo, hi,
                         binary_fn([f, at](auto& a, auto& u) { return f(a, at, u, 0); }), true, false, {1, 0}}});
  };
  scat("Scatter", [](auto& a, auto& i, auto& u, int ax) { return scatter(a, i, u, ax); }, -2, 2);
  scat("ScatterAdd", [](auto& a, auto& i, auto& u, int ax) { return scatter_add(a, i, u, ax); }, -2, 2);
  scat("ScatterProd", [](auto& a, auto& i, auto& u, int ax) { return scatter_prod(a, i, u, ax); }, 0.5, 2);
  scat("ScatterMax", [](auto& a, auto& i, auto& u, int ax) { return scatter_max(a, i, u, ax); }, -2, 2);
  scat("ScatterMin", [](auto& a, auto& i, auto& u, int ax) { return scatter_min(a, i, u, ax); }, -2, 2);
  auto custom = custom_function(
      [](const std::vector<array>& x) { return std::vector<array>{multiply(sin(x[0]), x[1])}; },
      [](const std::vector<array>& x, const std::vector<array>& ct, const std::vector<array>&) {
        return std::vector<array>{multiply(ct[0], multiply(cos(x[0]), x[1])), multiply(ct[0], sin(x[0]))};
      });
  c.insert({"CustomTransforms", Case{{{3, 4}, {3, 4}}, -2, 2, custom}});
  c.insert({"CustomTransforms", Case{{{3, 4}, {3, 4}}, -2, 2, checkpoint(custom)}});
  for (auto& [name, k] : extra_cases()) c.insert({name, k});
  return c;
}

std::vector<array> make_inputs(const Case& c, int seed) {
  std::vector<array> xs;
  for (size_t i = 0; i < c.shapes.size(); ++i) {
    Shape s = c.shapes[i];
    if (i == 0 && c.transposed) {
      std::reverse(s.begin(), s.end());
      array base = filled(s, c.lo, c.hi, seed + int(i));
      eval(base);
      xs.push_back(transpose(base));
      continue;
    }
    xs.push_back(filled(s, c.lo, c.hi, seed + int(i)));
  }
  eval(xs);
  return xs;
}

// <u, J v> by central differences: the directional derivative of f along v, dotted with u.
double numeric_directional(const Case& c, const std::vector<array>& xs, const std::vector<array>& v,
                           const std::vector<array>& u, double h) {
  auto shifted = [&](double sgn) {
    std::vector<array> p;
    for (size_t i = 0; i < xs.size(); ++i) p.push_back(add(xs[i], multiply(v[i], array(sgn * h))));
    return c.fun(p);
  };
  auto plus = shifted(1), minus = shifted(-1);
  double total = 0;
  for (size_t j = 0; j < plus.size(); ++j) {
    if (is_integral(plus[j].dtype())) continue;
    total += dot(divide(subtract(astype(plus[j], float64), astype(minus[j], float64)), array(2 * h)), u[j]);
  }
  return total;
}

// Element b of axis 0.
array take_slice(const array& a, int b) {
  Shape start(a.ndim(), 0), stop = a.shape();
  start[0] = b, stop[0] = b + 1;
  return squeeze(slice(a, start, stop), 0);
}

}  // namespace

TEST(Transforms, RegistryCoversEveryPrimitive) {
  auto names = primitive_names();
  auto table = cases();
  EXPECT_GT(names.size(), 80u);
  for (auto& n : names) EXPECT_TRUE(table.count(n)) << "primitive " << n << " has no checker case";
  std::set<std::string> registered(names.begin(), names.end());
  for (auto& [n, c] : table) EXPECT_TRUE(registered.count(n)) << "checker case for unknown primitive " << n;
}

TEST(Transforms, FiniteDifferencesForEveryPrimitive) {
  for (auto& [name, c] : cases()) {
    SCOPED_TRACE(name);
    auto xs = make_inputs(c, 1);
    auto outs = c.fun(xs);
    std::vector<array> u, v;
    for (size_t j = 0; j < outs.size(); ++j) u.push_back(filled(outs[j].shape(), -1, 1, 100 + int(j)));
    for (size_t i = 0; i < xs.size(); ++i) v.push_back(filled(xs[i].shape(), -1, 1, 200 + int(i)));
    // vjp: <vjp(u), v>; jvp: <u, jvp(v)>.
    auto [vo, grads] = vjp(c.fun, xs, u);
    auto [jo, tans] = jvp(c.fun, xs, v);
    ASSERT_EQ(grads.size(), xs.size());
    ASSERT_EQ(tans.size(), outs.size());
    double via_vjp = 0, via_jvp = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      EXPECT_EQ(grads[i].shape(), xs[i].shape());
      via_vjp += dot(grads[i], v[i]);
    }
    for (size_t j = 0; j < outs.size(); ++j) {
      EXPECT_EQ(tans[j].shape(), outs[j].shape());
      if (!is_integral(outs[j].dtype())) via_jvp += dot(u[j], tans[j]);
    }
    double scale = 1e-6;
    if (c.differentiable) {
      // float64: small steps; through float32, steps large enough to rise above its rounding.
      double numeric = numeric_directional(c, xs, v, u, c.single_precision ? 1e-2 : 1e-6);
      scale = 1e-5 * (1 + std::abs(numeric));
      double tol = c.single_precision ? 2e-3 : 1e-4;
      EXPECT_NEAR(via_vjp, numeric, tol * (1 + std::abs(numeric)));
      EXPECT_NEAR(via_jvp, numeric, tol * (1 + std::abs(numeric)));
    } else {
      EXPECT_EQ(via_vjp, 0.0);
      EXPECT_EQ(via_jvp, 0.0);
    }
    EXPECT_NEAR(via_vjp, via_jvp, c.single_precision ? 1e-5 : scale);  // the dot-product test
  }
}

TEST(Transforms, VmapMatchesALoopForEveryPrimitive) {
  const int batch = 3;
  for (auto& [name, c] : cases()) {
    SCOPED_TRACE(name);
    std::vector<int> axes = c.in_axes.empty() ? std::vector<int>(c.shapes.size(), 0) : c.in_axes;
    // Batched inputs: samples stacked on each input's mapped axis.
    std::vector<std::vector<array>> samples(batch);
    for (int b = 0; b < batch; ++b) samples[b] = make_inputs(c, 10 * b + 3);
    std::vector<array> batched;
    for (size_t i = 0; i < c.shapes.size(); ++i) {
      if (axes[i] < 0) {
        batched.push_back(samples[0][i]);
        continue;
      }
      std::vector<array> parts;
      for (int b = 0; b < batch; ++b) parts.push_back(samples[b][i]);
      batched.push_back(stack(parts, axes[i]));
    }
    for (int b = 0; b < batch; ++b)
      for (size_t i = 0; i < c.shapes.size(); ++i)
        if (axes[i] < 0) samples[b][i] = samples[0][i];
    auto got = vmap(c.fun, axes)(batched);
    for (int b = 0; b < batch; ++b) {
      auto want = c.fun(samples[b]);
      ASSERT_EQ(got.size(), want.size());
      for (size_t j = 0; j < want.size(); ++j) {
        array g = take_slice(got[j], b);
        ASSERT_EQ(g.shape(), want[j].shape());
        EXPECT_TRUE(allclose(astype(g, float64), astype(want[j], float64), 1e-6, 1e-9).item<bool>());
      }
    }
  }
}

// ---- compositions -------------------------------------------------------------------------

TEST(Transforms, SecondDerivatives) {
  array x = filled({5}, -1.5, 1.5, 7);
  auto d2 = [](UnaryFn f) { return grad([f](const array& y) { return sum(grad(f)(y)); }); };
  auto t = tanh(x);
  // tanh'' = -2 tanh (1 - tanh^2)
  EXPECT_TRUE(allclose(d2([](auto& y) { return sum(tanh(y)); })(x),
                       multiply(array(-2.0), multiply(t, subtract(array(1.0), square(t))))).item<bool>());
  EXPECT_TRUE(allclose(d2([](auto& y) { return sum(exp(y)); })(x), exp(x)).item<bool>());
  // f(x) = sum((A x)^2): Hessian 2 A^T A, by reverse-over-reverse, forward-over-reverse, jacfwd/jacrev.
  array A = filled({4, 5}, -1, 1, 9);
  UnaryFn f = [A](const array& y) { return sum(square(matmul(A, y))); };
  array H = multiply(array(2.0), matmul(transpose(A), A));
  EXPECT_TRUE(allclose(hessian(f)(x), H, 1e-9, 1e-9).item<bool>());
  EXPECT_TRUE(allclose(jacrev(grad(f))(x), H, 1e-9, 1e-9).item<bool>());
  array v = filled({5}, -1, 1, 11);
  auto hv = jvp(grad(f), x, v).second;  // jvp of vjp: a Hessian-vector product
  EXPECT_TRUE(allclose(hv, matmul(H, v), 1e-9, 1e-9).item<bool>());
  // Third derivative of exp, for "without limit".
  auto d3 = grad([&](const array& y) { return sum(d2([](auto& z) { return sum(exp(z)); })(y)); });
  EXPECT_TRUE(allclose(d3(x), exp(x)).item<bool>());
}

TEST(Transforms, VmapOfGradGivesPerSampleGradients) {
  array X = filled({6, 3}, -1, 1, 3);
  array w = filled({3}, -1, 1, 4);
  auto loss = [](const array& w, const array& x) { return sum(square(tanh(multiply(w, x)))); };
  auto per_sample = vmap(
      [&](const std::vector<array>& in) {
        return grad([&](const std::vector<array>& a) { return loss(a[0], a[1]); }, {0, 1})({in[0], in[1]});
      },
      {-1, 0});
  auto got = per_sample({w, X});
  for (int i = 0; i < 6; ++i) {
    array xi = take_slice(X, i);
    auto want = grad([&](const std::vector<array>& a) { return loss(a[0], xi); })({w})[0];
    EXPECT_TRUE(allclose(take_slice(got[0], i), want).item<bool>());
    EXPECT_TRUE(allclose(take_slice(got[1], i), grad([&](const array& x) { return loss(w, x); })(xi)).item<bool>());
  }
}

TEST(Transforms, VmapOfVmap) {
  array X = filled({2, 3, 4}, -1, 1, 5);
  UnaryFn row_softmax = [](const array& r) { return divide(exp(r), sum(exp(r))); };
  auto twice = vmap(vmap(row_softmax, 0, 0), 1, 1);  // outer over axis 1, inner over axis 0
  array got = twice(X);
  array want = divide(exp(X), sum(exp(X), 2, true));
  EXPECT_EQ(got.shape(), X.shape());
  EXPECT_TRUE(allclose(got, want).item<bool>());
}

TEST(Transforms, GradInsideVmapInsideGrad) {
  array X = filled({4, 3}, -1, 1, 6);
  array w = filled({3}, -1, 1, 8);
  // F(w) = sum_i sum(grad_x g(w, x_i)), g = sum(sin(w * x)): grad_x g = w cos(w x),
  // so F(w) = sum_i sum(w cos(w x_i)) and dF/dw = sum_i (cos(w x_i) - w x_i sin(w x_i)).
  UnaryFn F = [&](const array& wv) {
    auto inner = vmap([&](const array& x) { return grad([&](const array& y) { return sum(sin(multiply(wv, y))); })(x); });
    return sum(inner(X));
  };
  array wx = multiply(w, X);
  array want = sum(subtract(cos(wx), multiply(wx, sin(wx))), 0);
  EXPECT_TRUE(allclose(grad(F)(w), want).item<bool>());
}

TEST(Transforms, StopGradientCustomFunctionAndCheckpoint) {
  array x = filled({4}, 0.5, 2, 12);
  EXPECT_TRUE(allclose(grad([](const array& y) { return sum(multiply(stop_gradient(y), y)); })(x), x).item<bool>());
  auto f = custom_function([](const std::vector<array>& a) { return std::vector<array>{sin(a[0])}; },
                           [](const std::vector<array>&, const std::vector<array>& ct, const std::vector<array>&) {
                             return std::vector<array>{multiply(ct[0], array(42.0))};
                           },
                           [](const std::vector<array>&, const std::vector<array>& t, const std::vector<int>&) {
                             return std::vector<array>{multiply(t[0], array(7.0))};
                           });
  auto scalar = [&](const array& y) { return sum(f({y})[0]); };
  EXPECT_TRUE(allclose(grad(scalar)(x), full({4}, 42.0)).item<bool>());
  EXPECT_TRUE(allclose(jvp([&](const array& y) { return f({y})[0]; }, x, ones({4}, float64)).second, full({4}, 7.0)).item<bool>());
  EXPECT_TRUE(allclose(f({x})[0], sin(x)).item<bool>());
  // checkpoint: same values and gradients as the plain function.
  Fn g = [](const std::vector<array>& a) { return std::vector<array>{sum(exp(tanh(multiply(a[0], a[0]))))}; };
  auto plain = value_and_grad(g)({x});
  auto ckpt = value_and_grad(checkpoint(g))({x});
  EXPECT_TRUE(allclose(plain.first[0], ckpt.first[0]).item<bool>());
  EXPECT_TRUE(allclose(plain.second[0], ckpt.second[0]).item<bool>());
}

TEST(Transforms, JacobiansAgree) {
  array x = filled({3}, -1, 1, 13);
  UnaryFn f = [](const array& y) { return concatenate({sin(y), multiply(y, sum(y, 0, true))}, 0); };
  array jr = jacrev(f)(x), jf = jacfwd(f)(x);
  EXPECT_EQ(jr.shape(), (Shape{6, 3}));
  EXPECT_TRUE(allclose(jr, jf).item<bool>());
  // d sin(y_i)/d y_j = cos(y_i) delta_ij
  EXPECT_TRUE(allclose(slice(jr, {0, 0}, {3, 3}), multiply(eye(3, float64), cos(x))).item<bool>());
  array h = hessian([](const array& y) { return sum(multiply(y, square(y))); })(x);
  EXPECT_TRUE(allclose(h, multiply(eye(3, float64), multiply(array(6.0), x))).item<bool>());
}

TEST(Transforms, ValueAndGradArgnumsAndSeveralOutputs) {
  array a = filled({3}, -1, 1, 14), b = filled({3}, -1, 1, 15);
  Fn f = [](const std::vector<array>& x) {
    return std::vector<array>{sum(multiply(x[0], square(x[1]))), multiply(x[0], array(2.0))};
  };
  auto [vals, grads] = value_and_grad(f, {1, 0})({a, b});
  ASSERT_EQ(vals.size(), 2u);
  ASSERT_EQ(grads.size(), 2u);
  EXPECT_TRUE(allclose(vals[0], sum(multiply(a, square(b)))).item<bool>());
  EXPECT_TRUE(allclose(grads[0], multiply(array(2.0), multiply(a, b))).item<bool>());  // d/d b
  EXPECT_TRUE(allclose(grads[1], square(b)).item<bool>());                             // d/d a
  auto [v2, g2] = value_and_grad(f, {-1})({a, b});
  EXPECT_TRUE(allclose(g2[0], grads[0]).item<bool>());
}

TEST(Transforms, Errors) {
  array xi = array({1, 2, 3});
  try {
    grad([](const array& y) { return sum(y); })(xi);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("int32"), std::string::npos);
  }
  array x = ones({3}, float64);
  EXPECT_THROW(grad([](const array& y) { return y; })(x), std::invalid_argument);  // not a scalar
  EXPECT_THROW(vjp([](const array& y) { return y; }, x, ones({4}, float64)), std::invalid_argument);
  EXPECT_THROW(jvp([](const array& y) { return y; }, x, ones({2}, float64)), std::invalid_argument);
  EXPECT_THROW(vmap([](const std::vector<array>& y) { return y; })({ones({2, 3}), ones({3, 3})}), std::invalid_argument);
  EXPECT_THROW(vmap([](const std::vector<array>& y) { return y; })({array(1.f)}), std::invalid_argument);
  EXPECT_THROW(vmap([](const std::vector<array>& y) { return y; }, {-1})({ones({2})}), std::invalid_argument);
  EXPECT_THROW(value_and_grad([](const std::vector<array>& y) { return y; }, {})({x}), std::invalid_argument);
  // Evaluating inside vmap is an error (there is no per-sample data to evaluate).
  EXPECT_THROW(vmap([](const array& y) { eval(y); return y; })(ones({2, 2})), std::invalid_argument);
}

TEST(Transforms, EvalInsideTracedFunctionKeepsTheGraph) {
  array x = filled({4}, -1, 1, 16);
  auto g = grad([](const array& y) {
    array h = tanh(y);
    eval(h);  // a function may evaluate intermediate values
    return sum(square(h));
  })(x);
  array t = tanh(x);
  EXPECT_TRUE(allclose(g, multiply(array(2.0), multiply(t, subtract(array(1.0), square(t))))).item<bool>());
}

TEST(Transforms, TrainingLoopMemoryStaysFlat) {
  array w = zeros({64}, float32);
  array target = ones({64}, float32);
  auto step = [&] {
    auto g = grad([&](const array& p) { return sum(square(subtract(tanh(p), target))); })(w);
    w = subtract(w, multiply(array(0.1f), g));
    eval(w);
  };
  for (int i = 0; i < 50; ++i) step();
  size_t before = get_active_memory();
  for (int i = 0; i < 500; ++i) step();
  EXPECT_LE(get_active_memory(), before + 4096);
  EXPECT_FALSE(w.has_primitive());
}
