// The CUDA source generated for fused programs (backend/cuda/fused_source.h): NVRTC, which
// runs without a GPU, compiles it for every op over every dtype it takes, casts, selects,
// each way of reading an input, several outputs and a final sum; kernels are named by a
// hash of what they compute; strided inputs' dimensions merge as the elementwise kernels'
// do. Running the kernels is tests/gpu_fused_test.cpp's part.
#ifdef LAZULI_CUDA
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "fused_test_util.h"
#include "lazuli/backend/cuda/fused_source.h"
#include "lazuli/backend/cuda/jit.h"
#include "lazuli/ops.h"
#include "lazuli/primitives/compiled.h"

namespace lazuli::cuda {
namespace {

const Stream kStream = default_stream(Device::cpu);

using fused_test::every_dtype;

template <typename P, typename... A> std::shared_ptr<Primitive> prim(A... a) {
  return std::make_shared<P>(kStream, a...);
}
std::shared_ptr<Primitive> unary(UnaryOp op) { return prim<Unary>(op); }
std::shared_ptr<Primitive> binary(BinaryOp op) { return prim<Binary>(op); }

// NVRTC compiles the kernel (into a fresh cache folder, so it is really compiled).
class FusedSource : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cache_ = std::filesystem::temp_directory_path() / ("lazuli-fused-source-test-" + std::to_string(getpid()));
    setenv("LAZULI_KERNEL_CACHE", cache_.c_str(), 1);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(cache_, ec);
    unsetenv("LAZULI_KERNEL_CACHE");
  }
  static void expect_compiles(const Compiled& c, const FusedLayout& layout, const std::string& what) {
    FusedKernel k = fused_kernel_source(c, layout);
    try {
      std::string image = jit::compile(k.source, k.name);
      EXPECT_FALSE(image.empty()) << what;
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": " << e.what() << "\n" << k.source;
    }
  }
  static inline std::filesystem::path cache_;
};

FusedLayout all(Access a, size_t n) { return FusedLayout{std::vector<Access>(n, a)}; }

// One program per input dtype: every op that takes it, each a step on the input(s) and an
// output, so one compile covers them all.
TEST_F(FusedSource, EveryUnaryOpOverEveryDtypeCompiles) {
  for (Dtype t : every_dtype()) {
    auto p = fused_test::unary_ops(t, kStream);
    ASSERT_FALSE(p.steps.empty()) << dtype_name(t);
    expect_compiles(Compiled(kStream, {t}, p.steps, p.outputs), all(Access::Dense, 1), "unary ops over " + dtype_name(t));
  }
}

TEST_F(FusedSource, EveryBinaryOpOverEveryDtypeCompiles) {
  for (Dtype t : every_dtype()) {
    auto p = fused_test::binary_ops(t, kStream);
    ASSERT_FALSE(p.steps.empty()) << dtype_name(t);
    // The second operand a broadcast scalar: the other way of reading an input.
    expect_compiles(Compiled(kStream, {t, t}, p.steps, p.outputs), FusedLayout{{Access::Dense, Access::Scalar}},
                    "binary ops over " + dtype_name(t));
  }
}

TEST_F(FusedSource, CastsBetweenEveryPairOfDtypesCompile) {
  for (Dtype from : every_dtype()) {
    auto p = fused_test::casts(from, kStream);
    expect_compiles(Compiled(kStream, {from}, p.steps, p.outputs), all(Access::Strided, 1), "casts from " + dtype_name(from));
  }
}

TEST_F(FusedSource, SelectsOverEveryDtypeCompile) {
  // where(x > y, x, -y) with the three ways of reading inputs mixed.
  for (Dtype t : {bool_, uint8, int32, int64, float16, bfloat16, float32, float64, complex64}) {
    const bool ordered = t != complex64;
    std::vector<FusedStep> steps = {
        {binary(ordered ? BinaryOp::Greater : BinaryOp::NotEqual), {0, 1}, bool_},
        {prim<Select>(), {2, 0, 1}, t},
    };
    Compiled c(kStream, {t, t}, steps, {3});
    // (Layouts alternate over the dtypes: each compile takes a second or two.)
    expect_compiles(c, ordered ? FusedLayout{{Access::Strided, Access::Dense}} : FusedLayout{{Access::Scalar, Access::Strided}},
                    "select " + dtype_name(t));
  }
}

