// The CUDA backend against the CPU backend: each GPU kernel runs the same graph as the CPU
// over dtypes and layouts (broadcast, transposed, strided, 0-d, empty). Skipped where no GPU
// is present.
#include <climits>
#include <complex>

#include "lazuli/primitives.h"  // the op lists
#include "gpu_test_util.h"
#ifdef LAZULI_CUDA
#include "lazuli/backend/cuda/device.h"
#endif

namespace lazuli {
namespace {

using namespace gpu_test;
using test::contains;
using test::error_of;

#define LAZULI_UNARY_FN(Name, fn) {#fn, [](const array& a, Device d) { return fn(a, d); }},
const std::vector<std::pair<std::string, std::function<array(const array&, Device)>>> kUnary = {
    LAZULI_UNARY_OPS(LAZULI_UNARY_FN)};
#undef LAZULI_UNARY_FN
#define LAZULI_BINARY_FN(Name, fn) {#fn, [](const array& a, const array& b, Device d) { return fn(a, b, d); }},
const std::vector<std::pair<std::string, std::function<array(const array&, const array&, Device)>>> kBinary = {
    LAZULI_BINARY_OPS(LAZULI_BINARY_FN)};
#undef LAZULI_BINARY_FN

// complex64 too: the functors compile for the device with cuda::std::complex.
std::vector<Dtype> elementwise_dtypes() {
  auto types = kDtypes;
  types.push_back(complex64);
  return types;
}

TEST_F(Gpu, UnaryOpsMatchCpu) {
  for (auto t : elementwise_dtypes()) {
    array dense = sample({3, 4, 5}, t, 1);
    array transposed = transpose(sample({5, 4, 3}, t, 2));
    array strided = slice(sample({6, 9}, t, 3), {1, 0}, {6, 9}, {2, 3});
    array scalar = sample({}, t, 4);
    array empty = sample({0, 3}, t, 5);
    for (auto& [name, fn] : kUnary)
      for (auto& [layout, x] : std::vector<std::pair<std::string, array>>{
               {"dense", dense}, {"transposed", transposed}, {"strided", strided}, {"0-d", scalar}, {"empty", empty}})
        compare([&, &fn = fn, &x = x](Device d) { return fn(x, d); }, name + " " + dtype_name(t) + " " + layout);
  }
}

TEST_F(Gpu, BinaryOpsMatchCpuWithBroadcasting) {
  for (auto t : elementwise_dtypes()) {
    struct Case {
      std::string layout;
      array a, b;
    };
    std::vector<Case> cases = {
        {"dense", sample({3, 4, 5}, t, 1), sample_rhs({3, 4, 5}, t, 2)},
        {"broadcast", sample({3, 1, 5}, t, 3), sample_rhs({4, 5}, t, 4)},
        {"transposed", transpose(sample({5, 4, 3}, t, 5)), sample_rhs({3, 4, 5}, t, 6)},
        {"scalar", sample({}, t, 7), sample_rhs({2, 3}, t, 8)},
        {"both 0-d", sample({}, t, 9), sample_rhs({}, t, 10)},
        {"empty", sample({0, 3}, t, 11), sample_rhs({1, 3}, t, 12)},
    };
    for (auto& [name, fn] : kBinary)
      for (auto& c : cases)
        compare([&, &fn = fn](Device d) { return fn(c.a, c.b, d); }, name + " " + dtype_name(t) + " " + c.layout);
  }
}

TEST_F(Gpu, ViewsOnTheGpuFeedKernels) {
  array x = sample({4, 6}, float32, 1);
  compare([&](Device d) { return exp(slice(transpose(x, d), {1, 0}, {6, 4}, {2, 1}, d), d); }, "slice of transpose");
  compare([&](Device d) { return multiply(broadcast_to(sample({6}, float32, 2), {4, 6}, d), x, d); }, "broadcast_to");
  compare([&](Device d) { return sin(reshape(transpose(x, d), {3, 8}, d), d); }, "reshape of a transpose (copies)");
}

TEST_F(Gpu, AsTypeAndCopyMatchCpu) {
  // Values that test the conversion rules: rounding toward zero, out of range, NaN, inf.
  std::vector<double> values{-1.5, 0.0, 2.7, 300.0, -1e10, 1e10, 65504.0, 1e-8, NAN, INFINITY, -INFINITY, -0.0};
  array special(values.begin(), {3, 4}, float64);
  for (auto from : elementwise_dtypes()) {
    array x = from == float64 ? special : sample({3, 4}, from, 1);
    for (auto to : elementwise_dtypes()) {
      std::string what = dtype_name(from) + " to " + dtype_name(to);
      compare([&](Device d) { return astype(x, to, d); }, what);
      compare([&](Device d) { return astype(transpose(x), to, d); }, what + " transposed");
    }
    compare([&](Device d) { return copy(transpose(x), d); }, "copy " + dtype_name(from));
    compare([&](Device d) { return contiguous(slice(x, {0, 1}, {3, 4}, {1, 2}), false, d); },
            "contiguous " + dtype_name(from));
  }
}

TEST_F(Gpu, SelectMatchesCpu) {
  for (auto t : {bool_, int8, float16, int32, float32, float64, complex64}) {
    array cond = sample({3, 1, 5}, bool_, 1);
    compare([&](Device d) { return where(cond, sample({4, 5}, t, 2), sample({}, t, 3), d); },
            "where " + dtype_name(t));
    compare([&](Device d) { return where(transpose(sample({5, 4}, bool_, 4)), sample({4, 5}, t, 5),
                                         transpose(sample({5, 4}, t, 6)), d); },
            "where transposed " + dtype_name(t));
  }
}

TEST_F(Gpu, MatmulMatchesCpu) {
  for (auto t : {float32, float64, float16, bfloat16, complex64}) {
    auto check = [&](const array& a, const array& b, const std::string& what) {
      compare([&](Device d) { return matmul(a, b, d); }, "matmul " + dtype_name(t) + " " + what);
    };
    check(sample({5, 64}, t, 1), sample({64, 3}, t, 2), "2-d");
    check(sample({2, 3, 5, 16}, t, 3), sample({16, 4}, t, 4), "broadcast batch");
    check(sample({3, 1, 5, 16}, t, 5), sample({2, 16, 4}, t, 6), "both batches broadcast");
    check(transpose(sample({16, 5}, t, 7)), transpose(sample({7, 16}, t, 8)), "transposed operands");
    // Read in place, column-major: a Linear layer's x @ W.T, batched and broadcast.
    check(sample({2, 3, 16}, t, 15), transpose(sample({7, 16}, t, 16)), "batch @ transposed weight");
    check(swapaxes(sample({4, 16, 5}, t, 17), -1, -2), swapaxes(sample({4, 7, 16}, t, 18), -1, -2),
          "transposed batches");
    check(swapaxes(sample({4, 16, 5}, t, 19), -1, -2), sample({16, 7}, t, 20), "transposed batch @ matrix");
    // Copied first: matrices that are not dense (a transposed slice, a permuted batch).
    check(transpose(slice(sample({16, 9}, t, 21), {0, 1}, {16, 6})), sample({16, 3}, t, 22), "sliced transposed");
    check(transpose(sample({5, 16, 3}, t, 23), {1, 0, 2}), sample({3, 4}, t, 24), "permuted batch");
    check(sample({5}, t, 9), sample({5, 3}, t, 10), "vector-matrix");
    check(sample({4, 0}, t, 11), sample({0, 3}, t, 12), "k = 0");
    check(sample({0, 4}, t, 13), sample({4, 3}, t, 14), "m = 0");
  }
  // Integers: exact and wrapping, by a kernel of our own.
  for (auto t : {int8, uint8, int32, int64})
    compare([&](Device d) { return matmul(sample({3, 5, 7}, t, 1), transpose(sample({4, 7}, t, 2)), d); },
            "matmul " + dtype_name(t));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] {
                         matmul(sample({2, 2}, bool_, 1), sample({2, 2}, bool_, 2), kGpu).eval();
                       }),
                       "bool"));
}

