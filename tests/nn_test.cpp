// lazuli::nn: activations, losses, layers' forward passes and initialisers, against scalar
// formulas computed here in double precision.
#include <cmath>
#include <functional>

#include "lazuli/linalg.h"
#include "lazuli/nn/functional.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::expect_throws_naming;
using lazuli::test::expect_values;
using lazuli::test::to_vector;

namespace {

const std::vector<double> xs = {-3.0, -1.5, -0.4, 0.0, 0.3, 1.2, 4.0};

array input() {
  std::vector<float> v(xs.begin(), xs.end());
  return array(v.begin(), Shape{7});
}

std::vector<double> map(const std::function<double(double)>& f) {
  std::vector<double> out;
  for (double x : xs) out.push_back(f(x));
  return out;
}

double sigm(double x) { return 1 / (1 + std::exp(-x)); }
double softplus(double x) { return std::log1p(std::exp(x)); }

}  // namespace

TEST(Nn, ElementwiseActivations) {
  array x = input();
  const double tol = 2e-6;
  expect_values(nn::sigmoid(x), map(sigm), tol);
  expect_values(nn::relu(x), map([](double v) { return std::max(v, 0.0); }), tol);
  expect_values(nn::relu2(x), map([](double v) { return v > 0 ? v * v : 0.0; }), 1e-5);
  expect_values(nn::relu6(multiply(x, array(2.f))), map([](double v) { return std::clamp(2 * v, 0.0, 6.0); }), tol);
  expect_values(nn::leaky_relu(x, 0.1), map([](double v) { return v > 0 ? v : 0.1 * v; }), tol);
  expect_values(nn::elu(x, 0.7), map([](double v) { return v > 0 ? v : 0.7 * std::expm1(v); }), tol);
  expect_values(nn::celu(x, 1.5), map([](double v) { return std::max(v, 0.0) + 1.5 * std::expm1(std::min(v, 0.0) / 1.5); }), tol);
  expect_values(nn::selu(x), map([](double v) { return 1.0507 * (v > 0 ? v : 1.67326 * std::expm1(v)); }), 1e-5);
  expect_values(nn::softplus(x), map(softplus), tol);
  expect_values(nn::softsign(x), map([](double v) { return v / (1 + std::abs(v)); }), tol);
  expect_values(nn::softshrink(x, 0.5),
                map([](double v) { return v > 0.5 ? v - 0.5 : (v < -0.5 ? v + 0.5 : 0.0); }), tol);
  expect_values(nn::hard_shrink(x, 0.5), map([](double v) { return std::abs(v) > 0.5 ? v : 0.0; }), tol);
  expect_values(nn::hard_tanh(x, -2, 1), map([](double v) { return std::clamp(v, -2.0, 1.0); }), tol);
  expect_values(nn::silu(x), map([](double v) { return v * sigm(v); }), tol);
  expect_values(nn::log_sigmoid(x), map([](double v) { return -softplus(-v); }), tol);
  expect_values(nn::gelu(x), map([](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }), 1e-5);
  expect_values(nn::gelu_approx(x), map([](double v) {
                  return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
                }), 1e-5);
  expect_values(nn::gelu_fast_approx(x), map([](double v) { return v * sigm(1.702 * v); }), 1e-5);
  expect_values(nn::mish(x), map([](double v) { return v * std::tanh(softplus(v)); }), 1e-5);
  expect_values(nn::hardswish(x), map([](double v) { return v * std::clamp(v + 3, 0.0, 6.0) / 6; }), tol);
  expect_values(nn::tanh(x), map([](double v) { return std::tanh(v); }), tol);
  expect_values(nn::prelu(x, array(0.25f)), map([](double v) { return v > 0 ? v : 0.25 * v; }), tol);
  array st = nn::step(x, 0.3);
  EXPECT_EQ(st.dtype(), int32);
  expect_values(st, map([](double v) { return v > 0.3 ? 1.0 : 0.0; }));
}

