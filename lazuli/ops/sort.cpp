// Sorting and searching: the Sort, ArgSort, Partition and ArgPartition primitives (shape
// rules and transform rules) and the ops built on them (sort, argsort, partition,
// argpartition, topk, searchsorted, median). Kernels live in backend/cpu/sort.cpp.
#include <algorithm>
#include <cmath>
#include <limits>

#include "lazuli/ops/ops_util.h"

namespace lazuli {
using namespace detail;

// ---- primitives: shapes and equivalence ------------------------------------------------

std::vector<Shape> Sort::output_shapes(const std::vector<array>& inputs) const { return {inputs[0].shape()}; }
std::vector<Shape> ArgSort::output_shapes(const std::vector<array>& inputs) const { return {inputs[0].shape()}; }
std::vector<Shape> Partition::output_shapes(const std::vector<array>& inputs) const { return {inputs[0].shape()}; }
std::vector<Shape> ArgPartition::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape()};
}

bool Sort::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Sort*>(&o);
  return p && p->axis_ == axis_;
}
bool ArgSort::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ArgSort*>(&o);
  return p && p->axis_ == axis_;
}
bool Partition::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Partition*>(&o);
  return p && p->axis_ == axis_ && p->kth_ == kth_;
}
bool ArgPartition::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ArgPartition*>(&o);
  return p && p->axis_ == axis_ && p->kth_ == kth_;
}

// ---- transform rules -------------------------------------------------------------------
// Sort and Partition permute each line: the derivative moves along the same permutation,
// which ArgSort / ArgPartition give (the kernels order ties by index, so the values node
// and the indices node permute alike). The index outputs have no derivative.

namespace {

// Cotangent of the input of a permutation along `axis`: g scattered back through `perm`.
array unpermute(const array& x, const array& g, const array& perm, int axis, StreamOrDevice s) {
  if (is_integral(x.dtype())) return zeros_like(x, s);
  return put_along_axis(zeros_like(x, s), perm, g, axis, s);
}
array permute_tangent(const array& x, const array& t, const array& perm, int axis, StreamOrDevice s) {
  if (is_integral(x.dtype())) return zeros_like(x, s);
  return take_along_axis(t, perm, axis, s);
}

}  // namespace

std::vector<array> Sort::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                             const std::vector<int>&, const std::vector<array>&) {
  array perm = make_node<ArgSort>({primals[0]}, uint32, stream(), axis_);
  return {unpermute(primals[0], cts[0], perm, axis_, stream())};
}
std::vector<array> Sort::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  array perm = make_node<ArgSort>({primals[0]}, uint32, stream(), axis_);
  return {permute_tangent(primals[0], tangents[0], perm, axis_, stream())};
}
std::pair<std::vector<array>, std::vector<int>> Sort::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0]);
  return {{make_node<Sort>({x}, x.dtype(), stream(), axis_ + 1)}, {0}};
}

std::vector<array> ArgSort::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0], stream())};
}
std::vector<array> ArgSort::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                const std::vector<int>&) {
  return {zeros(primals[0].shape(), uint32, stream())};
}
std::pair<std::vector<array>, std::vector<int>> ArgSort::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0]);
  return {{make_node<ArgSort>({x}, uint32, stream(), axis_ + 1)}, {0}};
}

std::vector<array> Partition::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                  const std::vector<int>&, const std::vector<array>&) {
  array perm = make_node<ArgPartition>({primals[0]}, uint32, stream(), kth_, axis_);
  return {unpermute(primals[0], cts[0], perm, axis_, stream())};
}
std::vector<array> Partition::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>&) {
  array perm = make_node<ArgPartition>({primals[0]}, uint32, stream(), kth_, axis_);
  return {permute_tangent(primals[0], tangents[0], perm, axis_, stream())};
}
std::pair<std::vector<array>, std::vector<int>> Partition::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0]);
  return {{make_node<Partition>({x}, x.dtype(), stream(), kth_, axis_ + 1)}, {0}};
}

