// qqmm / gather_qqmm (both operands quantized) against a float64 reference built from
// quantize + dequantize, their straight-through gradients, errors, and the QQLinear layer.
#include <cstdio>

#include "checker.h"  // filled()
#include "lazuli/nn/layers_more.h"
#include "lazuli/quantized.h"
#include "nn_test_util.h"

using namespace lazuli;
using namespace lazuli::test;

namespace {

struct QQMode {
  std::string mode;
  int group_size, bits;
};
const QQMode kModes[] = {{"nvfp4", 16, 4}, {"mxfp8", 32, 8}};

// Reproducible float32 data (qqmm takes float32, float16 and bfloat16 only).
array fdata(const Shape& shape, double lo, double hi, int seed) { return astype(filled(shape, lo, hi, seed), float32); }

// dequantize(quantize(a)) in float64: the values qqmm multiplies.
array rounded(const array& a, const QQMode& m, const std::optional<array>& global_scale = std::nullopt) {
  auto q = quantize(a, m.group_size, m.bits, m.mode, global_scale);
  return dequantize(q[0], q[1], std::nullopt, m.group_size, m.bits, m.mode, global_scale, float64);
}

// |got - want| <= tol * (1 + |want|) everywhere, shapes equal.
void expect_rel_close(const array& got, const array& want, double tol) {
  ASSERT_EQ(got.shape(), want.shape());
  auto g = to_vector<double>(got), w = to_vector<double>(want);
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], w[i], tol * (1 + std::abs(w[i]))) << "at " << i;
}

double tolerance(Dtype t) { return t == float32 ? 1e-5 : t == float16 ? 2e-3 : 1e-2; }

}  // namespace

TEST(Qqmm, MatchesFloat64ReferenceForModesDtypesAndWeightForms) {
  for (const auto& m : kModes)
    for (Dtype t : {float32, float16, bfloat16}) {
      array x = astype(fdata({5, 64}, -3, 3, 1), t);
      array w = astype(fdata({7, 64}, -2, 2, 2), t);
      array want = matmul(rounded(x, m), transpose(rounded(w, m)));
      array from_float = qqmm(x, w, std::nullopt, std::nullopt, std::nullopt, m.mode);
      EXPECT_EQ(from_float.dtype(), t);
      expect_rel_close(from_float, want, tolerance(t));
      auto wq = quantize(w, std::nullopt, std::nullopt, m.mode);
      array from_packed = qqmm(x, wq[0], wq[1], m.group_size, m.bits, m.mode);
      EXPECT_EQ(from_packed.dtype(), t);
      expect_rel_close(from_packed, want, tolerance(t));
    }
}

TEST(Qqmm, GlobalScalesForNvfp4) {
  QQMode m = kModes[0];
  array x = fdata({4, 32}, -50, 50, 3), w = fdata({6, 32}, -0.01, 0.01, 4);
  array gx = max(abs(x)), gw = max(abs(w));
  array want = matmul(rounded(x, m, gx), transpose(rounded(w, m, gw)));
  expect_rel_close(qqmm(x, w, std::nullopt, std::nullopt, std::nullopt, "nvfp4", gx, gw), want, 1e-5);
  auto wq = quantize(w, std::nullopt, std::nullopt, "nvfp4", gw);
  expect_rel_close(qqmm(x, wq[0], wq[1], 16, 4, "nvfp4", gx, gw), want, 1e-5);
  // The global scales change the result (they are not ignored).
  array plain = qqmm(x, w);
  EXPECT_GT(max(abs(subtract(plain, astype(want, float32)))).item<float>(), 0.0f);
}

TEST(Qqmm, BatchShapesVectorsAndEmpty) {
  QQMode m = kModes[1];
  array x = fdata({2, 3, 64}, -1, 1, 5), w = fdata({4, 64}, -1, 1, 6), wb = fdata({2, 4, 64}, -1, 1, 7);
  expect_rel_close(qqmm(x, w, std::nullopt, std::nullopt, std::nullopt, "mxfp8"),
                   matmul(rounded(x, m), transpose(rounded(w, m))), 1e-5);
  expect_rel_close(qqmm(x, wb, std::nullopt, std::nullopt, std::nullopt, "mxfp8"),
                   matmul(rounded(x, m), swapaxes(rounded(wb, m), -1, -2)), 1e-5);
  array v = fdata({64}, -1, 1, 8);
  array out = qqmm(v, w, std::nullopt, std::nullopt, std::nullopt, "mxfp8");
  EXPECT_EQ(out.shape(), (Shape{4}));
  expect_rel_close(out, matmul(reshape(rounded(reshape(v, {1, 64}), m), {64}), transpose(rounded(w, m))), 1e-5);
  array empty = qqmm(zeros({0, 64}), w, std::nullopt, std::nullopt, std::nullopt, "mxfp8");
  EXPECT_EQ(empty.shape(), (Shape{0, 4}));
}

