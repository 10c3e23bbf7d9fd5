// lazuli::fast against formulas evaluated here in double precision, through vjp (finite
// differences) and vmap (a loop), and on every error path. Python's test_fast.py adds
// comparisons with mlx.core.fast.
#include <cmath>
#include <vector>

#include "checker.h"
#include "lazuli/fast.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::expect_throws_naming;
using lazuli::test::expect_values;
using lazuli::test::filled;
using lazuli::test::to_vector;

namespace {

// Row-major index of (i0, i1, i2, i3) in a 4-d shape.
size_t at(const Shape& s, int i0, int i1, int i2, int i3) { return ((size_t(i0) * s[1] + i1) * s[2] + i2) * s[3] + i3; }

// <vjp(c), u> against the central difference of <f, c> along u, in float64.
void expect_vjp_matches_differences(const Fn& f, const std::vector<array>& primals) {
  auto out = f(primals);
  std::vector<array> cot;
  for (size_t i = 0; i < out.size(); ++i) cot.push_back(filled(out[i].shape(), -1, 1, 100 + int(i)));
  auto [_, grads] = vjp(f, primals, cot);
  ASSERT_EQ(grads.size(), primals.size());
  for (size_t i = 0; i < primals.size(); ++i) {
    array u = filled(primals[i].shape(), -1, 1, 200 + int(i));
    const double eps = 1e-6;
    auto shifted = [&](double step) {
      std::vector<array> p = primals;
      p[i] = add(p[i], multiply(u, array(step, float64)));
      double total = 0;
      auto o = f(p);
      for (size_t j = 0; j < o.size(); ++j) total += lazuli::test::dot(o[j], cot[j]);
      return total;
    };
    double fd = (shifted(eps) - shifted(-eps)) / (2 * eps);
    EXPECT_NEAR(lazuli::test::dot(grads[i], u), fd, 1e-6 * (1 + std::abs(fd))) << "input " << i;
  }
}

// ---- double-precision references ----

std::vector<double> ref_rms_norm(const std::vector<double>& x, int d, const std::vector<double>& w, double eps) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / d; ++r) {
    double ms = 0;
    for (int j = 0; j < d; ++j) ms += x[r * d + j] * x[r * d + j] / d;
    for (int j = 0; j < d; ++j) y[r * d + j] = x[r * d + j] / std::sqrt(ms + eps) * (w.empty() ? 1.0 : w[j]);
  }
  return y;
}

std::vector<double> ref_layer_norm(const std::vector<double>& x, int d, const std::vector<double>& w,
                                   const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / d; ++r) {
    double mu = 0, var = 0;
    for (int j = 0; j < d; ++j) mu += x[r * d + j] / d;
    for (int j = 0; j < d; ++j) var += (x[r * d + j] - mu) * (x[r * d + j] - mu) / d;
    for (int j = 0; j < d; ++j) y[r * d + j] = (x[r * d + j] - mu) / std::sqrt(var + eps) * w[j] + b[j];
  }
  return y;
}

// x (B, H, L, D); position of token l in batch b is offsets[b or 0] + l.
std::vector<double> ref_rope(const std::vector<double>& x, const Shape& s, int dims, bool traditional, double base,
                             double scale, const std::vector<int>& offsets) {
  std::vector<double> y = x;
  const int half = dims / 2;
  for (int b = 0; b < s[0]; ++b)
    for (int h = 0; h < s[1]; ++h)
      for (int l = 0; l < s[2]; ++l)
        for (int i = 0; i < half; ++i) {
          double pos = offsets[offsets.size() == 1 ? 0 : b] + l;
          double theta = pos * scale * std::pow(base, -2.0 * i / dims);
          int a = traditional ? 2 * i : i, c = traditional ? 2 * i + 1 : i + half;
          double x1 = x[at(s, b, h, l, a)], x2 = x[at(s, b, h, l, c)];
          y[at(s, b, h, l, a)] = x1 * std::cos(theta) - x2 * std::sin(theta);
          y[at(s, b, h, l, c)] = x1 * std::sin(theta) + x2 * std::cos(theta);
        }
  return y;
}

