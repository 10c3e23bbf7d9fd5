// Reductions: one Reduce primitive keeps reduced axes as size 1; ops squeeze them.
#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives/fast.h"
#include "lazuli/primitives/reduce.h"

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

// ---- NumberOfElements ------------------------------------------------------------------

double NumberOfElements::value(const Shape& shape) const {
  double n = 1;
  for (int ax : axes_) n *= shape[ax];
  n -= ddof_;
  if (!inverted_) return n;
  return n > 0 ? 1.0 / n : std::numeric_limits<double>::infinity();
}
bool NumberOfElements::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const NumberOfElements*>(&o);
  return p && p->axes_ == axes_ && p->ddof_ == ddof_ && p->inverted_ == inverted_ && p->dtype_ == dtype_;
}
// A count depends on shapes only: no derivative.
std::vector<array> NumberOfElements::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                         const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0], stream())};
}
std::vector<array> NumberOfElements::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                         const std::vector<int>&) {
  return {zeros({}, tangents[0].dtype(), stream())};
}
std::pair<std::vector<array>, std::vector<int>> NumberOfElements::vmap(const std::vector<array>& inputs,
                                                                       const std::vector<int>& axes) {
  // Every sample has the same count: the axes move past the batch axis, the result is unbatched.
  std::vector<int> moved;
  for (int ax : axes_) moved.push_back(axes[0] >= 0 && ax >= axes[0] ? ax + 1 : ax);
  return {{make_node<NumberOfElements>({inputs[0]}, dtype_, stream(), moved, ddof_, inverted_, dtype_)}, {-1}};
}
LAZULI_PRIMITIVE_READER(NumberOfElements) {
  r.arity(1);
  std::vector<int> axes = r.axes(r.rank());
  int ddof = r.i32();
  bool inverted = r.boolean();
  Dtype t = r.dtype();
  r.expect_output(0, t);
  return std::make_shared<NumberOfElements>(s, std::move(axes), ddof, inverted, t);
}

namespace {
// The count of `a` over `axes` (less ddof, or its reciprocal) as a 0-d array of dtype t,
// read from the shape when the graph runs.
array number_of_elements(const array& a, const std::vector<int>& axes, int ddof, bool inverted, Dtype t, S s) {
  return make_node<NumberOfElements>({a}, t, s, axes, ddof, inverted, t);
}
}  // namespace

array mean(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  auto ax = normalize_axes(axes, static_cast<int>(a.ndim()), "mean");
  Dtype t = is_integral(a.dtype()) ? float32 : a.dtype();
  array total = sum(astype(a, t, s), ax, keepdims, s);
  return divide(total, number_of_elements(a, ax, 0, false, t, s), s);
}
array mean(const array& a, int axis, bool keepdims, S s) { return mean(a, std::vector<int>{axis}, keepdims, s); }
array mean(const array& a, bool keepdims, S s) { return mean(a, all_axes(a), keepdims, s); }

array var(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, S s) {
  auto ax = normalize_axes(axes, static_cast<int>(a.ndim()), "var");
  Dtype t = is_integral(a.dtype()) ? float32 : a.dtype();
  array x = astype(a, t, s);
  array centered = subtract(x, mean(x, ax, true, s), s);
  // Complex input: MLX's variance is the mean of (x - mean)^2 itself (complex64, no conjugate).
  array sq = square(centered, s);
  array total = sum(sq, ax, keepdims, s);
  return multiply(total, number_of_elements(a, ax, ddof, true, total.dtype(), s), s);
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
  auto ax = normalize_axes(axes, static_cast<int>(a.ndim()), "logsumexp");
  Stream st = to_stream(s);
  if (ax.size() == 1 && ax[0] == static_cast<int>(a.ndim()) - 1 && runs_fused(a, a.dtype(), st)) {
    array out = fused_logsumexp(a, st);
    return keepdims ? expand_dims(out, -1, s) : out;
  }
  return logsumexp_composed(a, axes, keepdims, s);
}

array detail::logsumexp_composed(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  size_t reduced = 1;
  for (int ax : normalize_axes(axes, static_cast<int>(a.ndim()), "logsumexp")) reduced *= a.shape()[ax];
  if (reduced == 0 && a.size() == 0)
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
