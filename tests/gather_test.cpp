// The general gather and scatters, dynamic slices, masked_scatter, unstack, depends,
// nonzero and unique (lazuli/indexing.h).
#include "checker.h"
#include "lazuli/indexing.h"
#include "lazuli/primitives.h"  // ScatterOp
#include "test_util.h"

using namespace lazuli;
using lazuli::test::contains;
using lazuli::test::error_of;
using lazuli::test::expect_values;
using lazuli::test::to_vector;

namespace {
// Index lists spelled out: a braced {i} next to one axis {0} could also mean the single-array overloads.
using Idx = std::vector<array>;
array grid(int rows, int cols) { return reshape(arange(0, rows * cols), {rows, cols}); }
}  // namespace

TEST(Gather, WindowsAtIndexTuples) {
  array a = grid(4, 5);  // a[i, j] = 5i + j
  // Rows: one index array on axis 0, full rows.
  array rows = gather(a, array({2, 0, -1}), 0, {1, 5});
  EXPECT_EQ(rows.shape(), (Shape{3, 1, 5}));
  expect_values(rows, {10, 11, 12, 13, 14, 0, 1, 2, 3, 4, 15, 16, 17, 18, 19});
  // Two broadcast index arrays with 2x2 windows.
  array i0 = array({0, 2}, Shape{2, 1}), i1 = array({1, 3}, Shape{1, 2});
  array w = gather(a, Idx{i0, i1}, {0, 1}, {2, 2});
  EXPECT_EQ(w.shape(), (Shape{2, 2, 2, 2}));
  expect_values(w, {1, 2, 6, 7, 3, 4, 8, 9, 11, 12, 16, 17, 13, 14, 18, 19});
  // No index arrays: a window at the origin; size-0 windows and empty indices.
  expect_values(gather(a, std::vector<array>{}, std::vector<int>{}, {2, 1}), {0, 5});
  EXPECT_EQ(gather(a, array({1}), 1, {4, 0}).shape(), (Shape{1, 4, 0}));
  EXPECT_EQ(gather(a, zeros({0}, int32), 0, {1, 5}).shape(), (Shape{0, 1, 5}));
  // Non-contiguous source, every index dtype, every element size.
  expect_values(gather(transpose(a), array({4}, uint8), 0, {1, 4}), {4, 9, 14, 19});
  expect_values(gather(astype(a, float16), array({int64_t{3}}), 0, {1, 2}), {15, 16});
  expect_values(gather(astype(a, int8), array({1}, uint16), 1, {2, 1}), {1, 6});
  expect_values(gather(astype(a, float64), array({1}, int16), 1, {1, 1}), {1});
}

TEST(Gather, OutOfRangeRaisesAtEval) {
  array a = grid(4, 5);
  auto msg = error_of<std::out_of_range>([&] { gather(a, array({4}), 0, {1, 5}).eval(); });
  EXPECT_TRUE(contains(msg, "[gather] Index 4 is out of bounds for axis 0 with size 4")) << msg;
  // The window must fit: start 3 with a window of 2 rows would read past the end.
  msg = error_of<std::out_of_range>([&] { gather(a, array({3}), 0, {2, 5}).eval(); });
  EXPECT_TRUE(contains(msg, "a window of 2 must fit")) << msg;
  EXPECT_THROW(gather(a, array({-5}), 0, {1, 5}).eval(), std::out_of_range);
  // A huge unsigned index is out of range, not a wrapped negative one.
  EXPECT_THROW(gather(a, array({~uint64_t{0}}, uint64), 0, {1, 5}).eval(), std::out_of_range);
  EXPECT_THROW(gather(a, array({~uint64_t{0}}, uint64), 1, {4, 1}).eval(), std::out_of_range);
  expect_values(slice(a, array({~uint64_t{0}}, uint64), {0}, {1, 1}), {15});  // clamped to the end
  EXPECT_THROW(scatter(a, Idx{array({4})}, zeros({1, 1, 5}, int32), {0}).eval(), std::out_of_range);
  EXPECT_THROW(scatter_add(a, Idx{array({0}), array({5})}, zeros({1, 1, 1}, int32), {0, 1}).eval(), std::out_of_range);
}

