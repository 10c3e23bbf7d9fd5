// Lazy evaluation: nothing runs before eval, the graph is released after it, deep graphs
// neither overflow the stack when evaluated nor when destroyed, and kernel errors surface
// from eval.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "lazuli/lazuli.h"
#include "lazuli/primitives.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::expect_values;
using lazuli::test::to_vector;

namespace {

// Restores the memory limit however the test ends.
struct MemoryLimitGuard {
  size_t old;
  explicit MemoryLimitGuard(size_t limit) : old(set_memory_limit(limit)) {}
  ~MemoryLimitGuard() { set_memory_limit(old); }
};

std::vector<double> iota_values(int n, double scale = 1.0, double shift = 0.0) {
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = i * scale + shift;
  return v;
}

}  // namespace

TEST(Eval, NothingRunsBeforeEval) {
  array a = arange(10.0);
  array b = a * 2.0f;
  array c = b + a;
  for (const array& x : {a, b, c}) {
    EXPECT_FALSE(x.is_available());
    EXPECT_EQ(x.status(), array::Status::unscheduled);
    EXPECT_TRUE(x.has_primitive());
    EXPECT_FALSE(x.has_data());
  }
  EXPECT_EQ(c.primitive().name(), "Add");
  ASSERT_EQ(c.inputs().size(), 2u);
  EXPECT_EQ(c.inputs()[0].id(), b.id());
  EXPECT_EQ(c.inputs()[1].id(), a.id());

  eval(c);
  // The output and everything it needed are now available.
  for (const array& x : {a, b, c}) {
    EXPECT_TRUE(x.is_available());
    EXPECT_EQ(x.status(), array::Status::available);
  }
  expect_values(c, iota_values(10, 3.0));
  expect_values(b, iota_values(10, 2.0));
}

TEST(Eval, GraphIsReleasedAfterEval) {
  array a = arange(8.0);
  array b = exp(a);
  array c = b - 1.0f;
  c.eval();
  for (const array& x : {a, b, c}) {
    EXPECT_FALSE(x.has_primitive());
    EXPECT_TRUE(x.inputs().empty());
    EXPECT_TRUE(x.siblings().empty());
    EXPECT_TRUE(x.has_data());
  }
  std::vector<double> expected;
  for (int i = 0; i < 8; ++i) expected.push_back(std::exp(double(i)) - 1.0);
  expect_values(c, expected, 1e-3);
}

TEST(Eval, IntermediatesAreFreed) {
  // Only the output's buffer survives the evaluation of a chain whose intermediates nobody
  // holds.
  const int n = 1 << 20;  // 4 MiB of float32
  synchronize();
  size_t before = get_active_memory();
  array y = ((arange(double(n)) * 2.0f + 1.0f) * 3.0f - 0.5f) / 2.0f;
  y.eval();
  synchronize();
  size_t during = get_active_memory();
  EXPECT_GE(during, before + size_t(n) * 4);
  EXPECT_LE(during, before + size_t(n) * 4 + 4096);
  EXPECT_FLOAT_EQ(slice(y, {n - 1}, {n}).item<float>(), ((float(n - 1) * 2 + 1) * 3 - 0.5f) / 2);
  y = array(0);
  synchronize();
  EXPECT_LE(get_active_memory(), before + 64);
}

TEST(Eval, EvalOfAvailableArraysIsANoOp) {
  array a = array({1, 2, 3});
  eval(a);
  eval(a, a);
  eval(std::vector<array>{});
  array b = a + 1;
  eval(b);
  eval(b);  // again
  EXPECT_EQ(to_vector<int32_t>(b), (std::vector<int32_t>{2, 3, 4}));
}

TEST(Eval, AsyncEvalThenEval) {
  array x = arange(1000.0, float64);
  array y = sum(x * x);
  async_eval({y});
  EXPECT_NE(y.status(), array::Status::unscheduled);
  eval(y);
  EXPECT_TRUE(y.is_available());
  EXPECT_EQ(y.item<double>(), 332833500.0);  // sum of i^2 for i < 1000, exact in float64
}

TEST(Eval, AsyncEvalThenSynchronize) {
  array y = arange(100) * 2;
  async_eval({y});
  synchronize();
  EXPECT_TRUE(y.is_available());
  expect_values(y, iota_values(100, 2.0));
}

