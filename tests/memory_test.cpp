// The allocator's accounting: active, peak and cache memory, the cache and memory limits,
// and a training-style loop whose memory must stay flat.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lazuli/lazuli.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::expect_values;

namespace {

constexpr size_t kMiB = size_t{1} << 20;

// Restores a limit however the test ends.
struct MemoryLimitGuard {
  size_t old;
  explicit MemoryLimitGuard(size_t limit) : old(set_memory_limit(limit)) {}
  ~MemoryLimitGuard() { set_memory_limit(old); }
};
struct CacheLimitGuard {
  size_t old;
  explicit CacheLimitGuard(size_t limit) : old(set_cache_limit(limit)) {}
  ~CacheLimitGuard() { set_cache_limit(old); }
};

// Active memory once every stream's worker has let go of finished work.
size_t settled_active_memory() {
  synchronize();
  return get_active_memory();
}

}  // namespace

TEST(Memory, ActiveGrowsWithABigArrayAndShrinksBack) {
  size_t before = settled_active_memory();
  {
    array big = arange(double(4 * kMiB), float32);  // 16 MiB
    EXPECT_EQ(get_active_memory(), before);          // nothing is allocated before eval
    big.eval();
    size_t during = settled_active_memory();
    EXPECT_GE(during, before + 16 * kMiB);
    EXPECT_LT(during, before + 16 * kMiB + kMiB);
  }
  EXPECT_EQ(settled_active_memory(), before);
}

TEST(Memory, ActiveCountsEveryLiveBuffer) {
  size_t before = settled_active_memory();
  std::vector<array> live;
  for (int i = 0; i < 4; ++i) {
    live.push_back(ones({int(kMiB)}) * float(i));  // 4 MiB each
    live.back().eval();
  }
  EXPECT_GE(settled_active_memory(), before + 16 * kMiB);
  live.erase(live.begin() + 2, live.end());
  size_t two = settled_active_memory();
  EXPECT_GE(two, before + 8 * kMiB);
  EXPECT_LT(two, before + 9 * kMiB);
  live.clear();
  EXPECT_EQ(settled_active_memory(), before);
}

TEST(Memory, PeakMemory) {
  size_t before = settled_active_memory();
  reset_peak_memory();
  EXPECT_EQ(get_peak_memory(), before);
  {
    array big = arange(double(2 * kMiB), float32);  // 8 MiB
    big.eval();
  }
  synchronize();
  // The peak remembers the 8 MiB that is gone.
  EXPECT_EQ(get_active_memory(), before);
  EXPECT_GE(get_peak_memory(), before + 8 * kMiB);
  size_t peak = get_peak_memory();
  {
    array small = arange(1000.0);
    small.eval();
  }
  synchronize();
  EXPECT_EQ(get_peak_memory(), peak);  // a smaller allocation does not move it
  reset_peak_memory();
  EXPECT_EQ(get_peak_memory(), get_active_memory());
}

TEST(Memory, CacheHoldsFreedBuffersUntilCleared) {
  synchronize();
  clear_cache();
  EXPECT_EQ(get_cache_memory(), 0u);
  size_t before = get_active_memory();
  {
    array big = arange(double(kMiB), float32);  // 4 MiB
    big.eval();
  }
  synchronize();
  EXPECT_EQ(get_active_memory(), before);
  EXPECT_GE(get_cache_memory(), 4 * kMiB);

  // The next allocation of that size is served from the cache.
  size_t cached = get_cache_memory();
  {
    array again = arange(double(kMiB), float32);
    again.eval();
    EXPECT_EQ(get_cache_memory(), cached - 4 * kMiB);
    expect_values(slice(again, {int(kMiB) - 2}, {int(kMiB)}), {double(kMiB) - 2, double(kMiB) - 1});
  }
  synchronize();
  EXPECT_GE(get_cache_memory(), cached);  // the block is back (with the check's small ones)

  clear_cache();
  EXPECT_EQ(get_cache_memory(), 0u);
  EXPECT_EQ(get_active_memory(), before);  // clearing the cache does not touch live buffers
}

TEST(Memory, ZeroCacheLimitKeepsTheCacheEmpty) {
  synchronize();
  CacheLimitGuard guard(0);
  EXPECT_EQ(get_cache_memory(), 0u);  // setting the limit trims the cache at once
  size_t before = get_active_memory();
  for (int i = 0; i < 5; ++i) {
    array x = exp(arange(double(kMiB / 4 + i * 1000), float32)) + 1.0f;
    x.eval();
    EXPECT_EQ(get_cache_memory(), 0u);
  }
  synchronize();
  EXPECT_EQ(get_cache_memory(), 0u);
  EXPECT_EQ(get_active_memory(), before);
}