struct AttentionCase {
  int batch, n_q, n_kv, q_len, k_len, d;
  bool causal;
  bool with_sinks;
  bool with_bool_mask;  // keep[i][j] = (i + j) % 3 != 0, shared by batches and heads
};

std::vector<double> ref_attention(const AttentionCase& c, const std::vector<double>& q,
                                  const std::vector<double>& k, const std::vector<double>& v,
                                  const std::vector<double>& sinks, double scale) {
  Shape qs{c.batch, c.n_q, c.q_len, c.d}, ks{c.batch, c.n_kv, c.k_len, c.d};
  std::vector<double> out(q.size());
  const int rep = c.n_q / c.n_kv, first = std::max(c.k_len - c.q_len, 0);
  for (int b = 0; b < c.batch; ++b)
    for (int h = 0; h < c.n_q; ++h)
      for (int i = 0; i < c.q_len; ++i) {
        std::vector<double> logits;
        if (c.with_sinks) logits.push_back(sinks[h]);
        for (int j = 0; j < c.k_len; ++j) {
          double sc = 0;
          for (int e = 0; e < c.d; ++e) sc += q[at(qs, b, h, i, e)] * k[at(ks, b, h / rep, j, e)] * scale;
          bool keep = c.causal ? j <= i + first : !c.with_bool_mask || (i + j) % 3 != 0;
          logits.push_back(keep ? sc : double(finfo(float32).min));
        }
        double m = *std::max_element(logits.begin(), logits.end()), z = 0;
        for (double& l : logits) z += (l = std::exp(l - m));
        for (int e = 0; e < c.d; ++e) {
          double acc = 0;
          for (int j = 0; j < c.k_len; ++j) acc += logits[j + c.with_sinks] / z * v[at(ks, b, h / rep, j, e)];
          out[at(qs, b, h, i, e)] = acc;
        }
      }
  return out;
}

array bool_mask(int q_len, int k_len) {
  std::vector<bool> keep;
  for (int i = 0; i < q_len; ++i)
    for (int j = 0; j < k_len; ++j) keep.push_back((i + j) % 3 != 0);
  std::vector<uint8_t> bytes(keep.begin(), keep.end());
  return astype(array(bytes.begin(), {q_len, k_len}), bool_);
}

}  // namespace

TEST(Fast, RmsNormAndLayerNormMatchFormulas) {
  array x = filled({3, 7}, -2, 2, 1), w = filled({7}, 0.5, 1.5, 2), b = filled({7}, -1, 1, 3);
  auto xv = to_vector<double>(x), wv = to_vector<double>(w), bv = to_vector<double>(b);
  // eps is a float (MLX's signature): the references use the same value.
  expect_values(fast::rms_norm(astype(x, float32), astype(w, float32), 1e-5f), ref_rms_norm(xv, 7, wv, double(1e-5f)),
                1e-5);
  expect_values(fast::rms_norm(x, std::nullopt, 1e-3f), ref_rms_norm(xv, 7, {}, double(1e-3f)), 1e-12);
  expect_values(fast::layer_norm(x, w, b, 1e-5f), ref_layer_norm(xv, 7, wv, bv, double(1e-5f)), 1e-12);
  std::vector<double> unit(7, 1.0), none(7, 0.0);
  expect_values(fast::layer_norm(astype(x, float32), std::nullopt, std::nullopt, 1e-5f),
                ref_layer_norm(xv, 7, unit, none, 1e-5), 1e-5);
  // 16-bit inputs are normalised in float32 and keep their dtype.
  array h = fast::layer_norm(astype(x, bfloat16), std::nullopt, std::nullopt, 1e-5f);
  EXPECT_EQ(h.dtype(), bfloat16);
  expect_values(h, ref_layer_norm(to_vector<double>(astype(x, bfloat16)), 7, unit, none, 1e-5), 2e-2);
  EXPECT_EQ(fast::rms_norm(astype(x, float16), astype(w, float32), 1e-5f).dtype(), float32);
  EXPECT_EQ(fast::rms_norm(zeros_like(astype(x, float32)), std::nullopt, 1e-5f).shape(), (Shape{3, 7}));
  EXPECT_EQ(fast::rms_norm(zeros({0, 4}), std::nullopt, 1e-5f).shape(), (Shape{0, 4}));
}