// A chain like the ones compile makes: 16-bit floats, broadcasting, two strided inputs
// (one index), three outputs, one of them an intermediate value.
TEST_F(FusedSource, ChainsWithSeveralOutputsAndLayoutsCompile) {
  for (Dtype t : {float16, bfloat16, float32, float64}) {
    std::vector<FusedStep> steps = {
        {binary(BinaryOp::Multiply), {0, 1}, t},   // r3
        {binary(BinaryOp::Add), {3, 2}, t},        // r4
        {unary(UnaryOp::Exp), {4}, t},             // r5
        {binary(BinaryOp::Greater), {5, 1}, bool_},  // r6
        {prim<Select>(), {6, 5, 4}, t},            // r7
        {prim<AsType>(float64), {7}, float64},     // r8
    };
    Compiled c(kStream, {t, t, t}, steps, {8, 4, 6});
    expect_compiles(c, FusedLayout{{Access::Strided, Access::Strided, Access::Scalar}}, "chain over " + dtype_name(t));
  }
  Compiled c(kStream, {float32, float32, float32}, {{binary(BinaryOp::Multiply), {0, 1}, float32}}, {3});
  for (auto layout : {FusedLayout{{Access::Dense, Access::Scalar, Access::Strided}}, all(Access::Dense, 3)})
    expect_compiles(c, layout, "multiply");
}

TEST_F(FusedSource, TrailingSumsCompile) {
  for (Dtype t : {float32, float64}) {
    std::vector<FusedStep> steps = {
        {unary(UnaryOp::Tanh), {0}, t},
        {binary(BinaryOp::Multiply), {2, 1}, t},
        {prim<Reduce>(ReduceOp::Sum, std::vector<int>{1, 2}), {3}, t},
    };
    Compiled c(kStream, {t, t}, steps, {4});
    FusedKernel k = fused_kernel_source(c, FusedLayout{{Access::Dense, Access::Strided}});
    EXPECT_NE(k.source.find("double sum = 0"), std::string::npos);
    expect_compiles(c, FusedLayout{{Access::Dense, Access::Strided}}, "sum " + dtype_name(t));
    expect_compiles(c, FusedLayout{{Access::Scalar, Access::Dense}}, "sum (scalar) " + dtype_name(t));
  }
  // A sum of a dtype the row-sum kernel lacks has no fused kernel either.
  std::vector<FusedStep> steps = {{unary(UnaryOp::Abs), {0}, int32},
                                  {prim<Reduce>(ReduceOp::Sum, std::vector<int>{0}), {1}, int32}};
  EXPECT_THROW(fused_kernel_source(Compiled(kStream, {int32}, steps, {2}), all(Access::Dense, 1)), std::logic_error);
}

// The generated code checks what the elementwise kernels' dispatch checks: a functor that
// does not take the dtype, or a step dtype other than what the kernel stores, do not compile.
TEST_F(FusedSource, MismatchedProgramsFailToCompile) {
  auto fails = [](std::vector<Dtype> in, std::vector<FusedStep> steps, const std::string& what) {
    int out = static_cast<int>(in.size() + steps.size()) - 1;
    Compiled c(kStream, in, steps, {out});
    FusedKernel k = fused_kernel_source(c, all(Access::Dense, in.size()));
    EXPECT_THROW(jit::compile(k.source, k.name), std::runtime_error) << what;
  };
  fails({int32}, {{unary(UnaryOp::Sqrt), {0}, int32}}, "sqrt of int32");
  fails({float16}, {{unary(UnaryOp::Exp), {0}, float32}}, "exp of float16 stored as float32");
  fails({float32}, {{binary(BinaryOp::Less), {0, 0}, float32}}, "a comparison stored as float32");
  // Steps the kernels have no code for, and bad layouts, are refused before compiling.
  Compiled reshape_step(kStream, {float32}, {{prim<Reshape>(Shape{4}), {0}, float32}}, {1});
  EXPECT_THROW(fused_kernel_source(reshape_step, all(Access::Dense, 1)), std::logic_error);
  Compiled max_step(kStream, {float32}, {{prim<Reduce>(ReduceOp::Max, std::vector<int>{0}), {0}, float32}}, {1});
  EXPECT_THROW(fused_kernel_source(max_step, all(Access::Dense, 1)), std::logic_error);
  Compiled ok(kStream, {float32}, {{unary(UnaryOp::Exp), {0}, float32}}, {1});
  EXPECT_THROW(fused_kernel_source(ok, all(Access::Dense, 2)), std::logic_error);
  Compiled bad_select(kStream, {float32, float32}, {{prim<Select>(), {0, 0, 1}, float32}}, {2});
  EXPECT_THROW(fused_kernel_source(bad_select, all(Access::Dense, 2)), std::logic_error);
}

