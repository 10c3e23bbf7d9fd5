// The general gather and scatters (Gather, ScatterSlices: shapes and transform rules) and
// the ops built on them: gather, scatter*, scatter_add_axis, dynamic slice and
// slice_update, slice_update_*, masked_scatter, unstack, depends (the Depends primitive).
// Kernels live in backend/cpu/gather.cpp; nonzero and unique in ops/unique.cpp.
#include <algorithm>

#include "lazuli/backend/common/scatter.h"
#include "lazuli/indexing.h"
#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives/indexing.h"

namespace lazuli {
using namespace detail;

namespace {

std::string list_str(const std::vector<int>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

// Normalised axes, each named once.
std::vector<int> checked_axes(const std::vector<int>& axes, int ndim, const char* op) {
  std::vector<int> out;
  for (int ax : axes) {
    int a = normalize_axis(ax, ndim, op);
    if (std::find(out.begin(), out.end(), a) != out.end())
      fail(op, "Axis " + std::to_string(ax) + " is repeated in axes " + list_str(axes) + ".");
    out.push_back(a);
  }
  return out;
}

void check_integer(const array& idx, const char* op, const char* what) {
  if (!is_integral(idx.dtype()) || idx.dtype() == bool_)
    fail(op, std::string(what) + " must be integers, got " + dtype_name(idx.dtype()) + ".");
}

// The index arrays, checked and broadcast to one shape.
std::vector<array> broadcast_indices(const std::vector<array>& indices, const char* op, S s) {
  Shape shape;
  for (const array& i : indices) {
    check_integer(i, op, "indices");
    try {
      shape = broadcast_shapes(shape, i.shape());
    } catch (const std::invalid_argument&) {
      fail(op, "Index arrays of shapes " + shape_str(shape) + " and " + shape_str(i.shape()) +
                   " do not broadcast together.");
    }
  }
  std::vector<array> out;
  for (const array& i : indices) out.push_back(broadcast_to(i, shape, s));
  return out;
}

void check_counts(size_t num_indices, size_t num_axes, const char* op) {
  if (num_indices != num_axes)
    fail(op, "Got " + std::to_string(num_indices) + " index arrays for " + std::to_string(num_axes) + " axes.");
}

// The node, from already-checked arguments (transform rules come here too).
array make_gather(const array& a, const std::vector<array>& idx, const std::vector<int>& axes, const Shape& sizes,
                  S s) {
  std::vector<array> inputs{a};
  inputs.insert(inputs.end(), idx.begin(), idx.end());
  return make_node<Gather>(inputs, a.dtype(), s, axes, sizes);
}
array make_scatter(ScatterOp op, const array& a, const std::vector<array>& idx, const array& updates,
                   const std::vector<int>& axes, S s) {
  std::vector<array> inputs{a};
  inputs.insert(inputs.end(), idx.begin(), idx.end());
  inputs.push_back(updates);
  return make_node<ScatterSlices>(inputs, a.dtype(), s, op, axes);
}


array scatter_slices(ScatterOp op, const array& a, const std::vector<array>& indices, const array& updates,
                     const std::vector<int>& axes, S s) {
  const char* name = scatter_op_name(op);
  check_counts(indices.size(), axes.size(), name);
  int nd = static_cast<int>(a.ndim());
  std::vector<int> ax = checked_axes(axes, nd, name);
  std::vector<array> idx = broadcast_indices(indices, name, s);
  Shape target = idx.empty() ? Shape{} : idx[0].shape();
  int ind = static_cast<int>(target.size());
  if (static_cast<int>(updates.ndim()) != ind + nd)
    fail(name, "updates need " + std::to_string(ind + nd) + " axes (the index shape " + shape_str(target) +
                   ", then one window axis per axis of a), got shape " + shape_str(updates.shape()) + ".");
  for (int d = 0; d < nd; ++d) {
    int32_t w = updates.shape()[ind + d];
    if (w > a.shape()[d])
      fail(name, "The update window " + shape_str(Shape(updates.shape().begin() + ind, updates.shape().end())) +
                     " does not fit in a of shape " + shape_str(a.shape()) + ".");
    target.push_back(w);
  }
  Shape b;
  try {
    b = broadcast_shapes(updates.shape(), target);
  } catch (const std::invalid_argument&) {
  }
  if (b != target)
    fail(name, "updates of shape " + shape_str(updates.shape()) + " do not broadcast to " + shape_str(target) + ".");
  return make_scatter(op, a, idx, broadcast_to(astype(updates, a.dtype(), s), target, s), ax, s);
}

// Start indices of a dynamic slice, one 0-d int64 per axis, clamped so `sizes` fit.
std::vector<array> clamped_starts(const array& a, const array& start, const std::vector<int>& axes,
                                  const Shape& sizes, const char* op, S s) {
  check_integer(start, op, "start_indices");
  if (start.ndim() > 1) fail(op, "start_indices must be 0-d or 1-d, got shape " + shape_str(start.shape()) + ".");
  if (start.size() != axes.size())
    fail(op, "Got " + std::to_string(start.size()) + " start indices for " + std::to_string(axes.size()) + " axes " +
                 list_str(axes) + ".");
  array st = start;
  if (st.dtype() == uint64) st = minimum(st, array(uint64_t{1} << 40, uint64), s);  // stays huge as int64
  array flat = reshape(astype(st, int64, s), {-1}, s);
  std::vector<array> out;
  for (size_t k = 0; k < axes.size(); ++k) {
    int64_t hi = int64_t(a.shape()[axes[k]]) - sizes[axes[k]];
    array i = take(flat, array(static_cast<int32_t>(k)), 0, s);
    out.push_back(minimum(maximum(i, array(int64_t{0}), s), array(hi), s));
  }
  return out;
}

// Inputs 1..k of a Gather or ScatterSlices node.
std::vector<array> index_inputs(const std::vector<array>& inputs, size_t k) {
  return std::vector<array>(inputs.begin() + 1, inputs.begin() + 1 + k);
}

array tangent_for(size_t i, const std::vector<array>& primals, const std::vector<array>& tangents,
                  const std::vector<int>& argnums) {
  for (size_t k = 0; k < argnums.size(); ++k)
    if (argnums[k] == static_cast<int>(i)) return tangents[k];
  return zeros_like(primals[i]);
}

// For vmap rules: x with a batch axis of size `batch` in front (moved there, or repeated).
array batched_front(const array& x, int ax, int batch, S s) {
  if (ax >= 0) return to_front(x, ax, s);
  Shape shape{batch};
  shape.insert(shape.end(), x.shape().begin(), x.shape().end());
  return broadcast_to(expand_dims(x, 0, s), shape, s);
}

int batch_size(const std::vector<array>& inputs, const std::vector<int>& axes) {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (axes[i] >= 0) return inputs[i].shape()[axes[i]];
  return 1;
}

// With batched indices, the batch becomes one more indexed axis: an arange index on axis 0
// of the batched source, broadcast like the other indices.
array batch_index(int batch, const Shape& index_shape, S s) {
  Shape shape(index_shape.size() + 1, 1);
  shape[0] = batch;
  Shape full{batch};
  full.insert(full.end(), index_shape.begin(), index_shape.end());
  return broadcast_to(reshape(arange(0, batch, 1, s), shape, s), full, s);
}

}  // namespace

// ---- primitives: shapes and equivalence ------------------------------------------------

std::vector<Shape> Gather::output_shapes(const std::vector<array>& inputs) const {
  Shape shape = inputs.size() > 1 ? inputs[1].shape() : Shape{};
  shape.insert(shape.end(), slice_sizes_.begin(), slice_sizes_.end());
  return {shape};
}
bool Gather::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Gather*>(&o);
  return p && p->axes_ == axes_ && p->slice_sizes_ == slice_sizes_;
}

std::vector<Shape> ScatterSlices::output_shapes(const std::vector<array>& inputs) const {
  return {inputs[0].shape()};
}
bool ScatterSlices::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const ScatterSlices*>(&o);
  return p && p->op_ == op_ && p->axes_ == axes_;
}
std::string ScatterSlices::name() const {
  switch (op_) {
    case ScatterOp::Set: return "ScatterSlices";
    case ScatterOp::Add: return "ScatterSlicesAdd";
    case ScatterOp::Prod: return "ScatterSlicesProd";
    case ScatterOp::Max: return "ScatterSlicesMax";
    case ScatterOp::Min: return "ScatterSlicesMin";
  }
  return "ScatterSlices";
}

