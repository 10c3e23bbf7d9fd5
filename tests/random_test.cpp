// The random module: Threefry known answers, determinism, counter layout (independent of
// thread count and draw size), distributions on large samples, dtypes, shapes and errors.
#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>

#include "checker.h"
#include "test_util.h"

namespace lazuli {
using namespace lazuli::test;
namespace rnd = lazuli::random;

namespace {

// A key of shape (2,) from the float input, so that vmap over the input batches the keys.
array key_from(const array& x) { return astype(floor(abs(multiply(x, array(1000.0)))), uint32); }

// Expects std::invalid_argument whose message names `op`.
template <typename F>
void expect_invalid(F f, const std::string& op) {
  try {
    f();
    ADD_FAILURE() << "expected std::invalid_argument from " << op;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[" + op + "]"), std::string::npos) << e.what();
  }
}

double mean_of(const array& a) { return mean(astype(a, float64)).item<double>(); }
double var_of(const array& a) { return var(astype(a, float64)).item<double>(); }

}  // namespace

// RandomBits has no differentiable input: the checker sees zero vjp/jvp and checks that
// vmap over a batch of keys gives one independent draw per key.
LAZULI_CHECKER_CASES(random) {
  add("RandomBits", Case{{{2}},
                         -2,
                         2,
                         unary_fn([](const array& x) {
                           array b = rnd::bits({3}, 4, key_from(x));
                           return lazuli::add(sum(multiply(x, array(0.0))), astype(b, float64));
                         }),
                         false});
  add("RandomBits", Case{{{2}},
                         -2,
                         2,
                         unary_fn([](const array& x) {
                           return lazuli::add(sum(multiply(x, array(0.0))), rnd::uniform({2, 3}, float32, key_from(x)));
                         }),
                         false});
}

TEST(Random, ThreefryKnownAnswers) {
  // Random123's kat_vectors for threefry2x32_20.
  auto a = rnd::threefry2x32_20({0, 0}, {0, 0});
  EXPECT_EQ(a[0], 0x6b200159u);
  EXPECT_EQ(a[1], 0x99ba4efeu);
  auto b = rnd::threefry2x32_20({0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(b[0], 0x1cb996fcu);
  EXPECT_EQ(b[1], 0xbb002be7u);
  auto c = rnd::threefry2x32_20({0x13198a2eu, 0x03707344u}, {0x243f6a88u, 0x85a308d3u});
  EXPECT_EQ(c[0], 0xc4923a9cu);
  EXPECT_EQ(c[1], 0x483df7a0u);
  // Through the op: key (0, 0), elements 0 and 1 come from counter (0, 0).
  auto bits = to_vector<uint32_t>(rnd::bits({2}, 4, rnd::key(0)));
  EXPECT_EQ(bits[0], 0x6b200159u);
  EXPECT_EQ(bits[1], 0x99ba4efeu);
}

TEST(Random, KeysSeedAndSplit) {
  auto k = to_vector<uint32_t>(rnd::key((uint64_t(7) << 32) | 9));
  EXPECT_EQ(k, (std::vector<uint32_t>{7, 9}));
  array key = rnd::key(42);
  auto [k1, k2] = rnd::split(key);
  EXPECT_EQ(k1.shape(), Shape{2});
  EXPECT_FALSE(array_equal(k1, k2).item<bool>());
  EXPECT_FALSE(array_equal(k1, key).item<bool>());
  array many = rnd::split(key, 5);
  EXPECT_EQ(many.shape(), (Shape{5, 2}));
  // Keys are counter-based too: the first two of five are the two of split(key, 2).
  EXPECT_TRUE(array_equal(slice(many, {0, 0}, {2, 2}), rnd::split(key, 2)).item<bool>());
  EXPECT_TRUE(array_equal(k1, take(many, array(0), 0)).item<bool>());
  std::set<std::pair<uint32_t, uint32_t>> distinct;
  auto mv = to_vector<uint32_t>(many);
  for (int i = 0; i < 5; ++i) distinct.insert({mv[2 * i], mv[2 * i + 1]});
  EXPECT_EQ(distinct.size(), 5u);
  EXPECT_EQ(rnd::split(key, 0).shape(), (Shape{0, 2}));

  // The global key: seed makes draws repeat; successive draws differ.
  rnd::seed(3);
  array a1 = rnd::uniform({8}), a2 = rnd::uniform({8});
  rnd::seed(3);
  array b1 = rnd::uniform({8}), b2 = rnd::uniform({8});
  EXPECT_TRUE(array_equal(a1, b1).item<bool>());
  EXPECT_TRUE(array_equal(a2, b2).item<bool>());
  EXPECT_FALSE(array_equal(a1, a2).item<bool>());
  EXPECT_EQ(rnd::global_key().shape(), Shape{2});
}

TEST(Random, DeterministicAndCounterBased) {
  array key = rnd::key(1234);
  EXPECT_TRUE(array_equal(rnd::bits({100}, 4, key), rnd::bits({100}, 4, key)).item<bool>());
  EXPECT_TRUE(array_equal(rnd::normal({7, 3}, float32, 0.0, 1.0, key), rnd::normal({7, 3}, float32, 0.0, 1.0, key))
                  .item<bool>());
  auto [k1, k2] = rnd::split(key);
  EXPECT_FALSE(array_equal(rnd::bits({16}, 4, k1), rnd::bits({16}, 4, k2)).item<bool>());
  // A large draw (split over threads) agrees with a small one (one thread) on its prefix,
  // and every element i is threefry(key, (i / 2, 0))[i % 2].
  const int n = 1 << 20;
  auto big = to_vector<uint32_t>(rnd::bits({n}, 4, key));
  auto small = to_vector<uint32_t>(rnd::bits({11}, 4, key));
  for (int i = 0; i < 11; ++i) EXPECT_EQ(big[i], small[i]);
  for (int i : {0, 1, 2, 12345, 77777, n / 2 + 1, n - 2, n - 1}) {
    auto r = rnd::threefry2x32_20({0, 1234}, {uint32_t(i / 2), 0});
    EXPECT_EQ(big[i], r[i % 2]) << i;
  }
  // Shape does not matter, only the flat index.
  EXPECT_TRUE(array_equal(reshape(rnd::bits({6}, 4, key), {2, 3}), rnd::bits({2, 3}, 4, key)).item<bool>());
}

TEST(Random, BitsWidthsAndShapes) {
  array key = rnd::key(5);
  EXPECT_EQ(rnd::bits({4}, 1, key).dtype(), uint8);
  EXPECT_EQ(rnd::bits({4}, 2, key).dtype(), uint16);
  EXPECT_EQ(rnd::bits({4}, 4, key).dtype(), uint32);
  auto b16 = to_vector<uint32_t>(rnd::bits({4}, 2, key));
  auto b32 = to_vector<uint32_t>(rnd::bits({4}, 4, key));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(b16[i], b32[i] >> 16);
  EXPECT_EQ(rnd::bits({}, 4, key).shape(), Shape{});
  EXPECT_EQ(rnd::bits({}, 4, key).size(), 1u);
  array empty = rnd::uniform({0, 3}, float32, key);
  EXPECT_EQ(empty.shape(), (Shape{0, 3}));
  eval(empty);
  EXPECT_EQ(rnd::normal({}, float32, 0.0, 1.0, key).ndim(), 0u);
}

TEST(Random, UniformDistributionAndDtypes) {
  array key = rnd::key(11);
  const int n = 200000;
  array u = rnd::uniform({n}, float32, key);
  EXPECT_EQ(u.dtype(), float32);
  EXPECT_GE(min(u).item<float>(), 0.0f);
  EXPECT_LT(max(u).item<float>(), 1.0f);
  EXPECT_NEAR(mean_of(u), 0.5, 0.005);
  EXPECT_NEAR(var_of(u), 1.0 / 12, 0.002);
  array v = rnd::uniform(array(-3.0f), array(5.0f), {n}, float32, key);
  EXPECT_GE(min(v).item<float>(), -3.0f);
  EXPECT_LT(max(v).item<float>(), 5.0f);
  EXPECT_NEAR(mean_of(v), 1.0, 0.04);
  // Per-element bounds broadcast against the shape.
  array w = rnd::uniform(array({0.0f, 10.0f}, {2, 1}), array({1.0f, 20.0f}, {2, 1}), {2, 1000}, float32, key);
  auto wv = to_vector<float>(w);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(wv[i] >= 0 && wv[i] < 1);
  for (int i = 1000; i < 2000; ++i) EXPECT_TRUE(wv[i] >= 10 && wv[i] < 20);
  for (Dtype dt : {float16, bfloat16, float64}) {
    SCOPED_TRACE(dtype_name(dt));
    array h = rnd::uniform({n}, dt, key);
    EXPECT_EQ(h.dtype(), dt);
    EXPECT_GE(astype(min(h), float64).item<double>(), 0.0);
    EXPECT_LT(astype(max(h), float64).item<double>(), 1.0);
    EXPECT_NEAR(mean_of(h), 0.5, 0.01);
  }
}

TEST(Random, NormalAndTruncatedNormal) {
  array key = rnd::key(21);
  const int n = 200000;
  for (Dtype dt : {float32, float16, bfloat16, float64}) {
    SCOPED_TRACE(dtype_name(dt));
    array z = rnd::normal({n}, dt, 0.0, 1.0, key);
    EXPECT_EQ(z.dtype(), dt);
    EXPECT_TRUE(all(isfinite(z)).item<bool>());
    EXPECT_NEAR(mean_of(z), 0.0, 0.01);
    EXPECT_NEAR(var_of(z), 1.0, 0.02);
  }
  array y = rnd::normal({n}, float32, 3.0, 2.0, key);
  EXPECT_NEAR(mean_of(y), 3.0, 0.02);
  EXPECT_NEAR(var_of(y), 4.0, 0.08);
  // Fraction within one standard deviation: 0.6827.
  array z = rnd::normal({n}, float32, 0.0, 1.0, key);
  EXPECT_NEAR(mean_of(less(abs(z), array(1.0f))), 0.6827, 0.005);

  array t = rnd::truncated_normal(array(-0.5f), array(1.5f), Shape{n}, float32, key);
  EXPECT_GE(min(t).item<float>(), -0.5f);
  EXPECT_LE(max(t).item<float>(), 1.5f);
  // Mean of N(0,1) truncated to [a, b]: (phi(a) - phi(b)) / (Phi(b) - Phi(a)).
  auto phi = [](double x) { return std::exp(-x * x / 2) / std::sqrt(2 * M_PI); };
  auto Phi = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  EXPECT_NEAR(mean_of(t), (phi(-0.5) - phi(1.5)) / (Phi(1.5) - Phi(-0.5)), 0.01);
  array tb = rnd::truncated_normal(array({-1.0f, 2.0f}), array({1.0f, 3.0f}), std::nullopt, float32, key);
  EXPECT_EQ(tb.shape(), Shape{2});
  auto tv = to_vector<float>(tb);
  EXPECT_TRUE(tv[0] >= -1 && tv[0] <= 1);
  EXPECT_TRUE(tv[1] >= 2 && tv[1] <= 3);
}

TEST(Random, BernoulliRandintCategorical) {
  array key = rnd::key(31);
  const int n = 200000;
  array b = rnd::bernoulli(0.3, Shape{n}, key);
  EXPECT_EQ(b.dtype(), bool_);
  EXPECT_NEAR(mean_of(b), 0.3, 0.005);
  array bp = rnd::bernoulli(array({0.0f, 1.0f, 0.5f}), std::nullopt, key);
  EXPECT_EQ(bp.shape(), Shape{3});
  auto bv = to_vector<bool>(bp);
  EXPECT_FALSE(bv[0]);
  EXPECT_TRUE(bv[1]);

  array r = rnd::randint(-3, 7, {n}, int32, key);
  EXPECT_EQ(r.dtype(), int32);
  auto rv = to_vector<int32_t>(r);
  std::vector<int> counts(10, 0);
  for (int x : rv) {
    ASSERT_TRUE(x >= -3 && x < 7) << x;
    counts[x + 3]++;
  }
  for (int c : counts) EXPECT_NEAR(c, n / 10.0, n / 10.0 * 0.05);
  EXPECT_EQ(rnd::randint(0, 5, {4}, uint8, key).dtype(), uint8);
  // A wide range stays in bounds and reaches both halves.
  array wide = rnd::randint(0, int64_t(3000000000), {1000}, int64, key);
  EXPECT_GE(min(wide).item<int64_t>(), 0);
  EXPECT_LT(max(wide).item<int64_t>(), 3000000000);
  EXPECT_GT(max(wide).item<int64_t>(), 1500000000);

  // Frequencies follow softmax(logits).
  std::vector<float> p = {0.1f, 0.2f, 0.3f, 0.4f};
  array logits = log(array(p.begin(), {4}, float32));
  array c = rnd::categorical(logits, -1, Shape{n}, key);
  EXPECT_EQ(c.shape(), Shape{n});
  auto cv = to_vector<uint32_t>(c);
  std::vector<int> cc(4, 0);
  for (auto x : cv) {
    ASSERT_LT(x, 4u);
    cc[x]++;
  }
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(cc[i] / double(n), p[i], 0.006);
  // Batched logits along axis 0, num_samples appended.
  array lb = array({0.0f, -1e9f, -1e9f, 0.0f}, {2, 2});  // column 0 picks 0, column 1 picks 1
  array cs = rnd::categorical(lb, 0, 5, key);
  EXPECT_EQ(cs.shape(), (Shape{2, 5}));
  auto csv = to_vector<uint32_t>(cs);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(csv[i], 0u);
  for (int i = 5; i < 10; ++i) EXPECT_EQ(csv[i], 1u);
  EXPECT_EQ(rnd::categorical(array({0.0f, 0.0f}, {1, 2}), -1, std::nullopt, key).shape(), Shape{1});
}

TEST(Random, GumbelLaplacePermutationMultivariate) {
  array key = rnd::key(41);
  const int n = 200000;
  array g = rnd::gumbel({n}, float32, key);
  EXPECT_TRUE(all(isfinite(g)).item<bool>());
  EXPECT_NEAR(mean_of(g), 0.5772, 0.01);  // Euler–Mascheroni
  EXPECT_NEAR(var_of(g), M_PI * M_PI / 6, 0.04);
  EXPECT_EQ(rnd::gumbel({3}, float16, key).dtype(), float16);

  array l = rnd::laplace({n}, float32, 1.0, 2.0, key);
  EXPECT_TRUE(all(isfinite(l)).item<bool>());
  EXPECT_NEAR(mean_of(l), 1.0, 0.03);
  EXPECT_NEAR(var_of(l), 8.0, 0.25);  // 2 scale^2

  EXPECT_EQ(rnd::permutation(3, key).dtype(), uint32);
  const int np = 100000;
  auto pv = to_vector<int32_t>(rnd::permutation(np, key));
  std::vector<int32_t> sorted = pv;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < np; ++i) ASSERT_EQ(sorted[i], i);
  int fixed = 0;
  for (int i = 0; i < np; ++i) fixed += pv[i] == i;
  EXPECT_LT(fixed, 10);  // about one fixed point expected
  EXPECT_NEAR(pv[0], np / 2.0, np / 2.0);
  EXPECT_FALSE(array_equal(rnd::permutation(50, key), rnd::permutation(50, rnd::split(key).second)).item<bool>());
  array x = reshape(arange(0, 12), {3, 4});
  array px = rnd::permutation(x, 1, key);
  EXPECT_EQ(px.shape(), (Shape{3, 4}));
  EXPECT_TRUE(array_equal(sum(px, 1), sum(x, 1)).item<bool>());
  EXPECT_EQ(rnd::permutation(0, key).shape(), Shape{0});

  array mean_v = array({1.0f, -2.0f});
  array cov = array({2.0f, 0.6f, 0.6f, 1.0f}, {2, 2});
  array m = rnd::multivariate_normal(mean_v, cov, {n}, float32, key);
  EXPECT_EQ(m.shape(), (Shape{n, 2}));
  array centred = subtract(astype(m, float64), astype(mean_v, float64));
  auto emp = to_vector<double>(divide(matmul(transpose(centred), centred), array(double(n))));
  EXPECT_NEAR(mean_of(take(m, array(0), 1)), 1.0, 0.02);
  EXPECT_NEAR(mean_of(take(m, array(1), 1)), -2.0, 0.02);
  EXPECT_NEAR(emp[0], 2.0, 0.05);
  EXPECT_NEAR(emp[1], 0.6, 0.03);
  EXPECT_NEAR(emp[3], 1.0, 0.03);
  // Semi-definite covariance: the second coordinate copies the first.
  array m2 = rnd::multivariate_normal(array({0.0f, 0.0f}), array({1.0f, 1.0f, 1.0f, 1.0f}, {2, 2}), {100}, float32, key);
  EXPECT_TRUE(allclose(take(m2, array(0), 1), take(m2, array(1), 1), 1e-5, 1e-5).item<bool>());
}

TEST(Random, Errors) {
  array key = rnd::key(0);
  expect_invalid([&] { rnd::uniform({-1}, float32, key); }, "uniform");
  expect_invalid([&] { rnd::uniform({3}, int32, key); }, "uniform");
  expect_invalid([&] { rnd::uniform(array({0.0f, 0.0f, 0.0f}), array(1.0f), {2}, float32, key); }, "uniform");
  expect_invalid([&] { rnd::normal({-2, 3}, float32, 0.0, 1.0, key); }, "normal");
  expect_invalid([&] { rnd::bits({2}, 3, key); }, "bits");
  expect_invalid([&] { rnd::randint(5, 5, {2}, int32, key); }, "randint");
  expect_invalid([&] { rnd::randint(5, 1, {2}, int32, key); }, "randint");
  expect_invalid([&] { rnd::randint(0, 5, {2}, float32, key); }, "randint");
  expect_invalid([&] { rnd::uniform({2}, float32, array({1u, 2u, 3u}, {3}, uint32)); }, "uniform");
  expect_invalid([&] { rnd::uniform({2}, float32, array({1, 2}, {2}, int32)); }, "uniform");
  expect_invalid([&] { rnd::split(array({1u, 2u, 3u, 4u}, {2, 2}, uint32)); }, "split");
  expect_invalid([&] { rnd::split(key, -1); }, "split");
  expect_invalid([&] { rnd::bernoulli(array({0.5f, 0.5f}), Shape{3}, key); }, "bernoulli");
  expect_invalid([&] { rnd::categorical(array(1.0f), -1, std::nullopt, key); }, "categorical");
  expect_invalid([&] { rnd::categorical(array({1.0f, 2.0f}), 3, std::nullopt, key); }, "categorical");
  expect_invalid([&] { rnd::permutation(-1, key); }, "permutation");
  expect_invalid([&] { rnd::multivariate_normal(array({0.0f, 0.0f}), eye(3), {}, float32, key); },
                 "multivariate_normal");
  expect_invalid([&] { rnd::truncated_normal(array(0.0f), array(1.0f), Shape{-1}, float32, key); },
                 "truncated_normal");
}

TEST(Random, TransformsOfSamplers) {
  // Gradients flow through the parameters, not the key.
  array key = rnd::key(9);
  auto f = [key](const std::vector<array>& x) {
    return std::vector<array>{sum(rnd::uniform(x[0], add(x[0], array(2.0f)), {5}, float32, key))};
  };
  auto [out, grads] = vjp(f, {array(1.0f)}, {array(1.0f)});
  EXPECT_NEAR(grads[0].item<float>(), 5.0f, 1e-5);
  // vmap over keys: one draw per key, equal to drawing with each key alone.
  array keys = rnd::split(key, 3);
  auto g = vmap([](const std::vector<array>& k) { return std::vector<array>{rnd::normal({4}, float32, 0.0, 1.0, k[0])}; },
                {0});
  array got = g({keys})[0];
  EXPECT_EQ(got.shape(), (Shape{3, 4}));
  for (int b = 0; b < 3; ++b)
    EXPECT_TRUE(array_equal(take(got, array(b), 0), rnd::normal({4}, float32, 0.0, 1.0, take(keys, array(b), 0)))
                    .item<bool>());
}

}  // namespace lazuli
