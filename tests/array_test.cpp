// The array handle: construction, metadata, item(), layout flags and external memory.
#include <gtest/gtest.h>

#include <atomic>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "lazuli/lazuli.h"
#include "test_util.h"

using namespace lazuli;
using namespace lazuli::test;

TEST(Array, ScalarConstruction) {
  array i(5);
  EXPECT_EQ(i.dtype(), int32);
  EXPECT_EQ(i.ndim(), 0u);
  EXPECT_EQ(i.size(), 1u);
  EXPECT_TRUE(i.shape().empty());
  EXPECT_TRUE(i.is_available());
  EXPECT_FALSE(i.has_primitive());
  EXPECT_EQ(i.item<int32_t>(), 5);

  EXPECT_EQ(array(2.5f).dtype(), float32);
  EXPECT_EQ(array(2.5).dtype(), float64);
  EXPECT_EQ(array(true).dtype(), bool_);
  EXPECT_EQ(array(int64_t{1} << 40).dtype(), int64);
  EXPECT_EQ(array(int64_t{1} << 40).item<int64_t>(), int64_t{1} << 40);
  EXPECT_EQ(array(uint8_t{200}).dtype(), uint8);
  EXPECT_EQ(array(complex64_t(1.f, -2.f)).dtype(), complex64);
  EXPECT_EQ(array(complex64_t(1.f, -2.f)).item<complex64_t>(), complex64_t(1.f, -2.f));
}

TEST(Array, ScalarConstructionCastsToDtype) {
  array a(3.7f, int32);
  EXPECT_EQ(a.dtype(), int32);
  EXPECT_EQ(a.item<int32_t>(), 3);  // truncates toward zero
  EXPECT_EQ(array(-3.7, int32).item<int32_t>(), -3);
  EXPECT_EQ(array(300, uint8).item<int32_t>(), 44);  // wraps modulo 256
  EXPECT_EQ(array(-1, uint16).item<int32_t>(), 65535);
  EXPECT_EQ(array(7, float32).item<float>(), 7.0f);
  EXPECT_EQ(array(7, float32).dtype(), float32);
  EXPECT_FALSE(array(0.0f, bool_).item<bool>());
  EXPECT_TRUE(array(0.5f, bool_).item<bool>());
  EXPECT_EQ(array(true, float32).item<float>(), 1.0f);
  // 16-bit floats round to their nearest value.
  array h(0.1f, float16);
  EXPECT_EQ(h.dtype(), float16);
  EXPECT_EQ(h.itemsize(), 2u);
  EXPECT_EQ(h.item<float>(), float(float16_t(0.1f)));
  EXPECT_NE(h.item<float>(), 0.1f);
  EXPECT_EQ(array(0.1f, bfloat16).item<float>(), float(bfloat16_t(0.1f)));
  EXPECT_EQ(array(70000.0f, float16).item<float>(), std::numeric_limits<float>::infinity());
  // Real to complex: zero imaginary part; complex to real: the real part.
  EXPECT_EQ(array(2.5f, complex64).item<complex64_t>(), complex64_t(2.5f, 0.f));
  EXPECT_EQ(array(complex64_t(3.f, 4.f), float32).item<float>(), 3.0f);
}