std::vector<Shape> Depends::output_shapes(const std::vector<array>& inputs) const {
  std::vector<Shape> shapes;
  for (int i = 0; i < num_inputs_; ++i) shapes.push_back(inputs[i].shape());
  return shapes;
}

// ---- transform rules -------------------------------------------------------------------
// Gather's derivative scatter-adds the cotangent back into the windows it read (a window
// read twice gets both contributions). ScatterSlices follows Scatter (docs/transforms.md):
// overwritten positions get nothing from a, Max/Min send the derivative to the winner
// (both on a tie), Prod divides by each factor. Index inputs have no derivative.

std::vector<array> Gather::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  auto idx = index_inputs(primals, primals.size() - 1);
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0)
      out.push_back(make_scatter(ScatterOp::Add, zeros_like(primals[0], stream()), idx, cts[0], axes_, stream()));
    else
      out.push_back(zeros_like(primals[arg], stream()));
  }
  return out;
}
std::vector<array> Gather::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  auto idx = index_inputs(primals, primals.size() - 1);
  return {make_gather(tangent_for(0, primals, tangents, argnums), idx, axes_, slice_sizes_, stream())};
}
std::pair<std::vector<array>, std::vector<int>> Gather::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) {
  int batch = batch_size(inputs, axes);
  size_t k = inputs.size() - 1;
  if (axes[0] < 0) {  // only the indices are batched: their batch axis leads the output
    std::vector<array> idx;
    for (size_t i = 1; i <= k; ++i) idx.push_back(batched_front(inputs[i], axes[i], batch, stream()));
    return {{make_gather(inputs[0], idx, axes_, slice_sizes_, stream())}, {0}};
  }
  array a = batched_front(inputs[0], axes[0], batch, stream());
  std::vector<int> shifted;
  for (int ax : axes_) shifted.push_back(ax + 1);
  bool indices_batched = std::any_of(axes.begin() + 1, axes.end(), [](int ax) { return ax >= 0; });
  if (!indices_batched) {  // the batch is one more whole axis of each window
    Shape sizes{batch};
    sizes.insert(sizes.end(), slice_sizes_.begin(), slice_sizes_.end());
    array out = make_gather(a, index_inputs(inputs, k), shifted, sizes, stream());
    return {{out}, {static_cast<int>(out.ndim() - sizes.size())}};
  }
  std::vector<array> idx;
  for (size_t i = 1; i <= k; ++i) idx.push_back(batched_front(inputs[i], axes[i], batch, stream()));
  Shape index_shape(idx[0].shape().begin() + 1, idx[0].shape().end());
  idx.insert(idx.begin(), batch_index(batch, index_shape, stream()));
  shifted.insert(shifted.begin(), 0);
  Shape sizes{1};
  sizes.insert(sizes.end(), slice_sizes_.begin(), slice_sizes_.end());
  array out = make_gather(a, idx, shifted, sizes, stream());  // (batch, index..., 1, window...)
  return {{squeeze(out, static_cast<int>(idx[0].ndim()), stream())}, {0}};
}