TEST(Eval, ConsumesAnArrayStillBeingComputed) {
  // z depends on y, which async_eval has scheduled but maybe not finished: eval waits on it.
  array y = sqrt(arange(1 << 16) * 4);
  async_eval({y});
  array z = y + 1.0f;
  eval(z);
  EXPECT_FLOAT_EQ(slice(z, {100}, {101}).item<float>(), 21.0f);
  EXPECT_FLOAT_EQ(slice(z, {(1 << 16) - 1}, {1 << 16}).item<float>(), std::sqrt(4.0f * 65535) + 1.0f);
}

TEST(Eval, LongChainDoesNotOverflowTheStack) {
  const int steps = 100000;
  array x = array(0.0f);
  for (int i = 0; i < steps; ++i) x = x + 1.0f;
  EXPECT_FALSE(x.is_available());
  eval(x);
  EXPECT_EQ(x.item<float>(), float(steps));
  EXPECT_TRUE(x.inputs().empty());
}

TEST(Eval, LongUnevaluatedChainIsDestroyedWithoutOverflow) {
  synchronize();
  size_t before = get_active_memory();
  {
    array one(1.0f);
    array x = zeros({4});
    for (int i = 0; i < 200000; ++i) x = x * one + one;
    EXPECT_FALSE(x.is_available());
  }  // the whole graph goes here
  // And a chain that was partly evaluated: the evaluated middle cuts the graph.
  {
    array x = arange(4.0);
    for (int i = 0; i < 100000; ++i) x = x + 1.0f;
    x.eval();
    for (int i = 0; i < 100000; ++i) x = x - 1.0f;
    EXPECT_FALSE(x.is_available());
  }
  synchronize();
  EXPECT_EQ(get_active_memory(), before);
}

TEST(Eval, SeveralOutputsSharingInputs) {
  array a = arange(6.0);
  array b = a * 2.0f;
  array c = a + 1.0f;
  array d = b * c;
  eval(b, c, d);
  for (const array& x : {a, b, c, d}) EXPECT_TRUE(x.is_available());
  expect_values(b, {0, 2, 4, 6, 8, 10});
  expect_values(c, {1, 2, 3, 4, 5, 6});
  expect_values(d, {0, 4, 12, 24, 40, 60});

  // Outputs given in any order, some of them inputs of others, some repeated.
  array p = arange(4) + 1;
  array q = p * p;
  array r = q - p;
  eval({r, p, q, r});
  EXPECT_EQ(to_vector<int32_t>(p), (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(to_vector<int32_t>(q), (std::vector<int32_t>{1, 4, 9, 16}));
  EXPECT_EQ(to_vector<int32_t>(r), (std::vector<int32_t>{0, 2, 6, 12}));
}

TEST(Eval, SharedSubgraphsAreVisitedOnce) {
  // Each step reads the previous node twice: 40 doublings make a graph of 40 nodes but
  // 2^40 paths. Walking paths instead of nodes would never finish.
  array x = arange(4.0);
  for (int i = 0; i < 40; ++i) x = x + x;
  eval(x);
  expect_values(x, {0, std::ldexp(1.0, 40), std::ldexp(2.0, 40), std::ldexp(3.0, 40)});
}

TEST(Eval, MultiOutputPrimitiveEvaluatesAllOutputs) {
  array a = array({7, -7, 9, 10});
  array b = array({2, 2, -4, 5});
  auto qr = divmod(a, b);
  ASSERT_EQ(qr.size(), 2u);
  EXPECT_EQ(qr[0].siblings().size(), 1u);
  EXPECT_EQ(qr[0].siblings()[0].id(), qr[1].id());
  EXPECT_EQ(qr[1].outputs()[0].id(), qr[0].id());
  EXPECT_EQ(qr[1].outputs()[1].id(), qr[1].id());
  eval(qr[0]);  // one output; its sibling comes with it
  EXPECT_TRUE(qr[1].is_available());
  EXPECT_TRUE(qr[0].siblings().empty());
  EXPECT_EQ(to_vector<int32_t>(qr[0]), (std::vector<int32_t>{3, -4, -3, 2}));
  EXPECT_EQ(to_vector<int32_t>(qr[1]), (std::vector<int32_t>{1, 1, -3, 0}));
}

TEST(Eval, UnevaluatedMultiOutputGraphIsFreed) {
  // Sibling outputs refer to each other; dropping them all unevaluated must still free the
  // node and its inputs.
  synchronize();
  size_t before = get_active_memory();
  {
    array a = arange(1 << 16) + 3;
    a.eval();  // 256 KiB that only the graph below keeps alive once `a` is gone
    auto qr = divmod(a, array(2));
    EXPECT_FALSE(qr[0].is_available());
  }
  synchronize();
  EXPECT_EQ(get_active_memory(), before);
}

TEST(Eval, ArrayWithNoDataAndNoPrimitiveIsRejected) {
  array hollow(Shape{2}, float32, nullptr, {});
  try {
    eval(hollow);
    FAIL() << "eval should throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[eval]"), std::string::npos) << e.what();
  }
}

