// lazuli::nn's positional encodings and multi-head attention against formulas evaluated
// here in double precision, and their error paths. Python's test_nn_transformer.py adds
// the layer classes and comparisons with mlx.nn.
#include <cmath>
#include <vector>

#include "checker.h"
#include "lazuli/nn/functional.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::expect_throws_naming;
using lazuli::test::expect_values;
using lazuli::test::filled;
using lazuli::test::to_vector;

TEST(NnTransformer, SinusoidalPositionalEncoding) {
  const int dims = 8, half = dims / 2;
  array sig = nn::sinusoidal_frequencies(dims, 1e-3, 2.0);
  std::vector<double> sigmas;
  for (int i = 0; i < half; ++i) {
    double t = 1.0 - double(i) / (half - 1);  // from max_freq (i = 0) down to min_freq
    sigmas.push_back(std::exp(t * (std::log(2.0) - std::log(1e-3)) + std::log(1e-3)));
  }
  expect_values(sig, sigmas, 1e-5);
  expect_values(nn::sinusoidal_frequencies(dims, 1e-3, 2.0, true), [&] {
    std::vector<double> v = sigmas;
    for (double& s : v) s *= 2 * M_PI;
    return v;
  }(), 1e-5);
  array x = array({0.0f, 1.5f, 3.0f});
  for (bool cos_first : {false, true}) {
    std::vector<double> want;
    for (double p : {0.0, 1.5, 3.0}) {
      for (int part = 0; part < 2; ++part)
        for (double s : sigmas) {
          bool is_cos = (part == 0) == cos_first;
          want.push_back(0.5 * (is_cos ? std::cos(p * s) : std::sin(p * s)));
        }
    }
    array y = nn::sinusoidal_positional_encoding(x, sig, 0.5, cos_first);
    EXPECT_EQ(y.shape(), (Shape{3, dims}));
    expect_values(y, want, 1e-5);
  }
}

TEST(NnTransformer, Alibi) {
  array slope = nn::alibi_slope(4);
  EXPECT_EQ(slope.shape(), (Shape{4, 1, 1}));
  expect_values(slope, {std::pow(2.0, -2), std::pow(2.0, -4), std::pow(2.0, -6), std::pow(2.0, -8)}, 1e-7);
  // Queries 2..4 of a 5-query sequence against 3 keys, 2 heads.
  array m = nn::alibi_matrix(5, 3, 2, 2);
  EXPECT_EQ(m.shape(), (Shape{1, 2, 3, 3}));
  std::vector<double> want;
  for (int h = 0; h < 2; ++h)
    for (int i = 2; i < 5; ++i)
      for (int j = 0; j < 3; ++j) want.push_back(-std::abs(i - j) * std::pow(2.0, -8.0 * (h + 1) / 2));
  expect_values(m, want, 1e-6);
  EXPECT_EQ(nn::alibi_matrix(3, 3, 2, 0, float16).dtype(), float16);
  // alibi: scores of 3 queries starting at offset 2, plus a mask.
  array scores = filled({1, 2, 3, 3}, -1, 1, 1), mask = filled({3, 3}, -1, 0, 2);
  auto s = to_vector<double>(scores), mk = to_vector<double>(mask);
  std::vector<double> shifted(s.size());
  for (size_t i = 0; i < s.size(); ++i) shifted[i] = s[i] + want[i] + mk[i % 9];
  expect_values(nn::alibi(scores, 2, mask), shifted, 1e-6);
}

TEST(NnTransformer, AdditiveCausalMask) {
  array m = nn::additive_causal_mask(3, float16);
  EXPECT_EQ(m.dtype(), float16);
  const double lo = finfo(float16).min;
  expect_values(m, {0, lo, lo, 0, 0, lo, 0, 0, 0});
}