TEST(Array, InitializerLists) {
  array a({1, 2, 3});
  EXPECT_EQ(a.dtype(), int32);
  EXPECT_EQ(a.shape(), Shape({3}));
  EXPECT_EQ(to_vector<int32_t>(a), (std::vector<int32_t>{1, 2, 3}));

  array f({1.5f, -2.5f});
  EXPECT_EQ(f.dtype(), float32);
  EXPECT_EQ(to_vector<float>(f), (std::vector<float>{1.5f, -2.5f}));

  array b({true, false, true});
  EXPECT_EQ(b.dtype(), bool_);
  expect_values(b, {1, 0, 1});

  array cast({1.9, -1.9, 2.0}, int32);
  EXPECT_EQ(cast.dtype(), int32);
  EXPECT_EQ(to_vector<int32_t>(cast), (std::vector<int32_t>{1, -1, 2}));

  array m({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(m.dtype(), int32);
  EXPECT_EQ(m.shape(), Shape({2, 3}));
  EXPECT_EQ(m.strides(), Strides({3, 1}));
  EXPECT_EQ(to_vector<int32_t>(m), (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));

  array md({1, 2, 3, 4}, {2, 1, 2}, float16);
  EXPECT_EQ(md.dtype(), float16);
  EXPECT_EQ(md.shape(), Shape({2, 1, 2}));
  expect_values(md, {1, 2, 3, 4});

  array empty(std::initializer_list<float>{}, {0, 3});
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.shape(), Shape({0, 3}));
}

TEST(Array, IteratorAndShape) {
  std::vector<float> v{0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f};
  array a(v.begin(), {2, 3});
  EXPECT_EQ(a.dtype(), float32);
  EXPECT_EQ(a.shape(), Shape({2, 3}));
  expect_values(a, {0.5, 1.5, 2.5, 3.5, 4.5, 5.5});

  array b(v.begin(), {3, 2}, int32);
  EXPECT_EQ(b.dtype(), int32);
  EXPECT_EQ(b.shape(), Shape({3, 2}));
  EXPECT_EQ(to_vector<int32_t>(b), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));

  const double raw[4] = {1e10, -2, 3, 4};
  array c(raw, {4});
  EXPECT_EQ(c.dtype(), float64);
  expect_values(c, {1e10, -2, 3, 4});

  std::list<int64_t> l{7, 8, 9};
  array d(l.begin(), {3, 1});
  EXPECT_EQ(d.dtype(), int64);
  EXPECT_EQ(d.shape(), Shape({3, 1}));
  expect_values(d, {7, 8, 9});

  std::vector<bool> flags{true, false, false, true};
  array f(flags.begin(), {2, 2});
  EXPECT_EQ(f.dtype(), bool_);
  expect_values(f, {1, 0, 0, 1});

  // Only shape-many elements are read.
  array e(v.begin() + 2, {2});
  expect_values(e, {2.5, 3.5});
}

TEST(Array, WrongElementCountThrows) {
  auto msg = error_of<std::invalid_argument>([] { array a({1, 2, 3}, {2, 2}); });
  EXPECT_TRUE(contains(msg, "[array]")) << msg;
  EXPECT_TRUE(contains(msg, "3")) << msg;
  EXPECT_TRUE(contains(msg, "4")) << msg;
  msg = error_of<std::invalid_argument>([] { array a({1.f, 2.f, 3.f, 4.f, 5.f}, {2, 2}, float32); });
  EXPECT_TRUE(contains(msg, "[array]")) << msg;
  msg = error_of<std::invalid_argument>([] { array a(std::initializer_list<int>{}, {1}); });
  EXPECT_TRUE(contains(msg, "[array]")) << msg;
}

TEST(Array, NegativeShapeThrows) {
  auto msg = error_of<std::invalid_argument>([] { array a({1, 2}, {-2}); });
  EXPECT_TRUE(contains(msg, "Negative dimension")) << msg;
  std::vector<int> v{1, 2, 3};
  msg = error_of<std::invalid_argument>([&] { array a(v.begin(), {3, -1}); });
  EXPECT_TRUE(contains(msg, "Negative dimension")) << msg;
}

TEST(Array, Metadata) {
  array a = reshape(arange(24), {2, 3, 4});
  // Shape, size and dtype are known before evaluation.
  EXPECT_FALSE(a.is_available());
  EXPECT_EQ(a.shape(), Shape({2, 3, 4}));
  EXPECT_EQ(a.shape(0), 2);
  EXPECT_EQ(a.shape(-1), 4);
  EXPECT_EQ(a.shape(-3), 2);
  EXPECT_EQ(a.ndim(), 3u);
  EXPECT_EQ(a.size(), 24u);
  EXPECT_EQ(a.dtype(), int32);
  EXPECT_EQ(a.itemsize(), 4u);
  EXPECT_EQ(a.nbytes(), 96u);
  a.eval();
  EXPECT_EQ(a.strides(), Strides({12, 4, 1}));
  EXPECT_EQ(a.strides(0), 12);
  EXPECT_EQ(a.strides(-1), 1);
  EXPECT_EQ(a.strides(-2), 4);

  array d = astype(a, float64);
  EXPECT_EQ(d.itemsize(), 8u);
  EXPECT_EQ(d.nbytes(), 192u);
  array h = astype(a, bfloat16);
  EXPECT_EQ(h.nbytes(), 48u);

  auto msg = error_of<std::invalid_argument>([&] { a.shape(3); });
  EXPECT_TRUE(contains(msg, "[shape]")) << msg;
  msg = error_of<std::invalid_argument>([&] { a.shape(-4); });
  EXPECT_TRUE(contains(msg, "[shape]")) << msg;
  msg = error_of<std::invalid_argument>([&] { a.strides(3); });
  EXPECT_TRUE(contains(msg, "[strides]")) << msg;
}

