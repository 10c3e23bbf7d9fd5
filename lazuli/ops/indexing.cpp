// Gather and scatter along an axis, and the along-axis forms built from them.
#include "lazuli/ops/ops_util.h"

namespace lazuli {
using namespace detail;

namespace {

array as_index(const array& indices, const char* op) {
  if (!is_integral(indices.dtype()) || indices.dtype() == bool_)
    fail(op, "indices must be integers, got " + dtype_name(indices.dtype()) + ".");
  return indices;
}

array scatter_op(const array& a, const array& indices, const array& updates, int axis, ScatterOp op,
                 const char* name, S s) {
  if (a.ndim() == 0) fail(name, "Cannot scatter into a 0-d array.");
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), name);
  array idx = as_index(indices, name);
  Shape target(a.shape().begin(), a.shape().begin() + axis);
  target.insert(target.end(), idx.shape().begin(), idx.shape().end());
  target.insert(target.end(), a.shape().begin() + axis + 1, a.shape().end());
  Shape b;
  try {
    b = broadcast_shapes(updates.shape(), target);
  } catch (const std::invalid_argument&) {
  }
  if (b != target)
    fail(name, "updates of shape " + shape_str(updates.shape()) + " do not broadcast to " + shape_str(target) + ".");
  array upd = broadcast_to(astype(updates, a.dtype(), s), target, s);
  return make_node<Scatter>({a, idx, upd}, a.dtype(), s, op, axis);
}

// Row-major positions in `a` of the elements take_along_axis reads.
array along_axis_positions(const array& a, const array& indices, int axis, const char* op) {
  if (indices.ndim() != a.ndim())
    fail(op, "indices need " + std::to_string(a.ndim()) + " dimensions, got " + std::to_string(indices.ndim()) + ".");
  int nd = static_cast<int>(a.ndim());
  Shape shape = a.shape();
  shape[axis] = indices.shape()[axis];
  Shape out;
  try {
    out = broadcast_shapes(shape, indices.shape());
  } catch (const std::invalid_argument&) {
    fail(op, "indices of shape " + shape_str(indices.shape()) + " do not broadcast against " + shape_str(a.shape()) + ".");
  }
  // Wrap negative indices here: the flat take below cannot know the axis size.
  int32_t dim = a.shape()[axis];
  array idx = astype(indices, int64);
  idx = where(less(idx, array(int64_t{0})), add(idx, array(int64_t{dim})), idx);
  idx = where(logical_or(less(idx, array(int64_t{0})), greater_equal(idx, array(int64_t{dim}))),
              array(int64_t{-1} - int64_t(a.size())), idx);  // out of range stays out of range
  array pos = zeros({}, int64);
  int64_t stride = 1;
  for (int d = nd - 1; d >= 0; --d) {
    array coord = d == axis ? idx : reshape(arange(0, a.shape()[d]), [&] {
      Shape s(nd, 1);
      s[d] = a.shape()[d];
      return s;
    }());
    pos = add(pos, multiply(astype(coord, int64), array(stride)));
    stride *= a.shape()[d];
  }
  return broadcast_to(pos, out);
}

}  // namespace

array take(const array& a, const array& indices, int axis, S s) {
  if (a.ndim() == 0) fail("take", "Cannot take from a 0-d array.");
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), "take");
  return make_node<Take>({a, as_index(indices, "take")}, a.dtype(), s, axis);
}
array take(const array& a, const array& indices, S s) { return take(reshape(a, {-1}, s), indices, 0, s); }

array take_along_axis(const array& a, const array& indices, int axis, S s) {
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), "take_along_axis");
  as_index(indices, "take_along_axis");
  return take(reshape(a, {-1}, s), along_axis_positions(a, indices, axis, "take_along_axis"), 0, s);
}

array put_along_axis(const array& a, const array& indices, const array& values, int axis, S s) {
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), "put_along_axis");
  as_index(indices, "put_along_axis");
  array pos = along_axis_positions(a, indices, axis, "put_along_axis");
  array flat = scatter(reshape(a, {-1}, s), reshape(pos, {-1}, s),
                       reshape(broadcast_to(astype(values, a.dtype(), s), pos.shape(), s), {-1}, s), 0, s);
  return reshape(flat, a.shape(), s);
}

array scatter(const array& a, const array& i, const array& u, int axis, S s) {
  return scatter_op(a, i, u, axis, ScatterOp::Set, "scatter", s);
}
array scatter_add(const array& a, const array& i, const array& u, int axis, S s) {
  return scatter_op(a, i, u, axis, ScatterOp::Add, "scatter_add", s);
}
array scatter_prod(const array& a, const array& i, const array& u, int axis, S s) {
  return scatter_op(a, i, u, axis, ScatterOp::Prod, "scatter_prod", s);
}
array scatter_max(const array& a, const array& i, const array& u, int axis, S s) {
  return scatter_op(a, i, u, axis, ScatterOp::Max, "scatter_max", s);
}
array scatter_min(const array& a, const array& i, const array& u, int axis, S s) {
  return scatter_op(a, i, u, axis, ScatterOp::Min, "scatter_min", s);
}

}  // namespace lazuli