namespace {
// d out / d a and d out / d updates of the combining scatters (Prod, Max, Min).
std::pair<array, array> slices_partials(ScatterOp op, const array& a, const std::vector<array>& idx,
                                        const array& u, const array& out, const std::vector<int>& axes, S s) {
  Shape window(u.shape().end() - a.ndim(), u.shape().end());
  array out_at_u = make_gather(out, idx, axes, window, s);
  if (op == ScatterOp::Prod) return {divide(out, a, s), divide(out_at_u, u, s)};
  return {astype(equal(out, a, s), a.dtype(), s), astype(equal(out_at_u, u, s), u.dtype(), s)};
}
}  // namespace

std::vector<array> ScatterSlices::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                      const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& g = cts[0];
  size_t k = primals.size() - 2;
  const array &a = primals[0], &u = primals.back();
  auto idx = index_inputs(primals, k);
  Shape window(u.shape().end() - a.ndim(), u.shape().end());
  auto at_updates = [&](const array& x) { return make_gather(x, idx, axes_, window, stream()); };
  std::vector<array> out;
  for (int arg : argnums) {
    bool wrt_a = arg == 0, wrt_u = arg == static_cast<int>(k) + 1;
    if (!wrt_a && !wrt_u) {
      out.push_back(zeros_like(primals[arg], stream()));
    } else if (op_ == ScatterOp::Set) {
      out.push_back(wrt_a ? make_scatter(ScatterOp::Set, g, idx, zeros_like(u, stream()), axes_, stream())
                          : at_updates(g));
    } else if (op_ == ScatterOp::Add) {
      out.push_back(wrt_a ? g : at_updates(g));
    } else {
      auto [pa, pu] = slices_partials(op_, a, idx, u, outputs[0], axes_, stream());
      out.push_back(wrt_a ? multiply(g, pa, stream()) : multiply(at_updates(g), pu, stream()));
    }
  }
  return out;
}
std::vector<array> ScatterSlices::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                      const std::vector<int>& argnums) {
  size_t k = primals.size() - 2;
  const array &a = primals[0], &u = primals.back();
  auto idx = index_inputs(primals, k);
  array ta = tangent_for(0, primals, tangents, argnums), tu = tangent_for(k + 1, primals, tangents, argnums);
  if (op_ == ScatterOp::Set || op_ == ScatterOp::Add) return {make_scatter(op_, ta, idx, tu, axes_, stream())};
  array out = make_scatter(op_, a, idx, u, axes_, stream());
  auto [pa, pu] = slices_partials(op_, a, idx, u, out, axes_, stream());
  return {add(multiply(ta, pa, stream()),
              make_scatter(ScatterOp::Add, zeros_like(a, stream()), idx, multiply(tu, pu, stream()), axes_, stream()),
              stream())};
}
std::pair<std::vector<array>, std::vector<int>> ScatterSlices::vmap(const std::vector<array>& inputs,
                                                                    const std::vector<int>& axes) {
  int batch = batch_size(inputs, axes);
  size_t k = inputs.size() - 2;
  array a = batched_front(inputs[0], axes[0], batch, stream());
  array u = batched_front(inputs.back(), axes.back(), batch, stream());  // (batch, index..., window...)
  int index_nd = static_cast<int>(u.ndim()) - 1 - static_cast<int>(inputs[0].ndim()) + (axes[0] >= 0);
  std::vector<int> shifted;
  for (int ax : axes_) shifted.push_back(ax + 1);
  bool indices_batched = std::any_of(axes.begin() + 1, axes.end() - 1, [](int ax) { return ax >= 0; });
  if (!indices_batched) {  // the batch is one more whole axis of each window
    u = moveaxis(u, 0, index_nd, stream());
    return {{make_scatter(op_, a, index_inputs(inputs, k), u, shifted, stream())}, {0}};
  }
  std::vector<array> idx;
  for (size_t i = 1; i <= k; ++i) idx.push_back(batched_front(inputs[i], axes[i], batch, stream()));
  Shape index_shape(idx[0].shape().begin() + 1, idx[0].shape().end());
  idx.insert(idx.begin(), batch_index(batch, index_shape, stream()));
  shifted.insert(shifted.begin(), 0);
  u = expand_dims(u, 1 + index_nd, stream());  // (batch, index..., 1, window...)
  return {{make_scatter(op_, a, idx, u, shifted, stream())}, {0}};
}

