// The fused fast ops (rms_norm, layer_norm, softmax and logsumexp over the last axis, one
// kernel each: backend/cuda/fast.{cpp,cu}) against the CPU's composed graphs: every
// floating dtype, rows of 1 to 10000 elements (warp and block rows, vector and scalar
// loads), batches, transposed and misaligned inputs, with and without weight and bias
// (broadcast and of another dtype too), infinities and NaNs, empty and 0-d inputs, enough
// rows for the grid-stride loop, and gradients. Skipped where no GPU is present.
#include <cmath>

#include "gpu_test_util.h"
#include "lazuli/fast.h"
#include "lazuli/primitives/fast.h"

namespace lazuli {
namespace {

using namespace gpu_test;
using OptArray = std::optional<array>;

const std::vector<Dtype> kFloats = {float16, bfloat16, float32, float64};
// Warp rows (<= 1024) and block rows, multiples of every vector width and not.
const std::vector<int> kLens = {1, 7, 64, 1000, 1025, 4096, 10000};

// x laid out in several ways, all of shape (..., len).
std::vector<std::pair<std::string, array>> layouts(int len, Dtype t) {
  array flat = sample({3 * len + 1}, t, 6);
  return {
      {"rows", sample({5, len}, t, 1)},
      {"batch", sample({2, 3, len}, t, 2)},
      {"1-d", sample({len}, t, 3)},
      {"transposed", transpose(sample({len, 4}, t, 4))},
      {"misaligned", reshape(slice(flat, {1}, {3 * len + 1}), {3, len})},  // dense, off a 16-byte boundary
  };
}

// The ops under test, as functions of (x, weight, bias, device).
using Op = std::function<array(const array&, const OptArray&, const OptArray&, Device)>;
const std::vector<std::pair<std::string, Op>> kOps = {
    {"rms_norm", [](const array& x, const OptArray& w, const OptArray&, Device d) { return fast::rms_norm(x, w, 1e-5f, d); }},
    {"layer_norm", [](const array& x, const OptArray& w, const OptArray& b, Device d) {
       return fast::layer_norm(x, w, b, 1e-5f, d);
     }},
    {"softmax", [](const array& x, const OptArray&, const OptArray&, Device d) { return softmax(x, -1, false, d); }},
    {"softmax precise", [](const array& x, const OptArray&, const OptArray&, Device d) { return softmax(x, -1, true, d); }},
    {"logsumexp", [](const array& x, const OptArray&, const OptArray&, Device d) { return logsumexp(x, -1, false, d); }},
    {"logsumexp keepdims", [](const array& x, const OptArray&, const OptArray&, Device d) {
       return logsumexp(x, -1, true, d);
     }},
};

TEST_F(Gpu, FastOpsBuildFusedNodesOnTheGpuOnly) {
  array x = sample({4, 8}, float32, 1);
  const Stream gpu = default_stream(kGpu);
  EXPECT_EQ(fast::rms_norm(x, std::nullopt, 1e-5f, gpu).primitive().name(), "RMSNorm");
  EXPECT_EQ(fast::layer_norm(x, std::nullopt, std::nullopt, 1e-5f, gpu).primitive().name(), "LayerNorm");
  EXPECT_EQ(softmax(x, -1, false, gpu).primitive().name(), "Softmax");
  EXPECT_EQ(logsumexp(x, -1, false, gpu).primitive().name(), "LogSumExp");
  // Not over the last axis, integers, empty: the composed graph.
  EXPECT_NE(softmax(x, 0, false, gpu).primitive().name(), "Softmax");
  EXPECT_NE(logsumexp(astype(x, int32), -1, false, gpu).primitive().name(), "LogSumExp");
  EXPECT_NE(softmax(zeros({0, 8}), -1, false, gpu).primitive().name(), "Softmax");
}

TEST_F(Gpu, FastOpsMatchCpuOverDtypesLengthsAndLayouts) {
  for (Dtype t : kFloats)
    for (int len : kLens)
      for (auto& [layout, x] : layouts(len, t))
        for (auto& [name, op] : kOps)
          compare([&, &x = x, &op = op](Device d) { return op(x, std::nullopt, std::nullopt, d); },
                  name + " " + dtype_name(t) + " len " + std::to_string(len) + " " + layout);
}

TEST_F(Gpu, NormsMatchCpuWithWeightAndBias) {
  for (Dtype t : kFloats)
    for (int len : {1, 7, 256, 1030, 4096}) {
      array x = sample({4, len}, t, 11), w = sample({len}, t, 12), b = sample({len}, t, 13);
      std::string what = dtype_name(t) + " len " + std::to_string(len);
      array broadcast_w = broadcast_to(sample({1}, t, 14), {len});  // stride 0
      array strided_b = slice(sample({2 * len}, t, 15), {0}, {2 * len}, {2});
      array other_w = sample({len}, t == float32 ? float16 : float32, 16);  // promotes the result
      compare([&](Device d) { return fast::rms_norm(x, w, 1e-5f, d); }, "rms_norm weight " + what);
      compare([&](Device d) { return fast::rms_norm(x, broadcast_w, 1e-2f, d); }, "rms_norm broadcast weight " + what);
      compare([&](Device d) { return fast::rms_norm(x, other_w, 1e-5f, d); }, "rms_norm mixed weight " + what);
      compare([&](Device d) { return fast::layer_norm(x, w, std::nullopt, 1e-5f, d); }, "layer_norm weight " + what);
      compare([&](Device d) { return fast::layer_norm(x, std::nullopt, b, 1e-5f, d); }, "layer_norm bias " + what);
      compare([&](Device d) { return fast::layer_norm(x, w, b, 1e-5f, d); }, "layer_norm both " + what);
      compare([&](Device d) { return fast::layer_norm(x, broadcast_w, strided_b, 1e-5f, d); },
              "layer_norm broadcast weight, strided bias " + what);
      compare([&](Device d) { return fast::layer_norm(x, other_w, b, 1e-5f, d); }, "layer_norm mixed " + what);
    }
}

TEST_F(Gpu, FastOpsMatchCpuOnManyRows) {
  // More rows than the grid holds: every group takes several rows.
  for (auto shape : {Shape{20000, 7}, Shape{3000, 2000}})
    for (auto& [name, op] : kOps) {
      array x = sample(shape, float32, 21), w = sample({shape[1]}, float32, 22);
      compare([&, &op = op](Device d) { return op(x, w, w, d); },
              name + " rows " + std::to_string(shape[0]) + "x" + std::to_string(shape[1]));
    }
}

TEST_F(Gpu, SoftmaxAndLogSumExpMatchCpuOnInfinitiesAndNaNs) {
  const float inf = INFINITY, nan = NAN;
  // Rows: all -inf, one +inf, a NaN, two +inf, ordinary.
  array base = array({-inf, -inf, -inf, -inf, 1.f, inf, 2.f, 3.f, nan, 0.f, 1.f, 2.f, inf, inf, 0.f, 1.f,
                      1.f, 2.f, 3.f, 4.f},
                     {5, 4});
  // Rows of 4 take the one-warp path; tiled to 5000, the same rows take the block path.
  for (const array& rows : {base, tile(base, {1, 1250})})
    for (Dtype t : kFloats) {
      array x = astype(rows, t);
      for (auto& [name, op] : kOps)
        if (name.rfind("softmax", 0) == 0 || name.rfind("logsumexp", 0) == 0)
          compare([&, &op = op](Device d) { return op(x, std::nullopt, std::nullopt, d); },
                  name + " specials " + dtype_name(t) + " rows of " + std::to_string(rows.shape(1)));
    }
}

TEST_F(Gpu, FastOpsMatchCpuOnEmptyAnd0dInputs) {
  for (Dtype t : kFloats)
    for (auto shape : {Shape{0, 7}, Shape{3, 0}, Shape{0}, Shape{}})
      for (auto& [name, op] : kOps) {
        array x = sample(shape, t, 31);
        compare([&, &op = op](Device d) { return op(x, std::nullopt, std::nullopt, d); },
                name + " " + dtype_name(t) + " shape of " + std::to_string(shape.size()) + " dims, size " +
                    std::to_string(x.size()));
      }
}

TEST_F(Gpu, FastOpGradientsMatchCpu) {
  for (Dtype t : {float32, float64})
    for (int len : {1, 7, 1030}) {
      array x = sample({3, len}, t, 41), w = sample({len}, t, 42), b = sample({len}, t, 43);
      array c = sample({3, len}, t, 44), c_row = sample({3}, t, 45);
      std::string what = dtype_name(t) + " len " + std::to_string(len);
      // Gradient k of <f(x, w, b), cotangent> computed on device d.
      auto grad_of = [&](std::function<array(const std::vector<array>&, Device)> f, const array& ct, int k) {
        return [=](Device d) {
          Fn fn = [&](const std::vector<array>& in) { return std::vector<array>{f(in, d)}; };
          return vjp(fn, {x, w, b}, {ct}).second[k];
        };
      };
      auto rms = [](const std::vector<array>& in, Device d) { return fast::rms_norm(in[0], in[1], 1e-5f, d); };
      auto layer = [](const std::vector<array>& in, Device d) { return fast::layer_norm(in[0], in[1], in[2], 1e-5f, d); };
      auto soft = [](const std::vector<array>& in, Device d) { return softmax(in[0], -1, false, d); };
      auto lse = [](const std::vector<array>& in, Device d) { return logsumexp(in[0], -1, false, d); };
      for (int k : {0, 1}) compare(grad_of(rms, c, k), "rms_norm grad " + std::to_string(k) + " " + what);
      for (int k : {0, 1, 2}) compare(grad_of(layer, c, k), "layer_norm grad " + std::to_string(k) + " " + what);
      compare(grad_of(soft, c, 0), "softmax grad " + what);
      compare(grad_of(lse, c_row, 0), "logsumexp grad " + what);
    }
}

}  // namespace
}  // namespace lazuli
