// lazuli::optimizers update rules against steps worked out by hand (see lazuli/nn/optimizers.h).
#include <cmath>

#include "lazuli/nn/optimizers.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::contains;
using lazuli::test::error_of;
using lazuli::test::expect_values;
namespace opt = lazuli::optimizers;

namespace {

// Parameter (1, 2) with gradient (0.5, -1): most rules move each entry by a multiple of
// sign(g), i.e. down for the first and up for the second.
array w() { return array({1.0f, 2.0f}); }
array g() { return array({0.5f, -1.0f}); }
array zero() { return zeros({2}); }
array lr(double v) { return array(static_cast<float>(v)); }
array step(int t) { return array(static_cast<uint64_t>(t), uint64); }

// One Newton-Schulz step on a singular value x: a x + b x^3 + c x^5.
double ns_value(double x, int steps) {
  for (int i = 0; i < steps; ++i) x = 3.4445 * x - 4.7750 * x * x * x + 2.0315 * x * x * x * x * x;
  return x;
}

}  // namespace

TEST(Optimizers, Sgd) {
  expect_values(opt::sgd(w(), g(), zero(), lr(0.1)).parameter, {0.95, 2.1}, 1e-6);
  // Weight decay adds 0.1 w to the gradient: (0.6, -0.8).
  expect_values(opt::sgd(w(), g(), zero(), lr(0.1), 0.0, 0.1).parameter, {0.94, 2.08}, 1e-6);
  // Momentum from v = g: v' = 0.9 g + g = 1.9 g.
  auto u = opt::sgd(w(), g(), g(), lr(0.1), 0.9);
  expect_values(u.state[0], {0.95, -1.9}, 1e-6);
  expect_values(u.parameter, {1 - 0.095, 2 + 0.19}, 1e-6);
  // Dampening 0.5 from v = 0: v' = 0.5 g.
  expect_values(opt::sgd(w(), g(), zero(), lr(0.1), 0.9, 0.0, 0.5).state[0], {0.25, -0.5}, 1e-6);
  // Nesterov from v = 0: v' = g, step g + 0.9 v' = 1.9 g.
  expect_values(opt::sgd(w(), g(), zero(), lr(0.1), 0.9, 0.0, 0.0, true).parameter, {0.905, 2.19}, 1e-6);
  auto e = error_of<std::invalid_argument>([] { opt::sgd(w(), g(), zero(), lr(0.1), 0.0, 0.0, 0.0, true); });
  EXPECT_TRUE(contains(e, "[SGD]")) << e;
}

TEST(Optimizers, RmspropAdagradAdadelta) {
  // v = 0.01 g^2, so g / sqrt(v) = 10 sign(g).
  auto r = opt::rmsprop(w(), g(), zero(), lr(0.01));
  expect_values(r.state[0], {0.0025, 0.01}, 1e-8);
  expect_values(r.parameter, {0.9, 2.1}, 1e-6);
  // v = g^2: a step of lr sign(g).
  auto a = opt::adagrad(w(), g(), zero(), lr(0.1));
  expect_values(a.state[0], {0.25, 1.0}, 1e-7);
  expect_values(a.parameter, {0.9, 2.1}, 1e-6);
  auto d = opt::adadelta(w(), g(), zero(), zero(), lr(1.0), 0.9, 1e-6);
  double d0 = std::sqrt(1e-6) / std::sqrt(0.025 + 1e-6) * 0.5, d1 = -std::sqrt(1e-6) / std::sqrt(0.1 + 1e-6);
  expect_values(d.state[0], {0.025, 0.1}, 1e-8);
  expect_values(d.state[1], {0.1 * d0 * d0, 0.1 * d1 * d1}, 1e-10);
  expect_values(d.parameter, {1 - d0, 2 - d1}, 1e-6);
}

TEST(Optimizers, AdamFamily) {
  // Without bias correction: m / sqrt(v) = 0.1 g / (sqrt(0.001) |g|) = sqrt(10) sign(g).
  auto a = opt::adam(w(), g(), zero(), zero(), lr(0.01), step(1));
  expect_values(a.state[0], {0.05, -0.1}, 1e-7);
  expect_values(a.state[1], {0.00025, 0.001}, 1e-9);
  expect_values(a.parameter, {1 - 0.01 * std::sqrt(10.0), 2 + 0.01 * std::sqrt(10.0)}, 1e-6);
  // With it, the first step is lr sign(g).
  expect_values(opt::adam(w(), g(), zero(), zero(), lr(0.01), step(1), 0.9, 0.999, 1e-8, true).parameter,
                {0.99, 2.01}, 1e-6);
  // Second step from (m, v) = (g, g^2): m' = g, v' = g^2 again, corrected by 1 - 0.9^2 and
  // 1 - 0.999^2: a step of lr sqrt(1 - 0.999^2) / (1 - 0.9^2) sign(g).
  double second = 0.01 * std::sqrt(1 - 0.999 * 0.999) / (1 - 0.81);
  expect_values(opt::adam(w(), g(), g(), square(g()), lr(0.01), step(2), 0.9, 0.999, 1e-8, true).parameter,
                {1 - second, 2 + second}, 1e-5);
  // AdamW: w (1 - 0.01 * 0.1) then the corrected step.
  expect_values(
      opt::adamw(w(), g(), zero(), zero(), lr(0.01), step(1), 0.9, 0.999, 1e-8, 0.1, true).parameter,
      {0.999 - 0.01, 1.998 + 0.01}, 1e-6);
  // Adamax: m = 0.1 g, v = |g|: a step of 0.1 lr sign(g).
  auto x = opt::adamax(w(), g(), zero(), zero(), lr(0.1));
  expect_values(x.state[1], {0.5, 1.0}, 1e-7);
  expect_values(x.parameter, {0.99, 2.01}, 1e-6);
  // Parameters keep their dtype.
  auto h = opt::adam(astype(w(), float16), astype(g(), float16), zeros({2}, float16), zeros({2}, float16),
                     lr(0.01), step(1), 0.9, 0.999, 1e-8, true);
  EXPECT_EQ(h.parameter.dtype(), float16);
  EXPECT_EQ(h.state[1].dtype(), float16);
}

