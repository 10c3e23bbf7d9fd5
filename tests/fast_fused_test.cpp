// The fused fast-op primitives (lazuli/primitives/fast.h) on the CPU: the ops build them
// only for GPU streams, so CPU graphs stay composed; built on a CPU stream, each evaluates
// its fallback eagerly and equals the composed op exactly; its vjp, jvp and vmap (through
// the fallback) are checked by the transform checker's cases below, and its export by
// Export.EveryCheckerCaseRoundTrips. The GPU kernels are compared with the CPU in
// gpu_fast_test.cpp.
#include <set>
#include <string>
#include <vector>

#include "checker.h"
#include "lazuli/export.h"
#include "lazuli/fast.h"
#include "lazuli/primitives/fast.h"
#include "lazuli/transforms/tape.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::Case;
using lazuli::test::filled;
using lazuli::test::unary_fn;

namespace {

const Stream kCpuStream = default_stream(Device::cpu);

// The primitive classes in the graph behind `a`.
std::set<std::string> classes_in(const array& a) {
  std::set<std::string> names;
  detail::walk_graph(
      {a}, [](const array& x) { return x.has_primitive(); },
      [&](array x) {
        if (x.primitive().class_name()) names.insert(x.primitive().class_name());
      });
  return names;
}

bool has_fused_node(const array& a) {
  for (auto& c : classes_in(a))
    if (c == "RMSNorm" || c == "LayerNorm" || c == "Softmax" || c == "LogSumExp" || c == "RoPE" ||
        c == "AttentionDecode")
      return true;
  return false;
}

// Same dtype, shape and values (NaN where NaN): the fused node's CPU path is the composed graph.
void expect_identical(const array& fused, const array& composed) {
  ASSERT_EQ(fused.dtype(), composed.dtype());
  ASSERT_EQ(fused.shape(), composed.shape());
  EXPECT_TRUE(array_equal(fused, composed, true).item<bool>());
}

const std::vector<Dtype> kFloats = {float16, bfloat16, float32, float64};

// Attention inputs: q (B, n_q, q_len, D), k and v (B, n_kv, k_len, D).
struct Attention {
  array q, k, v;
};
Attention attention_inputs(int batch, int n_q, int n_kv, int q_len, int k_len, int d, Dtype t) {
  return {astype(filled({batch, n_q, q_len, d}, -1, 1, 40 + q_len), t),
          astype(filled({batch, n_kv, k_len, d}, -1, 1, 50 + k_len), t),
          astype(filled({batch, n_kv, k_len, d}, -1, 1, 60 + k_len), t)};
}

}  // namespace

TEST(FastFused, CpuGraphsStayComposed) {
  array x = astype(filled({4, 7}, -2, 2, 1), float32);
  array w = astype(filled({7}, -1, 1, 2), float32);
  for (const array& y : {fast::rms_norm(x, w, 1e-5f), fast::layer_norm(x, w, w, 1e-5f), softmax(x, -1),
                         softmax(x, -1, true), logsumexp(x, -1), logsumexp(x, -1, true)}) {
    EXPECT_FALSE(has_fused_node(y));
    EXPECT_TRUE(classes_in(y).count("Reduce"));
  }
}

TEST(FastFused, CpuRopeStaysComposed) {
  array x = astype(filled({2, 3, 8}, -2, 2, 1), float32);
  for (const array& y : {fast::rope(x, 8, false, 1e4f, 1.0f, 0), fast::rope(x, 4, true, 1e4f, 0.5f, array({1, 2})),
                         fast::rope(x, 6, false, std::nullopt, 1.0f, 3, astype(filled({3}, 1, 4, 2), float32))}) {
    EXPECT_FALSE(has_fused_node(y));
    EXPECT_TRUE(classes_in(y).count("Unary"));  // the cos and sin
  }
}