TEST_F(FusedSource, KernelsAreNamedByWhatTheyCompute) {
  auto program = [](Dtype t, UnaryOp op) {
    return Compiled(kStream, {t, t}, {{binary(BinaryOp::Add), {0, 1}, t}, {unary(op), {2}, t}}, {3});
  };
  const FusedLayout dense = all(Access::Dense, 2);
  FusedKernel a = fused_kernel_source(program(float32, UnaryOp::Exp), dense);
  FusedKernel b = fused_kernel_source(program(float32, UnaryOp::Exp), dense);  // built anew: same
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.name.rfind("lazuli_fused_", 0), 0u);
  EXPECT_NE(a.source.find("extern \"C\" __global__ void __launch_bounds__(256) " + a.name + "("), std::string::npos);
  std::set<std::string> names = {a.name};
  names.insert(fused_kernel_source(program(float64, UnaryOp::Exp), dense).name);
  names.insert(fused_kernel_source(program(float32, UnaryOp::Log), dense).name);
  names.insert(fused_kernel_source(program(float32, UnaryOp::Exp), FusedLayout{{Access::Dense, Access::Scalar}}).name);
  names.insert(fused_kernel_source(program(float32, UnaryOp::Exp), FusedLayout{{Access::Strided, Access::Dense}}).name);
  names.insert(fused_kernel_source(program(float32, UnaryOp::Exp), FusedLayout{{Access::Dense, Access::Strided}}).name);
  Compiled swapped(kStream, {float32, float32}, {{binary(BinaryOp::Add), {1, 0}, float32}, {unary(UnaryOp::Exp), {2}, float32}}, {3});
  names.insert(fused_kernel_source(swapped, dense).name);
  EXPECT_EQ(names.size(), 7u);
  // The same program compiles once: the second request is served from the cache.
  size_t before = jit::detail::compile_count();
  jit::compile(a.source, a.name);
  jit::compile(b.source, b.name);
  EXPECT_LE(jit::detail::compile_count(), before + 1);
}

TEST_F(FusedSource, InputsAreReadAsTheirLayoutAllows) {
  const Shape shape = {3, 4};
  // Values of their own (zeros would be one broadcast value).
  auto values = [](const Shape& s) { return reshape(arange(0.0, static_cast<double>(shape_size(s)), 1.0, float32), s); };
  array dense = values(shape), scalar = array(1.f), row = values({4}), column = values({3, 1});
  array transposed = transpose(values({4, 3})), one = values({1, 1});
  eval({dense, scalar, row, column, transposed, one});
  FusedLayout l = fused_layout({dense, scalar, row, column, transposed, one}, shape);
  EXPECT_EQ(l.inputs, (std::vector<Access>{Access::Dense, Access::Scalar, Access::Strided, Access::Strided,
                                           Access::Strided, Access::Scalar}));
  EXPECT_TRUE(fused_index({dense, scalar}, fused_layout({dense, scalar}, shape), shape).words.empty());

  // row (0, 1), column (1, 0), transposed (1, 3): no dimension merges.
  FusedIndex ix = fused_index({row, column, transposed}, all(Access::Strided, 3), shape);
  ASSERT_EQ(ix.words.size(), 1u + kMaxDims * 4);
  EXPECT_EQ(ix.ndim(), 2);
  auto dims = [&](int d) { return ix.words[1 + d]; };
  auto stride = [&](int k, int d) { return ix.words[1 + kMaxDims * (1 + k) + d]; };
  EXPECT_EQ(dims(0), 3);
  EXPECT_EQ(dims(1), 4);
  EXPECT_EQ(std::vector<int64_t>({stride(0, 0), stride(0, 1), stride(1, 0), stride(1, 1), stride(2, 0), stride(2, 1)}),
            std::vector<int64_t>({0, 1, 1, 0, 1, 3}));

  // A strided view that steps evenly merges to one dimension; size-1 axes drop out.
  array every_other = slice(values({3, 1, 8}), {0, 0, 0}, {3, 1, 8}, {1, 1, 2});
  every_other.eval();
  FusedIndex merged = fused_index({every_other}, all(Access::Strided, 1), {3, 1, 4});
  EXPECT_EQ(merged.ndim(), 1);
  EXPECT_EQ(merged.words[1], 12);
  EXPECT_EQ(merged.words[1 + kMaxDims], 2);

  // More unmergeable dimensions than the kernels index is a clear error.
  Shape many(kMaxDims + 1, 2);
  array wide = transpose(values(many));
  wide.eval();
  EXPECT_THROW(fused_index({wide}, all(Access::Strided, 1), many), std::invalid_argument);
}

}  // namespace
}  // namespace lazuli::cuda
#endif  // LAZULI_CUDA