TEST(Nn, AxisActivations) {
  array x = array({1.f, 2.f, 3.f, -1.f, 0.f, 4.f}, Shape{2, 3});
  auto rows = [](double a, double b, double c) {
    double m = std::max({a, b, c});
    double z = std::exp(a - m) + std::exp(b - m) + std::exp(c - m);
    return std::vector<double>{std::exp(a - m) / z, std::exp(b - m) / z, std::exp(c - m) / z};
  };
  std::vector<double> sm = rows(1, 2, 3), sm2 = rows(-1, 0, 4);
  sm.insert(sm.end(), sm2.begin(), sm2.end());
  expect_values(nn::softmax(x), sm, 1e-6);
  std::vector<double> lsm;
  for (double p : sm) lsm.push_back(std::log(p));
  expect_values(nn::log_softmax(x), lsm, 1e-5);
  std::vector<double> smin = rows(-1, -2, -3), smin2 = rows(1, 0, -4);
  smin.insert(smin.end(), smin2.begin(), smin2.end());
  expect_values(nn::softmin(x), smin, 1e-6);
  // Columns: softmax over axis 0.
  expect_values(nn::softmax(x, 0), {sigm(2), sigm(2), sigm(-1), sigm(-2), sigm(-2), sigm(1)}, 1e-6);
  // glu: first half gated by the sigmoid of the second half.
  array g = nn::glu(array({1.f, 2.f, 0.f, -1.f}, Shape{1, 4}));
  expect_values(g, {1 * sigm(0), 2 * sigm(-1)}, 1e-6);
  expect_throws_naming([] { return nn::glu(array({1.f, 2.f, 3.f}, Shape{3})); }, "glu");
}

TEST(Nn, CrossEntropy) {
  array logits = array({1.f, 2.f, 3.f, 0.5f, -1.f, 2.f}, Shape{2, 3});
  array targets = array({2, 0}, Shape{2});
  auto lse = [](double a, double b, double c) { return std::log(std::exp(a) + std::exp(b) + std::exp(c)); };
  double l0 = lse(1, 2, 3) - 3, l1 = lse(0.5, -1, 2) - 0.5;
  expect_values(nn::cross_entropy(logits, targets), {l0, l1}, 1e-5);
  expect_values(nn::cross_entropy(logits, targets, std::nullopt, -1, 0.0, "mean"), {(l0 + l1) / 2}, 1e-5);
  expect_values(nn::cross_entropy(logits, targets, array({2.f, 0.5f}), -1, 0.0, "sum"), {2 * l0 + 0.5 * l1}, 1e-5);
  // Probability targets give the same as one-hot rows.
  array onehot = array({0.f, 0.f, 1.f, 1.f, 0.f, 0.f}, Shape{2, 3});
  expect_values(nn::cross_entropy(logits, onehot), {l0, l1}, 1e-5);
  // Label smoothing: (1 - ls) * ce + ls * (lse - mean(logits)).
  double ls = 0.2;
  expect_values(nn::cross_entropy(logits, targets, std::nullopt, -1, ls),
                {(1 - ls) * l0 + ls * (lse(1, 2, 3) - 2), (1 - ls) * l1 + ls * (lse(0.5, -1, 2) - 0.5)}, 1e-5);
  // Class axis 0.
  expect_values(nn::cross_entropy(transpose(logits), targets, std::nullopt, 0), {l0, l1}, 1e-5);
  expect_throws_naming([&] { return nn::cross_entropy(logits, array({1, 2, 0}, Shape{3})); }, "cross_entropy");
  expect_throws_naming([&] { return nn::cross_entropy(logits, targets, std::nullopt, -1, 1.0); }, "cross_entropy");
  expect_throws_naming([&] { return nn::cross_entropy(logits, targets, std::nullopt, -1, 0.0, "avg"); },
                       "cross_entropy");
  expect_throws_naming([&] { return nn::cross_entropy(logits, targets, array({1.f, 2.f, 3.f})); }, "cross_entropy");
}