TEST_F(Gpu, Float32MatmulIsNotRoundedToTf32) {
  // 1 + 2^-20 survives float32 but not TF32's 10-bit mantissa.
  array a = full({4, 4}, 1.0f + 1.0f / (1 << 20), float32);
  array b = eye(4, float32);
  auto got = test::to_vector<float>(matmul(a, b, kGpu));
  for (float v : got) EXPECT_EQ(v, 1.0f + 1.0f / (1 << 20));
}

TEST_F(Gpu, CpuAndGpuNodesInOneGraph) {
  array x = sample({64, 32}, float32, 1);
  array w = sample({32, 16}, float32, 2);
  Stream side = new_stream(kGpu);
  // GPU matmul, CPU reduction of its result, GPU op on a second stream, CPU again.
  auto run = [&](Device first, Device second, StreamOrDevice third) {
    array h = tanh(matmul(x, w, first), first);
    array s = sum(h, 0, true, second);
    return add(multiply(h, s, third), sin(sum(x, false, second), second), second);
  };
  expect_same(run(kCpu, kCpu, kCpu), run(kGpu, kCpu, side), "mixed graph");
}

// GPU nodes do not wait for their kernels: long chains (more nodes than a stream keeps in
// flight), CPU nodes reading GPU results mid-chain, two GPU streams, and intermediate
// arrays read after the chain's end all see finished data.
TEST_F(Gpu, AsynchronousChainsMatchCpu) {
  array x = sample({1 << 22}, float32, 1);
  Stream side = new_stream(kGpu);
  auto run = [&](Device gpu, StreamOrDevice other_gpu) {
    array y = x;
    std::vector<array> kept;
    for (int i = 0; i < 1500; ++i) {
      y = add(multiply(y, array(0.5f), gpu), array(1.0f), gpu);  // converges to 2
      if (i % 300 == 0) kept.push_back(y);
    }
    array on_cpu = sum(y, false, kCpu);            // reads the GPU chain's end on the CPU
    array mixed = exp(negative(y, other_gpu), gpu);  // second GPU stream, then back
    eval({on_cpu, mixed});
    return std::vector<array>{on_cpu, mixed, kept[0], kept[2], kept[4]};
  };
  auto cpu = run(kCpu, kCpu);
  auto gpu = run(kGpu, side);
  for (size_t i = 0; i < cpu.size(); ++i) expect_same(cpu[i], gpu[i], "output " + std::to_string(i));
}

