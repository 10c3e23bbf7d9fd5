// Scans (cumsum, cumprod, cummax, cummin, logcumsumexp): the Scan primitive's meaning and
// transform rules, and the ops built on it.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives/fast.h"
#include "lazuli/transforms.h"

namespace lazuli {
using namespace detail;

// ---- the Scan primitive ----------------------------------------------------------------

std::string Scan::name() const {
  switch (op_) {
    case ScanOp::Sum: return "CumSum";
    case ScanOp::Prod: return "CumProd";
    case ScanOp::Max: return "CumMax";
    case ScanOp::Min: return "CumMin";
    case ScanOp::LogAddExp: return "LogCumSumExp";
  }
  return "Scan";
}

std::vector<Shape> Scan::output_shapes(const std::vector<array>& inputs) const { return {inputs[0].shape()}; }

bool Scan::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Scan*>(&other);
  return o && o->op_ == op_ && o->axis_ == axis_ && o->reverse_ == reverse_ && o->inclusive_ == inclusive_;
}

namespace {

array scan_node(const array& x, ScanOp op, int axis, bool reverse, bool inclusive, S s) {
  return make_node<Scan>({x}, x.dtype(), s, op, axis, reverse, inclusive);
}

// The rules below are written for a forward, inclusive scan; reverse scans are flipped into
// one, and an exclusive scan is the inclusive one shifted by one place (its first output is
// the identity, a constant).
struct ForwardView {
  int axis;
  bool reverse;
  S s;
  array operator()(const array& z) const { return reverse ? flip(z, {axis}, s) : z; }
  int64_t n(const array& z) const { return z.shape()[axis]; }
  array part(const array& z, int start, int stop) const {
    Shape b(z.ndim(), 0), e = z.shape();
    b[axis] = start, e[axis] = stop;
    return slice(z, b, e, s);
  }
  array zeros_line(const array& z, int len) const {
    Shape sh = z.shape();
    sh[axis] = len;
    return zeros(sh, z.dtype(), s);
  }
  // out[k] = z[k + 1], last 0: the cotangent an exclusive scan's output sends to the
  // inclusive scan it is a shift of.
  array shift_left(const array& z) const {
    int len = static_cast<int>(n(z));
    return concatenate({part(z, 1, len), zeros_line(z, 1)}, axis, s);
  }
  // out[k] = z[k - 1], first 0.
  array shift_right(const array& z) const {
    int len = static_cast<int>(n(z));
    return concatenate({zeros_line(z, 1), part(z, 0, len - 1)}, axis, s);
  }
  // 0, 1, ..., n-1 along the axis, as int32, shaped to broadcast against z.
  array positions(const array& z) const {
    Shape sh(z.ndim(), 1);
    sh[axis] = z.shape()[axis];
    return reshape(arange(0, z.shape()[axis], 1, int32, s), sh, s);
  }
};

array cum(const array& x, ScanOp op, int axis, S s, bool reverse = false, bool inclusive = true) {
  return scan_node(x, op, axis, reverse, inclusive, s);
}

// Products: exact when x has zeros. Along a line, let z be the first zero. Before z the
// derivative is the product divided by x_j; at z it is the product of the others, which
// is the scan of x with x_z replaced by 1; after z it is zero.
struct ProdParts {
  array before, first_zero, safe_x, y, y1;
};
ProdParts prod_parts(const array& x, int axis, S s) {
  array is_zero = equal(x, zeros({}, x.dtype(), s), s);
  array count = cum(astype(is_zero, int32, s), ScanOp::Sum, axis, s);
  array before = equal(count, array(0), s);
  array first_zero = logical_and(is_zero, equal(count, array(1), s), s);
  array one = ones({}, x.dtype(), s);
  return {before, first_zero, where(before, x, one, s), cum(x, ScanOp::Prod, axis, s),
          cum(where(first_zero, one, x, s), ScanOp::Prod, axis, s)};
}

// Max and min: a position starts a run when the running extreme changes there; every
// output of the run takes its derivative from that position.
array run_starts(const ForwardView& f, const array& y) {
  int len = static_cast<int>(f.n(y));
  array prev = concatenate({f.part(y, 0, 1), f.part(y, 0, len - 1)}, f.axis, f.s);
  array changed = logical_and(not_equal(y, prev, f.s), logical_not(logical_and(isnan(y, f.s), isnan(prev, f.s), f.s), f.s), f.s);
  return logical_or(equal(f.positions(y), array(0), f.s), changed, f.s);
}

// log(sum_j w_j exp(a_j)) pieces for signed weights: (log of the positive part, log of the
// negative part), each -inf where that part is empty, so that no exp overflows.
std::pair<array, array> signed_logs(const array& w, const array& a, S s) {
  array zero = zeros({}, w.dtype(), s), one = ones({}, w.dtype(), s);
  array neg_inf = array(-std::numeric_limits<double>::infinity(), w.dtype());
  array pos = greater(w, zero, s), neg = less(w, zero, s);
  array lp = where(pos, add(log(where(pos, w, one, s), s), a, s), neg_inf, s);
  array ln = where(neg, add(log(where(neg, negative(w, s), one, s), s), a, s), neg_inf, s);
  return {lp, ln};
}

}  // namespace

