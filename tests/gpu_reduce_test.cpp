// The CUDA reduction family against the CPU: reductions, argmin/argmax, scans, sorts and
// partitions, arange and the element counts of mean/var, over dtypes, axes, layouts
// (transposed, strided, offset), 0-d and empty shapes, and sizes past 16M elements that are
// no multiple of any block or vector width. Skipped where no GPU is present.
#include <cmath>
#include <complex>

#include "gpu_test_util.h"

namespace lazuli {
namespace {

using namespace gpu_test;
using test::contains;
using test::error_of;

using Reduction = std::function<array(const array&, const std::vector<int>&, bool, Device)>;
const std::vector<std::pair<std::string, Reduction>> kReductions = {
    {"sum", [](const array& a, const std::vector<int>& ax, bool k, Device d) { return sum(a, ax, k, d); }},
    {"prod", [](const array& a, const std::vector<int>& ax, bool k, Device d) { return prod(a, ax, k, d); }},
    {"max", [](const array& a, const std::vector<int>& ax, bool k, Device d) { return max(a, ax, k, d); }},
    {"min", [](const array& a, const std::vector<int>& ax, bool k, Device d) { return min(a, ax, k, d); }},
    {"all", [](const array& a, const std::vector<int>& ax, bool k, Device d) { return all(a, ax, k, d); }},
    {"any", [](const array& a, const std::vector<int>& ax, bool k, Device d) { return any(a, ax, k, d); }},
};

// Floats with NaNs, infinities and signed zeros among the values, at spread positions.
array with_specials(const array& x) {
  if (!is_floating_point(x.dtype())) return x;
  const float picks[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f};
  std::vector<float> special(x.size(), 0.f);
  std::vector<int32_t> use(x.size(), 0);
  for (size_t i = 7; i < x.size(); i += 13) use[i] = 1, special[i] = picks[(i / 13) % 5];
  array mask = astype(array(use.begin(), x.shape(), int32), bool_);
  return where(mask, astype(array(special.begin(), x.shape(), float32), x.dtype()), x);
}

TEST_F(Gpu, ReductionsMatchCpuOverDtypesAxesAndLayouts) {
  std::vector<Dtype> dtypes = kDtypes;
  dtypes.insert(dtypes.end(), {uint16, int16, uint64, complex64});
  const std::vector<std::vector<int>> axes_sets = {{0, 1, 2}, {2}, {0}, {1}, {0, 2}, {1, 2}, {0, 1}};
  for (auto t : dtypes) {
    std::vector<std::pair<std::string, array>> inputs = {
        {"dense", sample({3, 4, 5}, t, 1)},
        {"transposed", transpose(sample({5, 3, 4}, t, 2), {1, 2, 0})},
        {"strided", slice(sample({6, 8, 10}, t, 3), {0, 1, 0}, {6, 8, 10}, {2, 2, 2})},
        {"broadcast", broadcast_to(sample({3, 1, 5}, t, 4), {3, 4, 5})},
    };
    for (auto& [op, fn] : kReductions) {
      for (auto& [layout, x] : inputs)
        for (auto& axes : axes_sets)
          for (bool keep : {false, true})
            compare([&, &fn = fn, &x = x](Device d) { return fn(x, axes, keep, d); },
                    op + " " + dtype_name(t) + " " + layout + " axes " + std::to_string(axes.size()) + "/" +
                        std::to_string(axes[0]) + (keep ? " keepdims" : ""));
      array scalar = sample({}, t, 5);
      // A reduction over no axes is an astype, which has no complex64-to-bool GPU kernel yet.
      if (t != complex64 || op == "sum" || op == "prod")
        compare([&, &fn = fn](Device d) { return fn(scalar, {}, false, d); }, op + " 0-d " + dtype_name(t));
      // Empty: the identity where there is one, a clear error (on both) where not.
      array empty = sample({0, 3}, t, 6);
      for (auto& axes : std::vector<std::vector<int>>{{0}, {1}, {0, 1}})
        compare([&, &fn = fn](Device d) { return fn(empty, axes, true, d); },
                op + " empty " + dtype_name(t) + " axis " + std::to_string(axes[0]));
      if (is_floating_point(t)) {
        array specials = with_specials(sample({4, 6, 9}, t, 7));
        for (auto& axes : axes_sets)
          compare([&, &fn = fn](Device d) { return fn(specials, axes, false, d); }, op + " NaN/inf " + dtype_name(t));
      }
    }
  }
}

TEST_F(Gpu, LargeReductionsMatchCpu) {
  // Past 16M elements, odd sizes: rows (one long row: chunks and a second pass), columns
  // (leading-axis: row chunks and a second pass), middle axes, unaligned starts.
  array x = sample({17'000'003}, float32, 1);
  for (auto& [op, fn] : kReductions) {
    if (op == "prod") continue;  // a product of 17M normals is 0 or inf either way
    compare([&, &fn = fn](Device d) { return fn(x, {0}, false, d); }, op + " 17M");
    compare([&, &fn = fn](Device d) { return fn(slice(x, {1}, {17'000'003}), {0}, false, d); }, op + " 17M offset");
  }
  // Sums of integer-valued floats are exact in any order, so the GPU's tree and the CPU's
  // lanes agree to the bit; max and min are exact anyway.
  auto integral = [](const Shape& shape, uint64_t seed) { return astype(sample(shape, int32, seed), float32); };
  array m = integral({4099, 4097}, 2);
  for (auto& axes : std::vector<std::vector<int>>{{0}, {1}, {0, 1}}) {
    compare([&](Device d) { return sum(m, axes, false, d); }, "sum 4099x4097 axis " + std::to_string(axes[0]));
    compare([&](Device d) { return max(m, axes, false, d); }, "max 4099x4097 axis " + std::to_string(axes[0]));
    compare([&](Device d) { return sum(transpose(m), axes, false, d); }, "sum transposed 4099x4097");
  }
  array wide = integral({4096, 4100}, 3);  // columns in 16-byte words
  compare([&](Device d) { return sum(wide, 0, false, d); }, "sum leading axis, vector columns");
  compare([&](Device d) { return min(wide, 0, false, d); }, "min leading axis, vector columns");
  array cube = integral({3, 1'000'003, 7}, 4);
  compare([&](Device d) { return sum(cube, 1, false, d); }, "sum middle axis");
  compare([&](Device d) { return sum(cube, {0, 2}, false, d); }, "sum outer axes (copied)");
  array tall = sample({5'000'011, 3}, int32, 5);
  compare([&](Device d) { return sum(tall, 0, false, d); }, "int32 sum, 3 columns");
  compare([&](Device d) { return sum(tall, 1, false, d); }, "int32 sum, rows of 3");
  array half = sample({3, 5'600'001}, float16, 6);
  compare([&](Device d) { return sum(half, 1, false, d); }, "float16 sum of long rows");
  compare([&](Device d) { return max(half, {0, 1}, false, d); }, "float16 max");
  array flags = sample({16'777'217}, bool_, 7);
  compare([&](Device d) { return all(flags, false, d); }, "all of 16M+1 bools");
  compare([&](Device d) { return any(flags, false, d); }, "any of 16M+1 bools");
  compare([&](Device d) { return all(greater(x, array(-100.f)), false, d); }, "all true of 17M");
  array many_rows = sample({1'000'003, 5}, float64, 8);
  compare([&](Device d) { return sum(many_rows, 1, false, d); }, "float64 1M short rows");
  compare([&](Device d) { return prod(many_rows, 1, false, d); }, "float64 prod of short rows");
}

TEST_F(Gpu, MeanAndVarCountElementsOnTheGpu) {
  array x = sample({4, 5, 6}, float32, 1);
  compare([&](Device d) { return mean(x, {0, 2}, false, d); }, "mean");
  compare([&](Device d) { return var(x, 1, true, 1, d); }, "var ddof 1");
  compare([&](Device d) { return var(sample({1, 3}, float32, 2), 0, false, 1, d); }, "var with no degrees of freedom");
}

TEST_F(Gpu, ArgReductionsMatchCpu) {
  std::vector<Dtype> dtypes = kDtypes;
  dtypes.insert(dtypes.end(), {uint16, int16, uint64});
  for (auto t : dtypes) {
    // Small integer values: ties everywhere, the first index must win.
    for (auto& [layout, x] : std::vector<std::pair<std::string, array>>{
             {"dense", sample({3, 4, 5}, t, 1)},
             {"transposed", transpose(sample({5, 4, 3}, t, 2))},
             {"long lines", sample({3, 1000}, t, 3)},
             {"specials", with_specials(sample({5, 130}, t, 4))}}) {
      for (int axis = 0; axis < static_cast<int>(x.ndim()); ++axis)
        for (bool keep : {false, true}) {
          std::string what = dtype_name(t) + " " + layout + " axis " + std::to_string(axis);
          compare([&, &x = x](Device d) { return argmax(x, axis, keep, d); }, "argmax " + what);
          compare([&, &x = x](Device d) { return argmin(x, axis, keep, d); }, "argmin " + what);
        }
      compare([&, &x = x](Device d) { return argmax(x, false, d); }, "argmax flat " + dtype_name(t) + " " + layout);
    }
    compare([&](Device d) { return argmin(sample({}, t, 5), false, d); }, "argmin 0-d " + dtype_name(t));
    compare([&](Device d) { return argmax(sample({0, 3}, t, 6), 1, false, d); }, "argmax of no rows");
    compare([&](Device d) { return argmax(sample({3, 0}, t, 6), 1, false, d); }, "argmax of an empty axis");
  }
  array big = sample({17'000'003}, float32, 7);
  compare([&](Device d) { return argmax(big, 0, false, d); }, "argmax 17M");
  compare([&](Device d) { return argmin(big, 0, false, d); }, "argmin 17M");
  auto what = error_of<std::invalid_argument>([] { argmax(zeros({2, 0}), 1, false, kGpu).eval(); });
  EXPECT_TRUE(contains(what, "empty axis")) << what;
}

using ScanFn = std::function<array(const array&, int, bool, bool, Device)>;
const std::vector<std::pair<std::string, ScanFn>> kScans = {
    {"cumsum", [](const array& a, int ax, bool r, bool i, Device d) { return cumsum(a, ax, r, i, d); }},
    {"cumprod", [](const array& a, int ax, bool r, bool i, Device d) { return cumprod(a, ax, r, i, d); }},
    {"cummax", [](const array& a, int ax, bool r, bool i, Device d) { return cummax(a, ax, r, i, d); }},
    {"cummin", [](const array& a, int ax, bool r, bool i, Device d) { return cummin(a, ax, r, i, d); }},
    {"logcumsumexp", [](const array& a, int ax, bool r, bool i, Device d) { return logcumsumexp(a, ax, r, i, d); }},
};

TEST_F(Gpu, ScansMatchCpu) {
  std::vector<Dtype> dtypes = kDtypes;
  dtypes.insert(dtypes.end(), {int16, uint64, complex64});
  for (auto t : dtypes) {
    std::vector<std::pair<std::string, array>> inputs = {
        {"dense", sample({3, 4, 5}, t, 1)},
        {"transposed", transpose(sample({5, 4, 3}, t, 2))},
        {"strided", slice(sample({6, 8, 5}, t, 3), {0, 0, 1}, {6, 8, 5}, {2, 2, 1})},
    };
    if (is_floating_point(t)) inputs.push_back({"specials", with_specials(sample({4, 6, 9}, t, 4))});
    for (auto& [op, fn] : kScans) {
      for (auto& [layout, x] : inputs)
        for (int axis = 0; axis < 3; ++axis)
          for (bool reverse : {false, true})
            for (bool inclusive : {true, false})
              compare([&, &fn = fn, &x = x](Device d) { return fn(x, axis, reverse, inclusive, d); },
                      op + " " + dtype_name(t) + " " + layout + " axis " + std::to_string(axis) +
                          (reverse ? " reverse" : "") + (inclusive ? "" : " exclusive"));
      compare([&, &fn = fn](Device d) { return fn(sample({0, 4}, t, 5), 1, false, true, d); }, op + " empty");
      compare([&, &fn = fn](Device d) { return fn(sample({4, 0}, t, 5), 1, true, false, d); }, op + " empty axis");
    }
  }
  // Long lines span many tiles of the block scan; integer-valued floats keep sums exact,
  // so the CPU's sequential order and the GPU's tree agree to the bit.
  array ints = astype(sample({3, 100'003}, int32, 6), float32);
  array reals = sample({3, 100'003}, float32, 7);
  // A long logcumsumexp accumulates the CPU's sequential rounding: a line of three tiles.
  array shorter = sample({3, 3001}, float32, 9);
  for (bool reverse : {false, true})
    for (bool inclusive : {true, false}) {
      std::string what = std::string(reverse ? " reverse" : "") + (inclusive ? "" : " exclusive");
      compare([&](Device d) { return cumsum(ints, 1, reverse, inclusive, d); }, "long cumsum" + what);
      compare([&](Device d) { return cumsum(ints, 0, reverse, inclusive, d); }, "cumsum of short columns" + what);
      compare([&](Device d) { return cummax(reals, 1, reverse, inclusive, d); }, "long cummax" + what);
      compare([&](Device d) { return logcumsumexp(shorter, 1, reverse, inclusive, d); }, "logcumsumexp of 3 tiles" + what);
    }
  array big = astype(sample({17'000'001}, int32, 8), int64);
  compare([&](Device d) { return cumsum(big, 0, false, true, d); }, "cumsum of 17M int64");
}

TEST_F(Gpu, SortsMatchCpu) {
  std::vector<Dtype> dtypes = kDtypes;
  dtypes.insert(dtypes.end(), {uint16, int16, uint64});
  for (auto t : dtypes) {
    std::vector<std::pair<std::string, array>> inputs = {
        {"dense", sample({3, 4, 5}, t, 1)},
        {"transposed", transpose(sample({5, 4, 3}, t, 2))},
        {"strided", slice(sample({6, 8, 10}, t, 3), {0, 1, 0}, {6, 8, 10}, {2, 2, 3})},
        {"long lines", sample({3, 3001}, t, 4)},
    };
    if (is_floating_point(t)) inputs.push_back({"specials", with_specials(sample({4, 6, 29}, t, 5))});
    for (auto& [layout, x] : inputs)
      for (int axis = 0; axis < static_cast<int>(x.ndim()); ++axis) {
        std::string what = dtype_name(t) + " " + layout + " axis " + std::to_string(axis);
        compare([&, &x = x](Device d) { return sort(x, axis, d); }, "sort " + what);
        compare([&, &x = x](Device d) { return argsort(x, axis, d); }, "argsort " + what);
        // A partition's two sides are in no particular order: compare the kth element, and
        // each side as a sorted set.
        int len = static_cast<int>(x.shape()[axis]);
        for (int kth : {0, len / 2, len - 1}) {
          auto side = [&](const array& p, int b, int e, Device d) {
            Shape start(x.ndim(), 0), stop = x.shape();
            start[axis] = b, stop[axis] = e;
            return sort(slice(p, start, stop, d), axis, d);
          };
          auto check = [&](auto partitioned, const std::string& name) {
            compare([&](Device d) { return side(partitioned(d), kth, kth + 1, d); }, name + " kth " + what);
            compare([&](Device d) { return side(partitioned(d), 0, kth, d); }, name + " before kth " + what);
            compare([&](Device d) { return side(partitioned(d), kth + 1, len, d); }, name + " after kth " + what);
          };
          check([&, &x = x](Device d) { return partition(x, kth, axis, d); }, "partition");
          check([&, &x = x](Device d) { return take_along_axis(x, argpartition(x, kth, axis, d), axis, kCpu); },
                "argpartition");
        }
      }
    compare([&](Device d) { return sort(sample({0, 3}, t, 6), 0, d); }, "sort empty " + dtype_name(t));
    compare([&](Device d) { return argsort(sample({}, t, 7), d); }, "argsort 0-d " + dtype_name(t));
  }
  array big = sample({17'000'003}, float32, 8);
  compare([&](Device d) { return sort(big, 0, d); }, "sort 17M");
  compare([&](Device d) { return argsort(astype(big, int32), 0, d); }, "argsort 17M with ties");
  compare([&](Device d) { return argsort(sample({2000, 3001}, float64, 9), 1, d); }, "argsort 2000 lines");
  // complex64: by real part, then imaginary part, NaNs last; ties and -0 keep positions.
  std::vector<std::complex<float>> zs{{1, 2}, {1, -1}, {NAN, 0}, {-0.f, 3}, {0, 3}, {1, 2}, {-5, INFINITY}, {0, NAN}};
  array z(zs.begin(), {8}, complex64);
  compare([&](Device d) { return sort(z, 0, d); }, "sort complex64");
  compare([&](Device d) { return argsort(z, 0, d); }, "argsort complex64");
  compare([&](Device d) { return argsort(reshape(sample({6, 50}, complex64, 10), {6, 50}), 1, d); },
          "argsort complex64 lines");
}

TEST_F(Gpu, ArangeMatchesCpu) {
  for (auto t : {float32, float64, float16, bfloat16, int32, int64, int8, uint8}) {
    compare([&](Device d) { return arange(0.0, 10.0, 0.3, t, d); }, "arange 0.3 " + dtype_name(t));
    compare([&](Device d) { return arange(-5.0, 7.0, 1.0, t, d); }, "arange -5..7 " + dtype_name(t));
    compare([&](Device d) { return arange(5.0, 5.0, 1.0, t, d); }, "arange empty " + dtype_name(t));
  }
  compare([](Device d) { return arange(1.5, -3.0, -0.25, float32, d); }, "arange descending");
  compare([](Device d) { return arange(0.0, 17'000'001.0, 1.0, float32, d); }, "arange 17M float32");
  compare([](Device d) { return arange(0.0, 1.0, 1.0 / 3'000'017, float64, d); }, "arange fine float64");
}

}  // namespace
}  // namespace lazuli
