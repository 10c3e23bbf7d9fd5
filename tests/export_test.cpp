#include "lazuli/export.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "checker.h"
#include "lazuli/fft.h"
#include "lazuli/indexing.h"
#include "lazuli/linalg.h"
#include "lazuli/primitives.h"
#include "lazuli/quantized.h"
#include "lazuli/serialize.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::filled;

namespace {

// The process id keeps test runs of several checkouts on one machine from sharing files.
std::string temp_file(const std::string& name) {
  return testing::TempDir() + "lazuli_export_" + std::to_string(getpid()) + "_" + name + ".lzfn";
}

void expect_close(const array& got, const array& want, double tol = 1e-5) {
  ASSERT_EQ(got.shape(), want.shape());
  ASSERT_EQ(got.dtype(), want.dtype());
  if (is_complex(want.dtype())) {
    expect_close(real(got), real(want), tol);
    expect_close(imag(got), imag(want), tol);
    return;
  }
  auto g = test::to_vector<double>(got), w = test::to_vector<double>(want);
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) EXPECT_TRUE(std::isnan(g[i])) << "at " << i;
    else EXPECT_NEAR(g[i], w[i], tol * (1 + std::abs(w[i]))) << "at " << i;
  }
}

void expect_all_close(const std::vector<array>& got, const std::vector<array>& want, double tol = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i], tol);
}

std::string read_bytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), bytes.size());
}

// Weights of a two-layer MLP, captured by the exported function as constants.
struct Mlp {
  array w1 = astype(filled({6, 8}, -1, 1, 1), float32), b1 = astype(filled({8}, -1, 1, 2), float32);
  array w2 = astype(filled({8, 3}, -1, 1, 3), float32), b2 = astype(filled({3}, -1, 1, 4), float32);
  std::vector<array> operator()(const std::vector<array>& x) const {
    array h = maximum(add(matmul(x[0], w1), b1), array(0.0f));
    return {softmax(add(matmul(h, w2), b2), -1)};
  }
};

}  // namespace

// Every primitive class has a reader (its write() sits in its header), except
// CustomTransforms, which export inlines (its forward graph is exported instead).
TEST(Export, RegistryCoversEveryPrimitive) {
  auto classes = primitive_classes();
  EXPECT_GT(classes.size(), 40u);
  for (auto& c : classes) {
    if (c == "CustomTransforms") continue;
    EXPECT_NE(find_primitive_reader(c), nullptr) << "primitive class " << c << " has no export reader";
  }
}

// Every checker case of every family (sort, scan, indexing, linalg, fft, quantized, ...)
// exports, imports and gives the original function's values.
TEST(Export, EveryCheckerCaseRoundTrips) {
  std::string file = temp_file("cases");
  int n = 0;
  for (auto& [name, c] : test::extra_cases()) {
    SCOPED_TRACE(name + " case " + std::to_string(n++));
    std::vector<array> xs;
    for (size_t i = 0; i < c.shapes.size(); ++i) xs.push_back(filled(c.shapes[i], c.lo, c.hi, 7 + int(i)));
    auto want = c.fun(xs);
    export_function(file, c.fun, xs);
    auto f = import_function(file);
    expect_all_close(f(xs), want, 1e-9);
  }
  std::remove(file.c_str());
}

TEST(Export, MlpWithCapturedWeights) {
  std::string file = temp_file("mlp");
  Mlp mlp;
  array x = astype(filled({4, 6}, -1, 1, 5), float32);
  export_function(file, Fn(mlp), {x});
  auto f = import_function(file);
  array x2 = astype(filled({4, 6}, -1, 1, 6), float32);
  expect_all_close(f({x2}), mlp({x2}));
  EXPECT_FALSE(f.shapeless());
  // Without shapeless, another batch size has no trace.
  EXPECT_THROW(f({astype(filled({5, 6}, -1, 1, 6), float32)}), std::invalid_argument);
  EXPECT_THROW(f({astype(x2, float64)}), std::invalid_argument);
  EXPECT_THROW(f({}), std::invalid_argument);
  std::remove(file.c_str());
}

