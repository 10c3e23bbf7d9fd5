// Quantization: quantize / dequantize round trips, quantized matmuls against dequantize +
// matmul, gather_qmm against a loop, fp8 conversion, errors, gradients and checker cases.
#include "lazuli/quantized.h"

#include "checker.h"
#include "test_util.h"

using namespace lazuli;
using namespace lazuli::test;
using lazuli::test::Case;

namespace {

struct ModeCase {
  std::string mode;
  int group_size, bits;
};

std::vector<ModeCase> all_modes() {
  std::vector<ModeCase> c;
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int gs : {32, 64, 128}) c.push_back({"affine", gs, bits});
  c.push_back({"mxfp4", 32, 4});
  c.push_back({"mxfp8", 32, 8});
  c.push_back({"nvfp4", 16, 4});
  return c;
}

std::vector<array> quantize_case(const array& w, const ModeCase& m) {
  return quantize(w, m.group_size, m.bits, m.mode);
}
std::optional<array> biases_of(const std::vector<array>& q) {
  return q.size() > 2 ? std::optional<array>(q[2]) : std::nullopt;
}
array dequantize_case(const std::vector<array>& q, const ModeCase& m, Dtype t = float32) {
  return dequantize(q[0], q[1], biases_of(q), m.group_size, m.bits, m.mode, std::nullopt, t);
}

double max_abs_diff(const array& a, const array& b) {
  return max(abs(subtract(astype(a, float64), astype(b, float64)))).item<double>();
}

}  // namespace

TEST(Quantized, ShapesAndDtypes) {
  array w = filled({3, 256}, -1, 1, 1);
  auto q = quantize(w);
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].shape(), (Shape{3, 32}));
  EXPECT_EQ(q[0].dtype(), uint32);
  EXPECT_EQ(q[1].shape(), (Shape{3, 4}));
  EXPECT_EQ(q[1].dtype(), float64);
  EXPECT_EQ(q[2].dtype(), float64);
  auto q3 = quantize(astype(w, float16), 32, 3);
  EXPECT_EQ(q3[0].shape(), (Shape{3, 24}));
  EXPECT_EQ(q3[1].shape(), (Shape{3, 8}));
  EXPECT_EQ(q3[1].dtype(), float16);
  auto fp = quantize(w, std::nullopt, std::nullopt, "mxfp4");
  ASSERT_EQ(fp.size(), 2u);
  EXPECT_EQ(fp[0].shape(), (Shape{3, 32}));
  EXPECT_EQ(fp[1].shape(), (Shape{3, 8}));
  EXPECT_EQ(fp[1].dtype(), uint8);
  auto nv = quantize(w, std::nullopt, std::nullopt, "nvfp4");
  EXPECT_EQ(nv[1].shape(), (Shape{3, 16}));
  auto f8 = quantize(w, std::nullopt, std::nullopt, "mxfp8");
  EXPECT_EQ(f8[0].shape(), (Shape{3, 64}));
  EXPECT_EQ(dequantize(fp[0], fp[1], std::nullopt, std::nullopt, std::nullopt, "mxfp4").dtype(), bfloat16);
  EXPECT_EQ(dequantize(q[0], q[1], q[2]).dtype(), float64);
  EXPECT_EQ(dequantize(q[0], q[1], q[2]).shape(), (Shape{3, 256}));
  // Batched weights keep their leading axes.
  auto qb = quantize(filled({2, 3, 64}, -1, 1, 2), 32, 8);
  EXPECT_EQ(qb[0].shape(), (Shape{2, 3, 16}));
  EXPECT_EQ(qb[1].shape(), (Shape{2, 3, 2}));
}