TEST(Nn, RegressionLosses) {
  array p = array({0.5f, -1.f, 2.f, 3.f}, Shape{4});
  array t = array({1.f, 1.f, 2.5f, -1.f}, Shape{4});
  std::vector<double> d = {-0.5, -2, -0.5, 4};
  expect_values(nn::l1_loss(p, t), {(0.5 + 2 + 0.5 + 4) / 4}, 1e-6);
  expect_values(nn::mse_loss(p, t, "sum"), {0.25 + 4 + 0.25 + 16}, 1e-5);
  expect_values(nn::smooth_l1_loss(p, t, 1.0, "none"), {0.125, 1.5, 0.125, 3.5}, 1e-6);
  expect_values(nn::huber_loss(p, t, 1.0), {0.125, 1.5, 0.125, 3.5}, 1e-6);
  std::vector<double> lc;
  for (double e : d) lc.push_back(std::log(std::cosh(e)));
  expect_values(nn::log_cosh_loss(p, t), lc, 1e-6);
  expect_values(nn::hinge_loss(p, array({1.f, -1.f, 1.f, -1.f})), {0.5, 0.0, 0.0, 4.0}, 1e-6);
  expect_values(nn::margin_ranking_loss(p, t, array({1.f, -1.f, 1.f, 1.f}), 0.1), {0.6, 0, 0.6, 0}, 1e-6);
  array v = array({0.5f, 1.f, 2.f, 1e-9f}, Shape{4});
  std::vector<double> g;
  std::vector<double> vv = {0.5, 1, 2, 1e-6};
  for (int i = 0; i < 4; ++i) g.push_back(0.5 * (std::log(vv[i]) + d[i] * d[i] / vv[i]));
  expect_values(nn::gaussian_nll_loss(p, t, v, false, 1e-6, "none"), g, 1e-1);
  expect_values(slice(nn::gaussian_nll_loss(p, t, v, true, 1e-6, "none"), {0}, {3}),
                {g[0] + 0.5 * std::log(2 * M_PI), g[1] + 0.5 * std::log(2 * M_PI), g[2] + 0.5 * std::log(2 * M_PI)},
                1e-5);
  expect_throws_naming([&] { return nn::mse_loss(p, array({1.f, 2.f}, Shape{2})); }, "mse_loss");
  expect_throws_naming([&] { return nn::margin_ranking_loss(p, t, array({1.f}, Shape{1})); }, "margin_ranking_loss");
}

TEST(Nn, ClassificationAndDistanceLosses) {
  array logits = array({0.3f, -2.f}, Shape{2});
  array y = array({1.f, 0.f}, Shape{2});
  double b0 = softplus(0.3) - 0.3, b1 = softplus(-2);
  expect_values(nn::binary_cross_entropy(logits, y, std::nullopt, true, "none"), {b0, b1}, 1e-6);
  array probs = array({0.8f, 0.0f}, Shape{2});
  expect_values(nn::binary_cross_entropy(probs, y, std::nullopt, false, "none"), {-std::log(0.8), 0.0}, 1e-6);
  expect_values(nn::binary_cross_entropy(array({0.f}), array({1.f}), std::nullopt, false), {100.0}, 1e-4);

  array logp = log(array({0.2f, 0.5f, 0.3f}, Shape{1, 3}));
  expect_values(nn::nll_loss(logp, array({1}, Shape{1})), {-std::log(0.5)}, 1e-6);
  array q = log(array({0.3f, 0.3f, 0.4f}, Shape{1, 3}));
  double kl = 0.3 * std::log(0.3 / 0.2) + 0.3 * std::log(0.3 / 0.5) + 0.4 * std::log(0.4 / 0.3);
  expect_values(nn::kl_div_loss(logp, q), {kl}, 1e-6);

  array a = array({1.f, 0.f, 0.f, 1.f}, Shape{2, 2});
  array b = array({1.f, 1.f, 0.f, -2.f}, Shape{2, 2});
  expect_values(nn::cosine_similarity_loss(a, b), {1 / std::sqrt(2.0), -1.0}, 1e-6);
  array pos = array({1.f, 0.f, 0.f, 0.f}, Shape{2, 2});
  array neg = array({0.f, 3.f, 0.f, 1.f}, Shape{2, 2});
  double eps = 1e-6;
  expect_values(nn::triplet_loss(a, pos, neg),
                {std::max(0.0, std::sqrt(eps) - std::sqrt(10 + eps) + 1), std::max(0.0, std::sqrt(1 + eps) - std::sqrt(eps) + 1)},
                1e-5);
}

TEST(Nn, LossGradients) {
  // d cross_entropy / d logits = softmax(logits) - onehot(target).
  array logits = array({1.f, 2.f, 3.f, 0.5f, -1.f, 2.f}, Shape{2, 3});
  array targets = array({2, 0}, Shape{2});
  auto g = grad([&](const array& l) { return nn::cross_entropy(l, targets, std::nullopt, -1, 0.0, "sum"); })(logits);
  array expected = subtract(softmax(logits, -1), array({0.f, 0.f, 1.f, 1.f, 0.f, 0.f}, Shape{2, 3}));
  expect_values(g, to_vector<double>(expected), 1e-6);
  // d mse(mean) / dp = 2 (p - t) / n.
  array p = array({0.5f, -1.f, 2.f}, Shape{3}), t = array({1.f, 1.f, 2.f}, Shape{3});
  auto gm = grad([&](const array& x) { return nn::mse_loss(x, t); })(p);
  expect_values(gm, {2 * -0.5 / 3, 2 * -2.0 / 3, 0.0}, 1e-6);
  // ELU's gradient stays finite for large inputs (the unused branch is clamped).
  auto ge = grad([](const array& x) { return sum(nn::elu(x)); })(array({100.f, -1.f}, Shape{2}));
  expect_values(ge, {1.0, std::exp(-1.0)}, 1e-6);
}