TEST(Eval, KernelErrorPropagatesFromEval) {
  // An allocation the memory limit forbids fails inside the kernel, on the stream's worker
  // thread; eval rethrows it on the calling thread.
  synchronize();
  clear_cache();  // a cached block of the right size would be reused without a new allocation
  const int n = 1 << 24;  // 64 MiB of float32
  array big = arange(double(n));
  array dependent = sum(big + 1.0f);  // fails too: its input never arrives
  {
    MemoryLimitGuard guard(get_active_memory() + (1 << 20));
    try {
      eval(big);
      FAIL() << "eval should throw";
    } catch (const std::runtime_error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("[malloc]"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::to_string(size_t(n) * 4)), std::string::npos) << msg;
    }
    EXPECT_FALSE(big.is_available());
    EXPECT_THROW(eval(dependent), std::runtime_error);
    EXPECT_FALSE(dependent.is_available());
  }
  // The workers survive: later work under the old limit succeeds.
  array ok = sum(arange(1000.0));
  EXPECT_FLOAT_EQ(ok.item<float>(), 499500.0f);
}

TEST(Eval, ErrorInOneBranchDoesNotPoisonOthers) {
  synchronize();
  clear_cache();  // a cached block of the right size would be reused without a new allocation
  array small = arange(10) + 1;
  array big = arange(double(1 << 24)) * 2.0f;
  {
    MemoryLimitGuard guard(get_active_memory() + (1 << 20));
    EXPECT_THROW(eval(small, big), std::runtime_error);
  }
  // The small branch ran (or runs) regardless of the failed one.
  eval(small);
  EXPECT_EQ(to_vector<int32_t>(small), (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST(Eval, ConcurrentEvalFromSeveralThreads) {
  const int threads = 4;
  std::vector<float> results(threads, -1.f);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([t, &results] {
      array x = arange(1000.0) * float(t + 1);
      for (int i = 0; i < 50; ++i) x = x + 1.0f;
      results[t] = sum(x).item<float>();
    });
  }
  for (auto& th : pool) th.join();
  for (int t = 0; t < threads; ++t) EXPECT_FLOAT_EQ(results[t], 499500.0f * (t + 1) + 50000.0f) << t;
}

TEST(Eval, DonatedBuffersGiveTheRightValues) {
  // Intermediates held only by the graph may lend their buffer to the next op's output,
  // including conversions between dtypes of one size (float32 <-> int32 <-> uint32).
  const int n = 5000;
  array x = astype(astype(astype(arange(double(n)) * 2.0f + 0.5f, int32) * 3, float32), uint32);
  std::vector<double> expected(n);
  for (int i = 0; i < n; ++i) expected[i] = double(int(2.0f * i + 0.5f) * 3);
  expect_values(x, expected);
  array y = astype(astype(arange(1000) - 500, float32), int32);
  std::vector<double> ey(1000);
  for (int i = 0; i < 1000; ++i) ey[i] = i - 500;
  expect_values(y, ey);
  array h = astype(astype(arange(0.0, 100.0, 1.0, float16) * 0.5f, bfloat16), int16);
  std::vector<double> eh(100);
  for (int i = 0; i < 100; ++i) eh[i] = std::trunc(i * 0.5);
  expect_values(h, eh);
}
