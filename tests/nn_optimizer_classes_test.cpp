// lazuli::optimizers' classes (state, schedules, MultiOptimizer) against steps worked out by
// hand; the update rules themselves are tested in optimizers_test.cpp.
#include <cmath>
#include <filesystem>

#include "lazuli/nn/modules.h"
#include "lazuli/nn/optimizer.h"
#include "nn_test_util.h"

using namespace lazuli;
using lazuli::test::contains;
using lazuli::test::error_of;
using lazuli::test::expect_values;
using lazuli::test::to_vector;
using lazuli::test::keys;

namespace opt = lazuli::optimizers;

namespace {

// One parameter w = (1, 2) with gradient g = (0.5, -1).
nn::Params params() { return {{"w", array({1.0f, 2.0f})}}; }
nn::Params grads() { return {{"w", array({0.5f, -1.0f})}}; }

// The parameter after `steps` updates with the same gradient.
array run(opt::Optimizer& o, int steps = 1) {
  nn::Params p = params();
  for (int i = 0; i < steps; ++i) p = o.apply_gradients(grads(), p);
  return p.at("w");
}

double value(const array& a) { return astype(a, float64).item<double>(); }

}  // namespace

TEST(NnOptimizerClasses, SgdWithAndWithoutMomentum) {
  opt::SGD plain(0.1);
  expect_values(run(plain), {0.95, 2.1}, 1e-6);
  // Momentum 0.9: v = g, then v = 1.9 g.
  opt::SGD momentum(0.1, 0.9);
  expect_values(run(momentum, 2), {1 - 0.05 - 0.095, 2 + 0.1 + 0.19}, 1e-6);
  expect_values(momentum.state().at("w.v"), {0.95, -1.9}, 1e-6);
  EXPECT_EQ(keys(momentum.state()), (std::vector<std::string>{"learning_rate", "step", "w.v"}));
  EXPECT_EQ(momentum.step().item<uint64_t>(), 2u);
  EXPECT_EQ(momentum.step().dtype(), uint64);
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([] { opt::SGD(0.1, 0.0, 0.0, 0.0, true); }),
                       "[SGD] Nesterov momentum requires"));
}

TEST(NnOptimizerClasses, AdaptiveOptimizersFirstSteps) {
  // Adam without bias correction: m = 0.1 g, v = 0.001 g^2, step lr m / sqrt(v) = lr sqrt(10) sign(g).
  double adam_step = 0.1 * 0.1 / std::sqrt(0.001);
  opt::Adam adam(0.1);
  expect_values(run(adam), {1 - adam_step, 2 + adam_step}, 1e-5);
  EXPECT_EQ(keys(adam.state()), (std::vector<std::string>{"learning_rate", "step", "w.m", "w.v"}));
  expect_values(adam.state().at("w.m"), {0.05, -0.1}, 1e-7);
  expect_values(adam.state().at("w.v"), {0.00025, 0.001}, 1e-9);
  opt::Adam corrected(0.1, {0.9, 0.999}, 1e-8, true);
  expect_values(run(corrected), {0.9, 2.1}, 1e-5);
  // AdamW first scales w by 1 - lr wd.
  opt::AdamW adamw(0.1, {0.9, 0.999}, 1e-8, 0.01);
  expect_values(run(adamw), {0.999 - adam_step, 1.998 + adam_step}, 1e-5);
  // RMSprop: v = 0.01 g^2, step lr g / (0.1 |g|).
  opt::RMSprop rms(0.01);
  expect_values(run(rms), {0.9, 2.1}, 1e-5);
  // Adagrad: v = g^2, step lr sign(g).
  opt::Adagrad adagrad(0.1);
  expect_values(run(adagrad), {0.9, 2.1}, 1e-6);
  // Adamax: m = 0.1 g, v = |g|, step lr 0.1 sign(g).
  opt::Adamax adamax(1.0);
  expect_values(run(adamax), {0.9, 2.1}, 1e-6);
  // Lion: step lr sign(g); m = 0.01 g.
  opt::Lion lion(0.1);
  expect_values(run(lion), {0.9, 2.1}, 1e-6);
  expect_values(lion.state().at("w.m"), {0.005, -0.01}, 1e-8);
  // AdaDelta: v = 0.1 g^2, d = sqrt(eps) / sqrt(v + eps) g, u = 0.1 d^2.
  opt::AdaDelta adadelta(1.0);
  std::vector<double> want, want_u;
  for (double gi : {0.5, -1.0}) {
    double d = std::sqrt(1e-6) / std::sqrt(0.1 * gi * gi + 1e-6) * gi;
    want.push_back((gi > 0 ? 1.0 : 2.0) - d);
    want_u.push_back(0.1 * d * d);
  }
  expect_values(run(adadelta), want, 1e-6);
  expect_values(adadelta.state().at("w.u"), want_u, 1e-9);
  for (auto* bad : {+[] { opt::RMSprop(0.1, -1.0); }, +[] { opt::RMSprop(0.1, 0.9, -1.0); },
                    +[] { opt::Adagrad(0.1, -1.0); }, +[] { opt::AdaDelta(0.1, -0.5); },
                    +[] { opt::Adamax(0.1, {0.9, 0.999}, -1.0); }})
    EXPECT_THROW(bad(), std::invalid_argument);
}

