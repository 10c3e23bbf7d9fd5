// compile: traced graphs replayed on new inputs, simplified and fused, checked against the
// eager results; retracing, shapeless traces, the cache bound, and transforms through it.
#include <cstdio>

#include "checker.h"
#include "lazuli/primitives/compiled.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::to_vector;

namespace {

array chain(const array& x) { return add(multiply(tanh(add(multiply(x, array(2.0f)), array(1.0f))), exp(negative(x))), x); }

void expect_close(const array& a, const array& b, double tol = 1e-6) {
  ASSERT_EQ(a.shape(), b.shape());
  ASSERT_EQ(a.dtype(), b.dtype());
  auto x = to_vector<double>(a), y = to_vector<double>(b);
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(y[i])) EXPECT_TRUE(std::isnan(x[i])) << "at " << i;
    else EXPECT_NEAR(x[i], y[i], tol * (1 + std::abs(y[i]))) << "at " << i;
  }
}

const Compiled* fused(const array& a) { return a.has_primitive() ? dynamic_cast<const Compiled*>(&a.primitive()) : nullptr; }

array arange_f(int n, Dtype t = float32) { return astype(divide(arange(n), array(float(n))), t); }

}  // namespace

TEST(Compile, ChainIsOneFusedNodeAndMatchesEager) {
  int traces = 0;
  auto f = compile([&](const std::vector<array>& x) {
    ++traces;
    return std::vector<array>{chain(x[0])};
  });
  for (Dtype t : {float32, float64}) {
    array x = reshape(subtract(multiply(arange_f(3000, t), array(8.0, t)), array(4.0, t)), {30, 100});
    array got = f({x})[0];
    ASSERT_NE(fused(got), nullptr);
    EXPECT_EQ(fused(got)->steps().size(), 7u);  // multiply add tanh negative exp multiply add
    expect_close(got, chain(x), t == float32 ? 1e-6 : 1e-12);
  }
  EXPECT_EQ(traces, 2);
  f({ones({30, 100})});
  EXPECT_EQ(traces, 2);  // same signature: replayed
  f({ones({3, 100})});
  EXPECT_EQ(traces, 3);  // new shape: traced again
}

TEST(Compile, InputsOfAnyLayoutBroadcastAndScalars) {
  auto f = compile([](const std::vector<array>& x) {
    return std::vector<array>{add(multiply(x[0], x[1]), exp(x[2]))};
  });
  array a = transpose(reshape(arange_f(60), {6, 10}));  // (10, 6), not contiguous
  array b = reshape(arange_f(6), {1, 6});                // broadcast over rows
  array c = array(0.5f);
  expect_close(f({a, b, c})[0], add(multiply(a, b), exp(c)));
  array d = slice(reshape(arange_f(240), {12, 20}), {1, 2}, {11, 20}, {2, 3});  // strided view
  expect_close(f({d, array(3.0f), reshape(arange_f(5), {5, 1})})[0],
               add(multiply(d, array(3.0f)), exp(reshape(arange_f(5), {5, 1}))));
  // Empty and 0-d.
  EXPECT_EQ(f({zeros({0, 4}), ones({4}), ones({1})})[0].shape(), (Shape{0, 4}));
  expect_close(f({array(2.0f), array(3.0f), array(0.0f)})[0], array(7.0f));
}

TEST(Compile, ComparisonsSelectAndCasts) {
  auto f = compile([](const std::vector<array>& x) {
    array pos = greater(x[0], array(0.0f));
    array relu = where(pos, x[0], zeros_like(x[0]));
    array wide = astype(multiply(relu, relu), float64);
    return std::vector<array>{add(wide, astype(logical_not(pos), float64)), isnan(x[0])};
  });
  array x = array({-1.0f, 0.0f, 2.0f, NAN, -3.5f, 4.0f});
  auto got = f({x});
  EXPECT_EQ(got[0].dtype(), float64);
  auto v = to_vector<double>(got[0]);
  EXPECT_EQ(v[0], 1.0);
  EXPECT_EQ(v[1], 1.0);
  EXPECT_EQ(v[2], 4.0);
  EXPECT_EQ(v[5], 16.0);
  EXPECT_EQ(to_vector<bool>(got[1]), (std::vector<bool>{false, false, false, true, false, false}));
}

TEST(Compile, EqualNodesAndScalarsMergeAndDeadNodesGo) {
  auto f = compile([](const std::vector<array>& x) {
    array unused = sin(x[0]);
    (void)unused;
    return std::vector<array>{add(multiply(exp(x[0]), array(2.0f)), multiply(exp(x[0]), array(2.0f)))};
  });
  array x = arange_f(10);
  array y = f({x})[0];
  ASSERT_NE(fused(y), nullptr);
  EXPECT_EQ(fused(y)->steps().size(), 3u);  // exp, multiply, add: the copies merged, sin gone
  EXPECT_EQ(fused(y)->input_dtypes().size(), 2u);  // x and one 2.0
  expect_close(y, multiply(exp(x), array(4.0f)));
}