TEST(Export, ShapelessRunsOnANewBatchSize) {
  std::string file = temp_file("shapeless");
  Mlp mlp;
  export_function(file, Fn(mlp), {astype(filled({4, 6}, -1, 1, 5), float32)}, true);
  auto f = import_function(file);
  EXPECT_TRUE(f.shapeless());
  for (int batch : {1, 7, 0}) {
    array x = astype(filled({batch, 6}, -1, 1, 9), float32);
    expect_all_close(f({x}), mlp({x}));
  }
  // Rank and dtype still have to match; a wrong feature size fails the matmul check.
  EXPECT_THROW(f({astype(filled({2, 3, 6}, -1, 1, 9), float32)}), std::invalid_argument);
  EXPECT_THROW(f({astype(filled({2, 5}, -1, 1, 9), float32)}), std::invalid_argument);
  std::remove(file.c_str());
}

TEST(Export, ShapelessMeanAndVarCountTheNewShape) {
  std::string file = temp_file("mean");
  Fn fun = [](const std::vector<array>& x) {
    return std::vector<array>{mean(x[0], 0), var(x[0], 0, false, 1), mean(x[0])};
  };
  export_function(file, fun, {filled({4, 3}, -1, 1, 1)}, true);
  auto f = import_function(file);
  for (int rows : {2, 9}) {
    std::vector<array> xs{filled({rows, 3}, -1, 1, rows)};
    expect_all_close(f(xs), fun(xs), 1e-12);
  }
  std::remove(file.c_str());
}

TEST(Export, ShapelessReshapeAndBroadcastFollowTheBatch) {
  std::string file = temp_file("reshape");
  Fn fun = [](const std::vector<array>& x) {
    array flat = reshape(x[0], {x[0].shape(0), -1});  // (B, 12)
    array wide = broadcast_to(expand_dims(x[0], 1), {x[0].shape(0), 2, 3, 4});  // (B, 2, 3, 4)
    return std::vector<array>{sum(flat, 1), add(wide, x[1])};
  };
  export_function(file, fun, {filled({2, 3, 4}, -1, 1, 1), filled({3, 4}, -1, 1, 2)}, true);
  auto f = import_function(file);
  std::vector<array> xs{filled({5, 3, 4}, -1, 1, 3), filled({3, 4}, -1, 1, 4)};
  expect_all_close(f(xs), fun(xs), 1e-12);
  // A slice bakes in its input's shape: refused on a new shape, as MLX does.
  Fn sliced = [](const std::vector<array>& x) { return std::vector<array>{slice(x[0], {1}, {3})}; };
  export_function(file, sliced, {filled({4}, -1, 1, 1)}, true);
  auto g = import_function(file);
  expect_all_close(g({filled({4}, -1, 1, 2)}), sliced({filled({4}, -1, 1, 2)}));
  try {
    g({filled({6}, -1, 1, 2)});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Slice"), std::string::npos) << e.what();
  }
  std::remove(file.c_str());
}

TEST(Export, KwargsAndMultipleOutputs) {
  std::string file = temp_file("kwargs");
  KwFn fun = [](const std::vector<array>& args, const Kwargs& kw) {
    return std::vector<array>{add(args[0], kw.at("bias")), multiply(args[0], kw.at("scale")), kw.at("bias")};
  };
  array x = filled({3}, -1, 1, 1), b = filled({3}, -1, 1, 2), s = filled({3}, -1, 1, 3);
  export_function(file, fun, {x}, {{"bias", b}, {"scale", s}});
  auto f = import_function(file);
  Kwargs kw{{"bias", s}, {"scale", b}};
  expect_all_close(f({x}, kw), fun({x}, kw), 1e-12);
  EXPECT_THROW(f({x}), std::invalid_argument);
  EXPECT_THROW(f({x, s, b}), std::invalid_argument);
  EXPECT_THROW(f({x}, {{"bias", s}, {"shift", b}}), std::invalid_argument);
  std::remove(file.c_str());
}