TEST(Optimizers, Lion) {
  auto l = opt::lion(w(), g(), zero(), lr(0.1), 0.9, 0.99, 0.5);
  expect_values(l.state[0], {0.005, -0.01}, 1e-8);
  expect_values(l.parameter, {0.95 - 0.1, 1.9 + 0.1}, 1e-6);
}

TEST(Optimizers, Adafactor) {
  // Step 1: beta2 = 1 - 1^-0.8 = 0, so the second moment is g^2 and the update is sign(g)
  // (RMS 1, not clipped), scaled by min(1e-2, 1) * RMS(w).
  opt::AdafactorOptions o;
  auto v = opt::adafactor(w(), g(), opt::adafactor_init(w(), o), std::nullopt, step(1), o);
  double rate = 0.01 * std::sqrt(2.5);
  expect_values(v.parameter, {1 - rate, 2 + rate}, 1e-6);
  expect_values(v.state[0], {0.25, 1.0}, 1e-6);
  // A matrix: factored moments (rows, columns); with g = 1 the update is 1.
  array m = array({1.0f, 2.0f, 3.0f, 4.0f}, {2, 2});
  auto state = opt::adafactor_init(m, o);
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].shape(), (Shape{2}));
  auto f = opt::adafactor(m, ones({2, 2}), state, std::nullopt, step(1), o);
  double mrate = 0.01 * std::sqrt(7.5);
  expect_values(f.parameter, {1 - mrate, 2 - mrate, 3 - mrate, 4 - mrate}, 1e-6);
  expect_values(f.state[0], {1, 1}, 1e-6);
  // A fixed rate, first moment and weight decay: w - 0.1 * 0.01 w - 0.1 * 0.01 sign(g).
  o.relative_step = false;
  o.scale_parameter = false;
  o.beta1 = 0.9;
  o.weight_decay = 0.1;
  auto b = opt::adafactor(w(), g(), opt::adafactor_init(w(), o), lr(0.01), step(1), o);
  ASSERT_EQ(b.state.size(), 2u);
  expect_values(b.state[1], {0.001, -0.001}, 1e-8);
  expect_values(b.parameter, {1 - 0.001 - 0.001, 2 - 0.002 + 0.001}, 1e-6);
  auto e = error_of<std::invalid_argument>([&] { opt::adafactor(w(), g(), {}, lr(0.01), step(1), o); });
  EXPECT_TRUE(contains(e, "[Adafactor]")) << e;
  e = error_of<std::invalid_argument>([&] { opt::adafactor(w(), g(), {zero(), zero()}, std::nullopt, step(1), o); });
  EXPECT_TRUE(contains(e, "learning_rate")) << e;
}

TEST(Optimizers, MuonAndNewtonSchulz) {
  // 3 I normalises to I / sqrt(2); every singular value then follows the scalar iteration.
  array three_i = multiply(array(3.0f), eye(2));
  double s = ns_value(1 / std::sqrt(2.0), 5);
  expect_values(opt::newton_schulz5(three_i), {s, 0, 0, s}, 1e-4);
  // A tall matrix is handled through its transpose.
  array x = array({1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f}, {3, 2});
  auto tall = test::to_vector<double>(opt::newton_schulz5(x, 3));
  auto wide = test::to_vector<double>(transpose(opt::newton_schulz5(transpose(x), 3)));
  for (size_t i = 0; i < tall.size(); ++i) EXPECT_NEAR(tall[i], wide[i], 1e-5);
  auto e = error_of<std::invalid_argument>([] { opt::newton_schulz5(array({1.0f, 2.0f})); });
  EXPECT_TRUE(contains(e, "[newton_schulz5]")) << e;

  // A vector: Nesterov momentum only, v = 0.05 g, update 0.05 g + 0.95 v = 0.0975 g.
  auto u = opt::muon(w(), g(), zero(), lr(0.1), 0.95, 0.0);
  expect_values(u.parameter, {1 - 0.1 * 0.0975 * 0.5, 2 + 0.1 * 0.0975}, 1e-6);
  // A 4 x 2 matrix with orthogonal columns: v = 0.5 g, orthogonalised to ns(1/sqrt 2) on
  // the diagonal, and the rate scaled by sqrt(4 / 2).
  array gm = array({1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f}, {4, 2});
  auto mu = opt::muon(zeros({4, 2}), gm, zeros({4, 2}), lr(0.1), 0.5, 0.0, false);
  double step_size = 0.1 * std::sqrt(2.0) * s;
  expect_values(mu.parameter, {-step_size, 0, 0, -step_size, 0, 0, 0, 0}, 1e-4);
  expect_values(mu.state[0], {0.5, 0, 0, 0.5, 0, 0, 0, 0}, 1e-7);
}

TEST(Optimizers, ClipGradNorm) {
  auto [clipped, norm] = opt::clip_grad_norm({array({3.0f, 0.0f}), array({0.0f, 4.0f}, {1, 2})}, 1.0);
  expect_values(norm, {5.0}, 1e-6);
  expect_values(clipped[0], {3 / (5 + 1e-6), 0}, 1e-6);
  EXPECT_EQ(clipped[1].shape(), (Shape{1, 2}));
  auto [same, big] = opt::clip_grad_norm({array({3.0f, 0.0f})}, 10.0);
  expect_values(same[0], {3, 0}, 0);
}
