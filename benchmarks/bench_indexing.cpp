// CPU benchmarks of gathers and scatters (take, the general gather, scatter_add, boolean
// masks, unique). Prints one JSON object per case: {"case", "ms", "bytes"}; the same cases
// run in NumPy and MLX in peers_indexing.py.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "lazuli/indexing.h"
#include "bench_util.h"
#include "lazuli/lazuli.h"

using namespace lazuli;

// n pseudo-random int32 indices in [0, bound).
static array random_indices(int n, int bound, uint64_t seed) {
  std::vector<int32_t> v(n);
  for (auto& x : v) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    x = static_cast<int32_t>(seed % static_cast<uint64_t>(bound));
  }
  return array(v.begin(), Shape{n}, int32);
}

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };
  const int n = 1 << 20;
  array x = divide(astype(arange(0, n), float32), array(float(n)));
  array idx = random_indices(n, n, 0x9E3779B97F4A7C15ull);
  eval(x, idx);
  // Random 4-byte reads (x fits in cache only partly) + index read + output write.
  double scalar_bytes = 3.0 * 4 * n;
  if (want("take f32"))
    report_bytes("take f32 1M random of 1M", median_ms([&] { eval(take(x, idx, 0)); }, 21), scalar_bytes);
  if (want("gather f32"))
    report_bytes("gather f32 1M random of 1M", median_ms([&] { eval(gather(x, idx, 0, {1})); }, 21), scalar_bytes);

  const int rows = 1 << 16, cols = 256;
  array table = reshape(divide(astype(arange(0, rows * cols), float32), array(1e6f)), {rows, cols});
  array row_idx = random_indices(rows, rows, 12345);
  eval(table, row_idx);
  double row_bytes = 2.0 * 4 * rows * cols + 4.0 * rows;
  if (want("take rows"))
    report_bytes("take rows 64k x 256 f32", median_ms([&] { eval(take(table, row_idx, 0)); }, 15), row_bytes);
  if (want("gather rows"))
    report_bytes("gather rows 64k x 256 f32", median_ms([&] { eval(gather(table, row_idx, 0, {1, cols})); }, 15), row_bytes);

  if (want("scatter_add")) {
    array zeros_n = zeros({n}, float32);
    eval(zeros_n);
    report_bytes("scatter_add f32 1M random into 1M", median_ms([&] { eval(scatter_add(zeros_n, idx, x, 0)); }, 11),
           4.0 * 4 * n);
  }
  if (want("mask")) {
    array mask = greater(x, array(0.5f));
    eval(mask);
    report_bytes("mask read f32 1M (half true)", median_ms([&] { eval(nonzero(mask)); }, 11), 5.0 * n + 8.0 * n / 2);
  }
  if (want("unique")) {
    array small = remainder(idx, array(1000));
    eval(small);
    report_bytes("unique int32 1M (1000 values)", median_ms([&] { eval(unique(small).values); }, 5), 4.0 * n);
  }
}