TEST(Gather, ArgumentErrorsNameTheOp) {
  array a = grid(4, 5);
  auto msg = error_of<std::invalid_argument>([&] { gather(a, Idx{array({0}), array({0})}, {0}, {1, 1}); });
  EXPECT_TRUE(contains(msg, "[gather] Got 2 index arrays for 1 axes")) << msg;
  msg = error_of<std::invalid_argument>([&] { gather(a, array({0}), 0, {1}); });
  EXPECT_TRUE(contains(msg, "[gather] slice_sizes (1,)")) << msg;
  msg = error_of<std::invalid_argument>([&] { gather(a, array({0}), 0, {1, 6}); });
  EXPECT_TRUE(contains(msg, "do not fit")) << msg;
  msg = error_of<std::invalid_argument>([&] { gather(a, array({0.5f}), 0, {1, 5}); });
  EXPECT_TRUE(contains(msg, "[gather] indices must be integers, got float32")) << msg;
  EXPECT_THROW(gather(a, array({true}), 0, {1, 5}), std::invalid_argument);
  EXPECT_THROW(gather(a, Idx{array({0}), array({0})}, {1, -1}, {1, 1}), std::invalid_argument);  // repeated axis
  EXPECT_THROW(gather(a, array({0}), 2, {1, 1}), std::invalid_argument);
  EXPECT_THROW(gather(a, Idx{array({0, 1}), array({0, 1, 2})}, {0, 1}, {1, 1}), std::invalid_argument);
  msg = error_of<std::invalid_argument>([&] { scatter(a, Idx{array({0})}, zeros({1, 5}), {0}); });
  EXPECT_TRUE(contains(msg, "[scatter] updates need 3 axes")) << msg;
  EXPECT_THROW(scatter_add(a, Idx{array({0})}, zeros({1, 5, 5}), {0}), std::invalid_argument);  // window too big
  EXPECT_THROW(scatter_max(a, Idx{array({0, 1})}, zeros({3, 1, 5}), {0}), std::invalid_argument);  // wrong count
  EXPECT_THROW(scatter_min(a, Idx{array({0})}, zeros({1, 1}), {0, 1}), std::invalid_argument);
}

