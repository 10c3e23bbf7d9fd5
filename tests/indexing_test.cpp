// Gather and scatter along an axis: take, take_along_axis, put_along_axis, scatter*.
#include "test_util.h"

using namespace lazuli;
using lazuli::test::expect_values;
using lazuli::test::to_vector;

TEST(Indexing, TakeAlongAxesAndFlattened) {
  array a = reshape(arange(0, 12), {3, 4});
  expect_values(take(a, array({2, 0}), 0), {8, 9, 10, 11, 0, 1, 2, 3});
  expect_values(take(a, array({-1, 1}), 1), {3, 1, 7, 5, 11, 9});
  EXPECT_EQ(take(a, reshape(array({0, 1, 2, 0}), {2, 2}), 1).shape(), (Shape{3, 2, 2}));
  expect_values(take(a, array({11, 0, -12})), {11, 0, 0});
  // 0-d index drops the axis; empty indices give an empty axis.
  EXPECT_EQ(take(a, array(1), 0).shape(), (Shape{4}));
  EXPECT_EQ(take(a, zeros({0}, int32), 1).shape(), (Shape{3, 0}));
  // Non-contiguous source and every integer index dtype.
  expect_values(take(transpose(a), array({1}, uint8), 0), {1, 5, 9});
  expect_values(take(a, array({int64_t{3}}), 1), {3, 7, 11});
  expect_values(take(astype(a, float16), array({1}), 1), {1, 5, 9});
}

TEST(Indexing, OutOfRangeRaisesAtEval) {
  array a = arange(0, 5);
  array bad = take(a, array({1, 5}), 0);
  try {
    bad.eval();
    FAIL() << "expected std::out_of_range";
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("[take] Index 5 is out of bounds for axis 0 with size 5"), std::string::npos);
  }
  EXPECT_THROW(take(a, array({-6}), 0).eval(), std::out_of_range);
  EXPECT_THROW(scatter(a, array({7}), array({1}), 0).eval(), std::out_of_range);
  EXPECT_THROW(take_along_axis(reshape(a, {1, 5}), array({5}, Shape{1, 1}), 1).eval(), std::out_of_range);
}

TEST(Indexing, ArgumentErrors) {
  array a = reshape(arange(0, 6), {2, 3});
  EXPECT_THROW(take(a, array({0.5f}), 0), std::invalid_argument);
  EXPECT_THROW(take(a, array({true}), 0), std::invalid_argument);
  EXPECT_THROW(take(a, array({0}), 2), std::invalid_argument);
  EXPECT_THROW(take(array(1), array({0}), 0), std::invalid_argument);
  EXPECT_THROW(scatter(a, array({0}), ones({4, 4}), 0), std::invalid_argument);
  EXPECT_THROW(take_along_axis(a, array({0}), 0), std::invalid_argument);  // needs 2-d indices
}

TEST(Indexing, TakeAndPutAlongAxis) {
  array a = array({10, 30, 20, 5, 4, 6}, Shape{2, 3});
  array idx = array({1, 0, 2, 2}, Shape{2, 2});
  expect_values(take_along_axis(a, idx, 1), {30, 10, 6, 6});
  expect_values(take_along_axis(a, array({1, 0, 0}, Shape{1, 3}), 0), {5, 30, 20});
  expect_values(take_along_axis(a, array({-1, 0}, Shape{2, 1}), 1), {20, 5});
  expect_values(put_along_axis(a, array({0, 2}, Shape{2, 1}), array({-1, -2}, Shape{2, 1}), 1), {-1, 30, 20, 5, 4, -2});
  expect_values(put_along_axis(a, array({2}, Shape{1, 1}), array(0), 1), {10, 30, 0, 5, 4, 0});
}

TEST(Indexing, ScattersCombineRepeatsInOrder) {
  array a = array({1.f, 2.f, 3.f, 4.f});
  array idx = array({0, 2, 0});
  array upd = array({10.f, 20.f, 30.f});
  expect_values(scatter(a, idx, upd, 0), {30, 2, 20, 4});  // the last write wins
  expect_values(scatter_add(a, idx, upd, 0), {41, 2, 23, 4});
  expect_values(scatter_prod(a, idx, upd, 0), {300, 2, 60, 4});
  expect_values(scatter_max(a, idx, array({-5.f, 1.f, 0.5f}), 0), {1, 2, 3, 4});
  expect_values(scatter_min(a, idx, array({-5.f, 1.f, 0.5f}), 0), {-5, 2, 1, 4});
  // Along an inner axis, with broadcast updates and int dtypes.
  array m = zeros({2, 3}, int32);
  expect_values(scatter_add(m, array({1, 1}), array(2), 1), {0, 4, 0, 0, 4, 0});
  expect_values(scatter(reshape(arange(0, 6), {2, 3}), array({0}), array({7, 8, 9}, Shape{1, 3}), 0), {7, 8, 9, 3, 4, 5});
}

TEST(Indexing, GradientsFlowThroughGatherAndScatter) {
  array x = array({1.0, 2.0, 3.0});
  auto g = grad([](const array& v) { return sum(multiply(take(v, array({0, 0, 2}), 0), array({1.0, 2.0, 3.0}))); })(x);
  expect_values(g, {3, 0, 3});
  auto gu = grad([&](const array& u) { return sum(square(scatter_add(x, array({1}), u, 0))); })(array({0.5}));
  expect_values(gu, {2 * 2.5});
}