TEST(Array, StridesOfAnUnevaluatedArrayAreRowMajor) {
  // As in MLX, a node knows its (row-major) strides before it is evaluated.
  array a = zeros({2, 3, 4}) + 1.0f;
  ASSERT_FALSE(a.is_available());
  EXPECT_EQ(a.strides(), Strides({12, 4, 1}));
  EXPECT_EQ(a.strides(0), 12);
  EXPECT_EQ(a.strides(-1), 1);
}

TEST(Array, CopiesShareTheNode) {
  array a = arange(4.0);
  array b = a;
  EXPECT_EQ(a.id(), b.id());
  EXPECT_NE(a.id(), arange(4.0).id());
  b.eval();
  EXPECT_TRUE(a.is_available());  // evaluating one handle evaluates the node
}

TEST(Array, ItemConversions) {
  array x(2.75f);
  EXPECT_EQ(x.item<float>(), 2.75f);
  EXPECT_EQ(x.item<double>(), 2.75);
  EXPECT_EQ(x.item<int32_t>(), 2);
  EXPECT_EQ(x.item<int64_t>(), 2);
  EXPECT_TRUE(x.item<bool>());
  EXPECT_EQ(float(x.item<float16_t>()), 2.75f);
  EXPECT_EQ(float(x.item<bfloat16_t>()), 2.75f);
  EXPECT_EQ(x.item<complex64_t>(), complex64_t(2.75f, 0.f));
  EXPECT_EQ(array(-1).item<uint8_t>(), 255);
  EXPECT_EQ(array(65.9).item<int8_t>(), 65);
  EXPECT_FALSE(array(0).item<bool>());
  EXPECT_EQ(array(true).item<int32_t>(), 1);
  EXPECT_EQ(array(1.0f, float16).item<double>(), 1.0);

  // Any array of one element, whatever its rank; item() evaluates.
  EXPECT_EQ(reshape(array({7}), {1, 1, 1}).item<int32_t>(), 7);
  array lazy = array(2) + array(3);
  EXPECT_FALSE(lazy.is_available());
  EXPECT_EQ(lazy.item<int32_t>(), 5);
  EXPECT_TRUE(lazy.is_available());
  // A view with an offset reads the right element.
  array v = arange(10);
  EXPECT_EQ(slice(v, {6}, {7}).item<int32_t>(), 6);
  EXPECT_EQ(slice(reshape(v, {2, 5}), {1, 3}, {2, 4}).item<int32_t>(), 8);
}

TEST(Array, ItemNeedsOneElement) {
  auto msg = error_of<std::invalid_argument>([] { array({1, 2, 3}).item<int32_t>(); });
  EXPECT_TRUE(contains(msg, "[item]")) << msg;
  EXPECT_TRUE(contains(msg, "3")) << msg;
  msg = error_of<std::invalid_argument>([] { zeros({0}).item<float>(); });
  EXPECT_TRUE(contains(msg, "[item]")) << msg;
  // The check needs no evaluation: a lazy array is left unevaluated.
  array lazy = arange(4.0) + 1.0f;
  msg = error_of<std::invalid_argument>([&] { lazy.item<float>(); });
  EXPECT_TRUE(contains(msg, "[item]")) << msg;
  EXPECT_FALSE(lazy.is_available());
}

TEST(Array, DataEvaluates) {
  array a = arange(5) * 3;
  EXPECT_FALSE(a.is_available());
  const int32_t* p = a.data<int32_t>();
  EXPECT_TRUE(a.is_available());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p[i], 3 * i);
}

TEST(Array, FlagsOfFreshArrays) {
  array a = reshape(arange(6), {2, 3});
  a.eval();
  EXPECT_TRUE(a.flags().contiguous);
  EXPECT_TRUE(a.flags().row_contiguous);
  EXPECT_FALSE(a.flags().col_contiguous);
  EXPECT_EQ(a.data_size(), 6u);
  EXPECT_EQ(a.offset(), 0);

  // 0-d, 1-d and arrays with one non-unit axis are both row- and column-major.
  for (array x : {array(1.0f), arange(5.0), reshape(arange(3.0), {3, 1}), reshape(arange(3.0), {1, 1, 3})}) {
    x.eval();
    EXPECT_TRUE(x.flags().contiguous) << x.ndim();
    EXPECT_TRUE(x.flags().row_contiguous) << x.ndim();
    EXPECT_TRUE(x.flags().col_contiguous) << x.ndim();
  }
}