TEST(FastFused, FusedNodesOnTheCpuEqualTheComposedOps) {
  for (Dtype t : kFloats) {
    SCOPED_TRACE(dtype_name(t));
    for (int len : {1, 7, 64, 300}) {
      array x = astype(filled({3, 2, len}, -3, 3, len), t);
      array w = astype(filled({len}, -1, 1, 5), t), b = astype(filled({len}, -1, 1, 6), t);
      expect_identical(detail::fused_rms_norm(x, std::nullopt, 1e-5f, kCpuStream), fast::rms_norm(x, std::nullopt, 1e-5f));
      expect_identical(detail::fused_rms_norm(x, w, 1e-3f, kCpuStream), fast::rms_norm(x, w, 1e-3f));
      expect_identical(detail::fused_layer_norm(x, std::nullopt, std::nullopt, 1e-5f, kCpuStream),
                       fast::layer_norm(x, std::nullopt, std::nullopt, 1e-5f));
      expect_identical(detail::fused_layer_norm(x, w, std::nullopt, 1e-5f, kCpuStream),
                       fast::layer_norm(x, w, std::nullopt, 1e-5f));
      expect_identical(detail::fused_layer_norm(x, std::nullopt, b, 1e-5f, kCpuStream),
                       fast::layer_norm(x, std::nullopt, b, 1e-5f));
      expect_identical(detail::fused_layer_norm(x, w, b, 1e-5f, kCpuStream), fast::layer_norm(x, w, b, 1e-5f));
      for (bool precise : {false, true})
        expect_identical(detail::fused_softmax(x, precise, kCpuStream), softmax(x, -1, precise));
      expect_identical(detail::fused_logsumexp(x, kCpuStream), logsumexp(x, -1));
    }
  }
}

TEST(FastFused, FusedRopeOnTheCpuEqualsTheComposedOp) {
  // Offsets as an int (int32), a 0-d int64, one per batch entry, and of another integer
  // type (made int64 for the kernel); base frequencies or custom ones; dims below the last
  // axis; 3-d and 4-d x, also transposed.
  const std::vector<array> offsets = {array(5, int32), array(int64_t(2), int64), array({3, 7}), array({1}),
                                      astype(array({4, 0}), uint8)};
  for (Dtype t : kFloats) {
    SCOPED_TRACE(dtype_name(t));
    array x3 = astype(filled({2, 5, 8}, -3, 3, 1), t);
    array x4 = astype(filled({2, 3, 4, 10}, -3, 3, 2), t);
    array xt = transpose(astype(filled({12, 5, 2}, -3, 3, 3), t));  // (2, 5, 12), strided
    for (const array& x : {x3, x4, xt})
      for (bool traditional : {false, true})
        for (int dims : {2, 6, 8})
          for (const array& offset : offsets) {
            array freqs = astype(filled({dims / 2}, 0.5, 20, dims), t);
            expect_identical(detail::fused_rope(x, dims, traditional, 1e4f, 1.0f, offset, std::nullopt, kCpuStream),
                             fast::rope(x, dims, traditional, 1e4f, 1.0f, offset));
            expect_identical(detail::fused_rope(x, dims, traditional, 100.0f, 0.25f, offset, std::nullopt, kCpuStream),
                             fast::rope(x, dims, traditional, 100.0f, 0.25f, offset));
            expect_identical(detail::fused_rope(x, dims, traditional, std::nullopt, 2.0f, offset, freqs, kCpuStream),
                             fast::rope(x, dims, traditional, std::nullopt, 2.0f, offset, freqs));
          }
  }
}

TEST(FastFused, FusedRopeCastsOffsetAndFreqsForTheKernel) {
  array x = astype(filled({2, 3, 4}, -1, 1, 1), float16);
  array y = detail::fused_rope(x, 4, false, std::nullopt, 1.0f, astype(array({1, 2}), int16), array({1.0, 2.0}),
                               kCpuStream);
  EXPECT_EQ(y.primitive().name(), "RoPE");
  EXPECT_EQ(y.dtype(), float16);
  EXPECT_EQ(y.inputs()[1].dtype(), int64);
  EXPECT_EQ(y.inputs()[2].dtype(), float32);  // float16 x computes in float32
  EXPECT_EQ(detail::fused_rope(x, 4, false, 1e4f, 1.0f, array(3), std::nullopt, kCpuStream).inputs()[1].dtype(), int32);
}