void Depends::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(inputs[i]);
}
std::vector<array> Depends::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  for (int arg : argnums) out.push_back(arg < num_inputs_ ? cts[arg] : zeros_like(primals[arg], stream()));
  return out;
}
std::vector<array> Depends::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>& argnums) {
  std::vector<array> out;
  for (int i = 0; i < num_inputs_; ++i) out.push_back(tangent_for(i, primals, tangents, argnums));
  return out;
}
std::pair<std::vector<array>, std::vector<int>> Depends::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes) {
  std::vector<array> ins(inputs.begin(), inputs.begin() + num_inputs_);
  std::vector<array> deps(inputs.begin() + num_inputs_, inputs.end());
  std::vector<int> out_axes(axes.begin(), axes.begin() + num_inputs_);
  int batch = batch_size(inputs, axes);
  for (int i = 0; i < num_inputs_; ++i) {  // an unmapped input comes out repeated
    ins[i] = batched_front(ins[i], axes[i], batch, stream());
    out_axes[i] = 0;
  }
  return {depends(ins, deps), out_axes};
}

// ---- ops -----------------------------------------------------------------------------------

array gather(const array& a, const std::vector<array>& indices, const std::vector<int>& axes,
             const Shape& slice_sizes, S s) {
  check_counts(indices.size(), axes.size(), "gather");
  int nd = static_cast<int>(a.ndim());
  if (static_cast<int>(slice_sizes.size()) != nd)
    fail("gather", "slice_sizes " + shape_str(slice_sizes) + " needs one size per axis of a, which has shape " +
                       shape_str(a.shape()) + ".");
  for (int d = 0; d < nd; ++d)
    if (slice_sizes[d] < 0 || slice_sizes[d] > a.shape()[d])
      fail("gather", "slice_sizes " + shape_str(slice_sizes) + " do not fit in a of shape " + shape_str(a.shape()) + ".");
  std::vector<int> ax = checked_axes(axes, nd, "gather");
  return make_gather(a, broadcast_indices(indices, "gather", s), ax, slice_sizes, s);
}
array gather(const array& a, const array& indices, int axis, const Shape& slice_sizes, S s) {
  return gather(a, std::vector<array>{indices}, std::vector<int>{axis}, slice_sizes, s);
}