TEST(Nn, LinearAndBilinear) {
  array x = array({1.f, 2.f, 3.f, 4.f}, Shape{2, 2});
  array w = array({1.f, 0.f, 0.5f, -1.f, 2.f, 2.f}, Shape{3, 2});
  array b = array({0.f, 1.f, -1.f}, Shape{3});
  expect_values(nn::linear(x, w, b), {1, 1 + 0.5 - 2, -1 + 6, 3, 1 + 1.5 - 4, -1 + 14}, 1e-6);
  expect_values(nn::linear(x, w), {1, -1.5, 6, 3, -2.5, 14}, 1e-6);
  expect_throws_naming([&] { return nn::linear(x, b); }, "linear");

  // Bilinear: y[n, o] = sum_ij x1[n, i] W[o, j, i] x2[n, j].
  array x1 = array({1.f, 2.f}, Shape{1, 2});
  array x2 = array({3.f, -1.f, 0.5f}, Shape{1, 3});
  std::vector<float> wv(2 * 3 * 2);
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = float(i) * 0.1f - 0.5f;
  array W = array(wv.begin(), Shape{2, 3, 2});
  std::vector<double> want(2, 0.0);
  double v1[2] = {1, 2}, v2[3] = {3, -1, 0.5};
  for (int o = 0; o < 2; ++o)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) want[o] += v1[i] * wv[(o * 3 + j) * 2 + i] * v2[j];
  array y = nn::bilinear(x1, x2, W, array({1.f, -1.f}));
  EXPECT_EQ(y.shape(), (Shape{1, 2}));
  expect_values(y, {want[0] + 1, want[1] - 1}, 1e-5);
  expect_throws_naming([&] { return nn::bilinear(x2, x1, W); }, "bilinear");
}

TEST(Nn, Embedding) {
  array table = array({0.f, 1.f, 10.f, 11.f, 20.f, 21.f}, Shape{3, 2});
  array out = nn::embedding(array({2, 0, 2, 1}, Shape{2, 2}), table);
  EXPECT_EQ(out.shape(), (Shape{2, 2, 2}));
  expect_values(out, {20, 21, 0, 1, 20, 21, 10, 11});
  expect_throws_naming([&] { return nn::embedding(array({0.5f}), table); }, "embedding");
}

