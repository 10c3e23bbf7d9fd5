// The CUDA quantization, special-matmul and fused-program kernels against the CPU's: packing
// bit for bit in every mode, dequantization, quantized products (matrix-vector and GEMM
// paths, transposed or not, batched, gathered), gather_mm / segmented_mm over dtypes, and
// compiled functions run on the GPU. Skipped where no GPU is present.
#include <string>

#include "lazuli/compile.h"
#include "lazuli/einsum.h"
#include "lazuli/quantized.h"
#include "gpu_test_util.h"

namespace lazuli {
namespace {

using namespace gpu_test;
using test::contains;
using test::error_of;

// Inputs of the products: values of a few hundredths, so that the products' float32 rounding
// (whose order differs between the backends) stays inside the comparison's tolerance.
array small(const Shape& shape, Dtype t, uint64_t seed) {
  return astype(multiply(sample(shape, float32, seed), array(1.f / 32)), t);
}

// Quantized products compute in float32 whatever the dtype (on the CPU too): a float64 result
// is compared at float32's tolerance.
array at_float32_tolerance(const array& y, Device d) { return y.dtype() == float64 ? astype(y, float32, d) : y; }

struct Mode {
  std::string name;
  int group_size, bits;
};
// Every mode, affine with every bit width and group size.
std::vector<Mode> all_modes() {
  std::vector<Mode> modes;
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int gs : {32, 64, 128}) modes.push_back({"affine", gs, bits});
  modes.push_back({"mxfp4", 32, 4});
  modes.push_back({"mxfp8", 32, 8});
  modes.push_back({"nvfp4", 16, 4});
  return modes;
}
std::string label(const Mode& m) {
  return m.name + " bits=" + std::to_string(m.bits) + " group=" + std::to_string(m.group_size);
}

// Weights quantized on the CPU: (w_q, scales, biases or nothing).
struct Packed {
  array wq, scales;
  std::optional<array> biases;
};
Packed pack(const array& w, const Mode& m) {
  auto q = quantize(w, m.group_size, m.bits, m.name, std::nullopt, kCpu);
  eval(q);
  return {q[0], q[1], q.size() > 2 ? std::optional<array>(q[2]) : std::nullopt};
}

TEST_F(Gpu, QuantizePacksLikeTheCpuBitForBit) {
  for (const Mode& m : all_modes()) {
    for (Dtype t : {float32, float16, bfloat16, float64}) {
      array w = sample({6, 256}, t, 1);
      for (int k = 0; k < 3; ++k) {
        if (m.name != "affine" && k == 2) continue;
        compare([&](Device d) { return quantize(w, m.group_size, m.bits, m.name, std::nullopt, d)[k]; },
                "quantize " + label(m) + " " + dtype_name(t) + " output " + std::to_string(k));
      }
    }
    // Batch axes and a transposed (strided) input.
    array w = transpose(sample({128, 2, 3}, float32, 2), {1, 2, 0});
    for (int k = 0; k < (m.name == "affine" ? 3 : 2); ++k)
      compare([&](Device d) { return quantize(w, m.group_size, m.bits, m.name, std::nullopt, d)[k]; },
              "quantize transposed batch " + label(m) + " output " + std::to_string(k));
  }
  // Constant groups, zeros and large values: the scale's edge cases.
  array special = concatenate({zeros({2, 64}), full({2, 64}, 3.f), full({2, 64}, -1e30f)}, 0);
  for (const Mode& m : all_modes())
    for (int k = 0; k < 2; ++k)
      compare([&](Device d) { return quantize(special, m.group_size, m.bits, m.name, std::nullopt, d)[k]; },
              "quantize special " + label(m) + " output " + std::to_string(k));
}

TEST_F(Gpu, Nvfp4GlobalScaleMatchesCpu) {
  array w = sample({4, 64}, float32, 3);
  array g = array(37.5f);
  for (int k = 0; k < 2; ++k)
    compare([&](Device d) { return quantize(w, 16, 4, "nvfp4", g, d)[k]; }, "nvfp4 global output " + std::to_string(k));
  auto q = quantize(w, 16, 4, "nvfp4", g, kCpu);
  compare([&](Device d) { return dequantize(q[0], q[1], std::nullopt, 16, 4, "nvfp4", g, float32, d); },
          "nvfp4 dequantize with global scale");
}

TEST_F(Gpu, DequantizeMatchesCpu) {
  for (const Mode& m : all_modes()) {
    Packed p = pack(sample({2, 3, 256}, float32, 4), m);
    for (Dtype out : {float32, float16, bfloat16, float64})
      compare([&](Device d) {
        return dequantize(p.wq, p.scales, p.biases, m.group_size, m.bits, m.name, std::nullopt, out, d);
      }, "dequantize " + label(m) + " to " + dtype_name(out));
  }
  // float16 scales and biases, a transposed view of the packed words.
  Packed h = pack(sample({128, 64}, float16, 5), {"affine", 64, 4});
  compare([&](Device d) { return dequantize(h.wq, h.scales, h.biases, 64, 4, "affine", std::nullopt, std::nullopt, d); },
          "dequantize float16");
  array wt = transpose(contiguous(transpose(h.wq)));
  compare([&](Device d) { return dequantize(wt, h.scales, h.biases, 64, 4, "affine", std::nullopt, std::nullopt, d); },
          "dequantize strided words");
  // More codes than one grid of blocks covers (grid-stride loops).
  Packed big = pack(sample({4097, 4096}, float32, 6), {"affine", 64, 4});
  compare([&](Device d) { return dequantize(big.wq, big.scales, big.biases, 64, 4, "affine", std::nullopt, float32, d); },
          "dequantize 16.8M values");
}

TEST_F(Gpu, QuantizedMatmulMatchesCpuInEveryMode) {
  for (const Mode& m : all_modes())
    for (bool transpose : {true, false}) {
      // transpose: w holds (N, K) rows; else (K, N).
      Packed p = pack(sample(transpose ? Shape{48, 256} : Shape{256, 128}, float32, 7), m);
      for (int M : {1, 3, 8, 9, 40}) {
        array x = small({M, 256}, float32, 8);
        compare([&](Device d) {
          return quantized_matmul(x, p.wq, p.scales, p.biases, transpose, m.group_size, m.bits, m.name, d);
        }, "quantized_matmul " + label(m) + " transpose=" + std::to_string(transpose) + " M=" + std::to_string(M));
      }
    }
}

TEST_F(Gpu, QuantizedMatmulGemvOverDtypesAndShapes) {
  for (int bits : {4, 8})
    for (int gs : {32, 64, 128}) {
      Mode m{"affine", gs, bits};
      for (Dtype t : {float32, float16, bfloat16, float64}) {
        Packed p = pack(sample({100, 512}, t, 9), m);  // N not a multiple of the rows per block
        for (int M : {1, 2, 4, 5, 8}) {
          array x = small({M, 512}, t, 10);
          compare([&](Device d) {
            return at_float32_tolerance(quantized_matmul(x, p.wq, p.scales, p.biases, true, gs, bits, "affine", d), d);
          }, "gemv " + label(m) + " " + dtype_name(t) + " M=" + std::to_string(M));
        }
        // A vector x and x with batch axes (all its rows against the one matrix).
        compare([&](Device d) {
          return at_float32_tolerance(
              quantized_matmul(small({512}, t, 11), p.wq, p.scales, p.biases, true, gs, bits, "affine", d), d);
        }, "gemv vector x " + label(m) + " " + dtype_name(t));
        compare([&](Device d) {
          return at_float32_tolerance(
              quantized_matmul(small({2, 1, 3, 512}, t, 12), p.wq, p.scales, p.biases, true, gs, bits, "affine", d), d);
        }, "gemv batch x " + label(m) + " " + dtype_name(t));
      }
    }
  // Few long rows (split over warps) and many rows (one warp each), float16 as in a model.
  Mode m{"affine", 64, 4};
  for (Shape shape : {Shape{8, 8192}, Shape{4096, 1024}}) {
    Packed p = pack(sample(shape, float16, 13), m);
    array x = small({1, shape[1]}, float16, 14);
    compare([&](Device d) { return quantized_matmul(x, p.wq, p.scales, p.biases, true, 64, 4, "affine", d); },
            "gemv " + std::to_string(shape[0]) + "x" + std::to_string(shape[1]));
  }
}

TEST_F(Gpu, QuantizedMatmulBroadcastsBatches) {
  for (const Mode& m : {Mode{"affine", 64, 4}, Mode{"affine", 32, 3}, Mode{"mxfp4", 32, 4}})
    for (bool transpose : {true, false}) {
      Packed p = pack(sample(transpose ? Shape{2, 1, 24, 128} : Shape{2, 1, 128, 64}, float32, 15), m);
      for (int M : {1, 6}) {
        array x = small({3, M, 128}, float32, 16);  // batch (3) against w's (2, 1): (2, 3)
        compare([&](Device d) {
          return quantized_matmul(x, p.wq, p.scales, p.biases, transpose, m.group_size, m.bits, m.name, d);
        }, "batched quantized_matmul " + label(m) + " transpose=" + std::to_string(transpose) + " M=" +
               std::to_string(M));
      }
      compare([&](Device d) {
        return quantized_matmul(small({128}, float32, 17), p.wq, p.scales, p.biases, transpose, m.group_size, m.bits,
                                m.name, d);
      }, "batched quantized_matmul, vector x " + label(m));
    }
  // Empty products and k = 0 are not possible with groups; empty M and N are.
  Packed p = pack(sample({8, 64}, float32, 18), {"affine", 64, 4});
  compare([&](Device d) { return quantized_matmul(sample({0, 64}, float32, 19), p.wq, p.scales, p.biases, true, 64, 4,
                                                  "affine", d); }, "quantized_matmul M=0");
}

TEST_F(Gpu, GatherQmmMatchesCpu) {
  for (const Mode& m : {Mode{"affine", 64, 4}, Mode{"affine", 32, 8}, Mode{"affine", 128, 6}, Mode{"mxfp8", 32, 8},
                        Mode{"nvfp4", 16, 4}})
    for (bool transpose : {true, false})
      for (Dtype t : {float32, bfloat16}) {
        Packed p = pack(sample(transpose ? Shape{4, 32, 128} : Shape{4, 128, 128}, t, 20), m);
        for (int M : {1, 5}) {
          array x = small({3, M, 128}, t, 21);
          array lhs = array({2u, 0u, 1u, 1u, 0u}, {5}, uint32), rhs = array({3u, 3u, 0u, 2u, 1u}, {5}, uint32);
          std::string what = "gather_qmm " + label(m) + " " + dtype_name(t) + " transpose=" +
                             std::to_string(transpose) + " M=" + std::to_string(M);
          compare([&](Device d) {
            return gather_qmm(x, p.wq, p.scales, p.biases, lhs, rhs, transpose, m.group_size, m.bits, m.name, false, d);
          }, what);
          // Indices that broadcast: (2, 1) against (1, 3); only rhs; sorted (a mixture of experts).
          array l2 = array({0, 2}, {2, 1}, int32), r2 = array({1, 0, 3}, {1, 3}, int32);
          compare([&](Device d) {
            return gather_qmm(x, p.wq, p.scales, p.biases, l2, r2, transpose, m.group_size, m.bits, m.name, false, d);
          }, what + " broadcast indices");
          array xs = small({6, M, 128}, t, 22);
          array tokens = array({0u, 1u, 2u, 3u, 4u, 5u}, {6, 1}, uint32);
          array sorted = array({0u, 0u, 1u, 2u, 2u, 3u}, {6, 1}, uint32);
          compare([&](Device d) {
            return gather_qmm(xs, p.wq, p.scales, p.biases, tokens, sorted, transpose, m.group_size, m.bits, m.name,
                              true, d);
          }, what + " sorted experts");
        }
      }
  Packed p = pack(sample({4, 32, 128}, float32, 23), {"affine", 64, 4});
  array x = sample({3, 1, 128}, float32, 24);
  auto bad_rhs = error_of<std::out_of_range>([&] {
    gather_qmm(x, p.wq, p.scales, p.biases, array({0u}, {1}, uint32), array({4u}, {1}, uint32), true, 64, 4,
               "affine", false, kGpu).eval();
  });
  EXPECT_TRUE(contains(bad_rhs, "rhs index 4 is out of range for 4 quantized matrices")) << bad_rhs;
  auto bad_lhs = error_of<std::out_of_range>([&] {
    gather_qmm(x, p.wq, p.scales, p.biases, array({3u}, {1}, uint32), array({0u}, {1}, uint32), true, 64, 4,
               "affine", false, kGpu).eval();
  });
  EXPECT_TRUE(contains(bad_lhs, "lhs index 3 is out of range for 3 matrices of x")) << bad_lhs;
}

TEST_F(Gpu, QuantizationArgumentErrorsMatchCpu) {
  array w = sample({4, 64}, float32, 25);
  Packed p = pack(w, {"affine", 64, 4});
  compare([&](Device d) { return quantize(w, 48, 4, "affine", std::nullopt, d)[0]; }, "bad group size");
  compare([&](Device d) { return quantize(w, 64, 7, "affine", std::nullopt, d)[0]; }, "bad bits");
  compare([&](Device d) { return quantize(sample({4, 64}, int32, 26), 64, 4, "affine", std::nullopt, d)[0]; },
          "integer weights");
  compare([&](Device d) { return quantized_matmul(sample({2, 32}, float32, 27), p.wq, p.scales, p.biases, true, 64, 4,
                                                  "affine", d); }, "x does not fit w");
  compare([&](Device d) { return dequantize(p.wq, p.scales, std::nullopt, 64, 4, "affine", std::nullopt,
                                            std::nullopt, d); }, "affine without biases");
}

TEST_F(Gpu, Fp8ConversionsMatchCpu) {
  std::vector<float> special{0.f, -0.f, 1e-9f, 0.001953125f, 447.f, 464.f, -500.f, INFINITY, -INFINITY, NAN, 0.3f, -7.f};
  array s(special.begin(), {12}, float32);
  for (Dtype t : {float32, float16, bfloat16, float64}) {
    array x = concatenate({astype(s, t), sample({300}, t, 28)});
    compare([&](Device d) { return to_fp8(x, d); }, "to_fp8 " + dtype_name(t));
    compare([&](Device d) { return from_fp8(to_fp8(x, kCpu), t, d); }, "from_fp8 " + dtype_name(t));
  }
  array codes = astype(arange(0, 256, int32), uint8);
  compare([&](Device d) { return from_fp8(transpose(reshape(codes, {16, 16})), float32, d); }, "from_fp8 all codes");
}

TEST_F(Gpu, GatherMmMatchesCpu) {
  for (Dtype t : {float32, float64, float16, bfloat16, complex64, int32, int64, int8, uint8, bool_}) {
    array a = sample({4, 3, 8}, t, 30), b = sample({5, 8, 6}, t, 31);
    std::string what = "gather_mm " + dtype_name(t);
    compare([&](Device d) {
      return gather_mm(a, b, array({0, 1, 2, 3}, {4}, int32), array({1, 1, 1, 1}, {4}, int32), true, d);
    }, what + " sorted run");
    compare([&](Device d) {
      return gather_mm(a, b, array({3, 0, 2, 0, 1}, {5}, int32), array({4, 0, 4, 2, 0}, {5}, int32), false, d);
    }, what + " unsorted");
    compare([&](Device d) { return gather_mm(a, b, array({-1, 0}, {2}, int32), array({0, -2}, {2}, int32), false, d); },
            what + " negative indices");
    compare([&](Device d) { return gather_mm(transpose(sample({4, 8, 3}, t, 32), {0, 2, 1}), b, std::nullopt,
                                             array({2, 0, 1, 3}, {4}, uint32), false, d); },
            what + " transposed lhs, only rhs indices");
  }
  array a = sample({2, 3, 0}, float32, 33), b = sample({2, 0, 4}, float32, 34);
  compare([&](Device d) { return gather_mm(a, b, array({0, 1}, {2}, int32), array({1, 0}, {2}, int32), false, d); },
          "gather_mm k = 0");
  EXPECT_THROW(gather_mm(sample({2, 3, 4}, float32, 35), sample({2, 4, 5}, float32, 36), array({0}, {1}, int32),
                         array({5}, {1}, int32), false, kGpu).eval(),
               std::out_of_range);
}

TEST_F(Gpu, SegmentedMmMatchesCpu) {
  for (Dtype t : {float32, float64, float16, bfloat16, complex64, int32, int16, uint8, bool_}) {
    array a = sample({3, 10}, t, 40), b = sample({10, 4}, t, 41);
    // Whole, partial, empty, reversed and out-of-range segments.
    array seg = array({0, 10, 2, 5, 4, 4, 7, 3, -3, 20, 8, 12}, {6, 2}, int32);
    compare([&](Device d) { return segmented_mm(a, b, seg, d); }, "segmented_mm " + dtype_name(t));
    compare([&](Device d) { return segmented_mm(transpose(sample({10, 3}, t, 42)), b, reshape(seg, {2, 3, 2}), d); },
            "segmented_mm batched segments, transposed a " + dtype_name(t));
  }
}

// compile's functions over dtypes and layouts are in gpu_fused_test.cpp; here, a compiled
// function follows the default device.
TEST_F(Gpu, CompiledFunctionsFollowTheDefaultDevice) {
  array a = sample({6, 5}, float32, 58), b = sample({5}, float32, 59);
  Device before = default_device();
  Fn f = compile([](const std::vector<array>& in) { return std::vector<array>{square(add(in[0], in[1]))}; });
  set_default_device(kCpu);
  array on_cpu = f({a, b})[0];
  on_cpu.eval();
  Fn g = compile([](const std::vector<array>& in) { return std::vector<array>{square(add(in[0], in[1]))}; });
  set_default_device(kGpu);
  array on_gpu = g({a, b})[0];
  on_gpu.eval();
  set_default_device(before);
  expect_same(on_cpu, on_gpu, "compiled on the default device");
}

}  // namespace
}  // namespace lazuli
