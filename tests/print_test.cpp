// Printing: NumPy/MLX-style repr of 0-d to 3-d arrays of each kind, summarisation of large
// arrays, and the print options.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "lazuli/lazuli.h"

using namespace lazuli;

namespace {

// Sets print options for one test and restores the previous ones.
struct PrintOptionsGuard {
  PrintOptions old = get_printoptions();
  explicit PrintOptionsGuard(PrintOptions o) { set_printoptions(o); }
  ~PrintOptionsGuard() { set_printoptions(old); }
};

PrintOptions options(int precision, int threshold, int edgeitems) {
  PrintOptions o;
  o.precision = precision;
  o.threshold = threshold;
  o.edgeitems = edgeitems;
  return o;
}

}  // namespace

TEST(Print, ZeroD) {
  EXPECT_EQ(to_string(array(5)), "array(5, dtype=int32)");
  EXPECT_EQ(to_string(array(-7, int64)), "array(-7, dtype=int64)");
  EXPECT_EQ(to_string(array(2.5f)), "array(2.5, dtype=float32)");
  EXPECT_EQ(to_string(array(2.0)), "array(2, dtype=float64)");
  EXPECT_EQ(to_string(array(true)), "array(true, dtype=bool)");
  EXPECT_EQ(to_string(array(false)), "array(false, dtype=bool)");
  EXPECT_EQ(to_string(array(200, uint8)), "array(200, dtype=uint8)");
  EXPECT_EQ(to_string(array(-5, int8)), "array(-5, dtype=int8)");
}

TEST(Print, OneD) {
  EXPECT_EQ(to_string(array({1, 2, 3})), "array([1, 2, 3], dtype=int32)");
  EXPECT_EQ(to_string(array({1.0f, 2.5f, -0.125f})), "array([1, 2.5, -0.125], dtype=float32)");
  EXPECT_EQ(to_string(array({true, false})), "array([true, false], dtype=bool)");
  EXPECT_EQ(to_string(array({7})), "array([7], dtype=int32)");
  EXPECT_EQ(to_string(array({0, 65535}, uint16)), "array([0, 65535], dtype=uint16)");
}

TEST(Print, TwoD) {
  EXPECT_EQ(to_string(array({1, 2, 3, 4}, {2, 2})), "array([[1, 2],\n       [3, 4]], dtype=int32)");
  EXPECT_EQ(to_string(array({1.5f, 2.f, 3.f, -4.25f, 5.f, 6.f}, {2, 3})),
            "array([[1.5, 2, 3],\n       [-4.25, 5, 6]], dtype=float32)");
  EXPECT_EQ(to_string(array({true, false, false, true}, {2, 2})),
            "array([[true, false],\n       [false, true]], dtype=bool)");
  EXPECT_EQ(to_string(array({1, 2, 3}, {3, 1})), "array([[1],\n       [2],\n       [3]], dtype=int32)");
  EXPECT_EQ(to_string(array({1, 2, 3}, {1, 3})), "array([[1, 2, 3]], dtype=int32)");
}

TEST(Print, ThreeD) {
  // Blocks of the outer axis are separated by a blank line, as NumPy does.
  EXPECT_EQ(to_string(reshape(arange(8), {2, 2, 2})),
            "array([[[0, 1],\n"
            "        [2, 3]],\n"
            "\n"
            "       [[4, 5],\n"
            "        [6, 7]]], dtype=int32)");
}

TEST(Print, FloatFormatting) {
  EXPECT_EQ(to_string(array(1.0f / 3.0f)), "array(0.333333, dtype=float32)");
  EXPECT_EQ(to_string(array(1e-7f)), "array(1e-07, dtype=float32)");
  EXPECT_EQ(to_string(array(123456789.0)), "array(1.23457e+08, dtype=float64)");
  EXPECT_EQ(to_string(array(-0.0f)), "array(-0, dtype=float32)");
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(to_string(array({inf, -inf, std::nanf("")})), "array([inf, -inf, nan], dtype=float32)");
  // 16-bit floats print the value they hold.
  EXPECT_EQ(to_string(array(0.1f, float16)), "array(0.0999756, dtype=float16)");
  EXPECT_EQ(to_string(array(0.1f, bfloat16)), "array(0.100098, dtype=bfloat16)");
  EXPECT_EQ(to_string(array({1.0f, 2.0f}, float16)), "array([1, 2], dtype=float16)");
}

TEST(Print, Complex) {
  EXPECT_EQ(to_string(array(complex64_t(1.f, -2.f))), "array(1-2j, dtype=complex64)");
  EXPECT_EQ(to_string(array({complex64_t(1.5f, 2.f), complex64_t(0.f, 0.f)})),
            "array([1.5+2j, 0+0j], dtype=complex64)");
}

TEST(Print, Empty) {
  EXPECT_EQ(to_string(zeros({0})), "array([], dtype=float32)");
  EXPECT_EQ(to_string(zeros({2, 0}, int32)), "array([], shape=(2,0), dtype=int32)");
}

TEST(Print, ViewsPrintTheirOwnLayout) {
  array a = reshape(arange(6), {2, 3});
  EXPECT_EQ(to_string(transpose(a)), "array([[0, 3],\n       [1, 4],\n       [2, 5]], dtype=int32)");
  EXPECT_EQ(to_string(slice(a, {0, 1}, {2, 3})), "array([[1, 2],\n       [4, 5]], dtype=int32)");
  EXPECT_EQ(to_string(slice(arange(10), {7}, {2}, {-2})), "array([7, 5, 3], dtype=int32)");
  EXPECT_EQ(to_string(broadcast_to(array({1, 2}), {2, 2})), "array([[1, 2],\n       [1, 2]], dtype=int32)");
}