TEST(Quantized, AffinePackingIsLowBitsFirst) {
  // Codes read back through the documented layout (element i at bits [i*bits, (i+1)*bits) of
  // the row's little-endian bit stream), times the scale plus the bias, are what dequantize
  // gives: for 8 bits (bytes of a word, lowest first) and 3 bits (codes straddle words).
  array w = filled({2, 64}, -2, 3, 30);
  for (int bits : {3, 8}) {
    auto q = quantize(w, 32, bits);
    auto words = to_vector<uint32_t>(q[0]);
    auto s = to_vector<float>(q[1]), b = to_vector<float>(q[2]);
    auto deq = to_vector<float>(dequantize(q[0], q[1], q[2], 32, bits));
    int64_t per_row = 64 * bits / 32;
    for (int r = 0; r < 2; ++r)
      for (int i = 0; i < 64; ++i) {
        int64_t pos = int64_t{i} * bits, word = r * per_row + pos / 32;
        uint64_t both = words[word] | (pos / 32 + 1 < per_row ? uint64_t{words[word + 1]} << 32 : 0);
        uint32_t code = (both >> (pos % 32)) & ((1u << bits) - 1);
        int g = r * 2 + i / 32;
        EXPECT_FLOAT_EQ(code * s[g] + b[g], deq[r * 64 + i]) << bits << " " << r << " " << i;
      }
  }
  // MLX's grid puts zero on a code: a group of zeros and ones dequantizes exactly.
  std::vector<float> v(32);
  for (int i = 0; i < 32; ++i) v[i] = float(i % 2);
  array z(v.begin(), {1, 32}, float32);
  auto qz = quantize(z, 32, 4);
  EXPECT_EQ(max_abs_diff(dequantize(qz[0], qz[1], qz[2], 32, 4), z), 0.0);
}

TEST(Quantized, RoundTripErrorIsWithinHalfAStep) {
  array w = filled({4, 256}, -3, 2, 3);
  for (auto& m : all_modes()) {
    SCOPED_TRACE(m.mode + " g" + std::to_string(m.group_size) + " b" + std::to_string(m.bits));
    auto q = quantize_case(w, m);
    array back = dequantize_case(q, m);
    EXPECT_EQ(back.shape(), w.shape());
    if (m.mode == "affine") {
      // Within a step and a half of the group's grid: rounding costs half a step, and MLX's
      // grid (zero on a code) can fall short of the far end of the range by up to a step.
      array step = repeat(abs(q[1]), m.group_size, 1);
      array err = abs(subtract(back, w));
      EXPECT_TRUE(all(less_equal(err, add(multiply(step, array(1.5f)), array(1e-5f)))).item<bool>());
      EXPECT_LT(mean(err).item<float>(), 0.3f * mean(step).item<float>());
    } else {
      // Relative to each group's largest magnitude. The e8m0 scale is the power of two nearest
      // to amax / max_value (in log2), up to 2^0.5 too small, so the largest values of mx groups
      // can saturate (by up to 29%, as in MLX); nvfp4's e4m3 scale is near exact, leaving
      // e2m1's half step (1 of 6).
      double tol = m.mode == "nvfp4" ? 0.18 : 0.3;
      array amax = repeat(max(abs(reshape(w, {4, 256 / m.group_size, m.group_size})), -1), m.group_size, 1);
      EXPECT_TRUE(all(less_equal(abs(subtract(back, w)), multiply(amax, array(float(tol))))).item<bool>());
    }
  }
}

TEST(Quantized, HalfInputsAndOutputDtype) {
  array w = filled({2, 64}, -1, 1, 4);
  for (Dtype t : {float16, bfloat16}) {
    auto q = quantize(astype(w, t));
    EXPECT_EQ(q[1].dtype(), t);
    array back = dequantize(q[0], q[1], q[2]);
    EXPECT_EQ(back.dtype(), t);
    EXPECT_LT(max_abs_diff(back, w), 0.15);
    EXPECT_EQ(dequantize(q[0], q[1], q[2], 64, 4, "affine", std::nullopt, float32).dtype(), float32);
  }
}

TEST(Quantized, MatmulMatchesDequantizeThenMatmul) {
  for (auto& m : all_modes()) {
    SCOPED_TRACE(m.mode + " g" + std::to_string(m.group_size) + " b" + std::to_string(m.bits));
    array w = filled({24, 256}, -1, 1, 5);
    auto q = quantize_case(w, m);
    array wd = dequantize_case(q, m);
    for (int rows : {1, 3, 16}) {
      array x = filled({rows, 256}, -1, 1, 6);
      array y = quantized_matmul(x, q[0], q[1], biases_of(q), true, m.group_size, m.bits, m.mode);
      EXPECT_EQ(y.shape(), (Shape{rows, 24}));
      EXPECT_LT(max_abs_diff(y, matmul(x, transpose(wd))), 1e-3);
      // transpose=false: x (rows, 24) @ w (24, 256).
      array x2 = filled({rows, 24}, -1, 1, 7);
      array y2 = quantized_matmul(x2, q[0], q[1], biases_of(q), false, m.group_size, m.bits, m.mode);
      EXPECT_EQ(y2.shape(), (Shape{rows, 256}));
      EXPECT_LT(max_abs_diff(y2, matmul(x2, wd)), 1e-3);
    }
  }
}