TEST(Memory, CacheLimitTrimsTheCache) {
  synchronize();
  clear_cache();
  {
    std::vector<array> xs;
    for (int i = 0; i < 4; ++i) xs.push_back(arange(double(kMiB / 4 * (i + 1)), float32));  // 1..4 MiB
    eval(xs);
  }
  synchronize();
  EXPECT_GE(get_cache_memory(), 10 * kMiB);
  {
    CacheLimitGuard guard(3 * kMiB);
    EXPECT_EQ(guard.old, get_memory_limit());  // the default cache limit is the memory limit
    EXPECT_LE(get_cache_memory(), 3 * kMiB);
  }
  clear_cache();
}

TEST(Memory, SetMemoryLimitReturnsThePreviousLimit) {
  size_t original = get_memory_limit();
  EXPECT_GT(original, 0u);
  EXPECT_EQ(set_memory_limit(original / 2), original);
  EXPECT_EQ(get_memory_limit(), original / 2);
  EXPECT_EQ(set_memory_limit(original), original / 2);
  EXPECT_EQ(get_memory_limit(), original);
}

TEST(Memory, MemoryLimitMakesALargeEvalThrow) {
  synchronize();
  clear_cache();
  const size_t bytes = 64 * kMiB;
  array big = arange(double(bytes / 4), float32);
  {
    MemoryLimitGuard guard(get_active_memory() + 8 * kMiB);
    try {
      eval(big);
      FAIL() << "eval should throw";
    } catch (const std::runtime_error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("[malloc]"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::to_string(bytes)), std::string::npos) << msg;  // names the size
    }
    // Smaller work still fits under the limit.
    const int n = int(kMiB / 4);
    array small = arange(double(n), float32) * 2.0f;
    expect_values(slice(small, {n - 2}, {n}), {2.0 * (n - 2), 2.0 * (n - 1)});
  }
  // The limit is back; the same size now evaluates.
  array again = arange(double(bytes / 4), float32);
  again.eval();
  EXPECT_EQ(again.size(), bytes / 4);
}

TEST(Memory, MemoryLimitCountsOnlyLiveBuffersNotTheCache) {
  // Cached blocks are given back to the system when a new allocation would pass the limit.
  synchronize();
  clear_cache();
  {
    array x = arange(double(4 * kMiB), float32);  // 16 MiB, then cached
    x.eval();
  }
  synchronize();
  ASSERT_GE(get_cache_memory(), 16 * kMiB);
  {
    MemoryLimitGuard guard(get_active_memory() + 20 * kMiB);
    array y = arange(double(5 * kMiB), float32);  // 20 MiB: fits only if the cache is dropped
    EXPECT_NO_THROW(y.eval());
    EXPECT_LT(get_cache_memory(), 16 * kMiB);
  }
}

// REQUIRED: a training-style loop, 10,000 steps of build-and-eval, must not leak. Memory
// after step 100 (when the caches have warmed up) must equal memory after step 10,000.
TEST(Memory, ActiveMemoryIsFlatOverTenThousandSteps) {
  synchronize();
  size_t start = get_active_memory();
  array x = zeros({1000});
  size_t at_100 = 0;
  for (int step = 1; step <= 10000; ++step) {
    x = x * 0.5f + 1.0f;
    eval(x);
    if (step == 100) at_100 = settled_active_memory();
  }
  size_t at_10000 = settled_active_memory();
  // x converges to 2 (x = x/2 + 1).
  expect_values(slice(x, {0}, {3}), {2, 2, 2});
  const size_t slack = 4096;
  EXPECT_LE(at_10000, at_100 + slack) << "active memory grew from " << at_100 << " to " << at_10000;
  EXPECT_GE(at_10000 + slack, at_100);
  // One 4000-byte array is live (plus a rounding of its size).
  EXPECT_LE(at_10000, start + 4096 + slack);
  x = array(0.0f);
  EXPECT_LE(settled_active_memory(), start + 64);
}

TEST(Memory, CacheMemoryIsFlatOverManySteps) {
  // The cache must recycle blocks, not pile them up.
  synchronize();
  clear_cache();
  array x = zeros({1000});
  size_t at_100 = 0;
  for (int step = 1; step <= 2000; ++step) {
    x = exp(-x) * 0.5f + 1.0f;
    eval(x);
    if (step == 100) {
      synchronize();
      at_100 = get_cache_memory();
    }
  }
  synchronize();
  EXPECT_LE(get_cache_memory(), at_100 + 4096);
}