TEST(Qqmm, StraightThroughGradients) {
  for (const auto& m : kModes) {
    array x = fdata({3, 64}, -1, 1, 9), w = fdata({5, 64}, -1, 1, 10), c = fdata({3, 5}, -1, 1, 11);
    auto f = [&](const std::vector<array>& a) {
      return std::vector<array>{qqmm(a[0], a[1], std::nullopt, std::nullopt, std::nullopt, m.mode)};
    };
    auto [out, grads] = vjp(f, {x, w}, {c});
    // The rounding counts as the identity: d x = c @ w_q, d w = c.T @ x_q.
    expect_rel_close(grads[0], matmul(c, rounded(w, m)), 1e-5);
    expect_rel_close(grads[1], matmul(transpose(c), rounded(x, m)), 1e-5);
    // Finite differences of the straight-through surrogate x -> sum(c * (x @ w_q.T)), whose
    // derivative the rule claims: exact for a linear function up to rounding.
    array wq = astype(rounded(w, m), float32);
    array e = zeros_like(x);
    double h = 1e-2;
    for (int i : {0, 7, 100, 191}) {
      array bump = reshape(astype(equal(arange(0, 192, int32), array(i)), float32), {3, 64});
      auto s = [&](const array& xx) { return sum(multiply(c, matmul(xx, transpose(wq)))).item<float>(); };
      double fd = (s(add(x, multiply(bump, array(float(h))))) - s(subtract(x, multiply(bump, array(float(h)))))) /
                  (2 * h);
      EXPECT_NEAR(to_vector<double>(grads[0])[i], fd, 1e-3) << m.mode << " at " << i;
    }
    // jvp agrees with the vjp (the same straight-through rule forwards).
    auto [o2, tangents] = jvp(f, {x, w}, {ones_like(x), zeros_like(w)});
    expect_rel_close(tangents[0], matmul(ones({3, 64}, float64), transpose(rounded(w, m))), 1e-5);
    // Through a packed weight the gradient reaches x only (as in MLX, w must be float to get one).
    auto wp = quantize(w, std::nullopt, std::nullopt, m.mode);
    auto gx = grad(UnaryFn([&](const array& a) { return sum(qqmm(a, wp[0], wp[1], std::nullopt, std::nullopt, m.mode)); }))(x);
    expect_rel_close(gx, broadcast_to(sum(rounded(w, m), 0, true), {3, 64}), 1e-5);
  }
}

TEST(Qqmm, VmapMatchesBatch) {
  array x = fdata({4, 2, 32}, -1, 1, 12), w = fdata({3, 32}, -1, 1, 13);
  auto f = [&](const std::vector<array>& a) { return std::vector<array>{qqmm(a[0], w)}; };
  expect_rel_close(vmap(f, {1})({x})[0], swapaxes(qqmm(x, w), 0, 1), 1e-6);
}

TEST(Qqmm, GatherMatchesLoop) {
  for (const auto& m : kModes) {
    array x = fdata({3, 2, 64}, -1, 1, 14), w = fdata({4, 5, 64}, -1, 1, 15);
    array lhs = array({0, 2, 1, 2}, {4}, int32), rhs = array({3, 0, 0, 1}, {4}, uint32);
    array out = gather_qqmm(x, w, std::nullopt, lhs, rhs, std::nullopt, std::nullopt, m.mode);
    ASSERT_EQ(out.shape(), (Shape{4, 2, 5}));
    auto li = to_vector<int>(lhs), ri = to_vector<int>(rhs);
    for (int i = 0; i < 4; ++i) {
      array want = qqmm(take(x, array(li[i]), 0), take(w, array(ri[i]), 0), std::nullopt, std::nullopt, std::nullopt,
                        m.mode);
      expect_rel_close(take(out, array(i), 0), want, 1e-6);
    }
    // Packed weights and a single index array (the other defaults to every batch matrix).
    auto wq = quantize(w, std::nullopt, std::nullopt, m.mode);
    array packed = gather_qqmm(take(x, array(0), 0), wq[0], wq[1], std::nullopt, rhs, m.group_size, m.bits, m.mode);
    ASSERT_EQ(packed.shape(), (Shape{4, 2, 5}));
    for (int i = 0; i < 4; ++i)
      expect_rel_close(take(packed, array(i), 0),
                       qqmm(take(x, array(0), 0), take(w, array(ri[i]), 0), std::nullopt, std::nullopt, std::nullopt,
                            m.mode),
                       1e-6);
    // Without indices it is qqmm.
    array w3 = take(w, array({0, 1, 2}), 0);
    expect_rel_close(gather_qqmm(x, w3, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, m.mode),
                     qqmm(x, w3, std::nullopt, std::nullopt, std::nullopt, m.mode), 0);
  }
}