TEST(Export, ExporterKeepsOneTracePerShape) {
  std::string file = temp_file("exporter");
  Fn fun = [](const std::vector<array>& x) { return std::vector<array>{sum(x[0], 0)}; };
  {
    auto ex = exporter(file, fun);
    ex({filled({2, 3}, -1, 1, 1)});
    ex({filled({4, 3}, -1, 1, 2)});
    ex.close();
  }
  auto f = import_function(file);
  EXPECT_EQ(f.num_traces(), 2u);
  for (int rows : {2, 4}) {
    array x = filled({rows, 3}, -1, 1, 3);
    expect_all_close(f({x}), fun({x}), 1e-12);
  }
  EXPECT_THROW(f({filled({3, 3}, -1, 1, 3)}), std::invalid_argument);
  std::remove(file.c_str());
}

// Elementwise, reductions, matmul, indexing, sort, scan, fft, linalg and quantized matmul in
// one function, and a custom function (exported by inlining its forward graph).
TEST(Export, ManyFamiliesInOneFunction) {
  std::string file = temp_file("families");
  array w = astype(filled({16, 32}, -1, 1, 11), float32);
  auto q = quantize(w, 32, 4);
  Fn custom = custom_function([](const std::vector<array>& x) { return std::vector<array>{exp(x[0])}; });
  Fn fun = [&](const std::vector<array>& x) {
    array a = x[0];  // (4, 32) float32
    array y = quantized_matmul(a, q[0], q[1], q[2], true, 32, 4);  // (4, 16)
    array s = sort(y, -1);
    array c = cumsum(s, 1);
    array idx = argsort(y, 1);
    array t = take_along_axis(y, idx, 1);
    array spec = abs(fft::rfft(a, -1));
    array m = matmul(transpose(a), a);
    array spd = add(m, multiply(eye(32, 32), array(32.0f)));
    array l = linalg::cholesky(spd);
    array z = linalg::solve(spd, transpose(a));
    array e = custom({tanh(a)})[0];
    return std::vector<array>{c, t, logsumexp(spec, 1), l, z, max(e, 0), slice(a, {1, 0}, {3, 32}, {1, 2})};
  };
  array x = astype(filled({4, 32}, -1, 1, 12), float32);
  export_function(file, fun, {x});
  auto f = import_function(file);
  array x2 = astype(filled({4, 32}, -1, 1, 13), float32);
  expect_all_close(f({x2}), fun({x2}), 1e-4);
  std::remove(file.c_str());
}

TEST(Export, ToDot) {
  std::ostringstream os;
  array x = filled({2}, -1, 1, 1);
  export_to_dot(os, {add(exp(x), x)});
  std::string dot = os.str();
  EXPECT_EQ(dot.rfind("digraph {", 0), 0u);
  EXPECT_NE(dot.find("Exp"), std::string::npos);
  EXPECT_NE(dot.find("Add"), std::string::npos);
}