TEST(Compile, SumsComputeTheirInputInTheSamePass) {
  auto f = compile([](const std::vector<array>& x) {
    array e = exp(subtract(x[0], x[1]));
    return std::vector<array>{sum(multiply(e, e), {-1}, true), sum(square(x[0]))};
  });
  for (Shape shape : {Shape{3, 5}, Shape{2, 3000}, Shape{70000}, Shape{0, 4}}) {
    array x = reshape(arange_f(static_cast<int>(shape_size(shape))), shape);
    array m = shape.size() == 2 ? ones({shape[0], 1}) : array(0.5f);
    auto got = f({x, m});
    ASSERT_NE(fused(got[0]), nullptr);
    EXPECT_EQ(fused(got[0])->steps().size(), 4u);  // subtract exp multiply sum
    array e = exp(subtract(x, m));
    expect_close(got[0], sum(multiply(e, e), {-1}, true), 1e-5);
    expect_close(got[1], sum(square(x)), 1e-5);
  }
  // A shapeless replay where the summed axis is no longer trailing still sums right.
  auto g = compile([](const std::vector<array>& x) { return std::vector<array>{sum(exp(x[0]), {0}, true)}; }, true);
  array col = reshape(arange_f(4), {4, 1}), wide = reshape(arange_f(12), {4, 3});
  expect_close(g({col})[0], sum(exp(col), {0}, true), 1e-6);
  expect_close(g({wide})[0], sum(exp(wide), {0}, true), 1e-6);
  // Gradients through the fused sum.
  auto loss = [](const std::vector<array>& x) { return sum(exp(multiply(x[0], x[0]))); };
  array x = arange_f(10);
  auto compiled_loss = compile([&](const std::vector<array>& v) { return std::vector<array>{loss(v)}; });
  expect_close(grad([&](const std::vector<array>& v) { return compiled_loss(v)[0]; })({x})[0], grad(loss)({x})[0], 1e-5);
}

TEST(Compile, SeveralOutputsOfOneGroup) {
  // An Adam-like update: the new moments are outputs and feed the new parameter.
  auto f = compile([](const std::vector<array>& x) {
    array m = add(multiply(array(0.9f), x[1]), multiply(array(0.1f), x[0]));
    array v = add(multiply(array(0.999f), x[2]), multiply(array(0.001f), square(x[0])));
    array w = subtract(x[3], multiply(array(0.01f), divide(m, add(sqrt(v), array(1e-8f)))));
    return std::vector<array>{w, m, v};
  });
  array g = arange_f(1000), m = multiply(g, array(0.5f)), v = square(g), w = ones({1000});
  eval(g, m, v, w);
  auto got = f({g, m, v, w});
  ASSERT_NE(fused(got[0]), nullptr);
  EXPECT_EQ(&got[0].primitive(), &got[1].primitive());
  EXPECT_EQ(&got[0].primitive(), &got[2].primitive());
  array me = add(multiply(array(0.9f), m), multiply(array(0.1f), g));
  array ve = add(multiply(array(0.999f), v), multiply(array(0.001f), square(g)));
  expect_close(got[1], me);
  expect_close(got[2], ve);
  expect_close(got[0], subtract(w, multiply(array(0.01f), divide(me, add(sqrt(ve), array(1e-8f))))));
}

TEST(Compile, ShapelessReplaysAtNewShapesAndNeverGoesStale) {
  int traces = 0;
  auto f = compile([&](const std::vector<array>& x) {
    ++traces;
    return std::vector<array>{divide(exp(x[0]), sum(exp(x[0]), {-1}, true))};
  }, true);
  for (int n : {3, 7, 1, 20}) {
    array x = reshape(arange_f(2 * n), {2, n});
    expect_close(f({x})[0], divide(exp(x), sum(exp(x), {-1}, true)));
  }
  EXPECT_EQ(traces, 2);  // n = 1 traces apart: tracing decides broadcasting by size-1 axes
  f({arange_f(5)});
  EXPECT_EQ(traces, 3);  // another rank

  // reshape fixes its shape: each new shape traces again rather than replay a stale one.
  int fixed = 0;
  auto g = compile([&](const std::vector<array>& x) {
    ++fixed;
    return std::vector<array>{reshape(x[0], {-1})};
  }, true);
  EXPECT_EQ(g({ones({2, 3})})[0].shape(), (Shape{6}));
  EXPECT_EQ(g({ones({4, 5})})[0].shape(), (Shape{20}));
  EXPECT_EQ(g({ones({2, 3})})[0].shape(), (Shape{6}));
  EXPECT_EQ(fixed, 2);
}