TEST(FastFused, InfinitiesAndNaNsFollowTheFallback) {
  const double inf = test::kInf, nan = test::kNan;
  array x = astype(array({-inf, -inf, -inf, 1.0, inf, 2.0, nan, 0.0, 1.0}, {3, 3}), float32);
  expect_identical(detail::fused_softmax(x, false, kCpuStream), softmax(x, -1));
  expect_identical(detail::fused_logsumexp(x, kCpuStream), logsumexp(x, -1));
  test::expect_values(detail::fused_logsumexp(x, kCpuStream), {-inf, inf, nan});
}

TEST(FastFused, NonContiguousInputsAndValues) {
  // Transposed x: rows are strided; values against the formula in float64.
  array base = filled({5, 3}, -2, 2, 9);
  array x = transpose(base);  // (3, 5)
  array y = detail::fused_rms_norm(x, std::nullopt, 0.0f, kCpuStream);
  auto xv = test::to_vector<double>(x), yv = test::to_vector<double>(y);
  for (int r = 0; r < 3; ++r) {
    double ss = 0;
    for (int c = 0; c < 5; ++c) ss += xv[r * 5 + c] * xv[r * 5 + c];
    for (int c = 0; c < 5; ++c) EXPECT_NEAR(yv[r * 5 + c], xv[r * 5 + c] / std::sqrt(ss / 5), 1e-12);
  }
  array l = detail::fused_logsumexp(x, kCpuStream);
  auto lv = test::to_vector<double>(l);
  for (int r = 0; r < 3; ++r) {
    double s = 0;
    for (int c = 0; c < 5; ++c) s += std::exp(xv[r * 5 + c]);
    EXPECT_NEAR(lv[r], std::log(s), 1e-12);
  }
}

TEST(FastFused, EquivalenceComparesParameters) {
  array x = filled({2, 4}, -1, 1, 3), w = filled({4}, -1, 1, 4);
  auto same = [](const array& a, const array& b) { return a.primitive().is_equivalent(b.primitive()); };
  EXPECT_TRUE(same(detail::fused_rms_norm(x, w, 1e-5f, kCpuStream), detail::fused_rms_norm(x, w, 1e-5f, kCpuStream)));
  EXPECT_FALSE(same(detail::fused_rms_norm(x, w, 1e-5f, kCpuStream), detail::fused_rms_norm(x, w, 1e-6f, kCpuStream)));
  EXPECT_FALSE(same(detail::fused_rms_norm(x, w, 1e-5f, kCpuStream),
                    detail::fused_rms_norm(x, std::nullopt, 1e-5f, kCpuStream)));
  EXPECT_TRUE(same(detail::fused_layer_norm(x, w, std::nullopt, 1e-5f, kCpuStream),
                   detail::fused_layer_norm(x, w, std::nullopt, 1e-5f, kCpuStream)));
  EXPECT_FALSE(same(detail::fused_layer_norm(x, w, std::nullopt, 1e-5f, kCpuStream),
                    detail::fused_layer_norm(x, std::nullopt, w, 1e-5f, kCpuStream)));
  EXPECT_TRUE(same(detail::fused_softmax(x, true, kCpuStream), detail::fused_softmax(x, true, kCpuStream)));
  EXPECT_FALSE(same(detail::fused_softmax(x, true, kCpuStream), detail::fused_softmax(x, false, kCpuStream)));
  EXPECT_TRUE(same(detail::fused_logsumexp(x, kCpuStream), detail::fused_logsumexp(x, kCpuStream)));
  EXPECT_FALSE(same(detail::fused_logsumexp(x, kCpuStream), detail::fused_softmax(x, true, kCpuStream)));

  array x3 = filled({2, 3, 8}, -1, 1, 5), off = array(0), freqs = filled({3}, 1, 2, 6);
  auto rope = [&](int dims, bool traditional, std::optional<float> base, float scale) {
    return detail::fused_rope(x3, dims, traditional, base, scale, off, base ? std::nullopt : std::optional(freqs),
                              kCpuStream);
  };
  EXPECT_TRUE(same(rope(6, false, 1e4f, 1.0f), rope(6, false, 1e4f, 1.0f)));
  EXPECT_TRUE(same(rope(6, true, std::nullopt, 1.0f), rope(6, true, std::nullopt, 1.0f)));
  EXPECT_FALSE(same(rope(6, false, 1e4f, 1.0f), rope(8, false, 1e4f, 1.0f)));
  EXPECT_FALSE(same(rope(6, false, 1e4f, 1.0f), rope(6, true, 1e4f, 1.0f)));
  EXPECT_FALSE(same(rope(6, false, 1e4f, 1.0f), rope(6, false, 1e3f, 1.0f)));
  EXPECT_FALSE(same(rope(6, false, 1e4f, 1.0f), rope(6, false, std::nullopt, 1.0f)));
  EXPECT_FALSE(same(rope(6, false, 1e4f, 1.0f), rope(6, false, 1e4f, 2.0f)));
  EXPECT_FALSE(same(rope(6, false, 1e4f, 1.0f), detail::fused_softmax(x3, true, kCpuStream)));
}