std::vector<array> Scan::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                             const std::vector<int>&, const std::vector<array>&) {
  const array& x = primals[0];
  S s = stream();
  if (!inexact(x) || x.size() == 0) return {zeros_like(x, s)};
  if (op_ == ScanOp::Sum) return {scan_node(cts[0], ScanOp::Sum, axis_, !reverse_, inclusive_, s)};
  ForwardView f{axis_, reverse_, s};
  array xf = f(x);
  array g = f(cts[0]);
  if (!inclusive_) g = f.shift_left(g);
  array zero = zeros({}, x.dtype(), s);
  array dx = zero;
  switch (op_) {
    case ScanOp::Prod: {
      auto p = prod_parts(xf, axis_, s);
      array rev_gy = cum(multiply(g, p.y, s), ScanOp::Sum, axis_, s, true);
      array rev_gy1 = cum(multiply(g, p.y1, s), ScanOp::Sum, axis_, s, true);
      dx = where(p.before, divide(rev_gy, p.safe_x, s), where(p.first_zero, rev_gy1, zero, s), s);
      break;
    }
    case ScanOp::Max:
    case ScanOp::Min: {
      array y = cum(xf, op_, axis_, s);
      array starts = run_starts(f, y);
      int len = static_cast<int>(f.n(xf));
      // The end (exclusive) of the run each start opens: the next start, or n.
      array next = cum(where(starts, f.positions(xf), array(len), s), ScanOp::Min, axis_, s, true, false);
      next = minimum(next, array(len), s);
      array prefix = concatenate({f.zeros_line(g, 1), cum(g, ScanOp::Sum, axis_, s)}, axis_, s);  // sum_{i<k} g_i
      array run_sum = subtract(take_along_axis(prefix, next, axis_, s), f.part(prefix, 0, len), s);
      dx = where(starts, run_sum, zero, s);
      break;
    }
    case ScanOp::LogAddExp: {
      // dx_j = sum_{i>=j} g_i exp(x_j - y_i), in log space by sign so nothing overflows.
      array y = cum(xf, op_, axis_, s);
      auto [lp, ln] = signed_logs(g, negative(y, s), s);
      array rp = cum(lp, ScanOp::LogAddExp, axis_, s, true), rn = cum(ln, ScanOp::LogAddExp, axis_, s, true);
      dx = subtract(exp(add(xf, rp, s), s), exp(add(xf, rn, s), s), s);
      break;
    }
    default: break;
  }
  return {f(dx)};
}