TEST(Export, MalformedFilesRaise) {
  std::string file = temp_file("good"), bad = temp_file("bad");
  Mlp mlp;
  export_function(file, Fn(mlp), {astype(filled({4, 6}, -1, 1, 5), float32)});
  std::string bytes = read_bytes(file);
  // Every truncation raises a clear error.
  for (size_t n = 0; n < bytes.size(); n += std::max<size_t>(1, bytes.size() / 300)) {
    write_bytes(bad, bytes.substr(0, n));
    EXPECT_THROW(import_function(bad), std::invalid_argument) << "truncated to " << n;
  }
  // Trailing garbage, a bad magic, another version.
  write_bytes(bad, bytes + "x");
  EXPECT_THROW(import_function(bad), std::invalid_argument);
  std::string b = bytes;
  b[0] = 'X';
  write_bytes(bad, b);
  EXPECT_THROW(import_function(bad), std::invalid_argument);
  b = bytes;
  b[8] = 9;
  write_bytes(bad, b);
  EXPECT_THROW(import_function(bad), std::invalid_argument);
  // A huge constant count is refused before allocating anything.
  b = bytes;
  b[13] = b[14] = b[15] = b[16] = char(0xff);
  write_bytes(bad, b);
  EXPECT_THROW(import_function(bad), std::invalid_argument);
  // Flipping any byte either still loads (and then runs) or raises invalid_argument.
  array x = astype(filled({4, 6}, -1, 1, 5), float32);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    b = bytes;
    b[i] = char(b[i] ^ 0x5a);
    write_bytes(bad, b);
    try {
      auto f = import_function(bad);
      auto outs = f({x});
      for (auto& o : outs) o.eval();
    } catch (const std::invalid_argument&) {
    } catch (const std::runtime_error&) {  // e.g. a dimension grown past the memory limit
    }
  }
  // Small bytes (dtype codes, enum values, dimensions, counts) moved to a neighbouring valid
  // value: the readers' checks must catch what a kernel would trust.
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (uint8_t(bytes[i]) >= num_dtypes) continue;
    b = bytes;
    b[i] = char((uint8_t(b[i]) + 1) % num_dtypes);
    write_bytes(bad, b);
    try {
      auto f = import_function(bad);
      auto outs = f({x});
      for (auto& o : outs) o.eval();
    } catch (const std::invalid_argument&) {
    } catch (const std::runtime_error&) {
    }
  }
  EXPECT_THROW(import_function(temp_file("missing")), std::runtime_error);
  std::remove(file.c_str());
  std::remove(bad.c_str());
}

// tests/data/export_from_python.lzfn was written by python/tests/test_export.py
// (write_cross_language_file): f(x, *, y) = (tanh(x @ w + y), cumsum(x, axis=1)) with
// w = arange(12).reshape(3, 4) / 10, exported for x (2, 3), y (4,) float32.
TEST(Export, RunsAFileWrittenFromPython) {
  auto f = import_function(std::string(LAZULI_TEST_DATA_DIR) + "/export_from_python.lzfn");
  array x = astype(filled({2, 3}, -1, 1, 1), float32), y = astype(filled({4}, -1, 1, 2), float32);
  array w = divide(reshape(arange(12.0, float32), {3, 4}), array(10.0f));
  auto outs = f({x}, {{"y", y}});
  expect_all_close(outs, {tanh(add(matmul(x, w), y)), cumsum(x, 1)});
}

// Readers check what kernels trust: dtypes of inputs and outputs, axes, windows, arity.
TEST(Export, ReadersRejectInconsistentNodes) {
  auto read = [](const std::string& cls, const Writer& w, std::vector<Shape> in_shapes, std::vector<Dtype> in_dtypes,
                 std::vector<Dtype> out_dtypes) {
    Reader r(w.bytes().data(), w.bytes().size(), "test");
    r.input_shapes = std::move(in_shapes);
    r.input_dtypes = std::move(in_dtypes);
    r.output_dtypes = std::move(out_dtypes);
    return (*find_primitive_reader(cls))(to_stream({}), r);
  };
  Writer exp_op;
  exp_op.enumeration(UnaryOp::Exp);
  EXPECT_NE(read("Unary", exp_op, {{3}}, {float32}, {float32}), nullptr);
  EXPECT_THROW(read("Unary", exp_op, {{3}}, {float32}, {float64}), std::invalid_argument);  // wider output
  EXPECT_THROW(read("Unary", exp_op, {{3}, {3}}, {float32, float32}, {float32}), std::invalid_argument);
  Writer add_op;
  add_op.enumeration(BinaryOp::Add);
  EXPECT_THROW(read("Binary", add_op, {{3}, {3}}, {float32, float64}, {float64}), std::invalid_argument);
  Writer bad_op;
  bad_op.u8(200);
  EXPECT_THROW(read("Binary", bad_op, {{3}, {3}}, {float32, float32}, {float32}), std::invalid_argument);
  Writer axes;
  axes.enumeration(ReduceOp::Sum), axes.ints({2});
  EXPECT_THROW(read("Reduce", axes, {{3, 4}}, {float32}, {float32}), std::invalid_argument);
  Writer perm;
  perm.ints({0, 0});
  EXPECT_THROW(read("Transpose", perm, {{3, 4}}, {float32}, {float32}), std::invalid_argument);
  Writer slice;
  slice.ints({0}), slice.ints({5}), slice.ints({1});
  EXPECT_THROW(read("Slice", slice, {{4}}, {float32}, {float32}), std::invalid_argument);
  Writer strided;
  strided.ints({4}), strided.ints64({2}), strided.i64(0);
  EXPECT_THROW(read("AsStrided", strided, {{6}}, {float32}, {float32}), std::invalid_argument);
  Writer take_axis;
  take_axis.i32(0);
  EXPECT_THROW(read("Take", take_axis, {{4}, {2}}, {float32, float32}, {float32}), std::invalid_argument);
  EXPECT_THROW(read("Matmul", Writer{}, {{2, 3}, {4, 5}}, {float32, float32}, {float32}), std::invalid_argument);
  Writer trailing;
  trailing.i32(1);
  Reader r(trailing.bytes().data(), trailing.bytes().size(), "test");
  r.u8();
  EXPECT_THROW(r.u32(), std::invalid_argument);  // reads past the end raise
}