TEST(Quantized, MatmulBatchesAndLayouts) {
  array w = filled({2, 16, 128}, -1, 1, 8);
  auto q = quantize(w, 64, 4);
  array wd = dequantize(q[0], q[1], q[2]);
  // Batched weights broadcast against batched x; a 1-D x is one row.
  array x = filled({3, 1, 5, 128}, -1, 1, 9);
  array y = quantized_matmul(x, q[0], q[1], q[2]);
  EXPECT_EQ(y.shape(), (Shape{3, 2, 5, 16}));
  EXPECT_LT(max_abs_diff(y, matmul(x, swapaxes(wd, -1, -2))), 1e-4);
  array v = filled({128}, -1, 1, 10);
  array w2 = take(wd, array(0), 0);
  auto q2 = quantize(take(w, array(0), 0), 64, 4);
  array yv = quantized_matmul(v, q2[0], q2[1], q2[2]);
  EXPECT_EQ(yv.shape(), (Shape{16}));
  EXPECT_LT(max_abs_diff(yv, matmul(v, transpose(w2))), 1e-4);
  // A transposed (non-contiguous) x, and x with batch axes against a 2-D w.
  array xt = transpose(filled({128, 4}, -1, 1, 11));
  EXPECT_LT(max_abs_diff(quantized_matmul(xt, q2[0], q2[1], q2[2]), matmul(xt, transpose(w2))), 1e-4);
  array xb = filled({2, 3, 128}, -1, 1, 12);
  EXPECT_LT(max_abs_diff(quantized_matmul(xb, q2[0], q2[1], q2[2]), matmul(xb, transpose(w2))), 1e-4);
  // float16 x keeps its dtype (scales are promoted with it).
  array yh = quantized_matmul(astype(xb, float16), q2[0], astype(q2[1], float16), astype(q2[2], float16));
  EXPECT_EQ(yh.dtype(), float16);
}

TEST(Quantized, GatherQmmMatchesALoop) {
  array w = filled({3, 8, 64}, -1, 1, 13);
  auto q = quantize(w, 32, 4);
  array wd = dequantize(q[0], q[1], q[2], 32, 4);
  array x = filled({2, 4, 64}, -1, 1, 14);
  array lhs = array({0, 1, 1, 0}, {2, 2}, uint32);
  array rhs = array({2, 0, 1, 2}, {2, 2}, uint32);
  array y = gather_qmm(x, q[0], q[1], q[2], lhs, rhs, true, 32, 4);
  EXPECT_EQ(y.shape(), (Shape{2, 2, 4, 8}));
  auto li = to_vector<uint32_t>(lhs), ri = to_vector<uint32_t>(rhs);
  for (int i = 0; i < 4; ++i) {
    array want = matmul(take(x, array(int(li[i])), 0), transpose(take(wd, array(int(ri[i])), 0)));
    array got = take(reshape(y, {4, 4, 8}), array(i), 0);
    EXPECT_LT(max_abs_diff(got, want), 1e-4) << i;
  }
  // Indices broadcast: one rhs for every lhs.
  array yb = gather_qmm(x, q[0], q[1], q[2], array({0, 1}, {2}, uint32), array({1}, {1}, uint32), true, 32, 4);
  EXPECT_EQ(yb.shape(), (Shape{2, 4, 8}));
  // An index past the end is an error, not a stray read.
  EXPECT_THROW(gather_qmm(x, q[0], q[1], q[2], lhs, array({5}, {1}, uint32), true, 32, 4).eval(), std::out_of_range);
}

TEST(Quantized, Fp8Conversion) {
  array x = array({0.f, 1.f, -2.f, 448.f, 1000.f, -1e9f, 0.001953125f, 0.3f, 17.f});
  array c = to_fp8(x);
  EXPECT_EQ(c.dtype(), uint8);
  expect_values(c, {0, 0x38, 0xC0, 0x7E, 0x7E, 0xFE, 0x01, 0x2A, 0x58});
  expect_values(from_fp8(c, float32), {0, 1, -2, 448, 448, -448, 0.001953125, 0.3125, 16});  // 17: a tie, to even
  EXPECT_EQ(from_fp8(c).dtype(), bfloat16);
  // Every code survives decode then encode (except 0x7F/0xFF, which MLX reads as 480).
  array all_codes = astype(arange(0, 256, uint32), uint8);
  array back = to_fp8(from_fp8(all_codes, float32));
  auto got = to_vector<uint32_t>(back);
  for (int i = 0; i < 256; ++i)
    if ((i & 0x7F) != 0x7F) EXPECT_EQ(got[i], uint32_t(i)) << i;
}