TEST(NnOptimizerClasses, AdafactorAndMuonKeepTheRulesState) {
  // A matrix parameter: Adafactor's factored state, Muon's momentum; two steps each against
  // the update functions called by hand.
  array w = reshape(arange(1.0f, 7.0f), {2, 3}), g = reshape(array({0.5f, -1.0f, 0.25f, 2.0f, -0.5f, 1.0f}), {2, 3});
  opt::AdafactorOptions options;
  options.beta1 = 0.9;
  opt::Adafactor adafactor(std::nullopt, options);
  nn::Params p{{"w", w}};
  p = adafactor.apply_gradients({{"w", g}}, p);
  p = adafactor.apply_gradients({{"w", g}}, p);
  EXPECT_EQ(keys(adafactor.state()),
            (std::vector<std::string>{"step", "w.exp_avg", "w.exp_avg_sq_col", "w.exp_avg_sq_row"}));
  auto state = opt::adafactor_init(w, options);
  auto u1 = opt::adafactor(w, g, state, std::nullopt, array(static_cast<uint64_t>(1), uint64), options);
  auto u2 = opt::adafactor(u1.parameter, g, u1.state, std::nullopt, array(static_cast<uint64_t>(2), uint64), options);
  expect_values(p.at("w"), to_vector<double>(u2.parameter), 1e-6);
  opt::Adafactor vector_lr(0.01);
  run(vector_lr);
  EXPECT_EQ(keys(vector_lr.state()), (std::vector<std::string>{"learning_rate", "step", "w.exp_avg_sq"}));

  opt::Muon muon(0.02);
  nn::Params q{{"w", w}};
  q = muon.apply_gradients({{"w", g}}, q);
  q = muon.apply_gradients({{"w", g}}, q);
  auto m1 = opt::muon(w, g, zeros_like(w), array(0.02f));
  auto m2 = opt::muon(m1.parameter, g, m1.state[0], array(0.02f));
  expect_values(q.at("w"), to_vector<double>(m2.parameter), 1e-6);
  expect_values(muon.state().at("w.v"), to_vector<double>(m2.state[0]), 1e-6);
}

TEST(NnOptimizerClasses, SchedulesGiveTheLearningRatePerStep) {
  auto at = [](const opt::Schedule& s, int step) { return value(s(array(static_cast<uint64_t>(step), uint64))); };
  EXPECT_NEAR(at(opt::exponential_decay(0.1, 0.9), 3), 0.1 * 0.729, 1e-7);
  EXPECT_NEAR(at(opt::step_decay(0.1, 0.5, 2), 5), 0.025, 1e-8);
  EXPECT_NEAR(at(opt::step_decay(0.1, 0.5, 2), 1), 0.1, 1e-8);
  EXPECT_NEAR(at(opt::cosine_decay(0.1, 10), 0), 0.1, 1e-7);
  EXPECT_NEAR(at(opt::cosine_decay(0.1, 10), 5), 0.05, 1e-7);
  EXPECT_NEAR(at(opt::cosine_decay(0.1, 10, 0.01), 20), 0.01, 1e-7);
  EXPECT_NEAR(at(opt::linear_schedule(0.0, 1.0, 4), 2), 0.5, 1e-7);
  EXPECT_NEAR(at(opt::linear_schedule(0.0, 1.0, 4), 10), 1.0, 1e-7);
  auto warmup = opt::join_schedules({opt::linear_schedule(0.0, 1.0, 10), opt::cosine_decay(1.0, 10)}, {10});
  EXPECT_NEAR(at(warmup, 5), 0.5, 1e-7);
  EXPECT_NEAR(at(warmup, 10), 1.0, 1e-7);
  EXPECT_NEAR(at(warmup, 15), 0.5, 1e-6);
  EXPECT_NEAR(at(warmup, 30), 0.0, 1e-6);
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([] { opt::join_schedules({}, {}); }), "at least 1 schedule"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([] { opt::join_schedules({opt::exponential_decay(1, 1)}, {3}); }),
                       "Received 1 boundaries but expected 0"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([] { opt::linear_schedule(0, 1, 0); }), "steps must be greater than 0"));
  EXPECT_THROW(opt::cosine_decay(1, 0), std::invalid_argument);
  EXPECT_THROW(opt::step_decay(1, 0.5, 0), std::invalid_argument);

  // A scheduled optimizer uses the rate at the step before the update, as MLX.
  opt::SGD sgd(opt::exponential_decay(0.1, 0.5));
  EXPECT_NEAR(value(sgd.learning_rate()), 0.1, 1e-8);
  expect_values(run(sgd, 2), {1 - 0.05 - 0.025, 2 + 0.1 + 0.05}, 1e-6);
  EXPECT_NEAR(value(sgd.learning_rate()), 0.05, 1e-8);
  sgd.set_learning_rate(0.2);  // a fixed value replaces the schedule
  run(sgd);
  EXPECT_NEAR(value(sgd.learning_rate()), 0.2, 1e-7);
}