std::vector<array> ArgPartition::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                     const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0], stream())};
}
std::vector<array> ArgPartition::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                     const std::vector<int>&) {
  return {zeros(primals[0].shape(), uint32, stream())};
}
std::pair<std::vector<array>, std::vector<int>> ArgPartition::vmap(const std::vector<array>& inputs,
                                                                   const std::vector<int>& axes) {
  array x = to_front(inputs[0], axes[0]);
  return {{make_node<ArgPartition>({x}, uint32, stream(), kth_, axis_ + 1)}, {0}};
}

// ---- ops -------------------------------------------------------------------------------

namespace {

// The axis of a sorting op, checked against a's rank.
int sort_axis(const array& a, int axis, const char* op) {
  if (a.ndim() == 0)
    fail(op, "Received invalid axis " + std::to_string(axis) + " for array with 0 dimensions (use axis=None).");
  return normalize_axis(axis, static_cast<int>(a.ndim()), op);
}

// kth normalised against the axis length n (negative counts from the end).
int normalize_kth(int kth, int32_t n, int axis, const char* op) {
  int k = kth < 0 ? kth + n : kth;
  if (k < 0 || k >= n)
    fail(op, "Received invalid kth " + std::to_string(kth) + " along axis " + std::to_string(axis) +
                 " of length " + std::to_string(n) + ".");
  return k;
}

}  // namespace

array sort(const array& a, int axis, S s) {
  axis = sort_axis(a, axis, "sort");
  return make_node<Sort>({a}, a.dtype(), s, axis);
}
array sort(const array& a, S s) { return sort(reshape(a, {-1}, s), 0, s); }

array argsort(const array& a, int axis, S s) {
  axis = sort_axis(a, axis, "argsort");
  return make_node<ArgSort>({a}, uint32, s, axis);
}
array argsort(const array& a, S s) { return argsort(reshape(a, {-1}, s), 0, s); }

array partition(const array& a, int kth, int axis, S s) {
  axis = sort_axis(a, axis, "partition");
  int k = normalize_kth(kth, a.shape()[axis], axis, "partition");
  return make_node<Partition>({a}, a.dtype(), s, k, axis);
}
array partition(const array& a, int kth, S s) { return partition(reshape(a, {-1}, s), kth, 0, s); }

array argpartition(const array& a, int kth, int axis, S s) {
  axis = sort_axis(a, axis, "argpartition");
  int k = normalize_kth(kth, a.shape()[axis], axis, "argpartition");
  return make_node<ArgPartition>({a}, uint32, s, k, axis);
}
array argpartition(const array& a, int kth, S s) { return argpartition(reshape(a, {-1}, s), kth, 0, s); }

array topk(const array& a, int k, int axis, S s) {
  axis = sort_axis(a, axis, "topk");
  int32_t n = a.shape()[axis];
  if (k < 0 || k > n)
    fail("topk", "Received invalid k=" + std::to_string(k) + " along axis " + std::to_string(axis) +
                     " of length " + std::to_string(n) + ".");
  Shape start(a.ndim(), 0), stop = a.shape();
  start[axis] = n - k;
  if (k == 0 || k == n) return slice(a, start, stop, s);
  return slice(partition(a, n - k, axis, s), start, stop, s);
}
array topk(const array& a, int k, S s) { return topk(reshape(a, {-1}, s), k, 0, s); }

array searchsorted(const array& a, const array& v, const std::string& side, S s) {
  if (side != "left" && side != "right")
    fail("searchsorted", "side must be 'left' or 'right', got '" + side + "'.");
  if (a.ndim() != 1) fail("searchsorted", "a must be 1-dimensional, got shape " + shape_str(a.shape()) + ".");
  if (is_complex(a.dtype()) || is_complex(v.dtype()))
    fail("searchsorted", "complex64 inputs are not supported.");
  // With v before a (left) or after it (right), a stable sort of both places each value of
  // v just past the elements of a that precede it; its position there, less its rank among
  // the values of v, is the insertion point.
  Dtype t = result_type(a, v);
  array vf = reshape(astype(v, t, s), {-1}, s);
  array af = astype(a, t, s);
  int32_t n = a.shape()[0], m = vf.shape()[0];
  if (m == 0) return zeros(v.shape(), uint32, s);
  bool left = side == "left";
  array both = left ? concatenate({vf, af}, 0, s) : concatenate({af, vf}, 0, s);
  array pos = argsort(argsort(both, 0, s), 0, s);  // sorted position of each element
  Shape start{left ? 0 : n}, stop{left ? m : n + m};
  array pos_v = slice(pos, start, stop, s);
  array rank_v = argsort(argsort(vf, 0, s), 0, s);
  return reshape(subtract(pos_v, rank_v, s), v.shape(), s);
}

