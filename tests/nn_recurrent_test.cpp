// lazuli::nn's recurrent layers, upsampling and quantized layers against references computed
// here in double precision.
#include <cmath>
#include <functional>

#include "lazuli/nn/functional.h"
#include "lazuli/quantized.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::expect_throws_naming;
using lazuli::test::expect_values;
using lazuli::test::to_vector;
using OptArray = std::optional<array>;

namespace {

using Vec = std::vector<double>;

array randn(const Shape& shape, uint64_t seed) { return random::normal(shape, float32, 0.0, 0.5, random::key(seed)); }

// W (rows, cols) row-major times v, plus b (if any).
Vec affine(const Vec& W, int rows, const Vec& v, const Vec& b = {}) {
  int cols = int(v.size());
  Vec out(rows, 0.0);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) out[r] += W[r * cols + c] * v[c];
    if (!b.empty()) out[r] += b[r];
  }
  return out;
}

double sigm(double v) { return 1 / (1 + std::exp(-v)); }

// The recurrences of one sequence x (L, D) in double, with an optional initial state.
struct Weights {
  Vec Wx, Wh, b, bhn;
  int H;
};
Vec slice(const Vec& v, int from, int n) { return Vec(v.begin() + from, v.begin() + from + n); }

Vec rnn_ref(const Vec& x, int L, const Weights& w, const Vec* h0) {
  int D = int(x.size()) / L, H = w.H;
  Vec out;
  Vec h = h0 ? *h0 : Vec();
  for (int t = 0; t < L; ++t) {
    Vec a = affine(w.Wx, H, slice(x, t * D, D), w.b);
    if (!h.empty()) {
      Vec r = affine(w.Wh, H, h);
      for (int i = 0; i < H; ++i) a[i] += r[i];
    }
    for (double& v : a) v = std::tanh(v);
    h = a;
    out.insert(out.end(), h.begin(), h.end());
  }
  return out;
}

Vec gru_ref(const Vec& x, int L, const Weights& w, const Vec* h0) {
  int D = int(x.size()) / L, H = w.H;
  Vec out;
  Vec h = h0 ? *h0 : Vec();
  for (int t = 0; t < L; ++t) {
    Vec a = affine(w.Wx, 3 * H, slice(x, t * D, D), w.b);
    Vec hp = h.empty() ? Vec() : affine(w.Wh, 3 * H, h);
    Vec next(H);
    for (int i = 0; i < H; ++i) {
      double r = sigm(a[i] + (h.empty() ? 0 : hp[i]));
      double z = sigm(a[H + i] + (h.empty() ? 0 : hp[H + i]));
      double n = std::tanh(a[2 * H + i] + (h.empty() ? 0 : r * (hp[2 * H + i] + w.bhn[i])));
      next[i] = (1 - z) * n + (h.empty() ? 0 : z * h[i]);
    }
    h = next;
    out.insert(out.end(), h.begin(), h.end());
  }
  return out;
}

std::pair<Vec, Vec> lstm_ref(const Vec& x, int L, const Weights& w, const Vec* h0, const Vec* c0) {
  int D = int(x.size()) / L, H = w.H;
  Vec hs, cs;
  Vec h = h0 ? *h0 : Vec(), c = c0 ? *c0 : Vec();
  for (int t = 0; t < L; ++t) {
    Vec a = affine(w.Wx, 4 * H, slice(x, t * D, D), w.b);
    if (!h.empty()) {
      Vec r = affine(w.Wh, 4 * H, h);
      for (int i = 0; i < 4 * H; ++i) a[i] += r[i];
    }
    Vec nh(H), nc(H);
    for (int i = 0; i < H; ++i) {
      double ig = sigm(a[i]), fg = sigm(a[H + i]), g = std::tanh(a[2 * H + i]), og = sigm(a[3 * H + i]);
      nc[i] = (c.empty() ? 0 : fg * c[i]) + ig * g;
      nh[i] = og * std::tanh(nc[i]);
    }
    h = nh;
    c = nc;
    hs.insert(hs.end(), h.begin(), h.end());
    cs.insert(cs.end(), c.begin(), c.end());
  }
  return {hs, cs};
}