array scatter(const array& a, const std::vector<array>& i, const array& u, const std::vector<int>& axes, S s) {
  return scatter_slices(ScatterOp::Set, a, i, u, axes, s);
}
array scatter_add(const array& a, const std::vector<array>& i, const array& u, const std::vector<int>& axes, S s) {
  return scatter_slices(ScatterOp::Add, a, i, u, axes, s);
}
array scatter_prod(const array& a, const std::vector<array>& i, const array& u, const std::vector<int>& axes, S s) {
  return scatter_slices(ScatterOp::Prod, a, i, u, axes, s);
}
array scatter_max(const array& a, const std::vector<array>& i, const array& u, const std::vector<int>& axes, S s) {
  return scatter_slices(ScatterOp::Max, a, i, u, axes, s);
}
array scatter_min(const array& a, const std::vector<array>& i, const array& u, const std::vector<int>& axes, S s) {
  return scatter_slices(ScatterOp::Min, a, i, u, axes, s);
}

array scatter_add_axis(const array& a, const array& indices, const array& values, int axis, S s) {
  const char* op = "scatter_add_axis";
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), op);
  check_integer(indices, op, "indices");
  if (indices.ndim() != a.ndim())
    fail(op, "indices need " + std::to_string(a.ndim()) + " dimensions, got shape " + shape_str(indices.shape()) + ".");
  // One window of size 1 per index: a coordinate array for every axis, `indices` on `axis`.
  int nd = static_cast<int>(a.ndim());
  Shape shape;
  try {
    Shape other = a.shape();
    other[axis] = indices.shape()[axis];
    shape = broadcast_shapes(indices.shape(), other);
    shape = broadcast_shapes(shape, values.shape());
  } catch (const std::invalid_argument&) {
    fail(op, "indices of shape " + shape_str(indices.shape()) + " and values of shape " + shape_str(values.shape()) +
                 " do not broadcast against a of shape " + shape_str(a.shape()) + ".");
  }
  std::vector<array> idx;
  std::vector<int> axes;
  for (int d = 0; d < nd; ++d) {
    if (d == axis) {
      idx.push_back(broadcast_to(indices, shape, s));
    } else {
      if (shape[d] != a.shape()[d])
        fail(op, "indices of shape " + shape_str(indices.shape()) + " must match a of shape " +
                     shape_str(a.shape()) + " off the axis.");
      Shape unit(nd, 1);
      unit[d] = shape[d];
      idx.push_back(broadcast_to(reshape(arange(0, shape[d], 1, s), unit, s), shape, s));
    }
    axes.push_back(d);
  }
  Shape upd_shape = shape;
  upd_shape.insert(upd_shape.end(), nd, 1);
  array upd = reshape(broadcast_to(astype(values, a.dtype(), s), shape, s), upd_shape, s);
  return make_scatter(ScatterOp::Add, a, idx, upd, axes, s);
}