array median(const array& a, const std::vector<int>& axes, bool keepdims, S s) {
  int nd = static_cast<int>(a.ndim());
  std::vector<int> ax = normalize_axes(axes, nd, "median");
  if (is_complex(a.dtype())) fail("median", "complex64 inputs are not supported.");
  Dtype t = is_integral(a.dtype()) ? float32 : a.dtype();
  // The reduced axes move to the end and become one.
  std::vector<int> perm;
  Shape kept, out_shape;
  for (int d = 0; d < nd; ++d) {
    bool reduced = std::find(ax.begin(), ax.end(), d) != ax.end();
    if (!reduced) perm.push_back(d), kept.push_back(a.shape()[d]);
    out_shape.push_back(reduced ? 1 : a.shape()[d]);
  }
  int32_t n = 1;
  for (int d : ax) perm.push_back(d), n *= a.shape()[d];
  array result = [&] {
    if (n == 0) return full(kept, std::numeric_limits<double>::quiet_NaN(), t, s);
    Shape lines = kept;
    lines.push_back(n);
    array x = reshape(transpose(astype(a, t, s), perm, s), lines, s);
    array sorted = sort(x, -1, s);
    int k = static_cast<int>(lines.size()) - 1;
    auto at = [&](int32_t i) {
      Shape start(lines.size(), 0), stop = lines;
      start[k] = i, stop[k] = i + 1;
      return squeeze(slice(sorted, start, stop, s), k, s);
    };
    array half(0.5, t);
    array mid = (n % 2) ? at(n / 2) : add(multiply(at(n / 2 - 1), half, s), multiply(at(n / 2), half, s), s);
    // NaNs sort last: any NaN in a line makes its median NaN, as in NumPy.
    return where(isnan(at(n - 1), s), array(std::numeric_limits<double>::quiet_NaN(), t), mid, s);
  }();
  return keepdims ? reshape(result, out_shape, s) : result;
}
array median(const array& a, int axis, bool keepdims, S s) { return median(a, std::vector<int>{axis}, keepdims, s); }
array median(const array& a, bool keepdims, S s) {
  std::vector<int> all(a.ndim());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  return median(a, all, keepdims, s);
}

}  // namespace lazuli

namespace lazuli {
LAZULI_PRIMITIVE_READER(Sort) {
  r.arity(1);
  r.outputs_like(0);
  return std::make_shared<Sort>(s, r.axis(r.rank()));
}
LAZULI_PRIMITIVE_READER(ArgSort) {
  r.arity(1);
  r.expect_output(0, uint32);
  return std::make_shared<ArgSort>(s, r.axis(r.rank()));
}
namespace {
// (kth, axis) with kth inside the axis.
std::pair<int, int> read_partition(Reader& r) {
  r.arity(1);
  int kth = r.i32(), axis = r.axis(r.rank());
  if (kth < 0 || kth >= std::max(1, r.input_shape(0)[axis])) r.fail("partition index " + std::to_string(kth) + " is out of range");
  return {kth, axis};
}
}  // namespace
LAZULI_PRIMITIVE_READER(Partition) {
  auto [kth, axis] = read_partition(r);
  r.outputs_like(0);
  return std::make_shared<Partition>(s, kth, axis);
}
LAZULI_PRIMITIVE_READER(ArgPartition) {
  auto [kth, axis] = read_partition(r);
  r.expect_output(0, uint32);
  return std::make_shared<ArgPartition>(s, kth, axis);
}
}  // namespace lazuli