Vec values(const array& a) { return to_vector<double>(a); }

// Batch entry n of a (N, ...) array's values.
Vec row(const Vec& v, int n, int N) { return slice(v, n * int(v.size()) / N, int(v.size()) / N); }

}  // namespace

TEST(NnRecurrent, RnnGruLstmMatchDoubleReference) {
  const int N = 2, L = 4, D = 3, H = 5;
  array x = randn({N, L, D}, 1), h0 = randn({N, H}, 2), c0 = randn({N, H}, 3);
  Vec xv = values(x), h0v = values(h0), c0v = values(c0);
  for (int gates : {1, 3, 4}) {
    array Wx = randn({gates * H, D}, 10 + gates), Wh = randn({gates * H, H}, 20 + gates);
    array b = randn({gates * H}, 30 + gates), bhn = randn({H}, 40);
    Weights w{values(Wx), values(Wh), values(b), values(bhn), H};
    for (bool with_state : {false, true}) {
      OptArray h = with_state ? OptArray(h0) : std::nullopt, c = with_state ? OptArray(c0) : std::nullopt;
      array out = gates == 1   ? nn::rnn(x, Wx, Wh, b, h)
                  : gates == 3 ? nn::gru(x, Wx, Wh, b, bhn, h)
                               : nn::lstm(x, Wx, Wh, b, h, c).first;
      ASSERT_EQ(out.shape(), (Shape{N, L, H}));
      Vec expected, cells;
      for (int n = 0; n < N; ++n) {
        Vec xn = row(xv, n, N), hn = row(h0v, n, N), cn = row(c0v, n, N);
        const Vec* hp = with_state ? &hn : nullptr;
        const Vec* cp = with_state ? &cn : nullptr;
        Vec e;
        if (gates == 1) e = rnn_ref(xn, L, w, hp);
        if (gates == 3) e = gru_ref(xn, L, w, hp);
        if (gates == 4) {
          auto [hs, cs] = lstm_ref(xn, L, w, hp, cp);
          e = hs;
          cells.insert(cells.end(), cs.begin(), cs.end());
        }
        expected.insert(expected.end(), e.begin(), e.end());
      }
      expect_values(out, expected, 2e-5);
      if (gates == 4) expect_values(nn::lstm(x, Wx, Wh, b, h, c).second, cells, 2e-5);
    }
  }
}

TEST(NnRecurrent, UnbatchedNoBiasCustomNonlinearityAndBroadcastState) {
  const int L = 3, D = 2, H = 3;
  array x = randn({L, D}, 5), Wx = randn({H, D}, 6), Wh = randn({H, H}, 7);
  // Without a bias the projection is x Wx^T; with relu as the nonlinearity.
  array out = nn::rnn(x, Wx, Wh, std::nullopt, std::nullopt, [](const array& a) { return nn::relu(a); });
  ASSERT_EQ(out.shape(), (Shape{L, H}));
  array h = zeros({H});
  std::vector<array> steps;
  for (int t = 0; t < L; ++t) {
    array xt = slice(x, {t, 0}, {t + 1, D});
    h = maximum(add(matmul(xt, transpose(Wx)), matmul(h, transpose(Wh))), array(0.f));
    h = reshape(h, {H});
    steps.push_back(h);
  }
  expect_values(out, values(stack(steps)), 1e-6);
  // An unbatched state with a batched input broadcasts; a batched state with an
  // unbatched input too.
  array xb = randn({2, L, D}, 8), hb = randn({H}, 9);
  EXPECT_EQ(nn::gru(xb, randn({3 * H, D}, 1), randn({3 * H, H}, 2), std::nullopt, std::nullopt, hb).shape(),
            (Shape{2, L, H}));
  EXPECT_EQ(nn::lstm(x, randn({4 * H, D}, 1), randn({4 * H, H}, 2), std::nullopt, randn({4, H}, 3)).first.shape(),
            (Shape{4, L, H}));
  // An empty sequence gives an empty (..., 0, H).
  EXPECT_EQ(nn::rnn(zeros({2, 0, D}), Wx, Wh).shape(), (Shape{2, 0, H}));
}