TEST(Fast, NnNormsAreTheFastOnes) {
  array x = filled({2, 5}, -2, 2, 4), w = filled({5}, 0.5, 1.5, 5), b = filled({5}, -1, 1, 6);
  expect_values(nn::layer_norm(x, w, b, 1e-4), to_vector<double>(fast::layer_norm(x, w, b, 1e-4f)), 0);
  expect_values(nn::rms_norm(x, w, 1e-4), to_vector<double>(fast::rms_norm(x, w, 1e-4f)), 0);
}

TEST(Fast, RopeMatchesFormula) {
  const Shape s{2, 3, 4, 8};
  array x = filled(s, -2, 2, 7);
  auto xv = to_vector<double>(x);
  for (bool traditional : {false, true}) {
    expect_values(fast::rope(x, 8, traditional, 10000.0f, 1.0f, 0), ref_rope(xv, s, 8, traditional, 1e4, 1, {0}),
                  1e-9);
    // dims < features: the rest passes unchanged; offset and scale shift the angles.
    expect_values(fast::rope(x, 4, traditional, 100.0f, 0.5f, 3), ref_rope(xv, s, 4, traditional, 100, 0.5, {3}),
                  1e-9);
    // One offset per batch entry.
    expect_values(fast::rope(x, 6, traditional, 500.0f, 1.0f, array({2, 9})),
                  ref_rope(xv, s, 6, traditional, 500, 1, {2, 9}), 1e-9);
  }
  // freqs: inverse frequencies 1 / freqs[i], here those of base 50.
  std::vector<double> f;
  for (int i = 0; i < 4; ++i) f.push_back(std::pow(50.0, 2.0 * i / 8));
  array freqs(f.begin(), {4}, float64);
  expect_values(fast::rope(x, 8, false, std::nullopt, 1.0f, 1, freqs), ref_rope(xv, s, 8, false, 50, 1, {1}), 1e-9);
  // float32 and 3-d (batch, sequence, features) inputs.
  array x3 = astype(reshape(x, {6, 4, 8}), float32);
  array y3 = fast::rope(x3, 8, false, 10000.0f, 1.0f, 2);
  EXPECT_EQ(y3.dtype(), float32);
  expect_values(y3, ref_rope(xv, s, 8, false, 1e4, 1, {2}), 1e-5);
}

TEST(Fast, AttentionMatchesFormula) {
  const AttentionCase cases[] = {
      {2, 4, 4, 3, 5, 4, false, false, false},  // plain
      {2, 4, 2, 3, 6, 4, true, false, false},   // grouped heads, causal with q_len < k_len
      {1, 3, 1, 5, 3, 2, true, false, false},   // multi-query, causal with q_len > k_len
      {2, 4, 2, 4, 4, 3, false, true, true},    // sinks and a bool mask
      {1, 2, 2, 4, 4, 3, true, true, false},    // sinks and causal
  };
  for (const auto& c : cases) {
    array q = filled({c.batch, c.n_q, c.q_len, c.d}, -1, 1, 10), k = filled({c.batch, c.n_kv, c.k_len, c.d}, -1, 1, 11);
    array v = filled({c.batch, c.n_kv, c.k_len, c.d}, -1, 1, 12), sinks = filled({c.n_q}, -1, 1, 13);
    std::string mode = c.causal ? "causal" : "";
    std::optional<array> mask;
    if (c.with_bool_mask) mask = bool_mask(c.q_len, c.k_len);
    array o = fast::scaled_dot_product_attention(q, k, v, 0.8f, mode, mask,
                                                 c.with_sinks ? std::optional<array>(sinks) : std::nullopt);
    EXPECT_EQ(o.shape(), q.shape());
    expect_values(o, ref_attention(c, to_vector<double>(q), to_vector<double>(k), to_vector<double>(v),
                                   to_vector<double>(sinks), double(0.8f)),  // the scale is a float, as in MLX
                  1e-12);
  }
  // An additive mask equals scores shifted by it; float32 inputs give float32.
  array q = filled({1, 2, 3, 4}, -1, 1, 14), k = filled({1, 2, 5, 4}, -1, 1, 15), v = filled({1, 2, 5, 4}, -1, 1, 16);
  array keep = bool_mask(3, 5);
  array additive = where(keep, zeros({}, float32), full({}, -INFINITY, float32));
  array a = fast::scaled_dot_product_attention(astype(q, float32), astype(k, float32), astype(v, float32), 1.0f, "",
                                               additive);
  EXPECT_EQ(a.dtype(), float32);
  expect_values(a, to_vector<double>(fast::scaled_dot_product_attention(q, k, v, 1.0f, "", keep)), 1e-6);
}