TEST(FastFused, CompileMergesEquivalentNodes) {
  // Two equal fused nodes on the same input are one after compile's CSE: same values.
  array x = filled({3, 6}, -1, 1, 8);
  Fn f = [](const std::vector<array>& in) {
    return std::vector<array>{add(detail::fused_softmax(in[0], false, kCpuStream),
                                  detail::fused_softmax(in[0], false, kCpuStream))};
  };
  auto got = compile(f)({x})[0];
  EXPECT_TRUE(allclose(got, multiply(softmax(x, -1), array(2.0)), 1e-12, 1e-12).item<bool>());
}

TEST(FastFused, ExportRoundTripsTheParameters) {
  array x = filled({2, 4}, -1, 1, 3);
  std::string file = ::testing::TempDir() + "fast_fused.lzfn";
  Fn f = [](const std::vector<array>& in) {
    return std::vector<array>{detail::fused_layer_norm(in[0], in[1], in[1], 1e-4f, kCpuStream)};
  };
  array w = filled({4}, -1, 1, 4);
  export_function(file, f, {x, w});
  auto g = import_function(file);
  EXPECT_TRUE(allclose(g({x, w})[0], fast::layer_norm(x, w, w, 1e-4f), 1e-12, 1e-12).item<bool>());
  std::remove(file.c_str());
}

TEST(FastFused, ExportRoundTripsRope) {
  std::string file = ::testing::TempDir() + "fast_fused_rope.lzfn";
  array x = filled({2, 3, 8}, -1, 1, 3), freqs = filled({3}, 1, 4, 4), offset = array({2, 5});
  for (bool with_freqs : {false, true}) {
    Fn f = [&](const std::vector<array>& in) {
      return std::vector<array>{detail::fused_rope(in[0], 6, true, with_freqs ? std::nullopt : std::optional(500.0f),
                                                   0.5f, in[1], with_freqs ? std::optional(in[2]) : std::nullopt,
                                                   kCpuStream)};
    };
    export_function(file, f, {x, offset, freqs});
    auto g = import_function(file);
    array want = with_freqs ? fast::rope(x, 6, true, std::nullopt, 0.5f, offset, freqs)
                            : fast::rope(x, 6, true, 500.0f, 0.5f, offset);
    expect_identical(g({x, offset, freqs})[0], want);
    std::remove(file.c_str());
  }
}

TEST(FastFused, ShapelessCompileReplaysAtNewShapes) {
  Fn f = [](const std::vector<array>& in) {
    return std::vector<array>{detail::fused_layer_norm(in[0], std::nullopt, std::nullopt, 1e-5f, kCpuStream),
                              detail::fused_logsumexp(in[0], kCpuStream)};
  };
  auto g = compile(f, true);
  for (Shape shape : {Shape{2, 5}, Shape{3, 8}, Shape{4, 2, 3}}) {
    array x = filled(shape, -2, 2, 12);
    auto got = g({x});
    expect_identical(got[0], fast::layer_norm(x, std::nullopt, std::nullopt, 1e-5f));
    expect_identical(got[1], logsumexp(x, -1));
  }
  Fn r = [](const std::vector<array>& in) {
    return std::vector<array>{detail::fused_rope(in[0], 4, false, 1e4f, 1.0f, array(1), std::nullopt, kCpuStream)};
  };
  auto h = compile(r, true);
  for (Shape shape : {Shape{1, 3, 4}, Shape{2, 5, 6}, Shape{3, 2, 7}}) {
    array x = filled(shape, -2, 2, 13);
    expect_identical(h({x})[0], fast::rope(x, 4, false, 1e4f, 1.0f, 1));
  }
}