TEST(Compile, CacheIsBounded) {
  int traces = 0;
  auto f = compile([&](const std::vector<array>& x) {
    ++traces;
    return std::vector<array>{exp(x[0])};
  }, false, 2);
  f({ones({1})}), f({ones({2})}), f({ones({1})});
  EXPECT_EQ(traces, 2);
  f({ones({3})});     // evicts shape {2}, the least recently used
  f({ones({1})});
  EXPECT_EQ(traces, 3);
  f({ones({2})});
  EXPECT_EQ(traces, 4);
}

TEST(Compile, CapturedArraysAreConstants) {
  array w = array({1.0f, 2.0f, 3.0f});
  auto f = compile([&](const std::vector<array>& x) { return std::vector<array>{multiply(x[0], w)}; });
  expect_close(f({ones({3})})[0], w);
}

TEST(Compile, GradOfCompiledAndCompiledGradMatchEager) {
  auto loss = [](const std::vector<array>& x) { return sum(chain(x[0])); };
  auto compiled_loss = compile([&](const std::vector<array>& x) { return std::vector<array>{loss(x)}; });
  array x = subtract(multiply(arange_f(50), array(4.0f)), array(2.0f));
  auto eager = grad(loss)({x})[0];
  auto through = grad([&](const std::vector<array>& v) { return compiled_loss(v)[0]; })({x})[0];
  expect_close(through, eager, 1e-5);
  auto compiled_grad = compile([&](const std::vector<array>& v) { return grad(loss)(v); });
  expect_close(compiled_grad({x})[0], eager, 1e-5);
  auto second = grad([&](const std::vector<array>& v) {
    return sum(grad([&](const std::vector<array>& u) { return compiled_loss(u)[0]; })(v)[0]);
  })({x})[0];
  auto second_eager = grad([&](const std::vector<array>& v) { return sum(grad(loss)(v)[0]); })({x})[0];
  expect_close(second, second_eager, 1e-4);
}

TEST(Compile, VmapAndJvpThroughCompiled) {
  auto f = compile([](const std::vector<array>& x) { return std::vector<array>{chain(x[0])}; });
  array x = reshape(arange_f(12), {3, 4});
  expect_close(vmap(f)({x})[0], chain(x));
  auto compiled_vmap = compile(vmap([](const std::vector<array>& v) { return std::vector<array>{chain(v[0])}; }));
  expect_close(compiled_vmap({x})[0], chain(x));
  auto [out, tangent] = jvp(f, {x}, {ones_like(x)});
  auto [eout, etangent] = jvp([](const std::vector<array>& v) { return std::vector<array>{chain(v[0])}; }, {x}, {ones_like(x)});
  expect_close(out[0], eout[0]);
  expect_close(tangent[0], etangent[0], 1e-5);
}

TEST(Compile, DisableCallsTheFunction) {
  int calls = 0;
  auto f = compile([&](const std::vector<array>& x) {
    ++calls;
    return std::vector<array>{exp(x[0])};
  });
  disable_compile();
  f({ones({2})}), f({ones({2})});
  enable_compile();
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(compile_enabled());
}

TEST(Compile, EvaluatingWhileTracingIsAClearError) {
  auto f = compile([](const std::vector<array>& x) {
    float v = sum(x[0]).item<float>();  // depends on values: cannot be traced
    return std::vector<array>{multiply(x[0], array(v))};
  });
  try {
    f({ones({3})});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[compile]"), std::string::npos) << e.what();
  }
}

TEST(Compile, ExportedCompiledNodesReadBack) {
  auto f = compile([](const std::vector<array>& x) { return std::vector<array>{chain(x[0]), sigmoid(x[0])}; });
  std::string path = ::testing::TempDir() + "/compiled.lzfn";
  array x = arange_f(16);
  export_function(path, f, {x});
  auto g = import_function(path);
  auto got = g({x});
  expect_close(got[0], chain(x));
  expect_close(got[1], sigmoid(x));
  std::remove(path.c_str());
}

LAZULI_CHECKER_CASES(compiled) {
  using lazuli::test::Case;
  auto f = compile([](const std::vector<array>& x) {
    return std::vector<array>{lazuli::add(multiply(tanh(x[0]), x[1]), exp(multiply(x[1], array(0.5))))};
  });
  add("Compiled", Case{{{3, 4}, {4}}, -2, 2, f});
}