namespace {
// Uses the core primitives not met elsewhere, each as a node that depends on the input.
std::vector<array> core_ops(const std::vector<array>& xs) {
  array x = xs[0];  // (4, 6) float32
  auto dm = divmod(x, array(0.7f));
  array v = view(x, uint32);
  array st = as_strided(x, {3, 2}, {6, 1}, 1);
  array su = slice_update(x, zeros({2, 6}), {1, 0}, {3, 6});
  array idx = astype(argmax(x, 0), int32);  // (6,), values in [0, 4)
  array sc = scatter_add(x, reshape(idx, {6, 1}), ones({6, 1, 6}), 0);
  array pa = partition(x, 2, 1), apa = argpartition(x, 3, 0);
  array cat = concatenate({x, square(x)}, 0);
  array sel = where(greater(x, array(0.0f)), x, negative(x));
  array key = astype(reshape(slice(v, {0, 0}, {1, 2}), {2}), uint32);
  array rb = random::bits({3}, 4, key);
  array g = gather(x, {idx}, {0}, {1, 3});
  array ss = scatter_add(x, std::vector<array>{idx}, ones({6, 1, 3}), std::vector<int>{0});
  return std::vector<array>{dm[0], dm[1], v, st, su, sc, pa, apa, cat, sel, rb, g, ss, stop_gradient(copy(x))};
}
}  // namespace

TEST(Export, CorePrimitivesRoundTrip) {
  std::string file = temp_file("core");
  Fn fun = core_ops;
  array x = astype(filled({4, 6}, -1, 1, 3), float32);
  export_function(file, fun, {x});
  auto f = import_function(file);
  array x2 = astype(filled({4, 6}, -1, 1, 4), float32);
  expect_all_close(f({x2}), fun({x2}), 1e-6);
  std::remove(file.c_str());
}

// Every byte of a file using many primitive kinds moved to a neighbouring small value: it
// loads and runs, or raises; never crashes.
TEST(Export, MutatedFilesLoadOrRaise) {
  std::string file = temp_file("core_mut"), bad = temp_file("core_bad");
  array x = astype(filled({4, 6}, -1, 1, 3), float32);
  export_function(file, Fn(core_ops), {x});
  std::string bytes = read_bytes(file);
  int loaded = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string b = bytes;
    b[i] = char(uint8_t(b[i]) < num_dtypes ? (uint8_t(b[i]) + 1) % num_dtypes : uint8_t(b[i]) ^ 0x10);
    write_bytes(bad, b);
    try {
      auto f = import_function(bad);
      ++loaded;
      for (auto& o : f({x})) o.eval();
    } catch (const std::invalid_argument&) {
    } catch (const std::runtime_error&) {
    } catch (const std::out_of_range&) {  // an index moved out of range, caught by the kernel
    }
  }
  EXPECT_GT(loaded, 0);
  std::remove(file.c_str());
  std::remove(bad.c_str());
}