TEST(NnRecurrent, Errors) {
  array x = zeros({2, 4, 3}), Wx = zeros({5, 3}), Wh = zeros({5, 5});
  expect_throws_naming([&] { return nn::rnn(zeros({3}), Wx, Wh); }, "rnn");
  expect_throws_naming([&] { return nn::rnn(x, zeros({5, 2}), Wh); }, "rnn");
  expect_throws_naming([&] { return nn::rnn(x, Wx, zeros({5, 4})); }, "rnn");
  expect_throws_naming([&] { return nn::rnn(x, Wx, Wh, zeros({4})); }, "rnn");
  expect_throws_naming([&] { return nn::rnn(x, Wx, Wh, std::nullopt, zeros({2, 4})); }, "rnn");
  expect_throws_naming([&] { return nn::rnn(x, Wx, Wh, std::nullopt, zeros({3, 5})); }, "rnn");
  expect_throws_naming([&] { return nn::gru(x, zeros({14, 3}), zeros({14, 14})); }, "gru");
  expect_throws_naming([&] { return nn::gru(x, zeros({15, 3}), zeros({15, 5}), std::nullopt, zeros({4})); }, "gru");
  expect_throws_naming([&] { return nn::gru(x, zeros({15, 3}), zeros({15, 5}), zeros({5})); }, "gru");
  expect_throws_naming(
      [&] {
        return nn::lstm(x, zeros({20, 3}), zeros({20, 5}), zeros({20}), std::nullopt, zeros({2, 6})).first;
      },
      "lstm");
  expect_throws_naming([&] { return nn::lstm(x, zeros({20, 3}), zeros({16, 5})).first; }, "lstm");
}

namespace {

// Double-precision reference for one spatial axis of a (1, n, 1) signal. Without
// align_corners the m output samples are centred on the n input samples.
Vec interp_ref(const Vec& v, double scale, bool align, bool cubic) {
  int n = int(v.size()), m = int(scale * n);
  Vec out(m);
  auto at = [&](long i) { return v[std::clamp<long>(i, 0, n - 1)]; };
  for (int j = 0; j < m; ++j) {
    double p = align ? (m > 1 ? j * double(n - 1) / (m - 1) : 0.0) : j / scale - ((m - 1) / scale - n + 1) / 2;
    if (!cubic) {
      p = std::clamp(p, 0.0, double(n - 1));
      long lo = long(std::floor(p));
      out[j] = at(lo) * (1 - (p - lo)) + at(long(std::ceil(p))) * (p - lo);
    } else {
      const double a = -0.75;
      auto k = [&](double d) {
        d = std::abs(d);
        return d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1 : (((d - 5) * d + 8) * d - 4) * a;
      };
      long l = long(std::floor(p));
      out[j] = 0;
      for (long g = l - 1; g <= l + 2; ++g) out[j] += k(p - g) * at(g);
    }
  }
  return out;
}

}  // namespace