TEST(Quantized, ErrorsNameTheOpAndValues) {
  array w = filled({4, 64}, -1, 1, 15);
  auto q = quantize(w);
  auto msg = [](auto f) { return error_of<std::invalid_argument>(f); };
  EXPECT_TRUE(contains(msg([&] { quantize(w, 48); }), "[quantize] The requested group size 48"));
  EXPECT_TRUE(contains(msg([&] { quantize(w, 64, 7); }), "number of bits 7"));
  EXPECT_TRUE(contains(msg([&] { quantize(w, 64, 4, "int4"); }), "Invalid quantization mode 'int4'"));
  EXPECT_TRUE(contains(msg([&] { quantize(w, 16, 4, "mxfp4"); }), "requires group size 32 but got 16"));
  EXPECT_TRUE(contains(msg([&] { quantize(w, 32, 8, "mxfp4"); }), "requires bits to be 4 but got 8"));
  EXPECT_TRUE(contains(msg([&] { quantize(filled({4, 96}, -1, 1, 1), 64); }), "divisible by the quantization group size 64"));
  EXPECT_TRUE(contains(msg([&] { quantize(astype(w, int32)); }), "has dtype int32"));
  EXPECT_TRUE(contains(msg([&] { quantize(filled({64}, -1, 1, 1)); }), "at least 2 dimensions"));
  EXPECT_TRUE(contains(msg([&] { quantize(w, 32, 4, "mxfp4", array(1.f)); }), "global_scale is only supported"));
  EXPECT_TRUE(contains(msg([&] { dequantize(q[0], q[1]); }), "[dequantize] Biases must be provided"));
  EXPECT_TRUE(contains(msg([&] { dequantize(q[0], q[1], q[2], 32); }), "[dequantize] Shape of scales"));
  EXPECT_TRUE(contains(msg([&] { dequantize(astype(q[0], int32), q[1], q[2]); }), "should be uint32"));
  EXPECT_TRUE(contains(msg([&] { dequantize(q[0], q[1], q[2], 64, 4, "affine", std::nullopt, int32); }), "dtype == int32"));
  EXPECT_TRUE(contains(msg([&] { dequantize(q[0], astype(q[1], uint8), std::nullopt, 32, 4, "mxfp4"); }), "Shape of scales"));
  EXPECT_TRUE(contains(msg([&] { quantized_matmul(filled({2, 32}, -1, 1, 1), q[0], q[1], q[2]); }),
                       "[quantized_matmul] Last dimension of x"));
  // (An integer x is promoted with affine scales, as in MLX; the fp modes keep x's dtype.)
  auto fq = quantize(w, 32, 4, "mxfp4");
  EXPECT_TRUE(contains(msg([&] { quantized_matmul(astype(filled({2, 64}, -1, 1, 1), int32), fq[0], fq[1],
                                                  std::nullopt, true, 32, 4, "mxfp4"); }),
                       "x.dtype() == int32"));
  EXPECT_TRUE(contains(msg([&] { quantized_matmul(filled({2, 64}, -1, 1, 1), q[0], q[1], q[1], true, 64, 4, "mxfp4"); }),
                       "requires group size 32"));
  EXPECT_TRUE(contains(msg([&] { gather_qmm(filled({2, 64}, -1, 1, 1), q[0], q[1], q[2], array({0.5f})); }),
                       "[gather_qmm]"));
  EXPECT_TRUE(contains(msg([&] { to_fp8(array({1, 2})); }), "[to_fp8]"));
  EXPECT_TRUE(contains(msg([&] { from_fp8(array({1.f})); }), "[from_fp8] Input must have type uint8"));
  EXPECT_TRUE(contains(msg([&] { from_fp8(astype(array({1}), uint8), int32); }), "[from_fp8]"));
}