TEST(NnOptimizerClasses, StateSavesAndLoads) {
  std::string file = (std::filesystem::temp_directory_path() / "lazuli_optimizer_state.safetensors").string();
  opt::Adam a(0.1);
  nn::Params pa = params();
  pa = a.apply_gradients(grads(), pa);
  pa = a.apply_gradients(grads(), pa);
  a.save_state(file);
  opt::Adam b(0.5);
  b.load_state(file);
  EXPECT_EQ(keys(b.state()), keys(a.state()));
  EXPECT_EQ(b.step().item<uint64_t>(), 2u);
  EXPECT_NEAR(value(b.learning_rate()), 0.1, 1e-8);
  expect_values(b.apply_gradients(grads(), pa).at("w"), to_vector<double>(a.apply_gradients(grads(), pa).at("w")), 0.0);
  std::filesystem::remove(file);
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { b.set_state({}); }), "no \"step\""));
  EXPECT_THROW(b.load_state(file), std::invalid_argument);
}

TEST(NnOptimizerClasses, MultiOptimizerRoutesByPath) {
  auto sgd = std::make_shared<opt::SGD>(0.1);
  auto adam = std::make_shared<opt::Adam>(0.1, std::pair<double, double>{0.9, 0.999}, 1e-8, true);
  opt::MultiOptimizer multi({sgd, adam}, {[](const std::string& path, const array&) { return contains(path, "bias"); }});
  nn::Params p{{"l.bias", array({1.0f, 2.0f})}, {"l.weight", array({1.0f, 2.0f})}};
  nn::Params g{{"l.bias", array({0.5f, -1.0f})}, {"l.weight", array({0.5f, -1.0f})}};
  nn::Params out = multi.apply_gradients(g, p);
  expect_values(out.at("l.bias"), {0.95, 2.1}, 1e-6);   // SGD
  expect_values(out.at("l.weight"), {0.9, 2.1}, 1e-5);  // Adam with bias correction
  EXPECT_EQ(keys(multi.state()),
            (std::vector<std::string>{"states.0.l.bias.v", "states.0.learning_rate", "states.0.step",
                                      "states.1.l.weight.m", "states.1.l.weight.v", "states.1.learning_rate",
                                      "states.1.step"}));
  EXPECT_EQ(multi.step().item<uint64_t>(), 1u);
  multi.set_learning_rate(0.3);
  EXPECT_NEAR(value(multi.learning_rate()), 0.3, 1e-7);
  EXPECT_NEAR(value(adam->learning_rate()), 0.3, 1e-7);
  // The state round-trips through set_state.
  nn::Params saved = multi.state();
  multi.apply_gradients(g, p);
  multi.set_state(saved);
  EXPECT_EQ(sgd->step().item<uint64_t>(), 1u);
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { multi.set_state({{"states.5.step", array(1)}}); }),
                       "Invalid state"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { opt::MultiOptimizer({sgd, adam}); }),
                       "Given 0 filters but 1 needed"));
}

TEST(NnOptimizerClasses, UpdateChangesTheModelAndClipGradNorm) {
  nn::Linear model(2, 1);
  model.update({{"weight", array({1.0f, 2.0f}, {1, 2})}, {"bias", array({0.5f})}});
  opt::SGD sgd(1.0);
  sgd.update(model, {{"weight", array({0.5f, -1.0f}, {1, 2})}});
  expect_values(model.param("weight"), {0.5, 3.0}, 1e-6);
  expect_values(model.param("bias"), {0.5}, 0.0);
  auto msg = error_of<std::invalid_argument>([&] { sgd.update(model, {{"gamma", array({1.0f})}}); });
  EXPECT_TRUE(contains(msg, "no parameter for the gradient \"gamma\"")) << msg;

  auto [clipped, norm] = opt::clip_grad_norm(nn::Params{{"a", array({3.0f, 0.0f})}, {"b", array({4.0f})}}, 1.0);
  EXPECT_NEAR(value(norm), 5.0, 1e-6);
  expect_values(clipped.at("a"), {0.6, 0.0}, 1e-6);
  expect_values(clipped.at("b"), {0.8}, 1e-6);
  auto [kept, norm2] = opt::clip_grad_norm(nn::Params{{"a", array({0.3f, 0.4f})}}, 1.0);
  expect_values(kept.at("a"), {0.3, 0.4}, 1e-6);
  EXPECT_NEAR(value(norm2), 0.5, 1e-6);
}