TEST(Qqmm, Errors) {
  array x = fdata({2, 32}, -1, 1, 16), w = fdata({3, 32}, -1, 1, 17);
  auto wq = quantize(w, std::nullopt, std::nullopt, "nvfp4");
  auto msg = [](auto f) { return error_of<std::invalid_argument>([&] { f().eval(); }); };
  auto has = [](const std::string& m, const std::string& part) { return contains(m, part) ? ::testing::AssertionSuccess() : ::testing::AssertionFailure() << m; };
  const auto none = std::nullopt;
  EXPECT_TRUE(has(msg([&] { return qqmm(x, w, none, none, none, "affine"); }),
                  "[qqmm] Only 'nvfp4' and 'mxfp8' quantization modes are supported but 'affine'"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, w, none, none, none, "mxfp4"); }), "'mxfp4'"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, w, none, 32, none, "nvfp4"); }), "[qqmm] 'nvfp4' quantization requires group size 16"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, w, none, none, 8, "nvfp4"); }), "requires bits to be 4"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, w, none, none, none, "nvfp4", array(1.f)); }), "either both"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, w, none, none, none, "mxfp8", array(1.f), array(1.f)); }),
                  "[qqmm] global_scale is only supported for 'nvfp4'"));
  EXPECT_TRUE(has(msg([&] { return qqmm(astype(x, float64), w); }), "[qqmm] Non-quantized x must be float32, float16 or bfloat16"));
  EXPECT_TRUE(has(msg([&] { return qqmm(astype(x, int32), w); }), "Non-quantized x"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, astype(w, float64)); }), "Non-quantized w"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, fdata({3, 16}, -1, 1, 1)); }), "[qqmm] Last dimension of x with shape (2, 32)"));
  EXPECT_TRUE(has(msg([&] { return qqmm(fdata({2, 8}, -1, 1, 1), fdata({3, 8}, -1, 1, 1)); }), "divisible by the group size 16"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, fdata({32}, -1, 1, 1)); }), "w must have at least 2 dimensions"));
  EXPECT_TRUE(has(msg([&] { return qqmm(array(1.f), w); }), "x must have at least 1 dimension"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, wq[0]); }), "[qqmm] scales must be given when w is quantized"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, w, wq[1]); }), "[qqmm] scales must be None when w is not quantized"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, wq[0], take(wq[1], array({0, 1}), 0)); }), "[qqmm] Shape of scales"));
  EXPECT_TRUE(has(msg([&] { return qqmm(x, wq[0], wq[1], none, none, "mxfp8"); }), "[qqmm]"));
  array x3 = fdata({2, 2, 32}, -1, 1, 1), w3 = fdata({2, 3, 32}, -1, 1, 1);
  EXPECT_TRUE(has(msg([&] { return gather_qqmm(x3, w3, none, array({0.5f})); }), "[gather_qqmm] lhs_indices must be integers"));
  EXPECT_TRUE(has(msg([&] { return gather_qqmm(x3, w3, none, none, array({true})); }), "[gather_qqmm] rhs_indices must be integers"));
  EXPECT_TRUE(has(msg([&] { return gather_qqmm(fdata({32}, -1, 1, 1), w3, none, array({0})); }), "[gather_qqmm] x must have at least 2"));
  EXPECT_TRUE(has(msg([&] { return gather_qqmm(x3, w3, none, array({0}), none, none, none, "affine"); }), "[gather_qqmm] Only 'nvfp4'"));
}

// ---- QQLinear ----

