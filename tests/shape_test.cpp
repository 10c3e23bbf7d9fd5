// Shape ops: reshape (views vs copies), flatten/unflatten, squeeze/expand_dims, axis
// permutations, broadcasting, concatenate/stack/split, pad, tile, repeat, flip, slicing,
// slice_update, as_strided, contiguous/copy, atleast_Nd, and their errors.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "lazuli/lazuli.h"
#include "test_util.h"

using namespace lazuli;
using namespace lazuli::test;

namespace {

std::vector<double> iota_d(int n, double start = 0) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// Values of a row-major (d0, d1, d2) array that holds 0..n-1, permuted by `perm`.
std::vector<double> permuted(const Shape& shape, const std::vector<int>& perm) {
  Shape out_shape;
  for (int p : perm) out_shape.push_back(shape[p]);
  Strides st(shape.size(), 1);
  for (int d = int(shape.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * shape[d + 1];
  size_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> out;
  std::vector<int> idx(shape.size(), 0);
  for (size_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t k = 0; k < perm.size(); ++k) off += idx[k] * st[perm[k]];
    out.push_back(double(off));
    for (int k = int(perm.size()) - 1; k >= 0; --k) {
      if (++idx[k] < out_shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

const void* data_ptr(array& a) {
  a.eval();
  return a.data<char>();
}

}  // namespace

TEST(ShapeReshape, ValuesAndInference) {
  array a = arange(24);
  array r = reshape(a, {2, 3, 4});
  EXPECT_EQ(r.shape(), (Shape{2, 3, 4}));
  expect_values(r, iota_d(24));
  EXPECT_EQ(reshape(a, {-1, 6}).shape(), (Shape{4, 6}));
  EXPECT_EQ(reshape(a, {2, -1, 3}).shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(reshape(a, {-1}).shape(), Shape{24});
  EXPECT_EQ(reshape(array(5.0f), {1, 1}).shape(), (Shape{1, 1}));
  EXPECT_EQ(reshape(reshape(array(5.0f), {1, 1}), {}).ndim(), 0u);
  EXPECT_EQ(reshape(zeros({0, 3}), {3, 0}).shape(), (Shape{3, 0}));
  EXPECT_EQ(reshape(a, {2, 3, 4}).dtype(), int32);
}

TEST(ShapeReshape, Errors) {
  array a = arange(24);
  expect_throws_naming([&] { return reshape(a, {5, 5}); }, "reshape");
  expect_throws_naming([&] { return reshape(a, {-1, -1}); }, "reshape");
  expect_throws_naming([&] { return reshape(a, {-1, 5}); }, "reshape");
  expect_throws_naming([&] { return reshape(a, {-2, -12}); }, "reshape");
  expect_throws_naming([&] { return reshape(a, {0, -1}); }, "reshape");
  expect_throws_naming([&] { return reshape(array(1.0f), {2}); }, "reshape");
}

TEST(ShapeReshape, ContiguousSharesTheBuffer) {
  array a = arange(24.0);
  const void* pa = data_ptr(a);
  for (Shape s : {Shape{2, 12}, Shape{4, 3, 2}, Shape{24, 1}, Shape{1, 24}, Shape{-1}}) {
    array r = reshape(a, s);
    EXPECT_EQ(data_ptr(r), pa);
  }
  // A contiguous slice at an offset reshapes in place too.
  array m = reshape(a, {4, 6});
  array rows = slice(m, {1, 0}, {3, 6});
  array rr = reshape(rows, {3, 4});
  EXPECT_EQ(data_ptr(rr), data_ptr(rows));
  expect_values(rr, iota_d(12, 6));
  // flatten, squeeze and expand_dims are reshapes.
  array fl = flatten(m);
  EXPECT_EQ(data_ptr(fl), pa);
  array e = expand_dims(m, 1);
  EXPECT_EQ(data_ptr(e), pa);
  array sq = squeeze(e);
  EXPECT_EQ(data_ptr(sq), pa);
}

TEST(ShapeReshape, NonContiguousGivesRightValues) {
  array a = reshape(arange(24), {2, 3, 4});
  for (std::vector<int> perm : {std::vector<int>{1, 0, 2}, {2, 1, 0}, {0, 2, 1}, {1, 2, 0}, {2, 0, 1}}) {
    array t = transpose(a, perm);
    auto want = permuted({2, 3, 4}, perm);
    SCOPED_TRACE(std::to_string(perm[0]) + std::to_string(perm[1]) + std::to_string(perm[2]));
    expect_values(reshape(t, {24}), want);
    expect_values(reshape(t, {-1, 2}), want);
    expect_values(reshape(t, {4, 6}), want);
    expect_values(reshape(t, {t.shape(0) * t.shape(1), t.shape(2)}), want);
    expect_values(reshape(t, {t.shape(0), t.shape(1) * t.shape(2)}), want);
    expect_values(flatten(t), want);
    expect_values(reshape(t, {2, 2, 2, 3}), want);
  }
  // 2-d transpose.
  array m = reshape(arange(12), {3, 4});
  expect_values(reshape(transpose(m), {12}), {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  expect_values(reshape(transpose(m), {2, 6}), {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  // Strided and reversed slices.
  expect_values(reshape(slice(m, {0, 0}, {3, 4}, {1, 2}), {6}), {0, 2, 4, 6, 8, 10});
  expect_values(reshape(slice(m, {2, 3}, {-4, -5}, {-1, -1}), {2, 6}), {11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  expect_values(reshape(slice(m, {0, 1}, {3, 3}), {6}), {1, 2, 5, 6, 9, 10});
  // Broadcast views.
  array row = array({1, 2, 3, 4});
  expect_values(reshape(broadcast_to(row, {3, 4}), {12}), {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4});
  expect_values(reshape(broadcast_to(row, {3, 4}), {3, 2, 2}), {1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4});
  array col = reshape(array({1, 2, 3}), {3, 1});
  expect_values(reshape(broadcast_to(col, {3, 4}), {6, 2}), {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
  expect_values(reshape(broadcast_to(col, {3, 4}), {2, 6}), {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
  // Splitting a transposed axis that stays contiguous: a view; merging two: a copy. Both right.
  array big = reshape(arange(60), {3, 4, 5});
  array tb = transpose(big, {2, 0, 1});  // (5, 3, 4): the last two axes are still contiguous
  expect_values(reshape(tb, {5, 12}), permuted({3, 4, 5}, {2, 0, 1}));
  expect_values(reshape(tb, {5, 3, 2, 2}), permuted({3, 4, 5}, {2, 0, 1}));
  expect_values(reshape(tb, {15, 4}), permuted({3, 4, 5}, {2, 0, 1}));
  // The source is untouched.
  expect_values(big, iota_d(60));
}

TEST(ShapeFlatten, FlattenUnflatten) {
  array a = reshape(arange(24), {2, 3, 4});
  EXPECT_EQ(flatten(a).shape(), Shape{24});
  EXPECT_EQ(flatten(a, 1).shape(), (Shape{2, 12}));
  EXPECT_EQ(flatten(a, 0, 1).shape(), (Shape{6, 4}));
  EXPECT_EQ(flatten(a, -2, -1).shape(), (Shape{2, 12}));
  EXPECT_EQ(flatten(a, 1, 1).shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(flatten(array(3)).shape(), Shape{1});
  EXPECT_EQ(flatten(zeros({2, 0, 3}), 0, 1).shape(), (Shape{0, 3}));
  EXPECT_EQ(flatten(zeros({2, 0, 3})).shape(), Shape{0});
  expect_values(flatten(transpose(a, {1, 0, 2}), 0, 1), permuted({2, 3, 4}, {1, 0, 2}));
  expect_throws_naming([&] { return flatten(a, 2, 1); }, "flatten");
  expect_throws_naming([&] { return flatten(a, 0, 3); }, "flatten");
  EXPECT_EQ(unflatten(a, 2, {2, 2}).shape(), (Shape{2, 3, 2, 2}));
  EXPECT_EQ(unflatten(a, -1, {-1, 2}).shape(), (Shape{2, 3, 2, 2}));
  EXPECT_EQ(unflatten(a, 0, {1, 2, 1}).shape(), (Shape{1, 2, 1, 3, 4}));
  expect_values(unflatten(a, 1, {3, 1}), iota_d(24));
  expect_throws_naming([&] { return unflatten(a, 1, {2, 2}); }, "unflatten");
  expect_throws_naming([&] { return unflatten(a, 1, {-1, -1}); }, "unflatten");
  expect_throws_naming([&] { return unflatten(a, 3, {1}); }, "unflatten");
  expect_throws_naming([&] { return unflatten(a, 1, {}); }, "unflatten");
  expect_throws_naming([&] { return unflatten(a, 2, {-1, 3}); }, "unflatten");
}

TEST(ShapeSqueeze, SqueezeExpandDims) {
  array a = zeros({1, 3, 1, 4});
  EXPECT_EQ(squeeze(a).shape(), (Shape{3, 4}));
  EXPECT_EQ(squeeze(a, 0).shape(), (Shape{3, 1, 4}));
  EXPECT_EQ(squeeze(a, -2).shape(), (Shape{1, 3, 4}));
  EXPECT_EQ(squeeze(a, {0, 2}).shape(), (Shape{3, 4}));
  EXPECT_EQ(squeeze(zeros({1, 1})).ndim(), 0u);
  EXPECT_EQ(squeeze(zeros({3})).shape(), Shape{3});
  expect_throws_naming([&] { return squeeze(a, 1); }, "squeeze");
  expect_throws_naming([&] { return squeeze(a, 4); }, "squeeze");
  expect_throws_naming([&] { return squeeze(a, {0, 0}); }, "squeeze");
  array b = reshape(arange(6), {2, 3});
  EXPECT_EQ(expand_dims(b, 0).shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(expand_dims(b, 2).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(expand_dims(b, -1).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(expand_dims(b, -3).shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(expand_dims(b, {0, 3}).shape(), (Shape{1, 2, 3, 1}));
  EXPECT_EQ(expand_dims(b, {1, 2}).shape(), (Shape{2, 1, 1, 3}));
  EXPECT_EQ(expand_dims(array(1), 0).shape(), Shape{1});
  expect_values(expand_dims(transpose(b), 1), {0, 3, 1, 4, 2, 5});
  expect_throws_naming([&] { return expand_dims(b, 3); }, "expand_dims");
  expect_throws_naming([&] { return expand_dims(b, -4); }, "expand_dims");
  expect_throws_naming([&] { return expand_dims(b, {1, 1}); }, "expand_dims");
}

TEST(ShapeTranspose, PermutationsSwapMove) {
  array a = reshape(arange(24), {2, 3, 4});
  EXPECT_EQ(transpose(a).shape(), (Shape{4, 3, 2}));
  expect_values(transpose(a), permuted({2, 3, 4}, {2, 1, 0}));
  expect_values(transpose(a, {1, 2, 0}), permuted({2, 3, 4}, {1, 2, 0}));
  expect_values(transpose(a, {-1, 0, -2}), permuted({2, 3, 4}, {2, 0, 1}));
  EXPECT_EQ(transpose(array(1)).ndim(), 0u);
  EXPECT_EQ(transpose(arange(3)).shape(), Shape{3});
  // Transposing twice is the identity.
  expect_values(transpose(transpose(a, {1, 2, 0}), {2, 0, 1}), iota_d(24));
  expect_values(swapaxes(a, 0, 2), permuted({2, 3, 4}, {2, 1, 0}));
  expect_values(swapaxes(a, -1, 1), permuted({2, 3, 4}, {0, 2, 1}));
  EXPECT_EQ(swapaxes(a, 1, 1).shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(moveaxis(a, 0, 2).shape(), (Shape{3, 4, 2}));
  expect_values(moveaxis(a, 0, 2), permuted({2, 3, 4}, {1, 2, 0}));
  expect_values(moveaxis(a, 2, 0), permuted({2, 3, 4}, {2, 0, 1}));
  expect_values(moveaxis(a, -1, 1), permuted({2, 3, 4}, {0, 2, 1}));
  expect_throws_naming([&] { return transpose(a, {0, 1}); }, "transpose");
  expect_throws_naming([&] { return transpose(a, {0, 1, 1}); }, "transpose");
  expect_throws_naming([&] { return transpose(a, {0, 1, 3}); }, "transpose");
  expect_throws_naming([&] { return swapaxes(a, 0, 3); }, "swapaxes");
  expect_throws_naming([&] { return moveaxis(a, 3, 0); }, "moveaxis");
  expect_throws_naming([&] { return moveaxis(a, 0, -4); }, "moveaxis");
}

TEST(ShapeBroadcast, ShapesToArrays) {
  EXPECT_EQ(broadcast_shapes({3, 1}, {1, 4}), (Shape{3, 4}));
  EXPECT_EQ(broadcast_shapes({2, 3, 4}, {4}), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({}, {2, 2}), (Shape{2, 2}));
  EXPECT_EQ(broadcast_shapes({0, 1}, {1, 5}), (Shape{0, 5}));
  EXPECT_EQ(broadcast_shapes({5, 1, 3}, {4, 1}), (Shape{5, 4, 3}));
  try {
    broadcast_shapes({2, 3}, {4, 3});
    ADD_FAILURE() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[broadcast_shapes]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(broadcast_shapes({0}, {2}), std::invalid_argument);
  array r = array({1, 2, 3});
  array b = broadcast_to(r, {2, 3});
  EXPECT_EQ(b.shape(), (Shape{2, 3}));
  expect_values(b, {1, 2, 3, 1, 2, 3});
  expect_values(broadcast_to(reshape(r, {3, 1}), {3, 2}), {1, 1, 2, 2, 3, 3});
  expect_values(broadcast_to(array(7), {2, 2}), {7, 7, 7, 7});
  expect_values(broadcast_to(transpose(reshape(arange(6), {2, 3})), {2, 3, 2}), {0, 3, 1, 4, 2, 5, 0, 3, 1, 4, 2, 5});
  EXPECT_EQ(broadcast_to(r, {0, 3}).shape(), (Shape{0, 3}));
  // Broadcasting shares the buffer.
  EXPECT_EQ(data_ptr(b), data_ptr(r));
  expect_throws_naming([&] { return broadcast_to(r, {2, 4}); }, "broadcast_to");
  expect_throws_naming([&] { return broadcast_to(r, {3, 1}); }, "broadcast_to");
  expect_throws_naming([&] { return broadcast_to(zeros({2, 3}), {3}); }, "broadcast_to");
  expect_throws_naming([&] { return broadcast_to(r, {-1, 3}); }, "broadcast_to");
  auto outs = broadcast_arrays({array({1, 2, 3}), reshape(array({10, 20}), {2, 1}), array(5)});
  ASSERT_EQ(outs.size(), 3u);
  for (auto& o : outs) EXPECT_EQ(o.shape(), (Shape{2, 3}));
  expect_values(outs[0], {1, 2, 3, 1, 2, 3});
  expect_values(outs[1], {10, 10, 10, 20, 20, 20});
  expect_values(outs[2], {5, 5, 5, 5, 5, 5});
  try {
    broadcast_arrays({zeros({2}), zeros({3})});
    ADD_FAILURE() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[broadcast_arrays]"), std::string::npos) << e.what();
  }
}

TEST(ShapeConcatenate, AxesDtypesErrors) {
  array a = reshape(arange(6), {2, 3}), b = reshape(arange(6, 12), {2, 3});
  array c0 = concatenate({a, b}, 0);
  EXPECT_EQ(c0.shape(), (Shape{4, 3}));
  expect_values(c0, iota_d(12));
  array c1 = concatenate({a, b}, 1);
  EXPECT_EQ(c1.shape(), (Shape{2, 6}));
  expect_values(c1, {0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11});
  expect_values(concatenate({a, b}, -1), {0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11});
  expect_values(concatenate({a, b, a}, 0), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5});
  // Different sizes along the axis, including an empty piece.
  array c2 = concatenate({a, zeros({2, 0}, int32), reshape(array({9, 9}), {2, 1})}, 1);
  EXPECT_EQ(c2.shape(), (Shape{2, 4}));
  expect_values(c2, {0, 1, 2, 9, 3, 4, 5, 9});
  // Promotion.
  array cf = concatenate({a, array({0.5f, 1.5f, 2.5f}, Shape{1, 3})}, 0);
  EXPECT_EQ(cf.dtype(), float32);
  expect_values(cf, {0, 1, 2, 3, 4, 5, 0.5, 1.5, 2.5});
  EXPECT_EQ(concatenate({array({1}, int8), array({200}, uint8)}).dtype(), int16);
  expect_values(concatenate({array({-1}, int8), array({200}, uint8)}), {-1, 200});
  EXPECT_EQ(concatenate({array({true}), array({2.0}, float16)}).dtype(), float16);
  // Non-contiguous pieces.
  expect_values(concatenate({transpose(a), transpose(b)}, 1), {0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11});
  expect_values(concatenate({slice(arange(10), {9}, {-11}, {-2}), broadcast_to(array(7), {2})}, 0), {9, 7, 5, 3, 1, 7, 7});
  // Flattened.
  expect_values(concatenate({a, array({100, 101})}), {0, 1, 2, 3, 4, 5, 100, 101});
  // One array is itself.
  expect_values(concatenate({a}, 0), iota_d(6));
  expect_throws_naming([&] { return concatenate({a, zeros({3, 2}, int32)}, 0); }, "concatenate");
  expect_throws_naming([&] { return concatenate({a, zeros({2}, int32)}, 0); }, "concatenate");
  expect_throws_naming([&] { return concatenate({a, b}, 2); }, "concatenate");
  expect_throws_naming([&] { return concatenate({array(1), array(2)}, 0); }, "concatenate");
  expect_throws_naming([&] { return concatenate(std::vector<array>{}, 0); }, "concatenate");
}

TEST(ShapeStack, Axes) {
  array a = array({1, 2, 3}), b = array({4, 5, 6});
  array s0 = stack({a, b});
  EXPECT_EQ(s0.shape(), (Shape{2, 3}));
  expect_values(s0, {1, 2, 3, 4, 5, 6});
  array s1 = stack({a, b}, 1);
  EXPECT_EQ(s1.shape(), (Shape{3, 2}));
  expect_values(s1, {1, 4, 2, 5, 3, 6});
  expect_values(stack({a, b}, -1), {1, 4, 2, 5, 3, 6});
  EXPECT_EQ(stack({a}).shape(), (Shape{1, 3}));
  EXPECT_EQ(stack({array(1.0f), array(2.0f), array(3.0f)}).shape(), Shape{3});
  array m = reshape(arange(6), {2, 3});
  EXPECT_EQ(stack({m, m, m}, 1).shape(), (Shape{2, 3, 3}));
  EXPECT_EQ(stack({a, array({1.5f, 2.5f, 3.5f})}).dtype(), float32);
  expect_throws_naming([&] { return stack({a, array({1, 2})}); }, "stack");
  expect_throws_naming([&] { return stack({a, b}, 2); }, "stack");
  expect_throws_naming([&] { return stack(std::vector<array>{}); }, "stack");
}

TEST(ShapeSplit, CountsAndIndices) {
  array a = arange(12);
  auto p = split(a, 3);
  ASSERT_EQ(p.size(), 3u);
  expect_values(p[0], {0, 1, 2, 3});
  expect_values(p[1], {4, 5, 6, 7});
  expect_values(p[2], {8, 9, 10, 11});
  auto q = split(a, Shape{2, 7});
  ASSERT_EQ(q.size(), 3u);
  expect_values(q[0], {0, 1});
  expect_values(q[1], {2, 3, 4, 5, 6});
  expect_values(q[2], {7, 8, 9, 10, 11});
  auto neg = split(a, Shape{-3});
  ASSERT_EQ(neg.size(), 2u);
  expect_values(neg[1], {9, 10, 11});
  auto past = split(a, Shape{5, 20});
  ASSERT_EQ(past.size(), 3u);
  EXPECT_EQ(past[1].shape(), Shape{7});
  EXPECT_EQ(past[2].shape(), Shape{0});
  array m = reshape(arange(24), {4, 6});
  auto cols = split(m, 2, 1);
  ASSERT_EQ(cols.size(), 2u);
  EXPECT_EQ(cols[0].shape(), (Shape{4, 3}));
  expect_values(cols[1], {3, 4, 5, 9, 10, 11, 15, 16, 17, 21, 22, 23});
  auto rows = split(m, Shape{1, 3}, -2);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].shape(), (Shape{2, 6}));
  expect_values(rows[2], {18, 19, 20, 21, 22, 23});
  // Splitting a transposed array.
  auto tp = split(transpose(m), 3, 0);
  expect_values(tp[1], {2, 8, 14, 20, 3, 9, 15, 21});
  expect_throws_naming([&] { return split(a, 5)[0]; }, "split");
  expect_throws_naming([&] { return split(a, 0)[0]; }, "split");
  expect_throws_naming([&] { return split(a, 2, 1)[0]; }, "split");
  expect_throws_naming([&] { return split(a, Shape{2}, 3)[0]; }, "split");
}

TEST(ShapePad, ConstantAndEdge) {
  array a = reshape(array({1, 2, 3, 4}), {2, 2});
  array p = pad(a, 1);
  EXPECT_EQ(p.shape(), (Shape{4, 4}));
  expect_values(p, {0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0});
  array pv = pad(a, {{0, 1}, {2, 0}}, array(9));
  EXPECT_EQ(pv.shape(), (Shape{3, 4}));
  expect_values(pv, {9, 9, 1, 2, 9, 9, 3, 4, 9, 9, 9, 9});
  // A single pair applies to every axis; the value is cast to the array's dtype.
  array pf = pad(a, {{1, 0}}, array(-1.7f));
  EXPECT_EQ(pf.dtype(), int32);
  expect_values(pf, {-1, -1, -1, -1, 1, 2, -1, 3, 4});
  array fl = pad(array({1.5f, 2.5f}), {{2, 1}}, array(0.25f));
  expect_values(fl, {0.25, 0.25, 1.5, 2.5, 0.25});
  array e = pad(a, {{1, 2}, {0, 1}}, array(0), "edge");
  EXPECT_EQ(e.shape(), (Shape{5, 3}));
  expect_values(e, {1, 2, 2, 1, 2, 2, 3, 4, 4, 3, 4, 4, 3, 4, 4});
  expect_values(pad(array({5, 6, 7}), 2, array(0), "edge"), {5, 5, 5, 6, 7, 7, 7});
  // Padding a transposed array, and padding with zero widths.
  expect_values(pad(transpose(a), {{0, 0}, {1, 0}}), {0, 1, 3, 0, 2, 4});
  expect_values(pad(a, 0), {1, 2, 3, 4});
  EXPECT_EQ(pad(zeros({0, 2}), 1).shape(), (Shape{2, 4}));
  expect_throws_naming([&] { return pad(a, -1); }, "pad");
  expect_throws_naming([&] { return pad(a, {{1, -1}, {0, 0}}); }, "pad");
  expect_throws_naming([&] { return pad(a, {{1, 1}, {0, 0}, {0, 0}}); }, "pad");
  expect_throws_naming([&] { return pad(a, 1, array(0), "reflect"); }, "pad");
  expect_throws_naming([&] { return pad(a, 1, array({1, 2})); }, "pad");
  expect_throws_naming([&] { return pad(zeros({0, 2}), 1, array(0), "edge"); }, "pad");
}

TEST(ShapeTileRepeat, Values) {
  array a = array({1, 2, 3});
  expect_values(tile(a, {2}), {1, 2, 3, 1, 2, 3});
  EXPECT_EQ(tile(a, {2, 2}).shape(), (Shape{2, 6}));
  expect_values(tile(a, {2, 2}), {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3});
  array m = reshape(array({1, 2, 3, 4}), {2, 2});
  EXPECT_EQ(tile(m, {2, 3}).shape(), (Shape{4, 6}));
  expect_values(tile(m, {2, 3}), {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4});
  EXPECT_EQ(tile(m, {2}).shape(), (Shape{2, 4}));
  expect_values(tile(m, {2}), {1, 2, 1, 2, 3, 4, 3, 4});
  EXPECT_EQ(tile(m, {3, 1, 1}).shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(tile(a, {0}).shape(), Shape{0});
  expect_values(tile(transpose(m), {1, 2}), {1, 3, 1, 3, 2, 4, 2, 4});
  expect_throws_naming([&] { return tile(a, {-1}); }, "tile");
  expect_values(repeat(a, 2), {1, 1, 2, 2, 3, 3});
  expect_values(repeat(m, 2, 0), {1, 2, 1, 2, 3, 4, 3, 4});
  expect_values(repeat(m, 3, 1), {1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4});
  expect_values(repeat(m, 2, -1), {1, 1, 2, 2, 3, 3, 4, 4});
  expect_values(repeat(m, 2), {1, 1, 2, 2, 3, 3, 4, 4});
  expect_values(repeat(transpose(m), 2, 0), {1, 3, 1, 3, 2, 4, 2, 4});
  EXPECT_EQ(repeat(a, 0).shape(), Shape{0});
  EXPECT_EQ(repeat(m, 2, 0).shape(), (Shape{4, 2}));
  expect_throws_naming([&] { return repeat(a, -1); }, "repeat");
  expect_throws_naming([&] { return repeat(m, 2, 2); }, "repeat");
}

TEST(ShapeFlip, Axes) {
  array m = reshape(arange(6), {2, 3});
  expect_values(flip(m), {5, 4, 3, 2, 1, 0});
  expect_values(flip(m, {0}), {3, 4, 5, 0, 1, 2});
  expect_values(flip(m, {1}), {2, 1, 0, 5, 4, 3});
  expect_values(flip(m, {-1}), {2, 1, 0, 5, 4, 3});
  expect_values(flip(m, {0, 1}), {5, 4, 3, 2, 1, 0});
  expect_values(flip(flip(m, {1}), {1}), iota_d(6));
  expect_values(flip(transpose(m), {0}), {2, 5, 1, 4, 0, 3});
  EXPECT_EQ(flip(zeros({0, 3})).shape(), (Shape{0, 3}));
  expect_values(flip(array(4)), {4});
  expect_throws_naming([&] { return flip(m, {2}); }, "flip");
  expect_throws_naming([&] { return flip(m, {0, 0}); }, "flip");
}

TEST(ShapeSlice, StepsAndClamping) {
  array a = arange(10);
  expect_values(slice(a, {2}, {7}), {2, 3, 4, 5, 6});
  expect_values(slice(a, {1}, {10}, {3}), {1, 4, 7});
  expect_values(slice(a, {-3}, {10}), {7, 8, 9});
  expect_values(slice(a, {0}, {-7}), {0, 1, 2});
  expect_values(slice(a, {-100}, {100}), iota_d(10));
  expect_values(slice(a, {8}, {2}), {});
  expect_values(slice(a, {5}, {5}), {});
  // Negative steps: a[::-1], a[7:2:-2], a[-1:-4:-1], a[2::-1], and clamped bounds.
  expect_values(slice(a, {9}, {-11}, {-1}), {9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  expect_values(slice(a, {7}, {2}, {-2}), {7, 5, 3});
  expect_values(slice(a, {-1}, {-4}, {-1}), {9, 8, 7});
  expect_values(slice(a, {2}, {-100}, {-1}), {2, 1, 0});
  expect_values(slice(a, {100}, {-100}, {-3}), {9, 6, 3, 0});
  expect_values(slice(a, {2}, {7}, {-1}), {});
  expect_values(slice(a, {-100}, {-100}, {-1}), {});
  // 2-d with mixed steps, and slices of slices.
  array m = reshape(arange(20), {4, 5});
  expect_values(slice(m, {3, 0}, {-5, 5}, {-2, 2}), {15, 17, 19, 5, 7, 9});
  array s = slice(m, {0, 4}, {4, -6}, {1, -1});
  EXPECT_EQ(s.shape(), (Shape{4, 5}));
  expect_values(slice(s, {1, 1}, {3, 5}, {1, 2}), {8, 6, 13, 11});
  expect_values(slice(transpose(m), {1, 0}, {3, 4}, {1, 3}), {1, 16, 2, 17});
  EXPECT_EQ(slice(m, {0, 0}, {0, 5}).shape(), (Shape{0, 5}));
  // Slices are views of the source buffer.
  array v = slice(m, {1, 0}, {3, 5});
  v.eval();
  m.eval();
  EXPECT_EQ(static_cast<const void*>(v.data<int32_t>()), static_cast<const void*>(m.data<int32_t>() + 5));
  expect_throws_naming([&] { return slice(a, {0}, {5}, {0}); }, "slice");
  expect_throws_naming([&] { return slice(m, {0}, {5}); }, "slice");
  expect_throws_naming([&] { return slice(m, {0, 0}, {5, 5}, {1}); }, "slice");
}

TEST(ShapeSliceUpdate, RegionsAndBroadcast) {
  array a = zeros({4, 5}, int32);
  array u = slice_update(a, reshape(array({1, 2, 3, 4}), {2, 2}), {1, 1}, {3, 3});
  expect_values(u, {0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0});
  // The source keeps its values.
  expect_values(a, std::vector<double>(20, 0));
  // Broadcast update.
  expect_values(slice_update(a, array(7), {0, 0}, {2, 5}), {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  expect_values(slice_update(a, reshape(array({1, 2, 3, 4}), {4, 1}), {0, 4}, {4, 5}),
                {0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4});
  expect_values(slice_update(a, array({5, 6, 7, 8, 9}), {3, 0}, {4, 5}),
                {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 6, 7, 8, 9});
  // Strided region: every other column of rows 0 and 2.
  array st = slice_update(a, reshape(array({1, 2, 3, 4, 5, 6}), {2, 3}), {0, 0}, {4, 5}, {2, 2});
  expect_values(st, {1, 0, 2, 0, 3, 0, 0, 0, 0, 0, 4, 0, 5, 0, 6, 0, 0, 0, 0, 0});
  // Negative step: write a reversed row.
  array rv = slice_update(zeros({5}, int32), array({1, 2, 3, 4, 5}), {4}, {-6}, {-1});
  expect_values(rv, {5, 4, 3, 2, 1});
  // The update's dtype is cast to the source's.
  array f = slice_update(zeros({3}), array({1, 2}), {0}, {2});
  EXPECT_EQ(f.dtype(), float32);
  expect_values(f, {1, 2, 0});
  expect_values(slice_update(zeros({3}, int32), array({1.9f}), {1}, {2}), {0, 1, 0});
  // Updating a transposed source, and with a transposed update.
  array m = reshape(arange(6), {2, 3});
  expect_values(slice_update(transpose(m), array({-1, -2}), {1, 0}, {2, 2}), {0, 3, -1, -2, 2, 5});
  expect_values(slice_update(zeros({3, 2}, int32), transpose(m), {0, 0}, {3, 2}), {0, 3, 1, 4, 2, 5});
  // A chain of updates on a temporary (which may be updated in place).
  array c = zeros({4}, int32);
  for (int i = 0; i < 4; ++i) c = slice_update(c, array(i + 1), {i}, {i + 1});
  expect_values(c, {1, 2, 3, 4});
  // Empty region.
  expect_values(slice_update(zeros({3}, int32), zeros({0}, int32), {2}, {1}), {0, 0, 0});
  expect_throws_naming([&] { return slice_update(a, array({1, 2, 3}), {0, 0}, {1, 2}); }, "slice_update");
  expect_throws_naming([&] { return slice_update(a, zeros({2, 2}), {0, 0}, {1, 2}); }, "slice_update");
  expect_throws_naming([&] { return slice_update(a, array(1), {0}, {1}); }, "slice_update");
  expect_throws_naming([&] { return slice_update(a, array(1), {0, 0}, {1, 1}, {1, 0}); }, "slice_update");
}

TEST(ShapeAsStrided, WindowsAndBounds) {
  array a = arange(10);
  array w = as_strided(a, {8, 3}, {1, 1}, 0);
  EXPECT_EQ(w.shape(), (Shape{8, 3}));
  std::vector<double> want;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 3; ++j) want.push_back(i + j);
  expect_values(w, want);
  expect_values(as_strided(a, {3, 2}, {3, 1}, 1), {1, 2, 4, 5, 7, 8});
  expect_values(as_strided(a, {4}, {-2}, 9), {9, 7, 5, 3});
  expect_values(as_strided(a, {2, 2}, {0, 1}, 4), {4, 5, 4, 5});
  expect_values(as_strided(a, {10}, {1}, 0), iota_d(10));
  EXPECT_EQ(as_strided(a, {0, 5}, {100, 100}, 50).shape(), (Shape{0, 5}));
  // Strides count elements of the row-major (contiguous) version of the input.
  array m = reshape(arange(6), {2, 3});
  expect_values(as_strided(transpose(m), {3}, {2}, 0), {0, 1, 2});  // transpose(m) is [[0,3],[1,4],[2,5]]
  expect_values(as_strided(slice(arange(20), {10}, {20}), {2, 2}, {5, 1}, 0), {10, 11, 15, 16});
  expect_throws_naming([&] { return as_strided(a, {4}, {4}, 0); }, "as_strided");
  expect_throws_naming([&] { return as_strided(a, {4}, {-1}, 2); }, "as_strided");
  expect_throws_naming([&] { return as_strided(a, {2}, {1}, 9); }, "as_strided");
  expect_throws_naming([&] { return as_strided(a, {2}, {1}, 10); }, "as_strided");
  expect_throws_naming([&] { return as_strided(a, {2, 2}, {1}, 0); }, "as_strided");
}

TEST(ShapeCopy, ContiguousAndCopy) {
  array m = reshape(arange(12), {3, 4});
  array t = transpose(m);
  array c = contiguous(t);
  EXPECT_EQ(c.shape(), (Shape{4, 3}));
  expect_values(c, {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  c.eval();
  EXPECT_TRUE(c.flags().row_contiguous);
  EXPECT_EQ(c.strides(), (Strides{3, 1}));
  array cs = contiguous(slice(m, {0, 0}, {3, 4}, {2, 3}));
  cs.eval();
  EXPECT_TRUE(cs.flags().row_contiguous);
  EXPECT_EQ(cs.strides(), (Strides{2, 1}));
  expect_values(cs, {0, 3, 8, 11});
  array cb = contiguous(broadcast_to(array({1, 2}), {3, 2}));
  cb.eval();
  EXPECT_EQ(cb.data_size(), 6u);
  expect_values(cb, {1, 2, 1, 2, 1, 2});
  array cp = copy(t);
  expect_values(cp, {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  EXPECT_EQ(copy(m).dtype(), int32);
  expect_values(copy(m), iota_d(12));
  // Updating a copy leaves the original alone.
  array d = copy(m);
  array d2 = slice_update(d, array(-1), {0, 0}, {3, 4});
  expect_values(d2, std::vector<double>(12, -1));
  expect_values(m, iota_d(12));
  expect_values(d, iota_d(12));
  expect_values(copy(array(3.5f)), {3.5});
}

TEST(ShapeAtLeast, Dims) {
  EXPECT_EQ(atleast_1d(array(1)).shape(), Shape{1});
  EXPECT_EQ(atleast_1d(arange(3)).shape(), Shape{3});
  EXPECT_EQ(atleast_2d(array(1)).shape(), (Shape{1, 1}));
  EXPECT_EQ(atleast_2d(arange(3)).shape(), (Shape{1, 3}));
  EXPECT_EQ(atleast_2d(zeros({2, 3})).shape(), (Shape{2, 3}));
  EXPECT_EQ(atleast_3d(array(1)).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(atleast_3d(arange(3)).shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(atleast_3d(zeros({2, 3})).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(atleast_3d(zeros({2, 3, 4, 5})).shape(), (Shape{2, 3, 4, 5}));
  expect_values(atleast_3d(transpose(reshape(arange(6), {2, 3}))), {0, 3, 1, 4, 2, 5});
  expect_values(atleast_2d(array(7)), {7});
}

TEST(ShapeReshape, ViewsWithGaps) {
  // Column blocks and row steps: the rows are contiguous but there are gaps between them.
  array m = reshape(arange(24), {4, 6});
  array cols = slice(m, {0, 0}, {4, 3});  // strides (6, 1)
  expect_values(reshape(cols, {2, 2, 3}), {0, 1, 2, 6, 7, 8, 12, 13, 14, 18, 19, 20});
  expect_values(reshape(cols, {12}), {0, 1, 2, 6, 7, 8, 12, 13, 14, 18, 19, 20});
  expect_values(reshape(cols, {4, 3, 1}), {0, 1, 2, 6, 7, 8, 12, 13, 14, 18, 19, 20});
  expect_values(reshape(cols, {3, 4}), {0, 1, 2, 6, 7, 8, 12, 13, 14, 18, 19, 20});
  array rows = slice(m, {0, 0}, {4, 6}, {2, 1});  // rows 0 and 2
  expect_values(reshape(rows, {3, 4}), {0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17});
  expect_values(reshape(rows, {2, 2, 3}), {0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17});
  // Transposed with added unit axes, and a split of the contiguous axis.
  array t = transpose(m);  // (6, 4), strides (1, 6)
  expect_values(reshape(t, {6, 1, 4}), permuted({4, 6}, {1, 0}));
  expect_values(reshape(t, {3, 2, 4}), permuted({4, 6}, {1, 0}));
  expect_values(reshape(t, {3, 2, 2, 2}), permuted({4, 6}, {1, 0}));
  // Reshape of a reshape of a transposed slice.
  array ts = transpose(slice(m, {1, 1}, {4, 5}));  // (4, 3)
  expect_values(reshape(reshape(ts, {2, 6}), {12}), {7, 13, 19, 8, 14, 20, 9, 15, 21, 10, 16, 22});
}

TEST(ShapeSliceUpdate, OnAViewOfATemporary) {
  // The source is a slice of a temporary: its buffer may be reused, but only its own window
  // is the result.
  array s = slice(add(arange(20), array(0)), {5}, {15});
  array u = slice_update(s, array(-1), {2}, {4});
  expect_values(u, {5, 6, -1, -1, 9, 10, 11, 12, 13, 14});
  array m = slice(multiply(reshape(arange(12), {3, 4}), array(1)), {1, 0}, {3, 4});
  expect_values(slice_update(m, reshape(array({9, -9}), {2, 1}), {0, 1}, {2, 2}), {4, 9, 6, 7, 8, -9, 10, 11});
}