TEST(Print, EvaluatesLazyArraysAndStreams) {
  array lazy = arange(3) * 2;
  EXPECT_FALSE(lazy.is_available());
  std::ostringstream os;
  os << lazy;
  EXPECT_EQ(os.str(), "array([0, 2, 4], dtype=int32)");
  EXPECT_TRUE(lazy.is_available());
  os.str("");
  os << "x = " << array(1.5f) << ";";
  EXPECT_EQ(os.str(), "x = array(1.5, dtype=float32);");
}

TEST(Print, SummarisesLargeArrays) {
  // Default options: more than 1000 elements are summarised to three at each edge.
  EXPECT_EQ(to_string(arange(2000)), "array([0, 1, 2, ..., 1997, 1998, 1999], dtype=int32)");
  EXPECT_EQ(to_string(arange(1001)), "array([0, 1, 2, ..., 998, 999, 1000], dtype=int32)");
  std::string full = to_string(arange(1000));  // exactly the threshold: printed in full
  EXPECT_EQ(full.find("..."), std::string::npos);
  EXPECT_NE(full.find(", 500, 501, "), std::string::npos);
  EXPECT_EQ(to_string(reshape(arange(2000), {2, 1000})),
            "array([[0, 1, 2, ..., 997, 998, 999],\n"
            "       [1000, 1001, 1002, ..., 1997, 1998, 1999]], dtype=int32)");
}

TEST(Print, SummarisesEveryLongAxis) {
  PrintOptionsGuard guard(options(6, 10, 2));
  EXPECT_EQ(to_string(reshape(arange(30), {6, 5})),
            "array([[0, 1, ..., 3, 4],\n"
            "       [5, 6, ..., 8, 9],\n"
            "       ...,\n"
            "       [20, 21, ..., 23, 24],\n"
            "       [25, 26, ..., 28, 29]], dtype=int32)");
  // Short axes are kept whole even when the array is summarised.
  EXPECT_EQ(to_string(reshape(arange(12), {3, 4})),
            "array([[0, 1, 2, 3],\n"
            "       [4, 5, 6, 7],\n"
            "       [8, 9, 10, 11]], dtype=int32)");
  EXPECT_EQ(to_string(reshape(arange(20), {10, 2})),
            "array([[0, 1],\n"
            "       [2, 3],\n"
            "       ...,\n"
            "       [16, 17],\n"
            "       [18, 19]], dtype=int32)");
}

TEST(Print, SummarisedThreeDKeepsBlankLinesAroundTheEllipsis) {
  // As NumPy: the ellipsis between blocks of the outer axis stands on its own, with the
  // same blank line after it as before it.
  PrintOptionsGuard guard(options(6, 5, 1));
  EXPECT_EQ(to_string(reshape(arange(27), {3, 3, 3})),
            "array([[[0, ..., 2],\n"
            "        ...,\n"
            "        [6, ..., 8]],\n"
            "\n"
            "       ...,\n"
            "\n"
            "       [[18, ..., 20],\n"
            "        ...,\n"
            "        [24, ..., 26]]], dtype=int32)");
}

TEST(Print, ZeroEdgeItems) {
  PrintOptionsGuard guard(options(6, 3, 0));
  EXPECT_EQ(to_string(arange(5)), "array([...], dtype=int32)");
  EXPECT_EQ(to_string(arange(3)), "array([0, 1, 2], dtype=int32)");  // not over the threshold
}

TEST(Print, Options) {
  PrintOptions d = get_printoptions();
  EXPECT_EQ(d.precision, 6);
  EXPECT_EQ(d.threshold, 1000);
  EXPECT_EQ(d.edgeitems, 3);
  {
    PrintOptionsGuard guard(options(3, 50, 4));
    PrintOptions o = get_printoptions();
    EXPECT_EQ(o.precision, 3);
    EXPECT_EQ(o.threshold, 50);
    EXPECT_EQ(o.edgeitems, 4);
    EXPECT_EQ(to_string(array({1.0f / 3.0f, 2.0f / 3.0f})), "array([0.333, 0.667], dtype=float32)");
    EXPECT_EQ(to_string(arange(51)), "array([0, 1, 2, 3, ..., 47, 48, 49, 50], dtype=int32)");
    EXPECT_EQ(to_string(arange(50)).find("..."), std::string::npos);
  }
  PrintOptions back = get_printoptions();
  EXPECT_EQ(back.precision, 6);
  EXPECT_EQ(back.threshold, 1000);
  EXPECT_EQ(back.edgeitems, 3);
  EXPECT_EQ(to_string(array(1.0f / 3.0f)), "array(0.333333, dtype=float32)");
}

TEST(Print, InvalidOptionsThrow) {
  for (PrintOptions bad : {options(-1, 10, 3), options(6, -1, 3), options(6, 10, -2)}) {
    try {
      set_printoptions(bad);
      FAIL() << "set_printoptions should throw";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("[set_printoptions]"), std::string::npos) << e.what();
    }
  }
  PrintOptions o = get_printoptions();  // unchanged
  EXPECT_EQ(o.precision, 6);
  EXPECT_EQ(o.threshold, 1000);
  EXPECT_EQ(o.edgeitems, 3);
}