TEST(Fast, GradientsMatchFiniteDifferences) {
  array x = filled({2, 5}, -2, 2, 20), w = filled({5}, 0.5, 1.5, 21), b = filled({5}, -1, 1, 22);
  expect_vjp_matches_differences(
      [](const std::vector<array>& p) { return std::vector<array>{fast::rms_norm(p[0], p[1], 1e-5f)}; }, {x, w});
  expect_vjp_matches_differences(
      [](const std::vector<array>& p) { return std::vector<array>{fast::layer_norm(p[0], p[1], p[2], 1e-5f)}; },
      {x, w, b});
  array r = filled({2, 1, 3, 6}, -2, 2, 23);
  for (bool traditional : {false, true})
    expect_vjp_matches_differences(
        [traditional](const std::vector<array>& p) {
          return std::vector<array>{fast::rope(p[0], 4, traditional, 10.0f, 1.0f, array({1, 4}))};
        },
        {r});
  array q = filled({1, 4, 3, 2}, -1, 1, 24), k = filled({1, 2, 4, 2}, -1, 1, 25), v = filled({1, 2, 4, 3}, -1, 1, 26);
  array sinks = filled({4}, -1, 1, 27), mask = filled({3, 4}, -1, 0, 28);
  expect_vjp_matches_differences(
      [](const std::vector<array>& p) {
        return std::vector<array>{fast::scaled_dot_product_attention(p[0], p[1], p[2], 0.6f, "causal", std::nullopt,
                                                                     p[3])};
      },
      {q, k, v, sinks});
  expect_vjp_matches_differences(
      [](const std::vector<array>& p) {
        return std::vector<array>{fast::scaled_dot_product_attention(p[0], p[1], p[2], 0.6f, "", p[3])};
      },
      {q, k, v, mask});
}

TEST(Fast, VmapMatchesLoop) {
  // Attention mapped over a leading axis equals attention of each slice.
  array q = filled({3, 1, 2, 4, 2}, -1, 1, 30), k = filled({3, 1, 1, 5, 2}, -1, 1, 31);
  array v = filled({3, 1, 1, 5, 2}, -1, 1, 32);
  auto attend = [](const std::vector<array>& p) {
    return std::vector<array>{fast::scaled_dot_product_attention(p[0], p[1], p[2], 0.5f, "causal")};
  };
  array mapped = vmap(attend)({q, k, v})[0];
  for (int i = 0; i < 3; ++i) {
    auto pick = [i](const array& a) { return take(a, array(i), 0); };
    array want = attend({pick(q), pick(k), pick(v)})[0];
    expect_values(pick(mapped), to_vector<double>(want), 1e-12);
  }
}

