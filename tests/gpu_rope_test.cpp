// The fused rope (one kernel: backend/cuda/rope.{cpp,cu}) against the CPU's composed graph:
// every floating dtype, traditional or not, dims up to the last axis and below it, offsets
// as an int, a 0-d array, one per batch entry and of other integer types, base and custom
// frequencies, 3-d and 4-d inputs, transposed and sliced ones, empty ones, enough pairs for
// the grid-stride loop, bad arguments, and gradients. Skipped where no GPU is present.
//
// Positions stay small (below about 30): the CPU's vectorised exp may differ from the
// correctly rounded frequencies the kernel computes by an ulp, which moves an angle by
// about position x ulp; small positions keep that within the float32 tolerance.
#include "gpu_test_util.h"
#include "lazuli/fast.h"
#include "lazuli/primitives/fast.h"

namespace lazuli {
namespace {

using namespace gpu_test;
using OptArray = std::optional<array>;

const std::vector<Dtype> kFloats = {float16, bfloat16, float32, float64};

// x laid out in several ways; the first axis (the batch) is 2 in each.
std::vector<std::pair<std::string, array>> layouts(Dtype t) {
  return {
      {"3-d", sample({2, 7, 16}, t, 1)},
      {"4-d", sample({2, 3, 5, 16}, t, 2)},
      {"transposed", transpose(sample({2, 16, 7}, t, 3), {0, 2, 1})},          // (2, 7, 16), strided rows
      {"heads swapped", transpose(sample({2, 5, 3, 16}, t, 4), {0, 2, 1, 3})},  // (2, 3, 5, 16)
      {"sliced", slice(sample({2, 7, 20}, t, 5), {0, 0, 2}, {2, 7, 18})},       // (2, 7, 16), offset rows
  };
}

const std::vector<std::pair<std::string, array>> kOffsets = {
    {"int", array(3, int32)},          // what the int overload makes
    {"0-d int64", array(int64_t(5), int64)},
    {"per batch", array({2, 9})},
    {"one of one", array({4})},
    {"per batch uint8", astype(array({7, 1}), uint8)},  // made int64 for the kernel
};

TEST_F(Gpu, RopeBuildsAFusedNodeOnTheGpuOnly) {
  array x = sample({2, 4, 8}, float32, 1);
  const Stream gpu = default_stream(kGpu);
  EXPECT_EQ(fast::rope(x, 8, false, 1e4f, 1.0f, 0, std::nullopt, gpu).primitive().name(), "RoPE");
  EXPECT_EQ(fast::rope(astype(x, bfloat16), 4, true, 1e4f, 1.0f, array({1, 2}), std::nullopt, gpu).primitive().name(),
            "RoPE");
  EXPECT_NE(fast::rope(x, 8, false, 1e4f, 1.0f, 0, std::nullopt, kCpu).primitive().name(), "RoPE");
  EXPECT_NE(fast::rope(zeros({0, 4, 8}), 8, false, 1e4f, 1.0f, 0, std::nullopt, gpu).primitive().name(), "RoPE");
  EXPECT_EQ(fast::rope(x, 0, false, 1e4f, 1.0f, 0, std::nullopt, gpu).id(), x.id());  // dims 0: x itself
}

TEST_F(Gpu, RopeMatchesCpuOverDtypesLayoutsAndOffsets) {
  for (Dtype t : kFloats)
    for (auto& [layout, x] : layouts(t))
      for (bool traditional : {false, true})
        for (int dims : {16, 10, 2})
          for (auto& [offset_name, offset] : kOffsets) {
            std::string what = dtype_name(t) + " " + layout + (traditional ? " traditional" : "") + " dims " +
                               std::to_string(dims) + " offset " + offset_name;
            array freqs = astype(add(array(0.5), abs(sample({dims / 2}, float32, dims))), t);
            compare([&, &x = x, &offset = offset](Device d) {
              return fast::rope(x, dims, traditional, 1e4f, 1.0f, offset, std::nullopt, d);
            }, what);
            compare([&, &x = x, &offset = offset](Device d) {
              return fast::rope(x, dims, traditional, 30.0f, 0.5f, offset, std::nullopt, d);
            }, what + " base 30 scale 0.5");
            compare([&, &x = x, &offset = offset](Device d) {
              return fast::rope(x, dims, traditional, std::nullopt, 1.5f, offset, freqs, d);
            }, what + " freqs");
          }
}

TEST_F(Gpu, RopeMatchesCpuWithFreqsOfAnotherDtypeAndOddLayouts) {
  array x = sample({3, 6, 12}, float16, 7);
  array freqs64 = add(array(1.0), abs(sample({4}, float64, 8)));
  array strided_freqs = slice(add(array(1.0f), abs(sample({8}, float32, 9))), {0}, {8}, {2});
  array broadcast_offset = broadcast_to(array(2), {3});  // stride 0
  compare([&](Device d) { return fast::rope(x, 8, false, std::nullopt, 1.0f, 1, freqs64, d); }, "float64 freqs");
  compare([&](Device d) { return fast::rope(x, 8, true, std::nullopt, 1.0f, 1, strided_freqs, d); }, "strided freqs");
  compare([&](Device d) { return fast::rope(x, 8, false, 1e4f, 1.0f, broadcast_offset, std::nullopt, d); },
          "broadcast offset");
  compare([&](Device d) { return fast::rope(x, 12, true, 1e4f, 1.0f, astype(array({1, 2, 3}), int16), std::nullopt, d); },
          "int16 offsets");
}

TEST_F(Gpu, RopeMatchesCpuOnEmptyInputsAndBadArguments) {
  for (Shape shape : {Shape{0, 4, 8}, Shape{2, 0, 8}, Shape{2, 4, 0}})
    for (Dtype t : kFloats) {
      array x = sample(shape, t, 11);
      int dims = shape.back();
      compare([&](Device d) { return fast::rope(x, dims, false, 1e4f, 1.0f, 2, std::nullopt, d); },
              "empty " + dtype_name(t) + " size " + std::to_string(shape[0]) + "x" + std::to_string(shape[1]) + "x" +
                  std::to_string(shape[2]));
    }
  array x = sample({2, 4, 8}, float32, 12);
  compare([&](Device d) { return fast::rope(x, 3, false, 1e4f, 1.0f, 0, std::nullopt, d); }, "odd dims");
  compare([&](Device d) { return fast::rope(x, 10, false, 1e4f, 1.0f, 0, std::nullopt, d); }, "dims too large");
  compare([&](Device d) { return fast::rope(x, 8, false, 1e4f, 1.0f, array({1, 2, 3}), std::nullopt, d); },
          "offsets for another batch");
  compare([&](Device d) { return fast::rope(x, 8, false, std::nullopt, 1.0f, 0, zeros({3}), d); }, "freqs size");
  compare([&](Device d) { return fast::rope(sample({4, 8}, float32, 13), 8, false, 1e4f, 1.0f, 0, std::nullopt, d); },
          "2-d x");
}

TEST_F(Gpu, RopeMatchesCpuPastOneGridOfPairs) {
  // 32768 rows of 520 pairs: more pairs than one grid (65536 blocks of 256 threads) holds;
  // 8 features past dims are copied.
  array x = sample({8192, 4, 1048}, float32, 21);
  compare([&](Device d) { return fast::rope(x, 1040, false, 1e4f, 1.0f, array({1}), std::nullopt, d); },
          "many pairs");
}

TEST_F(Gpu, RopeGradientsMatchCpu) {
  for (Dtype t : {float32, float64})
    for (bool traditional : {false, true}) {
      array x = sample({2, 5, 12}, t, 31), ct = sample({2, 5, 12}, t, 32);
      array freqs = astype(add(array(1.0f), abs(sample({4}, float32, 33))), t);
      std::string what = dtype_name(t) + (traditional ? " traditional" : "");
      for (int k : {0, 1})
        compare([&](Device d) {
          Fn f = [&](const std::vector<array>& in) {
            return std::vector<array>{fast::rope(in[0], 8, traditional, std::nullopt, 1.0f, array({1, 3}), in[1], d)};
          };
          return vjp(f, {x, freqs}, {ct}).second[k];
        }, "rope grad " + std::to_string(k) + " " + what);
      compare([&](Device d) {
        Fn f = [&](const std::vector<array>& in) {
          return std::vector<array>{fast::rope(in[0], 8, traditional, 1e4f, 1.0f, 2, std::nullopt, d)};
        };
        return jvp(f, {x}, {ct}).second[0];
      }, "rope jvp " + what);
    }
}

}  // namespace
}  // namespace lazuli
