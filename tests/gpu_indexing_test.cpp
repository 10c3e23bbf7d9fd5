// The CUDA indexing kernels against the CPU: take, gather, the scatters along an axis and
// of windows (every reduce mode, repeated indices included), slice_update, concatenate,
// divmod, and depends/custom functions, over dtypes, index dtypes and layouts, with the
// errors of bad indices (same exception, same message). Skipped where no GPU is present.
#include <climits>
#include <complex>
#include <stdexcept>

#include "gpu_test_util.h"
#include "lazuli/indexing.h"
#include "lazuli/transforms.h"

namespace lazuli {
namespace {

using namespace gpu_test;
using test::error_of;

// Dtypes the kernels only move (take, gather, concatenate, ...): complex64 too.
std::vector<Dtype> moved_dtypes() {
  std::vector<Dtype> ts = kDtypes;
  ts.push_back(complex64);
  return ts;
}
const std::vector<Dtype> kIndexDtypes = {int8, int16, int32, int64, uint8, uint16, uint32, uint64};

// expect_same reads values as float64: complex64 is compared as its real and imaginary parts.
array comparable(const array& y) {
  if (y.dtype() != complex64) return y;
  return stack({real(y, kCpu), imag(y, kCpu)}, 0, kCpu);
}
template <typename F> void compare_values(F&& f, const std::string& what) {
  compare([&](Device d) { return comparable(f(d)); }, what);
}

// Both devices raise std::out_of_range, with the same message.
template <typename F> void compare_error(F&& f, const std::string& what) {
  std::string cpu = error_of<std::out_of_range>([&] { f(kCpu).eval(); });
  std::string gpu = error_of<std::out_of_range>([&] { f(kGpu).eval(); });
  EXPECT_FALSE(cpu.empty()) << what;
  EXPECT_EQ(gpu, cpu) << what;
}

// Indices of dtype t for an axis of size dim: negative values stay negative for signed
// dtypes (counting from the end) and are wrapped for unsigned ones.
array indices(std::vector<int32_t> values, const Shape& shape, Dtype t, int32_t dim) {
  if (is_unsigned(t))
    for (auto& v : values)
      if (v < 0) v += dim;
  return astype(array(values.begin(), shape, int32), t);
}

// Random indices in [-dim, dim) (signed) or [0, dim) (unsigned), many repeated.
array random_indices(const Shape& shape, Dtype t, int32_t dim, uint64_t seed) {
  int32_t lo = is_unsigned(t) ? 0 : -dim;
  return astype(random::randint(lo, dim, shape, int32, random::key(seed)), t);
}

// Runs f with the default device set to d (for ops that take no stream argument).
template <typename F> auto on_default(Device d, F&& f) {
  Device before = default_device();
  set_default_device(d);
  try {
    auto r = f();
    set_default_device(before);
    return r;
  } catch (...) {
    set_default_device(before);
    throw;
  }
}

TEST_F(Gpu, TakeMatchesCpuOverDtypesAndLayouts) {
  for (auto t : moved_dtypes()) {
    array dense = sample({5, 6, 4}, t, 1);
    array transposed = transpose(sample({4, 6, 5}, t, 2));
    array broadcast = broadcast_to(sample({1, 6, 1}, t, 3), {5, 6, 4});
    array strided = slice(sample({10, 6, 8}, t, 4), {1, 0, 0}, {10, 6, 8}, {2, 1, 2});
    for (auto it : kIndexDtypes) {
      std::string what = dtype_name(t) + " indexed by " + dtype_name(it);
      array idx = indices({-1, 3, 0, -4, 2, 2}, {2, 3}, it, 4);  // repeats too
      for (int axis = 0; axis < 3; ++axis)
        for (auto& [layout, a] : std::vector<std::pair<std::string, array>>{
                 {"dense", dense}, {"transposed", transposed}, {"broadcast", broadcast}, {"strided", strided}})
          compare_values([&, &a = a](Device d) { return take(a, idx, axis, d); },
                         "take " + what + " " + layout + " axis " + std::to_string(axis));
      array transposed_idx = transpose(indices({0, -1, 2, 3, -2, 1}, {2, 3}, it, 4));
      compare_values([&](Device d) { return take(dense, transposed_idx, 2, d); }, "take transposed indices " + what);
      array broadcast_idx = broadcast_to(indices({-3, 1, 2}, {1, 3}, it, 4), {4, 3});
      compare_values([&](Device d) { return take(dense, broadcast_idx, 2, d); }, "take broadcast indices " + what);
      array scalar_idx = indices({-2}, {}, it, 6);
      compare_values([&](Device d) { return take(dense, scalar_idx, 1, d); }, "take 0-d index " + what);
      array empty_idx = indices({}, {0, 2}, it, 5);
      compare_values([&](Device d) { return take(dense, empty_idx, 0, d); }, "take empty indices " + what);
      compare_values([&](Device d) { return take(sample({0, 6}, t, 5), idx, 1, d); }, "take from empty " + what);
      compare_values([&](Device d) { return take(transposed, random_indices({7}, it, 120, 6), d); },
                     "take flattened " + what);
    }
    array along = random_indices({5, 3, 4}, int32, 6, 7);
    compare_values([&](Device d) { return take_along_axis(dense, along, 1, d); }, "take_along_axis " + dtype_name(t));
  }
}

TEST_F(Gpu, TakeOfManyElementsMatchesCpu) {
  // More elements than one grid of 65536 blocks of 256 threads covers, in a size that is
  // not a multiple of the block size.
  const int32_t n = 65536 * 256 + 1237;
  array table = sample({1000}, float32, 1);
  compare([&](Device d) { return take(table, random_indices({n}, int32, 1000, 2), 0, d); }, "random elements");
  array rows = sample({3, n / 3 + 5}, int16, 3);
  compare([&](Device d) { return take(rows, indices({2, -3, 1, 2}, {4}, int64, 3), 0, d); }, "long rows");
  compare([&](Device d) { return take(transpose(rows), indices({1, 0}, {2}, uint8, 3), 1, d); },
          "columns of a transpose");
}

TEST_F(Gpu, TakeRaisesLikeTheCpuForIndicesOutOfRange) {
  array a = sample({5, 3}, float32, 1);
  compare_error([&](Device d) { return take(a, indices({0, 9, -10, 7}, {4}, int32, 5), 0, d); }, "first bad wins");
  compare_error([&](Device d) { return take(a, indices({-6}, {}, int64, 5), 0, d); }, "too negative");
  compare_error([&](Device d) { return take(a, indices({3}, {1}, int8, 3), 1, d); }, "axis 1");
  compare_error([&](Device d) { return take(a, astype(array(-1), uint64), 0, d); }, "uint64 past int64");
  compare_error([&](Device d) { return take(sample({5, 0}, float32, 2), indices({1, 5}, {2}, uint16, 5), 0, d); },
                "empty output still checks its indices");
  compare_error([&](Device d) { return take(sample({0, 3}, int32, 3), indices({0}, {1}, int32, 0), 0, d); },
                "an empty axis");
}

TEST_F(Gpu, GatherMatchesCpu) {
  for (auto t : moved_dtypes()) {
    array a = sample({6, 5, 7}, t, 1);
    array transposed = transpose(sample({7, 5, 6}, t, 2));
    for (auto it : kIndexDtypes) {
      std::string what = dtype_name(t) + " indexed by " + dtype_name(it);
      array i0 = indices({0, -1, 3, 3, -6}, {5}, it, 6);
      array i2 = indices({4, -7, 0, 2, 1}, {5}, it, 7);  // windows of 3 fit at [-7, 4]
      for (auto& [layout, x] : std::vector<std::pair<std::string, array>>{{"dense", a}, {"transposed", transposed}}) {
        compare_values([&, &x = x](Device d) { return gather(x, {i0, i2}, {0, 2}, {1, 5, 3}, d); },
                       "gather windows " + what + " " + layout);
        compare_values([&, &x = x](Device d) { return gather(x, i0, 0, {1, 5, 7}, d); },
                       "gather rows " + what + " " + layout);
      }
      array grid0 = indices({1, 2}, {2, 1}, it, 6), grid1 = indices({0, -1, 2}, {1, 3}, it, 5);
      compare_values([&](Device d) { return gather(a, {grid0, grid1}, {0, 1}, {2, 1, 7}, d); },
                     "gather broadcast indices " + what);
      compare_values([&](Device d) { return gather(a, {indices({}, {0}, it, 6)}, {0}, {1, 5, 7}, d); },
                     "gather no windows " + what);
    }
    compare_values([&](Device d) { return gather(a, {}, {}, {2, 3, 4}, d); }, "gather without indices " + dtype_name(t));
    compare_values([&](Device d) { return gather(a, {indices({1}, {}, int32, 6)}, {0}, {2, 0, 7}, d); },
                   "gather empty window " + dtype_name(t));
  }
  const int32_t n = 65536 * 256 / 7 + 11;
  array big = sample({100, 8}, uint8, 3);
  compare([&](Device d) { return gather(big, random_indices({n}, int32, 100, 4), 0, {1, 8}, d); }, "many windows");
}

TEST_F(Gpu, GatherRaisesLikeTheCpu) {
  array a = sample({6, 5, 7}, float32, 1);
  array good = indices({0, 1}, {2}, int32, 6);
  compare_error([&](Device d) { return gather(a, {good, indices({0, 5}, {2}, int32, 7)}, {0, 2}, {1, 5, 3}, d); },
                "window past the end");
  compare_error([&](Device d) { return gather(a, {good, indices({-8, 0}, {2}, int16, 7)}, {0, 2}, {1, 5, 3}, d); },
                "too negative");
  compare_error([&](Device d) { return gather(a, {indices({9, 0}, {2}, int64, 6), indices({0, 6}, {2}, int32, 7)},
                                              {0, 2}, {1, 5, 3}, d); },
                "the first index array's error first");
  compare_error([&](Device d) { return gather(a, indices({2, 6}, {2}, uint32, 6), 0, {1, 5, 7}, d); }, "rows");
  compare_error([&](Device d) { return gather(a, indices({2, 6}, {2}, int8, 6), 0, {1, 0, 7}, d); },
                "empty windows still check their indices");
}

const std::vector<std::pair<std::string, array (*)(const array&, const array&, const array&, int, S)>> kScatters = {
    {"scatter", scatter},         {"scatter_add", scatter_add}, {"scatter_prod", scatter_prod},
    {"scatter_max", scatter_max}, {"scatter_min", scatter_min},
};

TEST_F(Gpu, ScatterAlongAnAxisMatchesCpuWithRepeatedIndices) {
  for (auto t : moved_dtypes())
    for (auto& [name, fn] : kScatters) {
      std::string what = name + " " + dtype_name(t);
      array a = sample({5, 4, 3}, t, 1);
      array transposed = transpose(sample({3, 4, 5}, t, 2));
      for (auto it : kIndexDtypes) {
        array idx = indices({-1, 3, 0, 4, 3, -2, 0, 0}, {2, 4}, it, 5);  // repeats: 0 x3, 3 x3
        array upd = sample({2, 4, 4, 3}, t, 3);
        compare_values([&, fn = fn](Device d) { return fn(a, idx, upd, 0, d); }, what + " " + dtype_name(it));
        compare_values([&, fn = fn](Device d) { return fn(transposed, idx, upd, 0, d); },
                       what + " transposed " + dtype_name(it));
      }
      array idx1 = indices({1, -1, 1, 1, 2}, {5}, int32, 4);
      compare_values([&, fn = fn](Device d) { return fn(a, idx1, sample({5, 5, 3}, t, 4), 1, d); }, what + " axis 1");
      compare_values([&, fn = fn](Device d) { return fn(a, idx1, sample({}, t, 5), 1, d); },
                     what + " broadcast scalar update");
      compare_values([&, fn = fn](Device d) { return fn(a, transpose(indices({0, 2, 2, 1}, {2, 2}, int64, 3)),
                                                       sample({5, 4, 2, 2}, t, 6), 2, d); },
                     what + " transposed indices, last axis");
      compare_values([&, fn = fn](Device d) { return fn(a, indices({-3}, {}, int16, 4), sample({5, 3}, t, 7), 1, d); },
                     what + " 0-d index");
      compare_values([&, fn = fn](Device d) { return fn(a, indices({}, {0}, int32, 4), sample({5, 0, 3}, t, 8), 1, d); },
                     what + " no updates");
      compare_values([&, fn = fn](Device d) {
        return fn(sample({7}, t, 9), indices({6, 6, -1, 0}, {4}, int32, 7), sample({4}, t, 10), 0, d);
      }, what + " 1-d");
    }
}

TEST_F(Gpu, ScatterOfManyUpdatesIntoFewPlacesMatchesCpu) {
  // Long runs of one index: the sequential order of the CPU, float rounding included.
  const int32_t n = 65536 * 256 + 1237;
  for (auto t : {float32, int32, float16})
    for (auto& [name, fn] : kScatters) {
      array bins = sample({1000}, t, 1);
      array idx = random_indices({n}, int32, 1000, 2);
      array upd = t == int32 ? sample({n}, t, 3) : astype(random::uniform(array(0.999f), array(1.001f), {n}, float32, random::key(3)), t);
      compare([&, fn = fn](Device d) { return fn(bins, idx, upd, 0, d); }, name + " many " + dtype_name(t));
    }
  // Every update into one place: one run as long as the updates (integers reduce it as a
  // tree, floats in order).
  for (auto t : {int32, uint8, bool_})
    compare([&](Device d) { return scatter_add(sample({3}, t, 6), zeros({n}, int32), sample({n}, t, 7), 0, d); },
            "one place " + dtype_name(t));
  compare([&](Device d) { return scatter_add(sample({3}, float32, 8), full({100003}, -1, int32), sample({100003}, float32, 9),
                                             0, d); }, "one place float32");
  // One index: the updates go straight to distinct places, without sorting.
  compare([&](Device d) { return scatter_prod(sample({n / 2 + 5, 2}, float32, 10), array(1), sample({n / 2 + 5}, float32, 11),
                                              1, d); }, "one index");
  array cache = sample({4, 1024, 64}, bfloat16, 12);
  compare([&](Device d) { return dynamic_slice_update(cache, sample({4, 1, 64}, bfloat16, 13), array(700), {1}, d); },
          "a cache's one step");
  array wide = sample({4, n / 4 + 3}, float32, 4);
  compare([&](Device d) { return scatter_add(wide, indices({1, 1, -1}, {3}, int64, 4), sample({3, n / 4 + 3}, float32, 5),
                                             0, d); }, "long rows");
}

TEST_F(Gpu, ScatterRaisesLikeTheCpu) {
  array a = sample({5, 3}, float32, 1);
  for (auto& [name, fn] : kScatters)
    for (auto it : {int32, int64, uint8, int16}) {
      std::string what = name + " " + dtype_name(it);
      compare_error([&, fn = fn](Device d) { return fn(a, indices({0, 7, 1, 9}, {4}, it, 5), sample({4, 3}, float32, 2), 0, d); },
                    what);
      compare_error([&, fn = fn](Device d) { return fn(sample({5, 0}, float32, 3), indices({1, 5}, {2}, it, 5),
                                                       sample({2, 0}, float32, 4), 0, d); },
                    what + " without updates");
    }
  compare_error([&](Device d) { return scatter(a, indices({-6}, {1}, int32, 5), sample({1, 3}, float32, 5), 0, d); },
                "too negative");
  compare_error([&](Device d) { return scatter(a, astype(array(-2), uint64), sample({3}, float32, 6), 0, d); },
                "uint64 past int64");
}

using SliceScatter = array (*)(const array&, const std::vector<array>&, const array&, const std::vector<int>&, S);
const std::vector<std::pair<std::string, SliceScatter>> kSliceScatters = {
    {"scatter", scatter},         {"scatter_add", scatter_add}, {"scatter_prod", scatter_prod},
    {"scatter_max", scatter_max}, {"scatter_min", scatter_min},
};

TEST_F(Gpu, ScatterOfWindowsMatchesCpuWithOverlaps) {
  for (auto t : moved_dtypes())
    for (auto& [name, fn] : kSliceScatters) {
      std::string what = name + " windows " + dtype_name(t);
      array a = sample({8, 6}, t, 1);
      array transposed = transpose(sample({6, 8}, t, 2));
      for (auto it : kIndexDtypes) {
        // Windows of 3x3 that overlap and repeat: rows {0,1,0,0}, columns {2,3,2,0}.
        array i0 = indices({0, 1, 0, -8}, {4}, it, 8), i1 = indices({2, 3, -4, 0}, {4}, it, 6);
        array upd = sample({4, 3, 3}, t, 3);
        compare_values([&, fn = fn](Device d) { return fn(a, {i0, i1}, upd, {0, 1}, d); }, what + " " + dtype_name(it));
        compare_values([&, fn = fn](Device d) { return fn(transposed, {i1}, sample({4, 8, 2}, t, 4), {1}, d); },
                       what + " transposed " + dtype_name(it));
      }
      compare_values([&, fn = fn](Device d) {
        return fn(a, {indices({1, 2}, {2, 1}, int32, 8), indices({0, 3, 3}, {1, 3}, int32, 6)}, sample({1, 1}, t, 5),
                  {0, 1}, d);
      }, what + " broadcast indices and updates");
      compare_values([&, fn = fn](Device d) { return fn(a, {}, sample({2, 4}, t, 6), {}, d); }, what + " no indices");
      compare_values([&, fn = fn](Device d) { return fn(a, {indices({}, {0}, int32, 8)}, sample({0, 1, 6}, t, 7), {0}, d); },
                     what + " no windows");
      compare_values([&, fn = fn](Device d) { return fn(a, {indices({3, 1}, {2}, int32, 8)}, sample({2, 0, 6}, t, 8), {0}, d); },
                     what + " empty windows");
    }
  array src = sample({6, 7}, float32, 9), upd = sample({3, 2}, float32, 10);
  compare([&](Device d) { return slice_update_add(src, upd, {1, 2}, {6, 6}, {2, 2}, d); }, "slice_update_add");
  compare([&](Device d) { return slice_update_max(src, upd, {1, 2}, {6, 6}, {2, 2}, d); }, "slice_update_max");
}

TEST_F(Gpu, ScatterOfWindowsRaisesLikeTheCpu) {
  array a = sample({8, 6}, float32, 1);
  for (auto& [name, fn] : kSliceScatters) {
    compare_error([&, fn = fn](Device d) {
      return fn(a, {indices({0, 1}, {2}, int32, 8), indices({3, 4}, {2}, int32, 6)}, sample({2, 3, 3}, float32, 2),
                {0, 1}, d);
    }, name + " window past the end");
    compare_error([&, fn = fn](Device d) {
      return fn(a, {indices({-9}, {1}, int64, 8)}, sample({1, 0, 6}, float32, 3), {0}, d);
    }, name + " empty windows still check");
  }
}

TEST_F(Gpu, SliceUpdateMatchesCpu) {
  for (auto t : moved_dtypes()) {
    std::string what = dtype_name(t);
    array src = sample({6, 8}, t, 1);
    compare_values([&](Device d) { return slice_update(src, sample({3, 3}, t, 2), {1, 2}, {4, 5}, d); }, what);
    compare_values([&](Device d) { return slice_update(src, sample({3, 3}, t, 3), {0, 1}, {6, 8}, {2, 3}, d); },
                   what + " strided");
    compare_values([&](Device d) { return slice_update(transpose(sample({8, 6}, t, 4)), transpose(sample({4, 2}, t, 5)),
                                                       {2, 0}, {4, 4}, d); }, what + " transposed");
    compare_values([&](Device d) { return slice_update(src, broadcast_to(sample({1, 8}, t, 6), {3, 8}), {3, 0}, {6, 8}, d); },
                   what + " broadcast update");
    compare_values([&](Device d) { return slice_update(src, sample({0, 8}, t, 7), {2, 0}, {2, 8}, d); },
                   what + " empty update");
    compare_values([&](Device d) { return slice_update(sample({}, t, 8), sample({}, t, 9), {}, {}, d); }, what + " 0-d");
    compare_values([&](Device d) {
      return dynamic_slice_update(src, sample({2, 3}, t, 10), indices({3, -1}, {2}, int32, 8), {0, 1}, d);
    }, what + " dynamic");
  }
  array big = sample({2, 65536 * 130 + 3}, float32, 11);
  compare([&](Device d) { return slice_update(big, sample({1, 65536 * 130 + 3}, float32, 12), {1, 0}, {2, 65536 * 130 + 3},
                                              d); }, "big");
}

TEST_F(Gpu, ConcatenateMatchesCpu) {
  for (auto t : moved_dtypes()) {
    std::string what = dtype_name(t);
    array dense = sample({3, 4}, t, 1), transposed = transpose(sample({2, 3}, t, 2));
    array broadcast = broadcast_to(sample({3, 1}, t, 3), {3, 5}), empty = sample({3, 0}, t, 4);
    compare_values([&](Device d) { return concatenate({dense, transposed, broadcast, empty}, 1, d); }, what + " axis 1");
    compare_values([&](Device d) { return concatenate({transpose(dense), sample({1, 3}, t, 5)}, 0, d); }, what + " axis 0");
    compare_values([&](Device d) { return concatenate({dense, sample({}, t, 6), transposed}, d); }, what + " flattened");
    compare_values([&](Device d) { return concatenate({empty, empty}, 0, d); }, what + " all empty");
  }
  int32_t half = 65536 * 128 + 17;
  compare([&](Device d) { return concatenate({sample({half, 1}, int8, 7), transpose(sample({1, half}, int8, 8))}, 1, d); },
          "big");
}

TEST_F(Gpu, DivModMatchesCpu) {
  std::vector<double> specials{-7.5, 7.5, -0.0, 0.0, 3.0, -3.0, INFINITY, -INFINITY, NAN, 1e30, -1e-30, 5.0};
  for (auto t : kDtypes) {
    std::string what = dtype_name(t);
    struct Case {
      std::string layout;
      array a, b;
    };
    std::vector<Case> cases = {
        {"dense", sample({3, 4, 5}, t, 1), sample_rhs({3, 4, 5}, t, 2)},
        {"negative divisors", sample({3, 4}, t, 3), is_unsigned(t) ? sample_rhs({3, 4}, t, 4) : negative(sample_rhs({3, 4}, t, 4))},
        {"zero divisors", sample({2, 3}, t, 5), zeros({2, 3}, t)},
        {"broadcast", sample({3, 1, 5}, t, 6), sample_rhs({4, 5}, t, 7)},
        {"transposed", transpose(sample({5, 4, 3}, t, 8)), sample_rhs({3, 4, 5}, t, 9)},
        {"0-d", sample({}, t, 10), sample_rhs({}, t, 11)},
        {"empty", sample({0, 3}, t, 12), sample_rhs({1, 3}, t, 13)},
        {"special values", astype(array(specials.begin(), {3, 4}, float64), t), astype(transpose(array(specials.begin(), {4, 3}, float64)), t)},
    };
    if (is_integral(t) && !is_unsigned(t) && t != bool_)  // the lowest value by -1 wraps
      cases.push_back({"lowest by -1", astype(array(t == int8 ? -128 : INT_MIN), t), astype(array(-1), t)});
    for (auto& c : cases)
      for (int k = 0; k < 2; ++k)
        compare([&](Device d) { return divmod(c.a, c.b, d)[k]; }, "divmod " + what + " " + c.layout + (k ? " remainder" : " quotient"));
  }
  compare([&](Device d) { return divmod(sample({4}, complex64, 1), sample({4}, complex64, 2), d)[0]; }, "complex64 refused");
  const int32_t n = 65536 * 256 + 1237;
  for (int k = 0; k < 2; ++k)
    compare([&](Device d) { return divmod(sample({n}, int32, 3), sample_rhs({n}, int32, 4), d)[k]; }, "big");
}

TEST_F(Gpu, DependsAndCustomFunctionsPassBuffersThrough) {
  array x = sample({3, 4}, float32, 1), y = sample({2}, float32, 2);
  compare([&](Device d) {
    return on_default(d, [&] { return depends({exp(x, d)}, {sin(y, d)})[0]; });
  }, "depends");
  Fn twice = custom_function([](const std::vector<array>& in) { return std::vector<array>{multiply(in[0], array(2.0f))}; });
  compare([&](Device d) { return on_default(d, [&] { return twice({x})[0]; }); }, "custom_function");
}

}  // namespace
}  // namespace lazuli
