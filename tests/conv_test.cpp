// Convolution: conv1d/2d/3d, conv_general, conv_transpose1d/2d/3d, convolve. Expected values
// are worked by hand (python/tests/test_conv.py checks many more against a float64 NumPy
// reference); the checker cases at the end cover the transform rules.
#include "lazuli/conv.h"

#include "checker.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::Case;
using lazuli::test::expect_throws_naming;
using lazuli::test::expect_values;

TEST(Conv, Conv1dByHand) {
  array x = array({1.f, 2.f, 3.f, 4.f, 5.f}, Shape{1, 5, 1});
  array w = array({1.f, 0.f, -1.f}, Shape{1, 3, 1});
  array y = conv1d(x, w);
  EXPECT_EQ(y.shape(), (Shape{1, 3, 1}));
  expect_values(y, {-2, -2, -2});
  expect_values(conv1d(x, w, 1, 1), {-2, -2, -2, -2, 4});
  expect_values(conv1d(x, w, 2, 1), {-2, -2, 4});
  expect_values(conv1d(x, w, 1, 0, 2), {-4});
  // flip = true is the convolution proper.
  expect_values(conv_general(x, w, {}, {}, {}, {}, {}, 1, true), {2, 2, 2});
  // input dilation puts zeros between elements: 1 0 2 0 3 0 4 0 5
  expect_values(conv_general(x, w, {}, {}, {}, {}, {2}), {-1, 0, -1, 0, -1, 0, -1});
  // asymmetric, negative padding crops
  expect_values(conv_general(x, w, {}, {-1}, {1}), {-2, -2, 4});
}

TEST(Conv, Conv2dGroupsAndChannels) {
  array x = reshape(arange(9.0, float32), {1, 3, 3, 1});
  expect_values(conv2d(x, ones({1, 2, 2, 1})), {8, 12, 20, 24});
  // Two groups: each output channel sees its own input channel.
  array xc = array({1.f, 10.f}, Shape{1, 1, 2});
  expect_values(conv1d(xc, array({2.f, 3.f}, Shape{2, 1, 1}), 1, 0, 1, 2), {2, 30});
  expect_values(conv1d(xc, array({2.f, 3.f}, Shape{1, 1, 2})), {32});
  // 3-D: the sum of each 2x2x2 block of ones
  EXPECT_EQ(conv3d(ones({2, 3, 4, 5, 3}), ones({6, 2, 2, 2, 3})).shape(), (Shape{2, 2, 3, 4, 6}));
  expect_values(sum(conv3d(ones({1, 2, 2, 2, 1}), ones({1, 2, 2, 2, 1}))), {8});
}

TEST(Conv, TransposeAndConvolve) {
  array x = array({1.f, 2.f}, Shape{1, 2, 1});
  array w = ones({1, 3, 1});
  expect_values(conv_transpose1d(x, w, 2), {1, 1, 3, 2, 2});
  expect_values(conv_transpose1d(x, w, 2, 1), {1, 3, 2});
  expect_values(conv_transpose1d(x, w, 2, 1, 1, 1), {1, 3, 2, 2});
  EXPECT_EQ(conv_transpose2d(ones({2, 4, 5, 3}), ones({6, 3, 3, 3}), {2, 2}, {1, 1}, {1, 1}, {1, 0}).shape(),
            (Shape{2, 8, 9, 6}));
  EXPECT_EQ(conv_transpose3d(ones({1, 2, 2, 2, 2}), ones({2, 2, 2, 2, 1}), {1, 1, 1}, {0, 0, 0}, {1, 1, 1},
                             {0, 0, 0}, 2)
                .shape(),
            (Shape{1, 3, 3, 3, 2}));
  array a = array({1.f, 2.f, 3.f}), v = array({0.f, 1.f, 0.5f});
  expect_values(convolve(a, v), {0, 1, 2.5, 4, 1.5});
  expect_values(convolve(a, v, "same"), {1, 2.5, 4});
  expect_values(convolve(a, v, "valid"), {2.5});
  expect_values(convolve(array({1.f, 1.f}), array({1.f, 2.f, 3.f, 4.f}), "valid"), {3, 5, 7});
}

TEST(Conv, DtypesAndEmpty) {
  array x = reshape(arange(9.0, float32), {1, 3, 3, 1});
  for (Dtype t : {float16, bfloat16, float64}) {
    array y = conv2d(astype(x, t), astype(ones({1, 2, 2, 1}), t));
    EXPECT_EQ(y.dtype(), t);
    expect_values(y, {8, 12, 20, 24});
  }
  EXPECT_EQ(conv1d(astype(ones({1, 4, 2}), float16), ones({1, 2, 2})).dtype(), float32);
  array e = conv2d(zeros({0, 5, 5, 2}), ones({3, 3, 3, 2}));
  EXPECT_EQ(e.shape(), (Shape{0, 3, 3, 3}));
  e.eval();
  expect_values(conv1d(ones({1, 3, 0}), ones({2, 2, 0})), {0, 0, 0, 0});
}

TEST(Conv, Gradients) {
  array x = array({1., 2., 3., 4., 5.}, Shape{1, 5, 1});
  array w = array({1., 0., -1.}, Shape{1, 3, 1});
  auto gx = grad(UnaryFn([&](const array& a) { return sum(conv1d(a, w)); }))(x);
  expect_values(gx, {1, 1, 0, -1, -1});
  auto gw = grad(UnaryFn([&](const array& b) { return sum(conv1d(x, b)); }))(w);
  expect_values(gw, {6, 9, 12});
}

