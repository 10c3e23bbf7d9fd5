// Reductions: one Reduce primitive keeps reduced axes as size 1; ops squeeze them.
#include "lazuli/ops/ops_util.h"

namespace lazuli {
using namespace detail;

namespace {

std::vector<int> all_axes(const array& a) {
  std::vector<int> axes(a.ndim());
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int>(i);
  return axes;
}

// Sums and products of small integers and bools accumulate in 32 bits, as MLX does.
Dtype accumulate_dtype(Dtype t) {
  if (t == bool_ || t == int8 || t == int16) return int32;
  if (t == uint8 || t == uint16) return uint32;
  return t;
}

array reduce(const array& a, const std::vector<int>& axes_in, bool keepdims, ReduceOp op, const char* name, S s) {
  auto axes = normalize_axes(axes_in, static_cast<int>(a.ndim()), name);
  if (op == ReduceOp::Max || op == ReduceOp::Min) {
    if (is_complex(a.dtype())) fail(name, "complex64 inputs cannot be ordered.");
    size_t reduced = 1;
    for (int ax : axes) reduced *= a.shape()[ax];
    if (!axes.empty() && reduced == 0)
      fail(name, "Cannot reduce an empty axis: " + std::string(name) + " has no identity.");
  }
  Dtype out_t = a.dtype();
  if (op == ReduceOp::Sum || op == ReduceOp::Prod) out_t = accumulate_dtype(a.dtype());
  if (op == ReduceOp::And || op == ReduceOp::Or) out_t = bool_;
  // And/Or read any dtype as truth values; Sum/Prod widen small integers first.
  array in = (op == ReduceOp::Sum || op == ReduceOp::Prod || axes.empty()) ? astype(a, out_t, s) : a;
  if (axes.empty()) return in;
  array out = make_node<Reduce>({in}, out_t, s, op, axes);
  return keepdims ? out : squeeze(out, axes, s);
}

}  // namespace

#define LAZULI_REDUCTION(fn, OP)                                                               \
  array fn(const array& a, const std::vector<int>& axes, bool keepdims, S s) {                \
    return reduce(a, axes, keepdims, ReduceOp::OP, #fn, s);                                   \
  }                                                                                            \
  array fn(const array& a, int axis, bool keepdims, S s) {                                    \
    return fn(a, std::vector<int>{axis}, keepdims, s);                                        \
  }                                                                                            \
  array fn(const array& a, bool keepdims, S s) { return fn(a, all_axes(a), keepdims, s); }
LAZULI_REDUCTION(sum, Sum)
LAZULI_REDUCTION(prod, Prod)
LAZULI_REDUCTION(max, Max)
LAZULI_REDUCTION(min, Min)
LAZULI_REDUCTION(all, And)
LAZULI_REDUCTION(any, Or)
#undef LAZULI_REDUCTION

static size_t reduced_count(const array& a, const std::vector<int>& axes, const char* op) {
  size_t n = 1;
  for (int ax : normalize_axes(axes, static_cast<int>(a.ndim()), op)) n *= a.shape()[ax];
  return n;
}

array mean(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  size_t n = reduced_count(a, axes, "mean");
  Dtype t = is_integral(a.dtype()) ? float32 : a.dtype();
  array total = sum(astype(a, t, s), axes, keepdims, s);
  return divide(total, array(double(n), t), s);
}
array mean(const array& a, int axis, bool keepdims, S s) { return mean(a, std::vector<int>{axis}, keepdims, s); }
array mean(const array& a, bool keepdims, S s) { return mean(a, all_axes(a), keepdims, s); }

array var(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, S s) {
  size_t n = reduced_count(a, axes, "var");
  Dtype t = is_integral(a.dtype()) ? float32 : a.dtype();
  array x = astype(a, t, s);
  array centered = subtract(x, mean(x, axes, true, s), s);
  // Complex input: MLX's variance is the mean of (x - mean)^2 itself (complex64, no conjugate).
  array sq = square(centered, s);
  array total = sum(sq, axes, keepdims, s);
  double denom = double(n) - ddof;
  return multiply(total, array(denom > 0 ? 1.0 / denom : std::numeric_limits<double>::infinity(), total.dtype()), s);
}
array var(const array& a, int axis, bool keepdims, int ddof, S s) {
  return var(a, std::vector<int>{axis}, keepdims, ddof, s);
}
array var(const array& a, bool keepdims, int ddof, S s) { return var(a, all_axes(a), keepdims, ddof, s); }
array std(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, S s) {
  normalize_axes(axes, static_cast<int>(a.ndim()), "std");  // errors name std, not var
  return sqrt(var(a, axes, keepdims, ddof, s), s);
}
array std(const array& a, int axis, bool keepdims, int ddof, S s) {
  return std(a, std::vector<int>{axis}, keepdims, ddof, s);
}
array std(const array& a, bool keepdims, int ddof, S s) { return std(a, all_axes(a), keepdims, ddof, s); }

array logsumexp(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  if (reduced_count(a, axes, "logsumexp") == 0 && a.size() == 0)
    return log(sum(exp(a, s), axes, keepdims, s), s);
  array x = is_integral(a.dtype()) ? astype(a, float32, s) : a;
  array m = max(x, axes, true, s);
  m = where(isinf(m, s), zeros({}, m.dtype(), s), m, s);  // all -inf (or +inf) rows stay finite
  array out = add(log(sum(exp(subtract(x, m, s), s), axes, true, s), s), m, s);
  return keepdims ? out : squeeze(out, normalize_axes(axes, static_cast<int>(a.ndim()), "logsumexp"), s);
}
array logsumexp(const array& a, int axis, bool keepdims, S s) {
  return logsumexp(a, std::vector<int>{axis}, keepdims, s);
}
array logsumexp(const array& a, bool keepdims, S s) { return logsumexp(a, all_axes(a), keepdims, s); }

array count_nonzero(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  normalize_axes(axes, static_cast<int>(a.ndim()), "count_nonzero");  // errors name count_nonzero
  return sum(not_equal(a, zeros({}, a.dtype(), s), s), axes, keepdims, s);
}
array count_nonzero(const array& a, int axis, bool keepdims, S s) {
  return count_nonzero(a, std::vector<int>{axis}, keepdims, s);
}
array count_nonzero(const array& a, bool keepdims, S s) { return count_nonzero(a, all_axes(a), keepdims, s); }

static array arg_reduce(const array& a, int axis, bool keepdims, ArgReduceOp op, const char* name, S s) {
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), name);
  if (a.shape()[axis] == 0) fail(name, "Cannot find the index of an extremum of an empty axis.");
  if (is_complex(a.dtype())) fail(name, "complex64 inputs cannot be ordered.");
  array out = make_node<ArgReduce>({a}, uint32, s, op, axis);
  return keepdims ? out : squeeze(out, axis, s);
}
array argmax(const array& a, int axis, bool keepdims, S s) {
  return arg_reduce(a, axis, keepdims, ArgReduceOp::ArgMax, "argmax", s);
}
array argmin(const array& a, int axis, bool keepdims, S s) {
  return arg_reduce(a, axis, keepdims, ArgReduceOp::ArgMin, "argmin", s);
}
static array flat_arg(const array& a, bool keepdims, ArgReduceOp op, const char* name, S s) {
  array out = arg_reduce(reshape(a, {-1}, s), 0, true, op, name, s);
  return keepdims ? reshape(out, Shape(a.ndim(), 1), s) : reshape(out, {}, s);
}
array argmax(const array& a, bool keepdims, S s) { return flat_arg(a, keepdims, ArgReduceOp::ArgMax, "argmax", s); }
array argmin(const array& a, bool keepdims, S s) { return flat_arg(a, keepdims, ArgReduceOp::ArgMin, "argmin", s); }

}  // namespace lazuli