TEST(Array, FlagsAfterTranspose) {
  array a = reshape(arange(6), {2, 3});
  array t = transpose(a);
  t.eval();
  EXPECT_EQ(t.shape(), Shape({3, 2}));
  EXPECT_EQ(t.strides(), Strides({1, 3}));
  EXPECT_TRUE(t.flags().contiguous);
  EXPECT_FALSE(t.flags().row_contiguous);
  EXPECT_TRUE(t.flags().col_contiguous);
  EXPECT_EQ(t.data_size(), 6u);
  // A view: the same buffer, no copy.
  EXPECT_EQ(t.data<int32_t>(), a.data<int32_t>());
  EXPECT_EQ(to_vector<int32_t>(t), (std::vector<int32_t>{0, 3, 1, 4, 2, 5}));

  // A 3-d permutation is dense but neither row- nor column-major.
  array p = transpose(reshape(arange(24), {2, 3, 4}), {1, 0, 2});
  p.eval();
  EXPECT_TRUE(p.flags().contiguous);
  EXPECT_FALSE(p.flags().row_contiguous);
  EXPECT_FALSE(p.flags().col_contiguous);
}

TEST(Array, FlagsOfSliceViews) {
  array a = reshape(arange(24), {4, 6});
  a.eval();
  const int32_t* base = a.data<int32_t>();

  // Whole rows: a row-major view with an offset.
  array rows = slice(a, {1, 0}, {3, 6});
  rows.eval();
  EXPECT_EQ(rows.shape(), Shape({2, 6}));
  EXPECT_TRUE(rows.flags().row_contiguous);
  EXPECT_TRUE(rows.flags().contiguous);
  EXPECT_EQ(rows.offset(), 6);
  EXPECT_EQ(rows.data_size(), 12u);
  EXPECT_EQ(rows.data<int32_t>(), base + 6);
  expect_values(rows, {6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17});

  // Part of each row: neither layout, same buffer.
  array cols = slice(a, {0, 1}, {4, 3});
  cols.eval();
  EXPECT_EQ(cols.shape(), Shape({4, 2}));
  EXPECT_EQ(cols.strides(), Strides({6, 1}));
  EXPECT_FALSE(cols.flags().contiguous);
  EXPECT_FALSE(cols.flags().row_contiguous);
  EXPECT_FALSE(cols.flags().col_contiguous);
  EXPECT_EQ(cols.data<int32_t>(), base + 1);
  expect_values(cols, {1, 2, 7, 8, 13, 14, 19, 20});

  // Strided.
  array stepped = slice(a, {0, 0}, {4, 6}, {2, 3});
  stepped.eval();
  EXPECT_EQ(stepped.shape(), Shape({2, 2}));
  EXPECT_EQ(stepped.strides(), Strides({12, 3}));
  EXPECT_FALSE(stepped.flags().contiguous);
  expect_values(stepped, {0, 3, 12, 15});

  // Broadcasting repeats elements: stride 0, not contiguous.
  array bc = broadcast_to(array({1, 2, 3}), {4, 3});
  bc.eval();
  EXPECT_EQ(bc.strides(), Strides({0, 1}));
  EXPECT_FALSE(bc.flags().contiguous);
  EXPECT_FALSE(bc.flags().row_contiguous);
  EXPECT_EQ(bc.data_size(), 3u);
  expect_values(bc, {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3});
}