TEST(Quantized, Gradients) {
  array w = filled({6, 64}, -1, 1, 16);
  auto q = quantize(w, 32, 4);
  array wd = dequantize(q[0], q[1], q[2], 32, 4);
  array x = filled({2, 64}, -1, 1, 17);
  // d sum(x @ W^T) / dx = column sums of W, for every row of x.
  auto g = grad(UnaryFn([&](const array& a) { return sum(quantized_matmul(a, q[0], q[1], q[2], true, 32)); }))(x);
  array want = broadcast_to(sum(wd, 0, true), {2, 64});
  EXPECT_LT(max_abs_diff(g, want), 1e-4);
  // The codes have no derivative: asking for one (through a float array cast to codes) is an
  // error naming the op, as in MLX.
  auto through_codes = [&](const std::vector<array>& xs) {
    return std::vector<array>{sum(quantized_matmul(x, astype(xs[0], uint32), q[1], q[2], true, 32))};
  };
  std::string m = error_of<std::invalid_argument>([&] { vjp(through_codes, {astype(q[0], float32)}, {array(1.f)}); });
  EXPECT_TRUE(contains(m, "[quantized_matmul] Cannot compute the gradient with respect to the quantized matrix")) << m;
  // Scales and biases: d sum(x @ (s q + b)^T) / db = group sums of the column sums of x.
  auto gb = grad(UnaryFn([&](const array& b) { return sum(quantized_matmul(x, q[0], q[1], b, true, 32)); }))(q[2]);
  array xs = sum(reshape(sum(x, 0), {2, 32}), -1);
  EXPECT_LT(max_abs_diff(gb, broadcast_to(reshape(xs, {1, 2}), {6, 2})), 1e-4);
}

LAZULI_CHECKER_CASES(quantized) {
  using lazuli::test::unary_fn;
  array wq = quantize(filled({5, 64}, -1, 1, 21), 32, 4)[0];
  auto q8 = quantize(filled({5, 64}, -1, 1, 22), 64, 8);
  auto f32 = [](const array& a) { return astype(a, float32); };
  add("Quantize", Case{{{4, 64}}, -2, 2, [f32](const std::vector<array>& x) { return quantize(f32(x[0]), 32, 3); }, false});
  add("Quantize", Case{{{4, 32}}, -2, 2, [f32](const std::vector<array>& x) {
        return quantize(f32(x[0]), 32, 4, "mxfp4"); }, false});
  Case deq{{{5, 2}, {5, 2}}, -1, 1, [wq, f32](const std::vector<array>& x) {
             return std::vector<array>{dequantize(wq, f32(x[0]), f32(x[1]), 32, 4)}; }};
  deq.single_precision = true;
  add("Dequantize", deq);
  add("Dequantize", Case{{{3, 32}}, -2, 2, [f32](const std::vector<array>& x) {
        auto q = quantize(f32(x[0]), 16, 4, "nvfp4");
        return std::vector<array>{dequantize(q[0], q[1], std::nullopt, 16, 4, "nvfp4")}; }, false});
  Case qmm_x{{{2, 64}}, -1, 1, [q8, f32](const std::vector<array>& x) {
               return std::vector<array>{quantized_matmul(f32(x[0]), q8[0], q8[1], q8[2], true, 64, 8)}; }};
  qmm_x.single_precision = true;
  add("QuantizedMatmul", qmm_x);
  Case qmm_t{{{3, 5}}, -1, 1, [q8, f32](const std::vector<array>& x) {
               return std::vector<array>{quantized_matmul(f32(x[0]), q8[0], q8[1], q8[2], false, 64, 8)}; }};
  qmm_t.single_precision = true;
  add("QuantizedMatmul", qmm_t);
  array xc = filled({2, 64}, -1, 1, 23);
  Case qmm_s{{{5, 2}, {5, 2}}, -1, 1, [wq, xc, f32](const std::vector<array>& x) {
               return std::vector<array>{quantized_matmul(f32(xc), wq, f32(x[0]), f32(x[1]), true, 32, 4)}; }};
  qmm_s.single_precision = true;
  add("QuantizedMatmul", qmm_s);
  auto qe = quantize(filled({3, 4, 64}, -1, 1, 24), 32, 4);
  Case gq{{{2, 2, 64}}, -1, 1, [qe, f32](const std::vector<array>& x) {
            return std::vector<array>{gather_qmm(f32(x[0]), qe[0], qe[1], qe[2], array({1, 0, 1}, {3}, uint32),
                                                 array({2, 0, 0}, {3}, uint32), true, 32, 4)}; }};
  gq.single_precision = true;
  add("GatherQMM", gq);
  add("ToFP8", Case{{{3, 4}}, -3, 3, unary_fn([f32](const array& a) { return to_fp8(f32(a)); }), false});
  add("FromFP8", Case{{{3, 4}}, -3, 3, unary_fn([f32](const array& a) { return from_fp8(to_fp8(f32(a)), float32); }), false});
}
