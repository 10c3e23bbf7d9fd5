// The CUDA kernels of RandomBits, Convolution, FFT and Hadamard against the CPU's: random
// bits identical for every key and shape (and the distributions built on them equal), the
// convolution over dims, strides, paddings, dilations, groups, flips and dtypes, the FFT
// kinds over axes, lengths and layouts, the Hadamard transform over orders and dtypes.
// Skipped where no GPU is present.
#include <complex>

#include "gpu_test_util.h"
#include "lazuli/conv.h"
#include "lazuli/einsum.h"
#include "lazuli/fft.h"
#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives/conv.h"
#include "lazuli/primitives/einsum.h"
#include "lazuli/primitives/fft.h"
#include "lazuli/transforms.h"

namespace lazuli {
namespace {

using namespace gpu_test;
using test::contains;
using test::error_of;

// ---- RandomBits ----------------------------------------------------------------------------

TEST_F(Gpu, RandomBitsAreTheCpusBits) {
  // Odd sizes leave the last pair half used; the big one spans many grid-stride rounds.
  const std::vector<Shape> shapes = {{}, {0}, {1}, {2}, {7}, {3, 5}, {4, 0, 3}, {1001, 3}, {(1 << 24) + 5}};
  for (uint64_t seed : {0ull, 1ull, 42ull, 0xFFFFFFFFFFFFull})
    for (const auto& shape : shapes)
      for (int width : {1, 2, 4}) {
        if (width != 4 && shape_size(shape) > (1 << 20)) continue;
        compare([&](Device d) { return random::bits(shape, width, random::key(seed), d); },
                "bits seed " + std::to_string(seed) + " shape " + detail::shape_str(shape) + " width " +
                    std::to_string(width));
      }
}

TEST_F(Gpu, RandomBitsOfManyAndStridedKeys) {
  array keys = random::split(random::key(7), 5);  // (5, 2)
  auto batched = [](Device d) { return vmap([d](const array& k) { return random::bits({9}, 4, k, d); }); };
  compare([&](Device d) { return batched(d)(keys); }, "bits of 5 keys");
  // The keys as a transposed view: the kernel reads them in order, not by their strides.
  array keys_t = transpose(copy(transpose(keys)));
  array key_strided = reshape(slice(keys_t, {2, 0}, {3, 2}), {2});
  compare([&](Device d) { return random::bits({3, 3}, 4, key_strided, d); }, "bits of a strided key");
  compare([&](Device d) { return batched(d)(keys_t); }, "bits of transposed keys");
}

TEST_F(Gpu, RandomDistributionsMatchCpu) {
  array key = random::key(3);
  const Shape shape = {37, 5};
  for (Dtype t : {float32, float16, bfloat16}) {
    compare([&](Device d) { return random::uniform(shape, t, key, d); }, "uniform " + dtype_name(t));
    compare([&](Device d) { return random::uniform(array(-2.f), array(3.f), shape, t, key, d); },
            "uniform [-2, 3) " + dtype_name(t));
    compare([&](Device d) { return random::normal(shape, t, 1.0, 2.0, key, d); }, "normal " + dtype_name(t));
  }
  for (Dtype t : {int32, uint8, int64})
    compare([&](Device d) { return random::randint(-3 * !is_unsigned(t), 90, shape, t, key, d); },
            "randint " + dtype_name(t));
  compare([&](Device d) { return random::bernoulli(0.3, shape, key, d); }, "bernoulli");
  compare([&](Device d) { return random::bernoulli(random::uniform({5}, float32, random::key(4)), shape, key, d); },
          "bernoulli with broadcast p");
  compare([&](Device d) { return random::gumbel(shape, float32, key, d); }, "gumbel");
  compare([&](Device d) { return random::laplace(shape, float32, 0.5, 2.0, key, d); }, "laplace");
}

// ---- Convolution ---------------------------------------------------------------------------

struct ConvCase {
  std::string what;
  Shape x, w;  // (N, spatial..., C_in), (C_out, kernel..., C_in / groups)
  std::vector<int> stride, lo, hi, kernel_dilation, input_dilation;
  int groups = 1;
  bool flip = false;
};

const std::vector<ConvCase> kConvCases = {
    {"1d", {2, 11, 3}, {4, 3, 3}},
    {"1d stride 2 padding 1", {2, 12, 3}, {5, 3, 3}, {2}, {1}, {1}},
    {"1d asymmetric padding", {1, 10, 4}, {3, 4, 4}, {1}, {2}, {0}},
    {"1d negative padding (cropping)", {1, 10, 2}, {3, 2, 2}, {1}, {-1}, {2}},
    {"1d kernel dilation 3", {2, 15, 2}, {2, 3, 2}, {1}, {0}, {0}, {3}},
    {"1d input dilation 2 (transposed)", {2, 6, 3}, {4, 3, 3}, {1}, {2}, {2}, {1}, {2}},
    {"1d groups 2", {2, 9, 4}, {6, 3, 2}, {}, {1}, {1}, {}, {}, 2},
    {"1d depthwise", {2, 9, 6}, {6, 3, 1}, {}, {1}, {1}, {}, {}, 6},
    {"1d flipped", {1, 8, 3}, {2, 4, 3}, {}, {3}, {3}, {}, {}, 1, true},
    {"2d", {2, 7, 6, 3}, {4, 3, 3, 3}},
    {"2d stride (2, 3) padding (1, 2)", {2, 9, 10, 4}, {8, 3, 3, 4}, {2, 3}, {1, 2}, {1, 2}},
    {"2d asymmetric padding", {1, 8, 7, 3}, {5, 3, 2, 3}, {1, 1}, {2, 0}, {1, 3}},
    {"2d dilations", {2, 11, 9, 2}, {3, 3, 3, 2}, {1, 2}, {2, 1}, {2, 1}, {2, 1}},
    {"2d input dilation and stride", {1, 5, 6, 4}, {3, 3, 3, 4}, {2, 1}, {1, 2}, {2, 0}, {1, 1}, {2, 3}},
    {"2d groups 4 flipped", {2, 7, 7, 8}, {12, 3, 3, 2}, {1, 1}, {1, 1}, {1, 1}, {}, {}, 4, true},
    {"2d 1x1", {3, 5, 5, 16}, {32, 1, 1, 16}},
    {"2d wide channels", {2, 14, 14, 64}, {48, 3, 3, 64}, {1, 1}, {1, 1}, {1, 1}},
    {"3d", {2, 5, 6, 4, 3}, {4, 2, 3, 2, 3}},
    {"3d strides, padding, dilation, groups", {1, 8, 7, 9, 4}, {6, 3, 2, 3, 2}, {2, 1, 3}, {1, 0, 2}, {2, 1, 0},
     {1, 2, 1}, {1, 1, 1}, 2},
    {"3d input dilation flipped", {1, 4, 3, 4, 2}, {3, 2, 2, 3, 2}, {1, 1, 1}, {1, 1, 2}, {1, 0, 2}, {}, {2, 2, 1},
     1, true},
    {"4d (the direct kernel)", {1, 4, 3, 5, 3, 2}, {3, 2, 2, 3, 2, 2}, {1, 2, 1, 1}, {1, 0, 1, 0}, {0, 1, 1, 0}},
    {"empty batch", {0, 5, 3}, {2, 3, 3}},
    {"no input channels", {2, 5, 0}, {2, 3, 0}},
};

array conv_of(const ConvCase& c, const array& x, const array& w, Device d) {
  return conv_general(x, w, c.stride, c.lo, c.hi, c.kernel_dilation, c.input_dilation, c.groups, c.flip, d);
}

TEST_F(Gpu, ConvolutionMatchesCpu) {
  uint64_t seed = 100;
  for (Dtype t : {float32, float16, bfloat16, float64})
    for (const auto& c : kConvCases) {
      // Small values: sums of many products stay within float32's tolerance of the CPU.
      array x = astype(multiply(sample(c.x, float32, ++seed), array(0.25f)), t);
      array w = astype(multiply(sample(c.w, float32, ++seed), array(0.25f)), t);
      compare([&](Device d) { return conv_of(c, x, w, d); }, "conv " + c.what + " " + dtype_name(t));
    }
}

TEST_F(Gpu, ConvolutionOfStridedInputsAndMixedDtypes) {
  array x = transpose(sample({3, 9, 8, 2}, float32, 1), {0, 2, 1, 3});  // (3, 8, 9, 2), strided
  array w = slice(sample({4, 3, 3, 4}, float32, 2), {0, 0, 0, 0}, {4, 3, 3, 4}, {1, 1, 1, 2});  // every other C_in
  compare([&](Device d) { return conv2d(x, w, {1, 2}, {1, 1}, {1, 1}, 1, d); }, "conv2d of strided views");
  array xh = astype(x, float16);
  compare([&](Device d) { return conv2d(xh, w, {1, 1}, {0, 0}, {1, 1}, 1, d); }, "conv2d float16 x float32");
  compare([&](Device d) { return conv_transpose2d(x, w, {2, 2}, {1, 0}, {1, 1}, {1, 0}, 1, d); },
          "conv_transpose2d");
  compare([&](Device d) { return conv_transpose1d(sample({2, 7, 3}, float32, 3), sample({4, 3, 3}, float32, 4), 3, 1,
                                                  2, 1, 1, d); },
          "conv_transpose1d");
}

TEST_F(Gpu, ConvolutionOfABigInput) {
  // More outputs than one grid of blocks covers (> 65536 * 256).
  array x = multiply(sample({4, 1100, 1000, 4}, float32, 5), array(0.25f));
  array w = multiply(sample({4, 3, 3, 4}, float32, 6), array(0.25f));
  compare([&](Device d) { return conv2d(x, w, {1, 1}, {1, 1}, {1, 1}, 1, d); }, "big conv2d");
  compare([&](Device d) { return conv_general(x, w, {1, 1}, {1, 1}, {0, 2}, {}, {}, 1, false, d); },
          "big asymmetric conv2d");
}

TEST_F(Gpu, ConvolutionErrors) {
  array x = sample({1, 5, 3}, float32, 1), w = sample({2, 3, 3}, float32, 2);
  compare([&](Device d) { return conv1d(astype(x, int32), astype(w, int32), 1, 0, 1, 1, d); }, "conv of int32");
  compare([&](Device d) { return conv1d(x, sample({2, 3, 2}, float32, 3), 1, 0, 1, 1, d); }, "conv channel mismatch");
  compare([&](Device d) { return conv1d(x, w, 1, 0, 1, 2, d); }, "conv groups not dividing");
  // More spatial dims than the GPU kernels take: a clear error, where the CPU runs it.
  Shape big(11, 1), kernel(11, 1);
  big[10] = 2, kernel[0] = 1, kernel[10] = 2;
  auto what = error_of<std::invalid_argument>([&] { conv_general(ones(big), ones(kernel), {}, {}, {}, {}, {}, 1, false,
                                                               kGpu).eval(); });
  EXPECT_TRUE(contains(what, "[conv]") && contains(what, "at most 8 spatial dimensions")) << what;
}

// ---- FFT -----------------------------------------------------------------------------------

// Values of unit size after the transform: x / sqrt(n).
array fft_input(const Shape& shape, Dtype t, int n, uint64_t seed) {
  return astype(multiply(sample(shape, t, seed), array(static_cast<float>(1.0 / std::sqrt(double(n))))), t);
}

TEST_F(Gpu, FftKindsMatchCpuOverAxesAndLengths) {
  uint64_t seed = 200;
  for (int n : {1, 2, 3, 5, 8, 12, 17, 64, 97, 210, 256, 1000, 4096, 4099})
    for (int axis : {0, 1, 2}) {
      Shape shape = {3, 4, 2};
      shape[axis] = n;
      std::string at = " n " + std::to_string(n) + " axis " + std::to_string(axis);
      array z = fft_input(shape, complex64, n, ++seed), r = fft_input(shape, float32, n, ++seed);
      compare([&](Device d) { return fft::fft(z, axis, d); }, "fft" + at);
      compare([&](Device d) { return fft::ifft(z, axis, d); }, "ifft" + at);
      compare([&](Device d) { return fft::rfft(r, axis, d); }, "rfft" + at);
      // irfft of a half spectrum, whose X_0 (and X_{n/2}) imaginary parts are ignored.
      Shape half_end = shape;
      half_end[axis] = n / 2 + 1;
      array half = slice(z, Shape(3, 0), half_end);
      compare([&](Device d) { return fft::irfft(half, n, axis, d); }, "irfft" + at);
    }
}

TEST_F(Gpu, FftOfStridedAndBigInputs) {
  array z = fft_input({16, 6, 10}, complex64, 16, 1);
  array zt = transpose(z, {2, 0, 1});                               // (10, 16, 6)
  array zs = slice(z, {0, 0, 1}, {16, 6, 10}, {1, 2, 3});           // (16, 3, 3)
  array zb = broadcast_to(fft_input({1, 8}, complex64, 8, 2), {5, 8});  // broadcast rows
  for (int axis : {0, 1, 2}) {
    compare([&](Device d) { return fft::fft(zt, axis, d); }, "fft transposed axis " + std::to_string(axis));
    compare([&](Device d) { return fft::ifft(zs, axis, d); }, "ifft sliced axis " + std::to_string(axis));
    compare([&](Device d) { return fft::rfft(real(zt), axis, d); }, "rfft transposed axis " + std::to_string(axis));
  }
  compare([&](Device d) { return fft::fft(zb, 1, d); }, "fft broadcast");
  compare([&](Device d) { return fft::fft2(zt, {0, 2}, d); }, "fft2 transposed");
  compare([&](Device d) { return fft::irfft2(fft_input({12, 9, 5}, complex64, 8, 3), {12, 8}, {0, 2}, d); }, "irfft2");
  compare([&](Device d) { return fft::rfftn(fft_input({6, 10, 4}, float32, 16, 4), d); }, "rfftn");
  // Many lines and a long one.
  compare([&](Device d) { return fft::fft(fft_input({1 << 16, 300}, complex64, 300, 5), 1, d); }, "fft of 65536 lines");
  compare([&](Device d) { return fft::rfft(fft_input({3, 1 << 22}, float32, 1 << 22, 6), 1, d); }, "rfft of 2^22");
  compare([&](Device d) { return fft::fft(fft_input({0, 8}, complex64, 8, 7), 1, d); }, "fft of no lines");
}

TEST_F(Gpu, FftPrimitiveChecksItsInputDtype) {
  // The ops cast; a primitive built over the wrong dtype is refused clearly on the GPU.
  array x = ones({4}, float64);
  auto what = error_of<std::invalid_argument>([&] {
    detail::make_node<FFT>({x}, complex64, kGpu, 0, 4, FFTKind::RealForward).eval();
  });
  EXPECT_TRUE(contains(what, "[fft]") && contains(what, "float32")) << what;
}

// ---- Hadamard ------------------------------------------------------------------------------

TEST_F(Gpu, HadamardMatchesCpu) {
  uint64_t seed = 300;
  // Orders 2^k and m * 2^k with m = 12, 20, 28; rows in shared memory, and longer ones.
  for (int n : {1, 2, 4, 8, 64, 512, 4096, 8192, 32768, 12, 24, 20, 160, 28, 28 * 256, 12 * 2048})
    for (Dtype t : {float32, float16, bfloat16, float64, complex64}) {
      array x = sample({3, n}, t, ++seed);
      std::string at = " n " + std::to_string(n) + " " + dtype_name(t);
      compare([&](Device d) { return hadamard_transform(x, std::nullopt, d); }, "hadamard" + at);
      compare([&](Device d) { return hadamard_transform(x, 0.5f, d); }, "hadamard scale 0.5" + at);
    }
}

TEST_F(Gpu, HadamardOfLayoutsAndItsVjp) {
  array x = sample({16, 5, 3}, float32, 1);
  compare([&](Device d) { return hadamard_transform(transpose(x, {1, 2, 0}), std::nullopt, d); }, "transposed");
  compare([&](Device d) { return hadamard_transform(slice(x, {0, 0, 0}, {16, 5, 3}, {1, 2, 1}), 1.f, d); },
          "sliced");
  compare([&](Device d) { return hadamard_transform(sample({}, float32, 2), std::nullopt, d); }, "0-d");
  compare([&](Device d) { return hadamard_transform(sample({0, 8}, float32, 3), std::nullopt, d); }, "empty");
  compare([&](Device d) { return hadamard_transform(sample({2, 4}, int32, 4), std::nullopt, d); }, "int32 input");
  compare([&](Device d) { return hadamard_transform(sample({(1 << 17) + 3, 128}, float32, 5), std::nullopt, d); }, "big");
  // The transposed H_20 (the vjp's): not symmetric.
  array y = sample({4, 40}, float32, 6);
  compare([&](Device d) { return detail::make_node<Hadamard>({y}, float32, d, 20, 0.3, true); }, "transposed H_20");
}

TEST_F(Gpu, HadamardPrimitiveRefusesIntegers) {
  compare([&](Device d) {
    return detail::make_node<Hadamard>({array({1, 2, 3, 4})}, int32, d, 1, 0.5, false);
  }, "Hadamard of int32");
}

}  // namespace
}  // namespace lazuli