array dynamic_slice(const array& a, const array& start_indices, std::vector<int> axes, Shape slice_size, S s) {
  const char* op = "slice";
  int nd = static_cast<int>(a.ndim());
  if (static_cast<int>(slice_size.size()) != nd)
    fail(op, "slice_size " + shape_str(slice_size) + " needs one size per axis of a, which has shape " +
                 shape_str(a.shape()) + ".");
  for (int d = 0; d < nd; ++d)
    if (slice_size[d] < 0 || slice_size[d] > a.shape()[d])
      fail(op, "slice_size " + shape_str(slice_size) + " does not fit in a of shape " + shape_str(a.shape()) + ".");
  std::vector<int> ax = checked_axes(axes, nd, op);
  return make_gather(a, clamped_starts(a, start_indices, ax, slice_size, op, s), ax, slice_size, s);
}

array dynamic_slice_update(const array& src, const array& update, const array& start_indices, std::vector<int> axes,
                           S s) {
  const char* op = "slice_update";
  int nd = static_cast<int>(src.ndim());
  if (static_cast<int>(update.ndim()) > nd)
    fail(op, "update of shape " + shape_str(update.shape()) + " has more axes than src of shape " +
                 shape_str(src.shape()) + ".");
  Shape window(nd - update.ndim(), 1);
  window.insert(window.end(), update.shape().begin(), update.shape().end());
  for (int d = 0; d < nd; ++d)
    if (window[d] > src.shape()[d])
      fail(op, "update of shape " + shape_str(update.shape()) + " does not fit in src of shape " +
                   shape_str(src.shape()) + ".");
  std::vector<int> ax = checked_axes(axes, nd, op);
  auto idx = clamped_starts(src, start_indices, ax, window, op, s);
  return make_scatter(ScatterOp::Set, src, idx, reshape(astype(update, src.dtype(), s), window, s), ax, s);
}

namespace {
array slice_update_with(const array& src, const array& update, const Shape& start, const Shape& stop,
                        const Shape& strides, const char* op, array (*combine)(const array&, const array&, S), S s) {
  array current = slice(src, start, stop, strides, s);
  Shape b;
  try {
    b = broadcast_shapes(update.shape(), current.shape());
  } catch (const std::invalid_argument&) {
  }
  if (b != current.shape())
    fail(op, "update of shape " + shape_str(update.shape()) + " does not broadcast to the slice's shape " +
                 shape_str(current.shape()) + ".");
  // A strided slice names each element once, so a read-combine-write is exact.
  array combined = astype(combine(current, astype(update, src.dtype(), s), s), src.dtype(), s);
  return slice_update(src, combined, start, stop, strides, s);
}
}  // namespace

array slice_update_add(const array& src, const array& u, Shape start, Shape stop, Shape strides, S s) {
  return slice_update_with(src, u, start, stop, strides, "slice_update_add", &add, s);
}
array slice_update_prod(const array& src, const array& u, Shape start, Shape stop, Shape strides, S s) {
  return slice_update_with(src, u, start, stop, strides, "slice_update_prod", &multiply, s);
}
array slice_update_max(const array& src, const array& u, Shape start, Shape stop, Shape strides, S s) {
  return slice_update_with(src, u, start, stop, strides, "slice_update_max", &maximum, s);
}
array slice_update_min(const array& src, const array& u, Shape start, Shape stop, Shape strides, S s) {
  return slice_update_with(src, u, start, stop, strides, "slice_update_min", &minimum, s);
}