TEST(Conv, ErrorsNameTheOp) {
  expect_throws_naming([] { return conv1d(ones({2, 5, 4}), ones({6, 2, 3})); }, "conv1d");
  expect_throws_naming([] { return conv1d(ones({2, 5, 4}), ones({6, 2, 2}), 1, 0, 1, 3); }, "conv1d");
  expect_throws_naming([] { return conv1d(ones({2, 5, 4}), ones({5, 2, 2}), 1, 0, 1, 2); }, "conv1d");
  expect_throws_naming([] { return conv1d(ones({2, 5, 4}), ones({6, 2, 4}), 0); }, "conv1d");
  expect_throws_naming([] { return conv1d(ones({2, 5, 4}), ones({6, 2, 4}), 1, 0, 0); }, "conv1d");
  expect_throws_naming([] { return conv1d(ones({2, 5, 4}), ones({6, 6, 4})); }, "conv1d");
  expect_throws_naming([] { return conv2d(ones({2, 5, 4}), ones({6, 2, 4})); }, "conv2d");
  expect_throws_naming([] { return conv3d(ones({2, 5, 5, 5, 4}), ones({6, 2, 2, 4})); }, "conv3d");
  expect_throws_naming([] { return conv1d(ones({2, 5, 4}, int32), ones({6, 2, 4})); }, "conv1d");
  expect_throws_naming([] { return conv_general(ones({2, 5, 4}), ones({6, 2, 4}), {}, {-5}, {5}); },
                       "conv_general");
  expect_throws_naming([] { return conv_general(ones({2, 5, 4}), ones({6, 2, 4}), {}, {}, {}, {}, {0}); },
                       "conv_general");
  expect_throws_naming([] { return conv_transpose1d(ones({2, 5, 4}), ones({6, 2, 4}), 1, -1); },
                       "conv_transpose1d");
  expect_throws_naming([] { return conv_transpose1d(ones({2, 5, 4}), ones({6, 2, 4}), 1, 0, 1, -1); },
                       "conv_transpose1d");
  expect_throws_naming([] { return convolve(ones({2, 2}), ones({2})); }, "convolve");
  expect_throws_naming([] { return convolve(ones({2}), ones({2}), "middle"); }, "convolve");
}

LAZULI_CHECKER_CASES(conv) {
  using lazuli::test::binary_fn;
  // 1-D with stride, padding and groups; 2-D with stride, dilation, padding and groups.
  add("Convolution", Case{{{2, 7, 4}, {4, 3, 2}}, -2, 2,
                          binary_fn([](const array& x, const array& w) { return conv1d(x, w, 2, 1, 1, 2); })});
  add("Convolution", Case{{{2, 5, 6, 4}, {4, 2, 3, 2}}, -2, 2, binary_fn([](const array& x, const array& w) {
                            return conv2d(x, w, {2, 1}, {1, 2}, {1, 2}, 2);
                          })});
  // Transposed convolutions (input dilation, flip).
  add("Convolution", Case{{{1, 4, 2}, {3, 3, 2}}, -2, 2, binary_fn([](const array& x, const array& w) {
                            return conv_transpose1d(x, w, 2, 1, 1, 1);
                          })});
  add("Convolution", Case{{{1, 3, 3, 4}, {2, 2, 2, 2}}, -2, 2, binary_fn([](const array& x, const array& w) {
                            return conv_transpose2d(x, w, {2, 2}, {0, 0}, {1, 1}, {0, 0}, 2);
                          })});
  // Everything at once: asymmetric and negative padding, both dilations, flip.
  add("Convolution", Case{{{2, 5, 4}, {4, 3, 2}}, -2, 2, binary_fn([](const array& x, const array& w) {
                            return conv_general(x, w, {2}, {2}, {-1}, {2}, {2}, 2, true);
                          })});
  // A non-contiguous input; batches on other axes or only one side for vmap.
  add("Convolution", Case{{{3, 5, 2}, {4, 2, 2}}, -2, 2,
                          binary_fn([](const array& x, const array& w) { return conv1d(x, w, 1, 1); }), true, true});
  add("Convolution", Case{{{2, 5, 3}, {4, 2, 3}}, -2, 2,
                          binary_fn([](const array& x, const array& w) { return conv1d(x, w, 2); }), true, false,
                          {2, -1}});
  add("Convolution", Case{{{2, 5, 3}, {4, 2, 3}}, -2, 2,
                          binary_fn([](const array& x, const array& w) { return conv1d(x, w); }), true, false,
                          {-1, 1}});
  add("Convolution", Case{{{2, 4, 4, 2}, {4, 2, 2, 1}}, -2, 2, binary_fn([](const array& x, const array& w) {
                            return conv2d(x, w, {1, 1}, {1, 0}, {1, 1}, 2);
                          }),
                          true, false, {1, 3}});
  // Depthwise (one channel per group).
  add("Convolution", Case{{{2, 5, 4, 3}, {3, 2, 2, 1}}, -2, 2, binary_fn([](const array& x, const array& w) {
                            return conv2d(x, w, {2, 1}, {1, 1}, {1, 1}, 3);
                          })});
  add("Convolution", Case{{{7}, {3}}, -2, 2,
                          binary_fn([](const array& a, const array& v) { return convolve(a, v, "same"); })});
}