TEST(Nn, Normalisation) {
  array x = array({1.f, 2.f, 3.f, 4.f, -1.f, 0.f, 1.f, 6.f}, Shape{2, 4});
  auto standardize = [](std::vector<double> v, double eps) {
    double m = 0, s = 0;
    for (double e : v) m += e / v.size();
    for (double e : v) s += (e - m) * (e - m) / v.size();
    for (double& e : v) e = (e - m) / std::sqrt(s + eps);
    return v;
  };
  auto r0 = standardize({1, 2, 3, 4}, 1e-5), r1 = standardize({-1, 0, 1, 6}, 1e-5);
  std::vector<double> ln = r0;
  ln.insert(ln.end(), r1.begin(), r1.end());
  expect_values(nn::layer_norm(x, std::nullopt, std::nullopt), ln, 1e-5);
  array w = array({1.f, 2.f, 0.5f, -1.f}), b = array({0.f, 1.f, 0.f, 0.f});
  std::vector<double> lnw;
  double wv[4] = {1, 2, 0.5, -1}, bv[4] = {0, 1, 0, 0};
  for (int i = 0; i < 8; ++i) lnw.push_back(ln[i] * wv[i % 4] + bv[i % 4]);
  expect_values(nn::layer_norm(x, w, b), lnw, 1e-5);
  std::vector<double> rms;
  double ms0 = (1 + 4 + 9 + 16) / 4.0, ms1 = (1 + 0 + 1 + 36) / 4.0;
  for (int i = 0; i < 8; ++i)
    rms.push_back(to_vector<double>(x)[i] / std::sqrt((i < 4 ? ms0 : ms1) + 1e-5) * wv[i % 4]);
  expect_values(nn::rms_norm(x, w), rms, 1e-5);
  // Batch norm with given statistics.
  expect_values(nn::batch_norm(x, array(1.f), array(4.f), std::nullopt, std::nullopt, 0.0),
                {0, 0.5, 1, 1.5, -1, -0.5, 0, 2.5}, 1e-6);
  // Instance norm over the spatial axis of (batch 1, 4 positions, 2 channels).
  array img = reshape(x, {1, 4, 2});
  auto c0 = standardize({1, 3, -1, 1}, 1e-5), c1 = standardize({2, 4, 0, 6}, 1e-5);
  expect_values(nn::instance_norm(img, std::nullopt, std::nullopt),
                {c0[0], c1[0], c0[1], c1[1], c0[2], c1[2], c0[3], c1[3]}, 1e-5);
  // Group norm, 2 groups of 2 channels: MLX groups channels {0, 2} and {1, 3}; PyTorch {0, 1}, {2, 3}.
  array gx = reshape(x, {1, 2, 4});
  auto g02 = standardize({1, 3, -1, 1}, 1e-5), g13 = standardize({2, 4, 0, 6}, 1e-5);
  expect_values(nn::group_norm(gx, 2, std::nullopt, std::nullopt),
                {g02[0], g13[0], g02[1], g13[1], g02[2], g13[2], g02[3], g13[3]}, 1e-5);
  auto g01 = standardize({1, 2, -1, 0}, 1e-5), g23 = standardize({3, 4, 1, 6}, 1e-5);
  expect_values(nn::group_norm(gx, 2, std::nullopt, std::nullopt, 1e-5, true),
                {g01[0], g01[1], g23[0], g23[1], g01[2], g01[3], g23[2], g23[3]}, 1e-5);
  expect_throws_naming([&] { return nn::group_norm(gx, 3, std::nullopt, std::nullopt); }, "group_norm");
  expect_throws_naming([&] { return nn::instance_norm(x, std::nullopt, std::nullopt); }, "instance_norm");
}

TEST(Nn, Dropout) {
  array x = ones({200, 50});
  array y = nn::dropout(x, 0.25, 0, random::key(3));
  auto v = to_vector<double>(y);
  int zeros = 0;
  for (double e : v) {
    if (e == 0) ++zeros;
    else EXPECT_NEAR(e, 1 / 0.75, 1e-6);
  }
  EXPECT_NEAR(zeros / double(v.size()), 0.25, 0.02);
  // Channel dropout: a channel is zero at every position or none.
  array img = ones({8, 3, 3, 16});
  auto c = to_vector<double>(nn::dropout(img, 0.5, 2, random::key(1)));
  for (int n = 0; n < 8; ++n)
    for (int ch = 0; ch < 16; ++ch)
      for (int p = 1; p < 9; ++p) EXPECT_EQ(c[(n * 9 + p) * 16 + ch], c[n * 9 * 16 + ch]);
  expect_values(nn::dropout(x, 0.0), to_vector<double>(x));
  expect_throws_naming([&] { return nn::dropout(x, 1.0); }, "dropout");
}