TEST(NnTransformer, MultiHeadAttentionMatchesFormula) {
  // 2 heads of 2 dims; query inputs of 3 features, keys 4, values 5 (projected to 4, output 3).
  const int batch = 2, lq = 3, lk = 4, heads = 2;
  array q = filled({batch, lq, 3}, -1, 1, 1), k = filled({batch, lk, 4}, -1, 1, 2);
  array v = filled({batch, lk, 5}, -1, 1, 3);
  nn::AttentionWeights w{filled({4, 3}, -1, 1, 4), filled({4, 4}, -1, 1, 5), filled({4, 5}, -1, 1, 6),
                         filled({3, 4}, -1, 1, 7), filled({4}, -1, 1, 8),    filled({4}, -1, 1, 9),
                         filled({4}, -1, 1, 10),   filled({3}, -1, 1, 11)};
  auto proj = [](const std::vector<double>& x, int rows, int in, const array& weight, const array& bias) {
    auto W = to_vector<double>(weight), b = to_vector<double>(bias);
    int out = weight.shape(0);
    std::vector<double> y(rows * out);
    for (int r = 0; r < rows; ++r)
      for (int o = 0; o < out; ++o) {
        double acc = b[o];
        for (int i = 0; i < in; ++i) acc += x[r * in + i] * W[o * in + i];
        y[r * out + o] = acc;
      }
    return y;
  };
  auto Q = proj(to_vector<double>(q), batch * lq, 3, w.query_weight, *w.query_bias);
  auto K = proj(to_vector<double>(k), batch * lk, 4, w.key_weight, *w.key_bias);
  auto V = proj(to_vector<double>(v), batch * lk, 5, w.value_weight, *w.value_bias);
  for (bool causal : {false, true}) {
    std::vector<double> joined(batch * lq * 4);
    const int first = lk - lq;  // causal: aligned bottom-right
    for (int b = 0; b < batch; ++b)
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < lq; ++i) {
          std::vector<double> p(lk);
          double m = -INFINITY, z = 0;
          for (int j = 0; j < lk; ++j) {
            double s = 0;
            for (int e = 0; e < 2; ++e) s += Q[(b * lq + i) * 4 + h * 2 + e] * K[(b * lk + j) * 4 + h * 2 + e];
            p[j] = (causal && j > i + first) ? -INFINITY : s / std::sqrt(2.0);
            m = std::max(m, p[j]);
          }
          for (double& x : p) z += (x = std::exp(x - m));
          for (int e = 0; e < 2; ++e) {
            double acc = 0;
            for (int j = 0; j < lk; ++j) acc += p[j] / z * V[(b * lk + j) * 4 + h * 2 + e];
            joined[(b * lq + i) * 4 + h * 2 + e] = acc;
          }
        }
    array got = nn::multi_head_attention(q, k, v, heads, w, causal ? "causal" : "");
    EXPECT_EQ(got.shape(), (Shape{batch, lq, 3}));
    // The scale is a float (MLX's signature): float32 rounding of 1 / sqrt(2).
    expect_values(got, proj(joined, batch * lq, 4, w.out_weight, *w.out_bias), 1e-7);
  }
}

TEST(NnTransformer, ErrorsNameTheOp) {
  expect_throws_naming([] { return nn::sinusoidal_frequencies(3); }, "sinusoidal_positional_encoding");
  expect_throws_naming([] { return nn::sinusoidal_frequencies(8, -1.0); }, "sinusoidal_positional_encoding");
  expect_throws_naming([] { return nn::alibi_slope(0); }, "alibi");
  expect_throws_naming([] { return nn::alibi(zeros({2, 3, 3})); }, "alibi");
  expect_throws_naming([] { return nn::additive_causal_mask(3, int32); }, "create_additive_causal_mask");
  nn::AttentionWeights w{zeros({6, 6}), zeros({6, 6}), zeros({6, 6}), zeros({6, 6})};
  array x = zeros({1, 2, 6});
  expect_throws_naming([&] { return nn::multi_head_attention(zeros({2, 6}), x, x, 2, w); }, "multi_head_attention");
  expect_throws_naming([&] { return nn::multi_head_attention(x, x, x, 4, w); }, "multi_head_attention");
  expect_throws_naming([&] { return nn::multi_head_attention(x, x, x, 0, w); }, "multi_head_attention");
  expect_throws_naming([&] { return nn::multi_head_attention(x, x, x, 2, w, "", zeros({3, 2})); },
                       "scaled_dot_product_attention");
}