TEST(QQLinear, TrainEvalSwitchingAndValues) {
  random::seed(3);
  nn::QQLinear layer(64, 8);
  EXPECT_EQ(layer.group_size(), 16);
  EXPECT_EQ(layer.bits(), 4);
  EXPECT_EQ(keys(layer.trainable_parameters()), (std::vector<std::string>{"weight"}));
  array w = layer.param("weight");
  EXPECT_EQ(w.shape(), (Shape{8, 64}));
  EXPECT_EQ(w.dtype(), float32);
  EXPECT_LE(max(abs(w)).item<float>(), 0.125f);
  array x = data({3, 64}, 4);
  array train_out = layer(x);
  expect_rel_close(train_out, qqmm(x, w), 0);

  layer.eval();
  EXPECT_TRUE(layer.quantized());
  EXPECT_EQ(layer.param("weight").dtype(), uint32);
  EXPECT_EQ(layer.param("weight").shape(), (Shape{8, 8}));
  EXPECT_EQ(layer.param("scales").shape(), (Shape{8, 4}));
  expect_rel_close(layer(x), train_out, 0);
  layer.eval();  // already packed: unchanged
  EXPECT_EQ(keys(layer.parameters()), (std::vector<std::string>{"scales", "weight"}));

  layer.train();
  EXPECT_FALSE(layer.quantized());
  EXPECT_EQ(keys(layer.parameters()), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(layer.param("weight").dtype(), bfloat16);  // dequantize's floating-mode dtype, as in MLX
  expect_rel_close(layer(x), train_out, 0);

  nn::QQLinear fp8(64, 8, std::nullopt, std::nullopt, "mxfp8");
  EXPECT_EQ(fp8.group_size(), 32);
  EXPECT_EQ(fp8.bits(), 8);
  fp8.eval();
  EXPECT_EQ(fp8.param("weight").shape(), (Shape{8, 16}));
}

TEST(QQLinear, FromLinearGradientsAndWeights) {
  random::seed(5);
  nn::Linear linear(32, 4);
  auto layer = nn::QQLinear::from_linear(linear, std::nullopt, std::nullopt, "mxfp8");
  EXPECT_EQ(keys(layer->parameters()), (std::vector<std::string>{"bias", "weight"}));
  array x = data({2, 32}, 6);
  expect_rel_close((*layer)(x), add(qqmm(x, linear.param("weight"), std::nullopt, std::nullopt, std::nullopt, "mxfp8"),
                                    linear.param("bias")),
                   1e-6);
  // The weight trains with straight-through gradients.
  auto loss = [&](const std::vector<array>& in) { return sum((*layer)(in[0])); };
  auto [value, grads] = nn::value_and_grad(*layer, loss)({x});
  expect_rel_close(grads.at("weight"), broadcast_to(sum(rounded(x, kModes[1]), 0, true), {4, 32}), 1e-5);
  expect_close(grads.at("bias"), full({4}, 2.0f));

  // A linear layer in eval mode gives a packed layer; weights round-trip through a file.
  linear.eval();
  auto packed = nn::QQLinear::from_linear(linear, std::nullopt, std::nullopt, "mxfp8");
  EXPECT_TRUE(packed->quantized());
  std::string file = ::testing::TempDir() + "qqlinear_weights.safetensors";
  packed->save_weights(file);
  nn::QQLinear loaded(32, 4, std::nullopt, std::nullopt, "mxfp8");
  loaded.eval();
  EXPECT_THROW(loaded.load_weights(file), std::invalid_argument);  // it has no bias
  loaded.load_weights(file, false);
  expect_rel_close(loaded(x), subtract((*packed)(x), linear.param("bias")), 1e-6);
  std::remove(file.c_str());
}

TEST(QQLinear, QuantizeWithInputsAndErrors) {
  random::seed(7);
  nn::Sequential model(nn::Linear(32, 32), nn::ReLU(), nn::Linear(32, 4));
  nn::quantize(model, 16, 4, "nvfp4", nullptr, true);
  EXPECT_EQ(model[0].type_name(), "QQLinear");
  EXPECT_EQ(model[2].type_name(), "QQLinear");
  EXPECT_EQ(keys(model.trainable_parameters()),
            (std::vector<std::string>{"layers.0.bias", "layers.0.weight", "layers.2.bias", "layers.2.weight"}));
  model.eval();
  EXPECT_TRUE(dynamic_cast<nn::QQLinear&>(model[0]).quantized());
  nn::Sequential with_embedding(nn::Embedding(8, 32), nn::Linear(32, 4));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { nn::quantize(with_embedding, 16, 4, "nvfp4", nullptr, true); }),
                       "[quantize] quantize_input is only supported for Linear layers"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([] { nn::QQLinear(32, 4, std::nullopt, std::nullopt, "affine"); }),
                       "[QQLinear] Only 'nvfp4' and 'mxfp8'"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([] { nn::QQLinear(32, 4, 32); }),
                       "[QQLinear] 'nvfp4' quantization requires group size 16"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([] { nn::QQLinear(24, 4).eval(); }), "[quantize]"));
  nn::QQLinear layer(32, 4);
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { layer(data({2, 16})); }), "[qqmm]"));
}