TEST(Fast, ErrorsNameTheOp) {
  array x = zeros({2, 4});
  expect_throws_naming([&] { return fast::rms_norm(array(1.0f), std::nullopt, 1e-5f); }, "rms_norm");
  expect_throws_naming([&] { return fast::rms_norm(x, zeros({1, 4}), 1e-5f); }, "rms_norm");
  expect_throws_naming([&] { return fast::rms_norm(x, zeros({3}), 1e-5f); }, "rms_norm");
  expect_throws_naming([&] { return fast::rms_norm(astype(x, int32), std::nullopt, 1e-5f); }, "rms_norm");
  expect_throws_naming([&] { return fast::layer_norm(x, std::nullopt, zeros({5}), 1e-5f); }, "layer_norm");
  expect_throws_naming([&] { return fast::layer_norm(array(1.0f), std::nullopt, std::nullopt, 1e-5f); },
                       "layer_norm");
  array x3 = zeros({2, 3, 4});
  expect_throws_naming([&] { return fast::rope(x, 4, false, 1e4f, 1.0f, 0); }, "rope");
  expect_throws_naming([&] { return fast::rope(x3, 3, false, 1e4f, 1.0f, 0); }, "rope");
  expect_throws_naming([&] { return fast::rope(x3, 6, false, 1e4f, 1.0f, 0); }, "rope");
  expect_throws_naming([&] { return fast::rope(x3, 4, false, std::nullopt, 1.0f, 0); }, "rope");
  expect_throws_naming([&] { return fast::rope(x3, 4, false, 1e4f, 1.0f, 0, zeros({2})); }, "rope");
  expect_throws_naming([&] { return fast::rope(x3, 4, false, std::nullopt, 1.0f, 0, zeros({3})); }, "rope");
  expect_throws_naming([&] { return fast::rope(x3, 4, false, 1e4f, 1.0f, array({1, 2, 3})); }, "rope");
  expect_throws_naming([&] { return fast::rope(x3, 4, false, 1e4f, 1.0f, array(1.5f)); }, "rope");
  expect_throws_naming([&] { return fast::rope(astype(x3, int32), 4, false, 1e4f, 1.0f, 0); }, "rope");
  const std::string op = "scaled_dot_product_attention";
  array q = zeros({2, 4, 3, 8}), k = zeros({2, 2, 5, 8}), v = zeros({2, 2, 5, 6});
  auto sdpa = [](const array& q, const array& k, const array& v, const std::string& mode = "",
                 std::optional<array> mask = std::nullopt, std::optional<array> sinks = std::nullopt) {
    return fast::scaled_dot_product_attention(q, k, v, 1.0f, mode, mask, sinks);
  };
  expect_throws_naming([&] { return sdpa(zeros({4, 3, 8}), k, v); }, op);
  expect_throws_naming([&] { return sdpa(q, zeros({1, 2, 5, 8}), zeros({1, 2, 5, 6})); }, op);
  expect_throws_naming([&] { return sdpa(q, zeros({2, 2, 5, 7}), v); }, op);
  expect_throws_naming([&] { return sdpa(q, k, zeros({2, 2, 4, 6})); }, op);
  expect_throws_naming([&] { return sdpa(q, zeros({2, 3, 5, 8}), zeros({2, 3, 5, 6})); }, op);
  expect_throws_naming([&] { return sdpa(q, k, v, "upper"); }, op);
  expect_throws_naming([&] { return sdpa(q, k, v, "causal", zeros({3, 5})); }, op);
  expect_throws_naming([&] { return sdpa(q, k, v, "", zeros({3, 4})); }, op);
  expect_throws_naming([&] { return sdpa(q, k, v, "", zeros({1, 2, 4, 3, 5})); }, op);
  auto half = [](const array& a) { return astype(a, float16); };
  expect_throws_naming([&] { return sdpa(half(q), half(k), half(v), "", zeros({3, 5})); }, op);
  expect_throws_naming([&] { return sdpa(half(q), half(k), half(v), "", std::nullopt, zeros({4})); }, op);
  expect_throws_naming([&] { return sdpa(q, k, v, "", std::nullopt, zeros({2})); }, op);
  expect_throws_naming([&] { return sdpa(astype(q, int32), astype(k, int32), astype(v, int32)); }, op);
}
