// What every benchmarks/bench_*.cpp shares: the median timer and the JSON line that
// benchmarks/report.py reads ({"case", "ms", and the work done: "flops" and/or "bytes"}).
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

// Median wall time of `reps` runs of f, in milliseconds, after one warm-up run (pages in
// buffers, fills the allocator cache, starts threads).
inline double median_ms(const std::function<void()>& f, int reps) {
  using Clock = std::chrono::steady_clock;
  f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// One result line; flops and bytes (the work the case must do) are printed when given.
inline void report(const std::string& name, double ms, double flops = 0, double bytes = 0) {
  std::printf("{\"case\": \"%s\", \"ms\": %.4f", name.c_str(), ms);
  if (flops > 0) std::printf(", \"flops\": %.0f", flops);
  if (bytes > 0) std::printf(", \"bytes\": %.0f", bytes);
  std::printf("}\n");
  std::fflush(stdout);
}
inline void report_bytes(const std::string& name, double ms, double bytes) { report(name, ms, 0, bytes); }
