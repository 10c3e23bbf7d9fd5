// CPU benchmarks of lazuli::linalg (LAPACK through LAPACKE and OpenBLAS). Prints one JSON
// object per case: {"case", "ms", "flops"}, the flops being the usual LAPACK operation
// counts (LAWN 41 / Golub & Van Loan), so the table shows GFLOP/s against the machine's
// sgemm rate. benchmarks/peers_linalg.py runs the same cases in NumPy and MLX.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "lazuli/lazuli.h"
#include "lazuli/linalg.h"

using namespace lazuli;

// Deterministic values in [-1, 1) shaped `shape` (the peers build the same matrices).
static array sample(const Shape& shape) {
  size_t n = shape_size(shape);
  array i = astype(arange(0.0, double(n), 1.0), float64);
  return astype(reshape(sin(multiply(i, array(1.618))), shape), float32);
}
static array well_conditioned(int n, int batch = 0) {
  array a = add(sample(batch ? Shape{batch, n, n} : Shape{n, n}), multiply(eye(n), array(float(n) / 4)));
  eval(a);
  return a;
}

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };
  if (want("inv")) {
    array a = well_conditioned(512);
    double n = 512;
    report("inv f32 512", median_ms([&] { eval(linalg::inv(a)); }, 11), 2 * n * n * n);  // getrf + getri
  }
  if (want("solve")) {
    array a = well_conditioned(64, 64);
    array b = sample({64, 64, 1});
    eval(b);
    double n = 64;
    report("solve f32 64x(64x64)", median_ms([&] { eval(linalg::solve(a, b)); }, 21),
           64 * (2.0 / 3 * n * n * n + 2 * n * n));
  }
  if (want("cholesky")) {
    array x = sample({1024, 1024});
    array a = add(matmul(x, transpose(x)), multiply(eye(1024), array(1024.f)));
    eval(a);
    double n = 1024;
    report("cholesky f32 1024", median_ms([&] { eval(linalg::cholesky(a)); }, 11), n * n * n / 3);
  }
  if (want("qr")) {
    array a = sample({512, 512});
    eval(a);
    double n = 512;
    report("qr f32 512", median_ms([&] { eval(linalg::qr(a)); }, 9), 8.0 / 3 * n * n * n);  // geqrf + orgqr
  }
  if (want("svd")) {
    array a = sample({256, 256});
    eval(a);
    double n = 256;
    report("svd f32 256", median_ms([&] { eval(linalg::svd(a)); }, 9), 22 * n * n * n);  // with U and Vt
  }
  if (want("eigh")) {
    array x = sample({256, 256});
    array a = add(x, transpose(x));
    eval(a);
    double n = 256;
    report("eigh f32 256", median_ms([&] { eval(linalg::eigh(a)); }, 9), 9 * n * n * n);  // with vectors
  }
}