TEST(Gather, ScattersCombineWindowsInOrder) {
  array a = zeros({3, 4}, float32);
  array idx = array({2, 0, 2});
  array upd = reshape(astype(arange(1, 7), float32), {3, 1, 2});  // windows of 1x2 at column 1
  // Rows 2, 0, 2 at column 0 (the other axis starts at 0).
  expect_values(scatter(a, Idx{idx}, upd, {0}), {3, 4, 0, 0, 0, 0, 0, 0, 5, 6, 0, 0});  // the last write wins
  expect_values(scatter_add(a, Idx{idx}, upd, {0}), {3, 4, 0, 0, 0, 0, 0, 0, 6, 8, 0, 0});
  expect_values(scatter_prod(ones({3, 4}), Idx{idx}, upd, {0}), {3, 4, 1, 1, 1, 1, 1, 1, 5, 12, 1, 1});
  expect_values(scatter_max(a, Idx{idx}, negative(upd), {0}), {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  expect_values(scatter_min(a, Idx{idx}, negative(upd), {0}), {-3, -4, 0, 0, 0, 0, 0, 0, -5, -6, 0, 0});
  // Two axes with broadcast updates and int dtype; updates are cast to a's dtype.
  array m = zeros({3, 4}, int32);
  expect_values(scatter_add(m, Idx{array({0, 2}), array({3, 1})}, full({1, 1, 1}, 7.0f), {0, 1}),
                {0, 0, 0, 7, 0, 0, 0, 0, 0, 7, 0, 0});
  EXPECT_EQ(scatter_add(m, Idx{array({0})}, full({1, 1, 1}, 1.0f), {0}).dtype(), int32);
  // Non-contiguous a and updates.
  array t = transpose(grid(4, 3));  // (3, 4)
  array column = transpose(reshape(array({8, 9}), {1, 1, 2}), {0, 2, 1});  // (1, 2, 1): a 2x1 window
  expect_values(scatter(t, Idx{array({1})}, column, {1}), {0, 8, 6, 9, 1, 9, 7, 10, 2, 5, 8, 11});
}

TEST(Gather, ScatterAddAxis) {
  array a = zeros({2, 3});
  array idx = array({0, 2, 0, 1, 1, 1}, Shape{2, 3});
  expect_values(scatter_add_axis(a, idx, ones({2, 3}), 1), {2, 0, 1, 0, 3, 0});
  expect_values(scatter_add_axis(a, array({1, 0, 1}, Shape{1, 3}), array(2.0f), 0), {0, 2, 0, 2, 0, 2});
  EXPECT_THROW(scatter_add_axis(a, array({0}), ones({1}), 1), std::invalid_argument);
  EXPECT_THROW(scatter_add_axis(a, array({0.f}, Shape{1, 1}), ones({1, 1}), 1), std::invalid_argument);
  EXPECT_THROW(scatter_add_axis(a, array({5}, Shape{1, 1}), ones({1, 1}), 1).eval(), std::out_of_range);
}

TEST(Gather, DynamicSliceClampsStarts) {
  array a = grid(4, 5);
  expect_values(slice(a, array({1}), {0}, {2, 3}), {5, 6, 7, 10, 11, 12});
  expect_values(slice(a, array({1, 2}), {0, 1}, {2, 3}), {7, 8, 9, 12, 13, 14});
  expect_values(slice(a, array(3), {1}, {1, 2}), {3, 4});
  // Starts past the end or negative are clamped so that the slice fits.
  expect_values(slice(a, array({9}), {1}, {1, 3}), {2, 3, 4});
  expect_values(slice(a, array({-4}), {0}, {1, 2}), {0, 1});
  expect_values(slice(transpose(a), array({int64_t{1}}), {0}, {1, 2}), {1, 6});
  // The braced-list call still means the static slice.
  expect_values(slice(a, {0, 1}, {1, 3}), {1, 2});
  EXPECT_EQ(to_vector<int>(slice(a, array({1}, uint8), {0}, {0, 5})).size(), 0u);
  auto msg = error_of<std::invalid_argument>([&] { slice(a, array({1, 2}), {0}, {1, 1}); });
  EXPECT_TRUE(contains(msg, "[slice] Got 2 start indices for 1 axes (0,)")) << msg;
  msg = error_of<std::invalid_argument>([&] { slice(a, array({1.f}), {0}, {1, 1}); });
  EXPECT_TRUE(contains(msg, "[slice] start_indices must be integers, got float32")) << msg;
  EXPECT_THROW(slice(a, array({1}), {0}, {5, 1}), std::invalid_argument);
  EXPECT_THROW(slice(a, array({1}), {0}, {1}), std::invalid_argument);
  EXPECT_THROW(slice(a, array({1}), {2}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(slice(a, reshape(array({1, 1}), {1, 2}), {0, 1}, {1, 1}), std::invalid_argument);
}

TEST(Gather, DynamicSliceUpdate) {
  array a = zeros({3, 4}, int32);
  expect_values(slice_update(a, ones({2, 2}, int32), array({1, 2}), {0, 1}), {0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1});
  // Fewer update axes than src: leading unit axes; clamped starts; cast to src's dtype.
  expect_values(slice_update(a, array({5.f, 6.f}), array({7}), {1}), {0, 0, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0});
  expect_values(slice_update(a, array({5, 6}), array(-9), {0}), {5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_THROW(slice_update(a, zeros({4, 1}, int32), array({0}), {0}), std::invalid_argument);
  EXPECT_THROW(slice_update(a, zeros({1, 1, 1}, int32), array({0}), {0}), std::invalid_argument);
  auto msg = error_of<std::invalid_argument>([&] { slice_update(a, zeros({1}, int32), array({0, 1}), {0}); });
  EXPECT_TRUE(contains(msg, "[slice_update]")) << msg;
}

TEST(Gather, SliceUpdateCombining) {
  array a = astype(arange(0, 6), float32);
  expect_values(slice_update_add(a, array({10.f, 20.f}), {1}, {5}, {3}), {0, 11, 2, 3, 24, 5});
  expect_values(slice_update_prod(a, array(2.f), {0}, {6}, {2}), {0, 1, 4, 3, 8, 5});
  expect_values(slice_update_max(a, array(3.f), {0}, {6}, {1}), {3, 3, 3, 3, 4, 5});
  expect_values(slice_update_min(a, array(3.f), {4}, {0}, {-1}), {0, 1, 2, 3, 3, 5});
  auto msg = error_of<std::invalid_argument>([&] { slice_update_add(a, zeros({3}), {0}, {6}, {1}); });
  EXPECT_TRUE(contains(msg, "[slice_update_add]")) << msg;
}

TEST(Gather, MaskedScatter) {
  array a = grid(2, 3);
  array mask = array({true, false, true, false, true, false}, Shape{2, 3});
  expect_values(masked_scatter(a, mask, array({10, 20, 30})), {10, 1, 20, 3, 30, 5});
  // The mask broadcasts; src of any shape is read flat; extra src elements are ignored.
  expect_values(masked_scatter(a, array({false, true, true}), array({7, 8, 9, 10, 11}, Shape{5})), {0, 7, 8, 3, 9, 10});
  // Too few src elements reuse the last one; an empty src reads zero. No stray reads.
  expect_values(masked_scatter(a, mask, array({-1})), {-1, 1, -1, 3, -1, 5});
  expect_values(masked_scatter(a, mask, zeros({0}, int32)), {0, 1, 0, 3, 0, 5});
  expect_values(masked_scatter(a, logical_not(ones({2, 3}, bool_)), array({1})), {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(masked_scatter(zeros({0, 3}), zeros({0, 3}, bool_), zeros({0})).shape(), (Shape{0, 3}));
  auto msg = error_of<std::invalid_argument>([&] { masked_scatter(a, ones({2, 3}), array({1})); });
  EXPECT_TRUE(contains(msg, "[masked_scatter] mask must be bool, got float32")) << msg;
  msg = error_of<std::invalid_argument>([&] { masked_scatter(a, ones({4}, bool_), array({1})); });
  EXPECT_TRUE(contains(msg, "[masked_scatter] mask of shape (4,) does not broadcast")) << msg;
}

TEST(Gather, UnstackAndDepends) {
  array a = grid(2, 3);
  auto cols = unstack(a, 1);
  ASSERT_EQ(cols.size(), 3u);
  expect_values(cols[2], {2, 5});
  EXPECT_EQ(unstack(a)[1].shape(), (Shape{3}));
  EXPECT_TRUE(unstack(zeros({0, 2})).empty());
  EXPECT_THROW(unstack(array(1)), std::invalid_argument);
  EXPECT_THROW(unstack(a, 2), std::invalid_argument);
  array x = array({1.f, 2.f}), y = multiply(x, array(3.f));
  auto d = depends({x, add(x, array(1.f))}, {y});
  ASSERT_EQ(d.size(), 2u);
  expect_values(d[1], {2, 3});
  EXPECT_TRUE(y.is_available());  // evaluating d evaluated the dependency
  EXPECT_TRUE(depends({}, {y}).empty());
}

TEST(Gather, NonzeroIsASyncPoint) {
  array a = array({0, 3, 0, 4, 5, 0}, Shape{2, 3});
  auto nz = nonzero(a);
  ASSERT_EQ(nz.size(), 2u);
  EXPECT_EQ(nz[0].dtype(), int64);
  expect_values(nz[0], {0, 1, 1});
  expect_values(nz[1], {1, 0, 1});
  expect_values(nonzero(transpose(a))[0], {0, 1, 1});
  expect_values(nonzero(transpose(a))[1], {1, 0, 1});
  expect_values(nonzero(array({0.f, -0.f, std::nanf("")}))[0], {2});
  EXPECT_EQ(nonzero(zeros({0, 4}))[1].shape(), (Shape{0}));
  EXPECT_THROW(nonzero(array(1)), std::invalid_argument);
}

TEST(Gather, UniqueLikeNumPy) {
  array a = array({3, 1, 2, 3, 1, 1});
  auto r = unique(a, true, true, true);
  expect_values(r.values, {1, 2, 3});
  expect_values(*r.index, {1, 2, 0});
  expect_values(*r.inverse, {2, 0, 1, 2, 0, 0});
  expect_values(*r.counts, {3, 1, 2});
  EXPECT_FALSE(unique(a).index.has_value());
  // NaNs collapse into one, sorted last; -0 equals 0.
  auto f = unique(array({std::nanf(""), 1.f, std::nanf(""), -0.f, 0.f}), false, false, true);
  expect_values(f.values, {0, 1, test::kNan});
  expect_values(*f.counts, {2, 1, 2});
  // Along an axis: distinct rows, sorted lexicographically.
  array m = array({1, 2, 0, 5, 1, 2, 0, 1}, Shape{4, 2});
  auto rows = unique(m, true, true, false, 0);
  expect_values(rows.values, {0, 1, 0, 5, 1, 2});
  expect_values(*rows.index, {3, 1, 0});
  expect_values(*rows.inverse, {2, 1, 2, 0});
  expect_values(unique(transpose(m), false, false, false, 1).values, {0, 0, 1, 1, 5, 2});
  EXPECT_EQ(unique(zeros({0})).values.shape(), (Shape{0}));
  EXPECT_EQ(unique(array(4)).values.shape(), (Shape{1}));
  EXPECT_THROW(unique(array({complex64_t(1, 0)})), std::invalid_argument);
  EXPECT_THROW(unique(m, false, false, false, 2), std::invalid_argument);
}

TEST(Gather, Gradients) {
  // gather's gradient scatter-adds into the windows read (twice-read elements get both).
  array x = astype(grid(3, 2), float64);
  auto g = grad([](const array& v) { return sum(gather(v, array({0, 0, 2}), 0, {1, 2})); })(x);
  expect_values(g, {2, 2, 0, 0, 1, 1});
  // dynamic slice: the gradient lands in the (clamped) window.
  auto gs = grad([](const array& v) { return sum(slice(v, array({5}), {0}, {2, 1})); })(x);
  expect_values(gs, {0, 0, 1, 0, 1, 0});
  // masked_scatter: to a where the mask is false, to the src elements used.
  array mask = array({true, false, false, true, true, false}, Shape{3, 2});
  auto both = vjp([&](const std::vector<array>& in) { return std::vector<array>{masked_scatter(in[0], mask, in[1])}; },
                  {x, array({1.0, 2.0, 3.0, 4.0})}, {astype(reshape(arange(1, 7), {3, 2}), float64)});
  expect_values(both.second[0], {0, 2, 3, 0, 0, 6});
  expect_values(both.second[1], {1, 4, 5, 0});
  // unstack: each part's cotangent goes back to its row.
  auto gu = grad([](const array& v) { return sum(multiply(unstack(v, 1)[1], array(3.0))); })(x);
  expect_values(gu, {0, 3, 0, 3, 0, 3});
}

LAZULI_CHECKER_CASES(gather) {
  using lazuli::test::binary_fn;
  using lazuli::test::Case;
  using lazuli::test::unary_fn;
  // Index arrays computed from a float input (floor of x + 2, in [0, 3]) are batched by vmap:
  // the batched-index rules run. Their derivative is zero, as finite differences see too.
  auto index_of = [](const array& f) { return astype(floor(lazuli::add(f, array(2.0))), int32); };
  add("Gather", Case{{{4, 5}}, -2, 2, unary_fn([](const array& x) { return gather(x, array({2, 0, -1}), 0, {1, 5}); })});
  add("Gather", Case{{{5, 6}}, -2, 2, unary_fn([](const array& x) {
                       return sin(gather(x, Idx{array({0, 3}, Shape{2, 1}), array({1, 4}, Shape{1, 2})}, {0, 1}, {2, 2}));
                     }), true, true});
  add("Gather", Case{{{4, 6}, {3}}, -2, 2, binary_fn([index_of](const array& x, const array& f) {
                       return gather(x, index_of(f), 1, {4, 2});
                     })});
  add("Gather", Case{{{4, 6}, {3}}, -2, 2, binary_fn([index_of](const array& x, const array& f) {
                       return gather(x, index_of(f), 1, {4, 2});
                     }), true, false, {-1, 0}});  // only the indices batched
  add("Gather", Case{{{5, 4}, {2}}, -2, 2, binary_fn([index_of](const array& x, const array& f) {
                       return slice(x, index_of(f), {0, 1}, {2, 3});
                     }), true, false, {0, -1}});
  add("Gather", Case{{{5, 4}, {2}}, -2, 2, binary_fn([index_of](const array& x, const array& f) {
                       return slice(x, index_of(f), {1, 0}, {3, 2});
                     }), true, false, {1, 0}});
  // Distinct windows where ties would make max/min non-differentiable.
  auto scat = [&](ScatterOp op, double lo, double hi) {
    auto f = [op](const array& a, const std::vector<array>& i, const array& u, const std::vector<int>& ax) {
      switch (op) {
        case ScatterOp::Set: return scatter(a, i, u, ax);
        case ScatterOp::Add: return scatter_add(a, i, u, ax);
        case ScatterOp::Prod: return scatter_prod(a, i, u, ax);
        case ScatterOp::Max: return scatter_max(a, i, u, ax);
        case ScatterOp::Min: return scatter_min(a, i, u, ax);
      }
      return a;
    };
    add("ScatterSlices", Case{{{4, 5}, {2, 1, 5}}, lo, hi, binary_fn([f](const array& a, const array& u) {
                                return f(a, Idx{array({3, 0})}, u, {0});
                              }), true, false, {0, -1}});
    add("ScatterSlices", Case{{{4, 5}, {2, 2, 3}}, lo, hi, binary_fn([f](const array& a, const array& u) {
                                return f(a, Idx{array({2, 0}), array({2, 1})}, u, {0, 1});
                              }), true, false, {1, 0}});
  };
  scat(ScatterOp::Set, -2, 2);
  scat(ScatterOp::Add, -2, 2);
  scat(ScatterOp::Prod, 0.5, 2);
  scat(ScatterOp::Max, -2, 2);
  scat(ScatterOp::Min, -2, 2);
  // Batched indices (repeats add up) and a dynamic slice_update.
  add("ScatterSlices", Case{{{4, 6}, {3, 4, 2}, {3}}, -2, 2, [index_of](const std::vector<array>& x) {
                              return std::vector<array>{scatter_add(x[0], Idx{index_of(x[2])}, x[1], {1})};
                            }});
  add("ScatterSlices", Case{{{4, 6}, {3, 4, 2}, {3}}, -2, 2, [index_of](const std::vector<array>& x) {
                              return std::vector<array>{scatter_add(x[0], Idx{index_of(x[2])}, x[1], {1})};
                            }, true, false, {-1, 0, 0}});
  add("ScatterSlices", Case{{{5, 4}, {2, 2}, {2}}, -2, 2, [index_of](const std::vector<array>& x) {
                              return std::vector<array>{slice_update(x[0], x[1], index_of(x[2]), {0, 1})};
                            }});
  add("Depends", Case{{{3}, {2}}, -2, 2, [](const std::vector<array>& x) {
                        auto d = depends({sin(x[0]), x[1]}, {exp(x[1])});
                        return std::vector<array>{d[0], multiply(d[1], array(2.0))};
                      }});
  add("Depends", Case{{{3}, {2}}, -2, 2, [](const std::vector<array>& x) {
                        return depends({sin(x[0])}, {x[1]});
                      }, true, false, {0, -1}});
}