array masked_scatter(const array& a, const array& mask, const array& src, S s) {
  const char* op = "masked_scatter";
  if (mask.dtype() != bool_) fail(op, "mask must be bool, got " + dtype_name(mask.dtype()) + ".");
  Shape b;
  try {
    b = broadcast_shapes(mask.shape(), a.shape());
  } catch (const std::invalid_argument&) {
  }
  if (b != a.shape())
    fail(op, "mask of shape " + shape_str(mask.shape()) + " does not broadcast to a's shape " + shape_str(a.shape()) + ".");
  // The k-th true position takes src's k-th element: an inclusive count of the trues,
  // minus one, clamped into src.
  array m = reshape(broadcast_to(mask, a.shape(), s), {-1}, s);
  array values = reshape(astype(src, a.dtype(), s), {-1}, s);
  if (values.size() == 0) values = zeros({1}, a.dtype(), s);
  array pos = subtract(cumsum(astype(m, int64, s), 0, false, true, s), array(int64_t{1}), s);
  pos = minimum(maximum(pos, array(int64_t{0}), s), array(int64_t(values.size()) - 1), s);
  return reshape(where(m, take(values, pos, 0, s), reshape(a, {-1}, s), s), a.shape(), s);
}

std::vector<array> unstack(const array& a, int axis, S s) {
  if (a.ndim() == 0) fail("unstack", "Cannot unstack a 0-d array.");
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), "unstack");
  int n = a.shape()[axis];
  std::vector<array> out;
  if (n == 0) return out;
  for (array& part : split(a, n, axis, s)) out.push_back(squeeze(part, axis, s));
  return out;
}

std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& dependencies) {
  if (inputs.empty()) return {};
  std::vector<array> all(inputs);
  all.insert(all.end(), dependencies.begin(), dependencies.end());
  auto p = std::make_shared<Depends>(to_stream({}), static_cast<int>(inputs.size()));
  std::vector<Dtype> dtypes;
  for (const array& x : inputs) dtypes.push_back(x.dtype());
  return array::make_arrays(p->output_shapes(all), dtypes, p, all);
}

}  // namespace lazuli

namespace lazuli {
namespace {
// Axes naming distinct axes of the source, one index array (all of one shape) per axis after it.
std::vector<int> read_gather_axes(Reader& r, size_t extra) {
  auto axes = r.axes(r.rank());
  r.arity(1 + axes.size() + extra);
  for (size_t i = 1; i < axes.size(); ++i)
    if (r.input_shape(1 + i) != r.input_shape(1)) r.fail("index arrays of different shapes");
  for (size_t i = 0; i < axes.size(); ++i) r.expect_integer_input(1 + i);
  r.outputs_like(0);
  return axes;
}
// A window with one size per source axis, each fitting in it.
void check_window(Reader& r, const Shape& window) {
  const Shape& a = r.input_shape(0);
  if (window.size() != a.size()) r.fail("a window's rank does not match the source");
  for (size_t i = 0; i < a.size(); ++i)
    if (window[i] > a[i]) r.fail("a window is larger than the source on axis " + std::to_string(i));
}
}  // namespace
LAZULI_PRIMITIVE_READER(Gather) {
  auto axes = read_gather_axes(r, 0);
  Shape sizes = r.shape();
  check_window(r, sizes);
  return std::make_shared<Gather>(s, std::move(axes), std::move(sizes));
}
LAZULI_PRIMITIVE_READER(ScatterSlices) {
  auto op = r.enumeration<ScatterOp>(5);
  auto axes = read_gather_axes(r, 1);
  const Shape& upd = r.input_shape(1 + axes.size());
  r.expect_input(1 + axes.size(), r.in_dtype(0));
  Shape idx = axes.empty() ? Shape{} : r.input_shape(1);
  if (upd.size() != idx.size() + r.rank() || !std::equal(idx.begin(), idx.end(), upd.begin()))
    r.fail("ScatterSlices' updates do not have the index shape followed by a window");
  check_window(r, Shape(upd.begin() + idx.size(), upd.end()));
  return std::make_shared<ScatterSlices>(s, op, std::move(axes));
}
LAZULI_PRIMITIVE_READER(Depends) {
  int n = r.i32();
  if (n < 0 || size_t(n) > r.input_shapes.size()) r.fail("Depends passes on more inputs than it has");
  if (r.output_dtypes.size() != size_t(n)) r.fail("Depends has another number of outputs");
  for (int i = 0; i < n; ++i) r.expect_output(i, r.in_dtype(i));
  return std::make_shared<Depends>(s, n);
}
}  // namespace lazuli
