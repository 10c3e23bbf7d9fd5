// The fused decode-time attention (AttentionDecode: backend/cuda/sdpa.{cpp,cu}) against the
// CPU's composed graph: float16, bfloat16 and float32; head dims 64 to 256 (vector and
// scalar loads); 1 to 5000 keys (one chunk and many); grouped heads; every mask kind, with
// and without sinks; 1 and 4 queries; keys and values sliced from a larger cache; gradients;
// and a long cache against a float64 reference. Skipped where no GPU is present.
#include <cmath>

#include "gpu_test_util.h"
#include "lazuli/fast.h"
#include "lazuli/primitives/fast.h"

namespace lazuli {
namespace {

using namespace gpu_test;
using OptArray = std::optional<array>;

const std::vector<Dtype> kAttentionFloats = {float16, bfloat16, float32};

// The fallback rounds its scores and probabilities to 16-bit dtypes, the kernel does not:
// they agree within a few of the dtype's roundings.
constexpr double kRoundings = 4;

// Runs f on the CPU and the GPU and compares them within kRoundings of the dtype's tolerance.
template <typename F> void compare_attention(F&& f, const std::string& what) {
  array cpu = f(kCpu), gpu = f(kGpu);
  cpu.eval();
  gpu.eval();
  auto c = test::to_vector<double>(cpu);
  std::vector<double> scale(c.size());
  for (size_t i = 0; i < c.size(); ++i) scale[i] = kRoundings * std::max(1.0, std::fabs(c[i]));
  expect_same(cpu, gpu, what, scale);
}

// Queries (B, n_q, q_len, D) and keys or values (B, n_kv, k_len, D) of moderate size: scores
// of order 1 after the 1/sqrt(D) scale.
struct Problem {
  array q, k, v;
  float scale;
};
Problem problem(int batch, int n_q, int n_kv, int q_len, int k_len, int head_dim, Dtype t, uint64_t seed) {
  return {multiply(sample({batch, n_q, q_len, head_dim}, t, seed), array(0.5, t)),
          multiply(sample({batch, n_kv, k_len, head_dim}, t, seed + 1), array(0.5, t)),
          sample({batch, n_kv, k_len, head_dim}, t, seed + 2), 1.0f / std::sqrt(float(head_dim))};
}

array attend(const Problem& p, const std::string& mode, const OptArray& mask, const OptArray& sinks, Device d) {
  return fast::scaled_dot_product_attention(p.q, p.k, p.v, p.scale, mode, mask, sinks, d);
}

std::string describe(Dtype t, int head_dim, int k_len, int q_len, int n_q, int n_kv) {
  return dtype_name(t) + " D " + std::to_string(head_dim) + " k_len " + std::to_string(k_len) + " q_len " +
         std::to_string(q_len) + " heads " + std::to_string(n_q) + "/" + std::to_string(n_kv);
}

TEST_F(Gpu, AttentionBuildsTheFusedNodeOnTheGpuOnly) {
  Problem p = problem(1, 4, 2, 1, 10, 64, float32, 1);
  EXPECT_EQ(attend(p, "", std::nullopt, std::nullopt, kGpu).primitive().name(), "AttentionDecode");
  EXPECT_NE(attend(p, "", std::nullopt, std::nullopt, kCpu).primitive().name(), "AttentionDecode");
  // More than 8 queries, a head_dim off the multiples of 8 or past 256, float64, no keys:
  // the composed graph.
  Problem long_q = problem(1, 4, 2, 9, 10, 64, float32, 2), odd_d = problem(1, 4, 2, 1, 10, 12, float32, 3);
  Problem wide = problem(1, 2, 2, 1, 10, 264, float32, 4), f64 = problem(1, 4, 2, 1, 10, 64, float64, 5);
  Problem empty = problem(1, 4, 2, 1, 0, 64, float32, 6);
  for (const Problem* c : {&long_q, &odd_d, &wide, &f64, &empty})
    EXPECT_NE(attend(*c, "", std::nullopt, std::nullopt, kGpu).primitive().name(), "AttentionDecode");
}

TEST_F(Gpu, AttentionMatchesCpuOverDtypesHeadDimsAndLengths) {
  for (Dtype t : kAttentionFloats)
    for (int head_dim : {64, 80, 96, 128, 256})
      for (int k_len : {1, 7, 300, 5000}) {
        Problem p = problem(2, 8, 2, 1, k_len, head_dim, t, 10);
        compare_attention([&](Device d) { return attend(p, "", std::nullopt, std::nullopt, d); },
                          describe(t, head_dim, k_len, 1, 8, 2));
      }
}

TEST_F(Gpu, AttentionMatchesCpuOverMasksSinksGroupsAndQueries) {
  for (Dtype t : {float16, float32})
    for (int ratio : {1, 4, 5, 8})  // 5: two tiles of query heads, 3 and 2 (sdpa.cu's kTile)
      for (int q_len : {1, 4}) {
        const int n_kv = 2, n_q = n_kv * ratio, k_len = 300, batch = 2;
        Problem p = problem(batch, n_q, n_kv, q_len, k_len, 128, t, 20);
        array additive = sample({batch, n_q, q_len, k_len}, t, 21);
        array additive_row = sample({q_len, k_len}, float16, 22);  // broadcast, promoted to t
        array keep = sample({batch, n_q, q_len, k_len}, bool_, 23);
        array keep_heads = sample({n_q, 1, k_len}, bool_, 24);
        array infinite = where(sample({1, 1, 1, k_len}, bool_, 25), array(0.0, t), array(-INFINITY, t));
        array sinks = sample({n_q}, t, 26);
        struct Mask {
          std::string name, mode;
          OptArray mask;
        };
        const std::vector<Mask> masks = {{"none", "", std::nullopt},
                                         {"causal", "causal", std::nullopt},
                                         {"additive", "", additive},
                                         {"additive broadcast", "", additive_row},
                                         {"bool", "", keep},
                                         {"bool broadcast", "", keep_heads},
                                         {"additive -inf", "", infinite}};
        for (auto& m : masks)
          for (bool with_sinks : {false, true}) {
            OptArray s = with_sinks ? OptArray(sinks) : std::nullopt;
            compare_attention([&](Device d) { return attend(p, m.mode, m.mask, s, d); },
                              describe(t, 128, k_len, q_len, n_q, n_kv) + " mask " + m.name +
                                  (with_sinks ? " sinks" : ""));
          }
      }
}

TEST_F(Gpu, AttentionMatchesCpuOnEdgeMasks) {
  // Every key masked out (the fallback averages the values), a causal mask over fewer keys
  // than queries, and sinks against keys all at -inf.
  Problem p = problem(1, 4, 4, 4, 3, 64, float32, 30);
  array none = zeros({1, 1, 4, 3}, bool_);
  array minus_inf = full({3}, array(-INFINITY, float32));
  array sinks = sample({4}, float32, 31);
  compare_attention([&](Device d) { return attend(p, "", none, std::nullopt, d); }, "all masked");
  compare_attention([&](Device d) { return attend(p, "causal", std::nullopt, sinks, d); }, "causal, q_len > k_len");
  compare_attention([&](Device d) { return attend(p, "", minus_inf, sinks, d); }, "sinks only");
  // Boolean sinks promote to the result type: logits of 0 and 1.
  array bool_sinks = sample({4}, bool_, 32);
  compare_attention([&](Device d) { return attend(p, "", std::nullopt, bool_sinks, d); }, "boolean sinks");
}

TEST_F(Gpu, AttentionReadsSlicesOfACache) {
  for (Dtype t : {float16, float32}) {
    const int batch = 2, n_q = 8, n_kv = 2, D = 128, capacity = 1024, k_len = 700;
    array q = sample({batch, n_q, 1, D}, t, 40);
    array k_cache = sample({batch, n_kv, capacity, D}, t, 41), v_cache = sample({batch, n_kv, capacity, D}, t, 42);
    auto prefix = [&](const array& c, int start) {  // keys [start, start + k_len) of the cache
      return slice(c, {0, 0, start, 0}, {batch, n_kv, start + k_len, D});
    };
    auto run = [&](const array& k, const array& v, const std::string& what) {
      // Scores of order 1 (q and k have 2 as their deviation): at 0.1 they reach about 15, where the
      // fallback's float16 rounding of them moves the output past kRoundings.
      compare_attention([&](Device d) { return fast::scaled_dot_product_attention(q, k, v, 0.025f, "", {}, {}, d); },
                        dtype_name(t) + " " + what);
    };
    run(prefix(k_cache, 0), prefix(v_cache, 0), "cache prefix");
    run(prefix(k_cache, 5), prefix(v_cache, 300), "cache window");
    // A (B, L, n_kv, D) cache viewed as (B, n_kv, L, D): heads and positions interleaved.
    array interleaved = swapaxes(sample({batch, k_len, n_kv, D}, t, 43), 1, 2);
    run(interleaved, interleaved, "interleaved cache");
    // head_dim not dense (made dense), and dense but off a 16-byte boundary (scalar loads).
    array transposed = swapaxes(sample({batch, n_kv, D, k_len}, t, 44), 2, 3);
    run(transposed, prefix(v_cache, 0), "transposed keys");
    array wide = sample({batch, n_kv, k_len, D + 8}, t, 45);
    array misaligned = slice(wide, {0, 0, 0, 1}, {batch, n_kv, k_len, D + 1});
    run(misaligned, misaligned, "misaligned keys and values");
  }
}

TEST_F(Gpu, AttentionGradientsMatchCpu) {
  for (const std::string mode : {"", "causal"}) {
    Problem p = problem(1, 4, 2, 2, 37, 64, float32, 50);
    array sinks = sample({4}, float32, 51), ct = sample({1, 4, 2, 64}, float32, 52);
    for (int k : {0, 1, 2, 3})
      compare_attention(
          [&](Device d) {
            Fn f = [&](const std::vector<array>& in) {
              return std::vector<array>{fast::scaled_dot_product_attention(in[0], in[1], in[2], p.scale, mode,
                                                                           std::nullopt, in[3], d)};
            };
            return vjp(f, {p.q, p.k, p.v, sinks}, {ct}).second[k];
          },
          "gradient " + std::to_string(k) + " mode '" + mode + "'");
  }
}

TEST_F(Gpu, AttentionOverALongCacheMatchesFloat64) {
  const int k_len = 100000;
  Problem p = problem(1, 8, 1, 1, k_len, 128, float32, 60);
  array mask = sample({1, 1, 1, k_len}, float32, 61);
  array gpu = fast::scaled_dot_product_attention(p.q, p.k, p.v, p.scale, "", mask, std::nullopt, kGpu);
  array ref = fast::scaled_dot_product_attention(astype(p.q, float64), astype(p.k, float64), astype(p.v, float64),
                                                 p.scale, "", astype(mask, float64), std::nullopt, kCpu);
  auto g = test::to_vector<double>(gpu), r = test::to_vector<double>(ref);
  ASSERT_EQ(g.size(), r.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], r[i], 1e-5 * std::max(1.0, std::fabs(r[i]))) << i;
}

}  // namespace
}  // namespace lazuli