std::vector<array> Scan::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  const array& x = primals[0];
  S s = stream();
  if (!inexact(x) || x.size() == 0) return {zeros_like(x, s)};
  if (op_ == ScanOp::Sum) return {scan_node(tangents[0], ScanOp::Sum, axis_, reverse_, inclusive_, s)};
  ForwardView f{axis_, reverse_, s};
  array xf = f(x);
  array t = f(tangents[0]);
  array ty = t;
  switch (op_) {
    case ScanOp::Prod: {
      auto p = prod_parts(xf, axis_, s);
      array zero = zeros({}, x.dtype(), s);
      array until_zero = multiply(p.y, cum(divide(t, p.safe_x, s), ScanOp::Sum, axis_, s), s);
      array after_zero = multiply(cum(where(p.first_zero, t, zero, s), ScanOp::Sum, axis_, s), p.y1, s);
      ty = where(p.before, until_zero, after_zero, s);
      break;
    }
    case ScanOp::Max:
    case ScanOp::Min: {
      array y = cum(xf, op_, axis_, s);
      array starts = run_starts(f, y);
      array holder = cum(where(starts, f.positions(xf), array(0), s), ScanOp::Max, axis_, s);
      ty = take_along_axis(t, holder, axis_, s);
      break;
    }
    case ScanOp::LogAddExp: {
      // ty_i = sum_{j<=i} t_j exp(x_j - y_i), by sign in log space.
      array y = cum(xf, op_, axis_, s);
      auto [lp, ln] = signed_logs(t, xf, s);
      array cp = cum(lp, ScanOp::LogAddExp, axis_, s), cn = cum(ln, ScanOp::LogAddExp, axis_, s);
      ty = subtract(exp(subtract(cp, y, s), s), exp(subtract(cn, y, s), s), s);
      break;
    }
    default: break;
  }
  if (!inclusive_) ty = f.shift_right(ty);
  return {f(ty)};
}

std::pair<std::vector<array>, std::vector<int>> Scan::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0], stream());
  return {{scan_node(x, op_, axis_ + 1, reverse_, inclusive_, stream())}, {0}};
}

// ---- the scan ops ----------------------------------------------------------------------

namespace {

array scan_op(const array& a, int axis, bool reverse, bool inclusive, ScanOp op, const char* name, S s) {
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), name);
  Dtype t = a.dtype();
  if (is_complex(t) && op != ScanOp::Sum && op != ScanOp::Prod)
    fail(name, "complex64 inputs cannot be ordered or compared.");
  // As MLX: bool sums count in int32, other integers keep their dtype (and wrap). Unlike
  // MLX, logcumsumexp of integers is computed in float32 rather than truncated back.
  if (op == ScanOp::Sum && t == bool_) t = int32;
  if (op == ScanOp::LogAddExp && is_integral(t)) t = float32;
  return scan_node(astype(a, t, s), op, axis, reverse, inclusive, s);
}

}  // namespace

#define LAZULI_SCAN(fn, OP)                                                                    \
  array fn(const array& a, int axis, bool reverse, bool inclusive, S s) {                      \
    return scan_op(a, axis, reverse, inclusive, ScanOp::OP, #fn, s);                           \
  }                                                                                            \
  array fn(const array& a, bool reverse, bool inclusive, S s) {                                \
    return scan_op(reshape(a, {-1}, s), 0, reverse, inclusive, ScanOp::OP, #fn, s);            \
  }
LAZULI_SCAN(cumsum, Sum)
LAZULI_SCAN(cumprod, Prod)
LAZULI_SCAN(cummax, Max)
LAZULI_SCAN(cummin, Min)
LAZULI_SCAN(logcumsumexp, LogAddExp)
#undef LAZULI_SCAN

// ---- miscellaneous compositions --------------------------------------------------------

namespace {
// The part start:stop of `axis`.
array axis_part(const array& a, int axis, int start, int stop, S s) {
  Shape b(a.ndim(), 0), e = a.shape();
  b[axis] = start, e[axis] = stop;
  return slice(a, b, e, s);
}
}  // namespace

array diff(const array& a, int n, int axis, S s) {
  if (n < 0) fail("diff", "The order n must be non-negative, got " + std::to_string(n) + ".");
  if (a.ndim() == 0) fail("diff", "diff needs an array of at least one dimension.");
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), "diff");
  array out = a;
  for (int i = 0; i < n; ++i) {
    int len = out.shape()[axis];
    if (len == 0) break;
    array hi = axis_part(out, axis, 1, len, s), lo = axis_part(out, axis, 0, len - 1, s);
    out = out.dtype() == bool_ ? not_equal(hi, lo, s) : subtract(hi, lo, s);
  }
  return out;
}

array softmax(const array& a, const std::vector<int>& axes_in, bool precise, S s) {
  auto axes = normalize_axes(axes_in, static_cast<int>(a.ndim()), "softmax");
  Stream st = to_stream(s);
  if (axes.size() == 1 && axes[0] == static_cast<int>(a.ndim()) - 1 && runs_fused(a, a.dtype(), st))
    return fused_softmax(a, precise, st);
  return softmax_composed(a, axes_in, precise, s);
}