TEST(FastFused, CpuAttentionStaysComposed) {
  Attention a = attention_inputs(1, 4, 2, 1, 9, 8, float32);
  array o = fast::scaled_dot_product_attention(a.q, a.k, a.v, 0.3f, "causal");
  EXPECT_FALSE(has_fused_node(o));
  EXPECT_TRUE(classes_in(o).count("Matmul"));
}

TEST(FastFused, FusedAttentionOnTheCpuEqualsTheComposedOp) {
  for (Dtype t : kFloats)
    for (int ratio : {1, 2})
      for (int q_len : {1, 3})
        for (int k_len : {1, 7, 20}) {
          SCOPED_TRACE(dtype_name(t) + " ratio " + std::to_string(ratio) + " q_len " + std::to_string(q_len) +
                       " k_len " + std::to_string(k_len));
          const int batch = 2, n_kv = 2, n_q = n_kv * ratio;
          Attention a = attention_inputs(batch, n_q, n_kv, q_len, k_len, 8, t);
          array sinks = astype(filled({n_q}, -1, 1, 70), t);
          array additive = astype(filled({batch, n_q, q_len, k_len}, -2, 0, 71), t);
          array keep = greater(filled({n_q, 1, k_len}, -1, 1, 72), array(0.0));
          struct Mask {
            bool causal;
            std::optional<array> mask;
          };
          for (const Mask& m : {Mask{false, std::nullopt}, Mask{true, std::nullopt}, Mask{false, additive},
                                Mask{false, keep}})
            for (bool with_sinks : {false, true}) {
              std::optional<array> s = with_sinks ? std::optional<array>(sinks) : std::nullopt;
              expect_identical(detail::fused_attention(a.q, a.k, a.v, 0.4f, m.causal, m.mask, s, kCpuStream),
                               fast::scaled_dot_product_attention(a.q, a.k, a.v, 0.4f, m.causal ? "causal" : "",
                                                                  m.mask, s));
            }
        }
}

TEST(FastFused, AttentionEquivalenceComparesParameters) {
  Attention a = attention_inputs(1, 2, 1, 1, 5, 8, float32);
  array sinks = filled({2}, -1, 1, 3);
  auto node = [&](float scale, bool causal, std::optional<array> sinks) {
    return detail::fused_attention(a.q, a.k, a.v, scale, causal, std::nullopt, sinks, kCpuStream);
  };
  auto same = [](const array& x, const array& y) { return x.primitive().is_equivalent(y.primitive()); };
  EXPECT_TRUE(same(node(0.5f, true, sinks), node(0.5f, true, sinks)));
  EXPECT_FALSE(same(node(0.5f, true, sinks), node(0.25f, true, sinks)));
  EXPECT_FALSE(same(node(0.5f, true, sinks), node(0.5f, false, sinks)));
  EXPECT_FALSE(same(node(0.5f, true, sinks), node(0.5f, true, std::nullopt)));
  EXPECT_FALSE(same(node(0.5f, false, std::nullopt),
                    detail::fused_attention(a.q, a.k, a.v, 0.5f, false, zeros({5}), std::nullopt, kCpuStream)));
}

TEST(FastFused, ShapelessCompileReplaysAttentionAtNewLengths) {
  // A growing cache: one trace serves every k_len (and q_len); causal masks follow the shapes.
  Fn f = [](const std::vector<array>& in) {
    return std::vector<array>{detail::fused_attention(in[0], in[1], in[2], 0.35f, true, std::nullopt, in[3], kCpuStream)};
  };
  auto g = compile(f, true);
  array sinks = filled({4}, -1, 1, 80);
  for (auto [q_len, k_len] : {std::pair{1, 5}, std::pair{1, 9}, std::pair{2, 12}}) {
    Attention a = attention_inputs(1, 4, 2, q_len, k_len, 8, float64);
    expect_identical(g({a.q, a.k, a.v, sinks})[0],
                     fast::scaled_dot_product_attention(a.q, a.k, a.v, 0.35f, "causal", std::nullopt, sinks));
  }
}