TEST_F(Gpu, BuffersFreedWhileKernelsRunAreNotReused) {
  // Each step frees its input as soon as it is launched; the CPU allocates and writes new
  // buffers meanwhile. Deferred frees keep the kernels' inputs intact.
  array expected = sample({1 << 20}, float32, 3);
  array y = expected;
  for (int i = 0; i < 200; ++i) {
    y = negative(negative(y, kGpu), kGpu);
    array noise = sample({1 << 20}, float32, 100 + i);  // CPU work on fresh buffers
    noise.eval();
  }
  expect_same(expected, y, "double negation chain");
}

TEST_F(Gpu, KernelsReadMemoryTheCallerLent) {
  // Not allocated by Lazuli, so not managed memory: the GPU reads a staged copy.
  std::vector<float> host{1.f, -2.f, 3.5f, 0.25f, 8.f, -0.5f};
  array lent(host.data(), {2, 3}, float32, [](void*) {});
  compare([&](Device d) { return exp(lent, d); }, "exp of lent memory");
  compare([&](Device d) { return add(transpose(lent), array(1.f), d); }, "add of a transposed lent view");
  compare([&](Device d) { return matmul(lent, transpose(lent), d); }, "matmul of lent memory");
  EXPECT_EQ(host[0], 1.f);  // never written
}

// A primitive that no GPU kernel family registers (it exists only in this test): its CPU
// kernel passes the input through.
class CpuOnlyIdentity : public Primitive {
 public:
  using Primitive::Primitive;
  std::string name() const override { return "CpuOnlyIdentity"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override {
    outputs[0].copy_shared_buffer(inputs[0]);
  }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override { return {inputs[0].shape()}; }
};

TEST_F(Gpu, PrimitivesWithoutKernelsSayClearly) {
  auto node = [](Device d) {
    array x({1.f, 2.f});
    return array(x.shape(), x.dtype(), std::make_shared<CpuOnlyIdentity>(default_stream(d)), {x});
  };
  EXPECT_EQ(test::to_vector<float>(node(kCpu)), (std::vector<float>{1.f, 2.f}));
  auto what = error_of<std::runtime_error>([&] { node(kGpu).eval(); });
  EXPECT_TRUE(contains(what, "no GPU kernel")) << what;
  EXPECT_TRUE(contains(what, "CpuOnlyIdentity")) << what;
}

#ifdef LAZULI_CUDA
TEST_F(Gpu, AllocatorCapGivesAClearOutOfMemoryError) {
  size_t cap = cuda::memory_cap();
  EXPECT_LE(get_memory_limit(), cap);
  // float32 rows of 1 GiB, one more than the cap holds: refused before any allocation.
  int rows = static_cast<int>(cap >> 30) + 1;
  auto what = error_of<std::runtime_error>([&] { exp(zeros({rows, 1 << 28}, float32), kGpu).eval(); });
  EXPECT_TRUE(contains(what, "Out of memory")) << what;
  EXPECT_TRUE(contains(what, "GPU memory")) << what;
  // set_memory_limit cannot lift the cap.
  size_t old = set_memory_limit(SIZE_MAX);
  EXPECT_THROW(exp(zeros({rows, 1 << 28}, float32), kGpu).eval(), std::runtime_error);
  set_memory_limit(old);
  // After the error, memory still works.
  compare([](Device d) { return exp(array({1.f, 2.f}), d); }, "after out of memory");
}
#endif

}  // namespace
}  // namespace lazuli