array detail::softmax_composed(const array& a, const std::vector<int>& axes_in, bool precise, S s) {
  auto axes = normalize_axes(axes_in, static_cast<int>(a.ndim()), "softmax");
  Dtype t = is_integral(a.dtype()) ? float32 : a.dtype();
  if (is_complex(t)) fail("softmax", "complex64 inputs are not supported.");
  // precise: 16-bit floats compute in float32 (the result keeps their dtype).
  Dtype compute = (precise && (t == float16 || t == bfloat16)) ? float32 : t;
  array x = astype(a, compute, s);
  if (axes.empty() || x.size() == 0) return astype(divide(exp(x, s), exp(x, s), s), t, s);
  array m = stop_gradient(max(x, axes, true, s), s);  // softmax does not depend on the shift
  m = where(isinf(m, s), zeros({}, compute, s), m, s);  // rows of -inf stay NaN-free until the divide
  array e = exp(subtract(x, m, s), s);
  return astype(divide(e, sum(e, axes, true, s), s), t, s);
}
array softmax(const array& a, int axis, bool precise, S s) { return softmax(a, std::vector<int>{axis}, precise, s); }
array softmax(const array& a, bool precise, S s) {
  std::vector<int> axes(a.ndim());
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int>(i);
  return softmax(a, axes, precise, s);
}

array nan_to_num(const array& a, double nan, std::optional<double> posinf, std::optional<double> neginf, S s) {
  Dtype t = a.dtype();
  if (is_integral(t)) return a;
  if (is_complex(t)) fail("nan_to_num", "complex64 inputs are not supported.");
  finfo info(t);
  array hi = array(posinf.value_or(info.max), t), lo = array(neginf.value_or(info.min), t);
  array out = where(isposinf(a, s), hi, where(isneginf(a, s), lo, a, s), s);
  return where(isnan(a, s), array(nan, t), out, s);
}

array roll(const array& a, const Shape& shift, const std::vector<int>& axes_in, S s) {
  if (shift.empty()) fail("roll", "At least one shift is needed.");
  if (axes_in.empty()) {  // over the flattened array
    int64_t total = 0;
    for (int v : shift) total += v;
    if (a.size() == 0) return a;
    int64_t n = static_cast<int64_t>(a.size());
    return reshape(roll(reshape(a, {-1}, s), Shape{static_cast<int>(((total % n) + n) % n)}, {0}, s), a.shape(), s);
  }
  if (shift.size() != axes_in.size() && shift.size() != 1 && axes_in.size() != 1)
    fail("roll", "shift has " + std::to_string(shift.size()) + " values for " + std::to_string(axes_in.size()) +
                     " axes.");
  size_t count = std::max(shift.size(), axes_in.size());
  std::vector<int64_t> by_axis(a.ndim(), 0);
  for (size_t i = 0; i < count; ++i) {
    int ax = normalize_axis(axes_in[axes_in.size() == 1 ? 0 : i], static_cast<int>(a.ndim()), "roll");
    by_axis[ax] += shift[shift.size() == 1 ? 0 : i];
  }
  array out = a;
  for (int ax = 0; ax < static_cast<int>(a.ndim()); ++ax) {
    int64_t n = a.shape()[ax];
    if (n == 0) continue;
    int k = static_cast<int>(((by_axis[ax] % n) + n) % n);
    if (k == 0) continue;
    out = concatenate({axis_part(out, ax, n - k, n, s), axis_part(out, ax, 0, n - k, s)}, ax, s);
  }
  return out;
}
array roll(const array& a, int shift, S s) { return roll(a, Shape{shift}, {}, s); }
array roll(const array& a, int shift, int axis, S s) { return roll(a, Shape{shift}, {axis}, s); }

array diagonal(const array& a, int offset, int axis1, int axis2, S s) {
  int nd = static_cast<int>(a.ndim());
  if (nd < 2) fail("diagonal", "The array must have at least two dimensions, got " + std::to_string(nd) + ".");
  axis1 = normalize_axis(axis1, nd, "diagonal");
  axis2 = normalize_axis(axis2, nd, "diagonal");
  if (axis1 == axis2) fail("diagonal", "axis1 and axis2 must differ, got " + std::to_string(axis1) + " twice.");
  std::vector<int> perm;
  for (int d = 0; d < nd; ++d)
    if (d != axis1 && d != axis2) perm.push_back(d);
  perm.push_back(axis1), perm.push_back(axis2);
  array x = transpose(a, perm, s);
  int rows = a.shape()[axis1], cols = a.shape()[axis2];
  int r0 = offset >= 0 ? 0 : -offset, c0 = offset >= 0 ? offset : 0;
  int len = std::max(0, std::min(rows - r0, cols - c0));
  Shape flat(x.shape().begin(), x.shape().end() - 2);
  flat.push_back(rows * cols);
  std::vector<int32_t> idx(len);
  for (int i = 0; i < len; ++i) idx[i] = (r0 + i) * cols + c0 + i;
  return take(reshape(x, flat, s), array(idx.begin(), Shape{len}, int32), -1, s);
}