LAZULI_CHECKER_CASES(fast_fused) {
  const Stream s = kCpuStream;
  auto rms = [s](const std::vector<array>& in) {
    return std::vector<array>{detail::fused_rms_norm(in[0], in[1], 1e-5f, s)};
  };
  auto layer = [s](const std::vector<array>& in) {
    return std::vector<array>{detail::fused_layer_norm(in[0], in[1], in[2], 1e-5f, s)};
  };
  add("RMSNorm", Case{{{3, 5}, {5}}, -2, 2, rms});
  add("RMSNorm", Case{{{4, 3}}, -2, 2, unary_fn([s](const array& x) { return detail::fused_rms_norm(x, std::nullopt, 1e-5f, s); }), true, true});
  add("RMSNorm", Case{{{3, 5}, {5}}, -2, 2, rms, true, false, {0, -1}});
  add("LayerNorm", Case{{{3, 5}, {5}, {5}}, -2, 2, layer});
  add("LayerNorm", Case{{{4, 3}}, -2, 2, unary_fn([s](const array& x) {
        return detail::fused_layer_norm(x, std::nullopt, std::nullopt, 1e-5f, s);
      }), true, true});
  add("LayerNorm", Case{{{2, 3, 4}, {4}, {4}}, -2, 2, layer, true, false, {1, -1, 0}});
  add("Softmax", Case{{{3, 5}}, -2, 2, unary_fn([s](const array& x) { return detail::fused_softmax(x, true, s); })});
  add("Softmax", Case{{{4, 3}}, -2, 2, unary_fn([s](const array& x) { return detail::fused_softmax(x, false, s); }), true, true});
  add("LogSumExp", Case{{{3, 5}}, -2, 2, unary_fn([s](const array& x) { return detail::fused_logsumexp(x, s); })});
  add("LogSumExp", Case{{{2, 4, 3}}, -2, 2, unary_fn([s](const array& x) { return detail::fused_logsumexp(x, s); }), true, true, {2}});
  auto rope = [s](bool traditional, int dims, array offset) {
    return unary_fn([=](const array& x) {
      return detail::fused_rope(x, dims, traditional, 1e4f, 1.0f, offset, std::nullopt, s);
    });
  };
  add("RoPE", Case{{{2, 3, 8}}, -2, 2, rope(false, 8, array(2))});
  add("RoPE", Case{{{2, 3, 8}}, -2, 2, rope(true, 6, array({1, 4})), true, true});
  add("RoPE", Case{{{2, 2, 3, 6}}, -2, 2, rope(false, 4, array({3})), true, false, {2}});
  add("RoPE", Case{{{2, 3, 6}, {2}}, 0.5, 2, [s](const std::vector<array>& in) {
        return std::vector<array>{detail::fused_rope(in[0], 4, true, std::nullopt, 1.0f, array(1), in[1], s)};
      }});
  auto attention = [s](bool causal, int mask_at, int sinks_at) {
    return [=](const std::vector<array>& in) {
      auto opt = [&](int i) { return i < 0 ? std::nullopt : std::optional<array>(in[i]); };
      return std::vector<array>{detail::fused_attention(in[0], in[1], in[2], 0.7f, causal, opt(mask_at), opt(sinks_at), s)};
    };
  };
  add("AttentionDecode", Case{{{1, 2, 1, 4}, {1, 1, 5, 4}, {1, 1, 5, 4}}, -1, 1, attention(false, -1, -1)});
  add("AttentionDecode", Case{{{1, 4, 2, 4}, {1, 2, 6, 4}, {1, 2, 6, 4}, {4}}, -1, 1, attention(true, -1, 3)});
  add("AttentionDecode", Case{{{2, 2, 3, 4}, {2, 1, 4, 4}, {2, 1, 4, 4}, {3, 4}, {2}}, -1, 1, attention(false, 3, 4),
                              true, false, {1, -1, 0, 0, -1}});
  add("AttentionDecode", Case{{{1, 2, 2, 4}, {1, 2, 3, 4}, {1, 2, 3, 4}}, -1, 1, [s](const std::vector<array>& in) {
        array keep = greater(array({1.0, -1.0, 1.0, 1.0, 1.0, -1.0}, {2, 3}), array(0.0));
        return std::vector<array>{detail::fused_attention(in[0], in[1], in[2], 0.7f, false, keep, std::nullopt, s)};
      }});
}
