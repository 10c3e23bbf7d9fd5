#include <cmath>

#include "lazuli/ops/ops_util.h"

namespace lazuli {
using namespace detail;

array arange(double start, double stop, double step, Dtype dtype, S s) {
  if (step == 0) fail("arange", "step cannot be zero.");
  if (dtype == bool_) fail("arange", "bool is not a valid dtype for arange.");
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    fail("arange", "start, stop and step must be finite.");
  return make_node<Arange>({}, dtype, s, start, stop, step);
}
array arange(double start, double stop, double step, S s) { return arange(start, stop, step, float32, s); }
array arange(double start, double stop, Dtype dtype, S s) { return arange(start, stop, 1.0, dtype, s); }
array arange(double start, double stop, S s) { return arange(start, stop, 1.0, float32, s); }
array arange(double stop, Dtype dtype, S s) { return arange(0.0, stop, 1.0, dtype, s); }
array arange(double stop, S s) { return arange(0.0, stop, 1.0, float32, s); }
array arange(int start, int stop, int step, S s) { return arange(double(start), double(stop), double(step), int32, s); }
array arange(int start, int stop, S s) { return arange(start, stop, 1, s); }
array arange(int stop, S s) { return arange(0, stop, 1, s); }

array linspace(double start, double stop, int num, Dtype dtype, S s) {
  if (num < 0) fail("linspace", "num must be non-negative, got " + std::to_string(num) + ".");
  if (num == 1) return astype(array({start}), dtype, s);
  // (1 - t) * start + t * stop with t = i / (num - 1) in float32, as MLX does: t is exactly
  // 0 and 1 at the ends, so the first element is start and the last is stop.
  array t = divide(arange(0.0, double(num), 1.0, float32, s), array(float(num - 1)), s);
  array out = add(multiply(subtract(array(1.0f), t, s), array(float(start)), s),
                  multiply(t, array(float(stop)), s), s);
  return astype(out, dtype, s);
}

array full(Shape shape, array vals, Dtype dtype, S s) {
  shape_size(shape, "full");
  return broadcast_to(astype(std::move(vals), dtype, s), shape, s);
}
array full(Shape shape, array vals, S s) {
  Dtype t = vals.dtype();
  return full(std::move(shape), std::move(vals), t, s);
}
array zeros(const Shape& shape, Dtype dtype, S s) { return full(shape, array(false, dtype), s); }
array ones(const Shape& shape, Dtype dtype, S s) { return full(shape, array(true, dtype), s); }
array zeros_like(const array& a, S s) { return zeros(a.shape(), a.dtype(), s); }
array ones_like(const array& a, S s) { return ones(a.shape(), a.dtype(), s); }
array full_like(const array& a, array vals, S s) { return full(a.shape(), std::move(vals), a.dtype(), s); }

array tri(int n, int m, int k, Dtype dtype, S s) {
  if (n < 0 || m < 0) fail("tri", "n and m must be non-negative, got " + std::to_string(n) + " and " + std::to_string(m) + ".");
  array rows = reshape(arange(0, n, s), {n, 1}, s);
  array cols = reshape(arange(0, m, s), {1, m}, s);
  return astype(greater_equal(add(rows, array(k), s), cols, s), dtype, s);
}
array tri(int n, Dtype dtype, S s) { return tri(n, n, 0, dtype, s); }

array eye(int n, int m, int k, Dtype dtype, S s) {
  if (n < 0 || m < 0) fail("eye", "n and m must be non-negative, got " + std::to_string(n) + " and " + std::to_string(m) + ".");
  array rows = reshape(arange(0, n, s), {n, 1}, s);
  array cols = reshape(arange(0, m, s), {1, m}, s);
  return astype(equal(add(rows, array(k), s), cols, s), dtype, s);
}
array eye(int n, Dtype dtype, S s) { return eye(n, n, 0, dtype, s); }
array identity(int n, Dtype dtype, S s) { return eye(n, n, 0, dtype, s); }

static array tri_mask(const array& x, int k, const char* op, S s) {
  if (x.ndim() < 2) fail(op, "needs an array of at least 2 dimensions, got " + std::to_string(x.ndim()) + ".");
  return tri(x.shape(-2), x.shape(-1), k, bool_, s);
}
array tril(array x, int k, S s) { return where(tri_mask(x, k, "tril", s), x, zeros({}, x.dtype(), s), s); }
array triu(array x, int k, S s) {
  return where(tri_mask(x, k - 1, "triu", s), zeros({}, x.dtype(), s), x, s);
}

}  // namespace lazuli