array diag(const array& a, int k, S s) {
  if (a.ndim() == 2) return diagonal(a, k, 0, 1, s);
  if (a.ndim() != 1) fail("diag", "The input must be 1-d or 2-d, got " + std::to_string(a.ndim()) + " dimensions.");
  int n = a.shape()[0], size = n + std::abs(k);
  int r0 = k >= 0 ? 0 : -k, c0 = k >= 0 ? k : 0;
  std::vector<int32_t> idx(n);
  for (int i = 0; i < n; ++i) idx[i] = (r0 + i) * size + c0 + i;
  array flat = scatter(zeros({size * size}, a.dtype(), s), array(idx.begin(), Shape{n}, int32), a, 0, s);
  return reshape(flat, {size, size}, s);
}

array trace(const array& a, int offset, int axis1, int axis2, std::optional<Dtype> dtype, S s) {
  if (a.ndim() < 2) fail("trace", "The array must have at least two dimensions, got " + std::to_string(a.ndim()) + ".");
  array d = diagonal(a, offset, axis1, axis2, s);
  return sum(dtype ? astype(d, *dtype, s) : d, -1, false, s);
}

std::vector<array> meshgrid(const std::vector<array>& arrays, bool sparse, const std::string& indexing, S s) {
  if (indexing != "xy" && indexing != "ij")
    fail("meshgrid", "indexing must be 'xy' or 'ij', got '" + indexing + "'.");
  size_t n = arrays.size();
  Shape full;
  for (auto& x : arrays) full.push_back(static_cast<int>(x.size()));
  bool swap = indexing == "xy" && n >= 2;
  if (swap) std::swap(full[0], full[1]);
  std::vector<array> out;
  for (size_t i = 0; i < n; ++i) {
    size_t pos = (swap && i < 2) ? 1 - i : i;
    Shape sh(n, 1);
    sh[pos] = full[pos];
    array x = reshape(arrays[i], sh, s);
    out.push_back(sparse ? x : broadcast_to(x, full, s));
  }
  return out;
}

array kron(const array& a, const array& b, S s) {
  size_t nd = std::max(a.ndim(), b.ndim());
  Shape sa(nd - a.ndim(), 1), sb(nd - b.ndim(), 1);
  sa.insert(sa.end(), a.shape().begin(), a.shape().end());
  sb.insert(sb.end(), b.shape().begin(), b.shape().end());
  // a as (a0, 1, a1, 1, ...) times b as (1, b0, 1, b1, ...), then merge each pair.
  Shape ia, ib, out;
  for (size_t d = 0; d < nd; ++d) {
    ia.push_back(sa[d]), ia.push_back(1);
    ib.push_back(1), ib.push_back(sb[d]);
    out.push_back(sa[d] * sb[d]);
  }
  return reshape(multiply(reshape(a, ia, s), reshape(b, ib, s), s), out, s);
}

array vecdot(const array& a, const array& b, int axis, S s) {
  Shape shape = broadcast_shapes(a.shape(), b.shape());
  axis = normalize_axis(axis, static_cast<int>(shape.size()), "vecdot");
  array x = is_complex(a.dtype()) ? conjugate(a, s) : a;
  return sum(multiply(x, b, s), axis, false, s);
}

}  // namespace lazuli

namespace lazuli {
LAZULI_PRIMITIVE_READER(Scan) {
  r.arity(1);
  auto op = r.enumeration<ScanOp>(5);
  r.outputs_like(0);
  int axis = r.axis(r.rank());
  bool reverse = r.boolean(), inclusive = r.boolean();
  return std::make_shared<Scan>(s, op, axis, reverse, inclusive);
}
}  // namespace lazuli