TEST(Array, ExternalMemoryIsNotCopied) {
  auto deleted = std::make_shared<std::atomic<int>>(0);
  auto deleted_ptr = std::make_shared<std::atomic<void*>>(nullptr);
  float* buf = new float[6]{1, 2, 3, 4, 5, 6};
  {
    array a(buf, {2, 3}, float32, [deleted, deleted_ptr](void* p) {
      deleted_ptr->store(p);
      ++*deleted;
      delete[] static_cast<float*>(p);
    });
    EXPECT_TRUE(a.is_available());
    EXPECT_EQ(a.shape(), Shape({2, 3}));
    EXPECT_EQ(a.strides(), Strides({3, 1}));
    EXPECT_EQ(a.nbytes(), 24u);
    EXPECT_EQ(a.data<float>(), buf);
    expect_values(a, {1, 2, 3, 4, 5, 6});

    // Views keep pointing into the caller's memory.
    array t = transpose(a);
    t.eval();
    EXPECT_EQ(t.data<float>(), buf);
    array r = reshape(a, {6});
    r.eval();
    EXPECT_EQ(r.data<float>(), buf);

    // The array reads the memory, not a snapshot of it.
    buf[0] = 10;
    EXPECT_EQ(a.data<float>()[0], 10.0f);
    expect_values(a * 2.0f, {20, 4, 6, 8, 10, 12});
    synchronize();
    EXPECT_EQ(deleted->load(), 0);
  }
  synchronize();  // workers may hold the last references for a moment
  EXPECT_EQ(deleted->load(), 1);
  EXPECT_EQ(deleted_ptr->load(), static_cast<void*>(buf));
}

TEST(Array, ExternalMemoryDeleterRunsOnceAfterTheLastView) {
  auto deleted = std::make_shared<std::atomic<int>>(0);
  int32_t* buf = new int32_t[4]{1, 2, 3, 4};
  array view = [&] {
    array a(buf, {2, 2}, int32, [deleted](void* p) {
      ++*deleted;
      delete[] static_cast<int32_t*>(p);
    });
    array b = a;  // copies of the handle share it
    array v = transpose(b);
    v.eval();
    return v;
  }();
  synchronize();
  EXPECT_EQ(deleted->load(), 0);  // the view still uses the memory
  EXPECT_EQ(view.data<int32_t>(), buf);
  expect_values(view, {1, 3, 2, 4});
  view = array(0);
  synchronize();
  EXPECT_EQ(deleted->load(), 1);
}

TEST(Array, ExternalMemoryIsNeverWrittenByOps) {
  // Once the only handle is gone, an op could reuse its input's buffer for its output; it
  // must not do that with memory the caller owns.
  auto deleted = std::make_shared<std::atomic<int>>(0);
  std::vector<float> owned{1, 2, 3, 4};
  float* buf = owned.data();
  auto count = [deleted](void*) { ++*deleted; };
  array y = [&] {
    array a(buf, {4}, float32, count);
    return exp(a * 2.0f + 1.0f);
  }();
  array z = [&] {
    array a(buf, {4}, float32, count);  // a second wrapper of the same memory
    return negative(a);
  }();
  std::vector<double> expected;
  for (double v : {1.0, 2.0, 3.0, 4.0}) expected.push_back(std::exp(2 * v + 1));
  EXPECT_NE(y.data<float>(), buf);
  expect_values(y, expected, 1e-3);
  EXPECT_NE(z.data<float>(), buf);
  expect_values(z, {-1, -2, -3, -4});
  // The source is unchanged after both ops ran.
  EXPECT_EQ(owned, (std::vector<float>{1, 2, 3, 4}));
  y = array(0);
  z = array(0);
  synchronize();
  EXPECT_EQ(deleted->load(), 2);
}

TEST(Array, ExternalMemoryOfOtherDtypes) {
  auto deleted = std::make_shared<std::atomic<int>>(0);
  uint16_t* buf = new uint16_t[3]{float16_t(1.5f).bits, float16_t(-2.0f).bits, float16_t(0.25f).bits};
  {
    array a(buf, {3}, float16, [deleted](void* p) {
      ++*deleted;
      delete[] static_cast<uint16_t*>(p);
    });
    EXPECT_EQ(a.nbytes(), 6u);
    expect_values(a, {1.5, -2.0, 0.25});
  }
  synchronize();
  EXPECT_EQ(deleted->load(), 1);
}

TEST(Array, ExternalMemoryWithAnEmptyDeleterIsBorrowed) {
  // No deleter: the caller keeps ownership; the memory must never reach the allocator.
  std::vector<float> owned{1, 2, 3, 4};
  synchronize();
  size_t active = get_active_memory();
  {
    array a(owned.data(), {4}, float32, nullptr);
    EXPECT_EQ(a.data<float>(), owned.data());
    expect_values(a + 1.0f, {2, 3, 4, 5});
  }
  synchronize();
  // The evaluation's own buffers are back; the caller's 16 bytes were never counted, so
  // freeing them did not subtract from the allocator's books (or enter its cache).
  EXPECT_EQ(get_active_memory(), active);
  EXPECT_EQ(owned[0], 1.0f);
}