TEST(NnUpsample, NearestLinearCubicValues) {
  array img = reshape(arange(1, 5), {1, 2, 2, 1});  // [[1, 2], [3, 4]]
  expect_values(nn::upsample_nearest(img, {2, 2}), {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  EXPECT_EQ(nn::upsample_nearest(img, {2, 2}).dtype(), int32);
  expect_values(nn::upsample_linear(img, {2, 2}),
                {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}, 1e-6);
  EXPECT_EQ(nn::upsample_linear(img, {2, 2}).dtype(), float32);
  // Non-integer factors: nearest picks round((j + 0.5) n / m - 0.5) when
  // growing, floor(j n / m) when shrinking.
  array seq = reshape(arange(0, 5), {1, 5, 1});
  expect_values(nn::upsample_nearest(seq, {1.5}), {0, 1, 1, 2, 3, 3, 4});
  expect_values(nn::upsample_nearest(seq, {0.5}), {0, 2});
  Vec sig = {0.3, -1.0, 2.0, 0.5, 1.5};
  array s1 = array(std::vector<float>(sig.begin(), sig.end()).begin(), Shape{1, 5, 1});
  for (double scale : {2.0, 2.5, 0.6})
    for (bool align : {false, true})
      for (bool cubic : {false, true}) {
        auto f = cubic ? nn::upsample_cubic : nn::upsample_linear;
        expect_values(f(s1, {scale}, align, {}), interp_ref(sig, scale, align, cubic), 1e-5);
      }
}

TEST(NnUpsample, SeparableOverThreeSpatialAxesAndChannels) {
  // Bilinear over (2, 3) spatial, channels independent: equals interpolating
  // the rows then columns.
  array x = randn({2, 2, 3, 2, 3}, 4);
  array y = nn::upsample_linear(x, {2.0, 1.5, 3.0}, true);
  ASSERT_EQ(y.shape(), (Shape{2, 4, 4, 6, 3}));
  Vec xv = values(x);
  Vec yv = values(y);
  // Along the last spatial axis alone, every (batch, a, b, channel) line
  // matches the 1-d reference.
  array z = nn::upsample_cubic(x, {1.0, 1.0, 2.5}, false);
  Vec zv = values(z);
  for (int line = 0; line < 2 * 2 * 3; ++line)
    for (int c = 0; c < 3; ++c) {
      Vec v = {xv[(line * 2 + 0) * 3 + c], xv[(line * 2 + 1) * 3 + c]};
      Vec e = interp_ref(v, 2.5, false, true);
      for (int j = 0; j < 5; ++j) EXPECT_NEAR(zv[(line * 5 + j) * 3 + c], e[j], 1e-5);
    }
  // With align_corners the corners are kept exactly.
  EXPECT_NEAR(yv[0], xv[0], 1e-6);
  EXPECT_NEAR(yv[yv.size() - 1], xv[xv.size() - 1], 1e-6);
}

TEST(NnUpsample, Errors) {
  expect_throws_naming([] { return nn::upsample_nearest(zeros({2, 3}), {2.0}); }, "upsample_nearest");
  expect_throws_naming([] { return nn::upsample_nearest(zeros({1, 2, 3}), {2.0, 2.0}); }, "upsample_nearest");
  expect_throws_naming([] { return nn::upsample_linear(zeros({1, 2, 3}), {0.0}); }, "upsample_linear");
  expect_throws_naming([] { return nn::upsample_cubic(zeros({1, 2, 3}), {-1.0}); }, "upsample_cubic");
  expect_throws_naming([] { return nn::upsample_cubic(zeros({1, 2, 3}), {std::nan("")}); }, "upsample_cubic");
}

TEST(NnQuantized, LinearAndEmbeddingMatchDequantized) {
  array w = randn({8, 64}, 11), x = randn({3, 64}, 12), bias = randn({8}, 13);
  for (auto [mode, group, bits] :
       {std::tuple<std::string, int, int>{"affine", 64, 4}, {"affine", 32, 8}, {"mxfp4", 32, 4}}) {
    auto q = quantize(w, group, bits, mode);
    OptArray biases = q.size() > 2 ? OptArray(q[2]) : std::nullopt;
    array dense = dequantize(q[0], q[1], biases, group, bits, mode, std::nullopt, float32);
    expect_values(nn::quantized_linear(x, q[0], q[1], biases, bias, group, bits, mode),
                  values(add(matmul(x, transpose(dense)), bias)), 1e-3);
    array idx = array({5, 0, 5, 7}, Shape{2, 2});
    array rows = nn::quantized_embedding(idx, q[0], q[1], biases, group, bits, mode);
    ASSERT_EQ(rows.shape(), (Shape{2, 2, 64}));
    expect_values(rows, values(take(dense, idx, 0)), 1e-6);
  }
  auto q = quantize(w, 64, 4);
  expect_throws_naming([&] { return nn::quantized_linear(x, q[0], q[1], q[2], zeros({7}), 64, 4); },
                       "quantized_linear");
  expect_throws_naming([&] { return nn::quantized_embedding(array({0.5f}), q[0], q[1], q[2], 64, 4); },
                       "quantized_embedding");
}