TEST(Nn, Initialisers) {
  using namespace nn::init;
  expect_values(constant({2, 2}, 0.5), {0.5, 0.5, 0.5, 0.5});
  expect_values(identity({2, 2}), {1, 0, 0, 1});
  EXPECT_EQ(fan_in_fan_out({8, 3, 3, 4}), (std::pair<int64_t, int64_t>{36, 72}));
  auto stats = [](const array& a) {
    auto v = to_vector<double>(a);
    double m = 0, s = 0;
    for (double e : v) m += e / v.size();
    for (double e : v) s += (e - m) * (e - m) / v.size();
    return std::pair<double, double>{m, std::sqrt(s)};
  };
  auto [m, s] = stats(normal({200, 100}, 1.0, 2.0, float32, random::key(0)));
  EXPECT_NEAR(m, 1.0, 0.05);
  EXPECT_NEAR(s, 2.0, 0.05);
  std::tie(m, s) = stats(glorot_normal({300, 100}, 1.0, float32, random::key(1)));
  EXPECT_NEAR(s, std::sqrt(2.0 / 400), 0.003);
  std::tie(m, s) = stats(he_normal({300, 100}, "fan_out", 2.0, float32, random::key(1)));
  EXPECT_NEAR(s, 2.0 / std::sqrt(300.0), 0.003);
  auto gu = to_vector<double>(glorot_uniform({50, 30}, 1.0, float32, random::key(2)));
  double limit = std::sqrt(6.0 / 80);
  for (double e : gu) EXPECT_LE(std::abs(e), limit);
  auto hu = to_vector<double>(he_uniform({50, 30}, "fan_in", 1.0, float32, random::key(2)));
  for (double e : hu) EXPECT_LE(std::abs(e), std::sqrt(3.0 / 30));
  // sparse: exactly ceil(0.3 * 10) = 3 zeros per row.
  auto sp = to_vector<double>(sparse({20, 10}, 0.3, 0.0, 1.0, float32, random::key(4)));
  for (int r = 0; r < 20; ++r) {
    int z = 0;
    for (int c = 0; c < 10; ++c) z += sp[r * 10 + c] == 0;
    EXPECT_EQ(z, 3) << "row " << r;
  }
  // orthogonal: Q Q^T = gain^2 I for a wide matrix.
  array q = orthogonal({3, 5}, 2.0, float32, random::key(5));
  expect_values(matmul(q, transpose(q)), {4, 0, 0, 0, 4, 0, 0, 0, 4}, 1e-5);
  array tall = orthogonal({6, 2}, 1.0, float32, random::key(6));
  expect_values(matmul(transpose(tall), tall), {1, 0, 0, 1}, 1e-5);
  expect_throws_naming([] { return identity({2, 3}); }, "init.identity");
  expect_throws_naming([] { return glorot_uniform({4}); }, "init");
  expect_throws_naming([] { return he_normal({4, 4}, "fan"); }, "init.he_normal");
  expect_throws_naming([] { return sparse({4, 4, 4}, 0.5); }, "init.sparse");
  expect_throws_naming([] { return orthogonal({4}); }, "init.orthogonal");
}

TEST(Nn, TinyMlpTrains) {
  // y = sin(x) on [-2, 2] with a 1-16-1 tanh MLP and plain gradient descent.
  array x = reshape(linspace(-2, 2, 64), {64, 1});
  array y = sin(x);
  std::vector<array> params = {nn::init::glorot_uniform({16, 1}, 1.0, float32, random::key(0)), zeros({16}),
                               nn::init::glorot_uniform({1, 16}, 1.0, float32, random::key(1)), zeros({1})};
  auto loss = [&](const std::vector<array>& p) {
    array h = nn::tanh(nn::linear(x, p[0], p[1]));
    return nn::mse_loss(nn::linear(h, p[2], p[3]), y);
  };
  auto step = value_and_grad(loss, {0, 1, 2, 3});
  double first = 0, last = 0;
  for (int it = 0; it < 500; ++it) {
    auto [l, g] = step(params);
    for (int i = 0; i < 4; ++i) params[i] = subtract(params[i], multiply(array(0.2f), g[i]));
    eval(params);
    (it == 0 ? first : last) = l.item<float>();
  }
  EXPECT_LT(last, 0.01) << "from " << first;
  EXPECT_LT(last, first / 10);
}

TEST(Nn, ComposesWithVmapAndJvp) {
  // vmap of a per-sample loss equals the batched loss with reduction "none".
  array logits = array({1.f, 2.f, 3.f, 0.5f, -1.f, 2.f}, Shape{2, 3});
  array targets = array({2, 0}, Shape{2});
  auto per_sample = vmap([](const std::vector<array>& in) {
    return std::vector<array>{nn::cross_entropy(in[0], in[1])};
  });
  array mapped = per_sample({logits, targets})[0];
  expect_values(mapped, to_vector<double>(nn::cross_entropy(logits, targets)), 1e-6);
  // jvp of gelu along a unit tangent equals its derivative Phi(x) + x phi(x).
  array x = array({-1.f, 0.5f, 2.f}, Shape{3});
  auto [out, tangent] = jvp([](const std::vector<array>& in) { return std::vector<array>{nn::gelu(in[0])}; }, {x},
                            {ones({3})});
  std::vector<double> want;
  for (double v : {-1.0, 0.5, 2.0})
    want.push_back(0.5 * (1 + std::erf(v / std::sqrt(2.0))) + v * std::exp(-v * v / 2) / std::sqrt(2 * M_PI));
  expect_values(tangent[0], want, 1e-5);
}
