// The array class: construction, properties, named methods, operators (with reflected and
// in-place forms and weak Python scalars), NumPy-style basic indexing, the buffer
// protocol, pickling and copying.
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <sstream>

#include "convert.h"
#include "dlpack.h"
#include "lazuli/device_memory.h"
#include "lazuli/indexing.h"
#include "lazuli/primitives.h"

using namespace lazuli;
using namespace lazuli::py;

namespace {

// ---- indexing ------------------------------------------------------------------------------

// A basic index (ints, slices, Ellipsis, None) resolved against a shape.
struct BasicIndex {
  Shape start, stop, step;  // per input axis, in slice()'s conventions
  Shape region;             // the sliced region, int-indexed axes kept with size 1
  Shape result;             // the result's shape: int axes dropped, None axes added
};

[[noreturn]] void index_error(const std::string& msg) { throw nb::index_error(msg.c_str()); }

BasicIndex resolve_index(const array& a, nb::handle index) {
  std::vector<nb::handle> items;
  if (PyTuple_Check(index.ptr())) {
    for (nb::handle h : index) items.push_back(h);
  } else {
    items.push_back(index);
  }
  int consumed = 0;
  bool ellipsis = false;
  for (auto h : items) {
    if (h.ptr() == Py_Ellipsis) {
      if (ellipsis) index_error("[getitem] An index can only have a single ellipsis ('...').");
      ellipsis = true;
    } else if (!h.is_none()) {
      ++consumed;
    }
  }
  int nd = static_cast<int>(a.ndim());
  if (consumed > nd)
    index_error("[getitem] Too many indices for an array of " + std::to_string(nd) + " dimensions.");
  BasicIndex r;
  int axis = 0;
  auto full_axis = [&] {
    int32_t d = a.shape()[axis++];
    r.start.push_back(0), r.stop.push_back(d), r.step.push_back(1);
    r.region.push_back(d), r.result.push_back(d);
  };
  for (auto h : items) {
    if (h.ptr() == Py_Ellipsis) {
      for (int k = 0; k < nd - consumed; ++k) full_axis();
    } else if (h.is_none()) {
      r.result.push_back(1);
    } else if (PyLong_Check(h.ptr()) || PyIndex_Check(h.ptr())) {
      int64_t i = nb::cast<int64_t>(h);
      int32_t d = a.shape()[axis];
      if (i < -d || i >= d)
        index_error("[getitem] Index " + std::to_string(i) + " is out of bounds for axis " + std::to_string(axis) +
                    " with size " + std::to_string(d) + ".");
      if (i < 0) i += d;
      r.start.push_back(int32_t(i)), r.stop.push_back(int32_t(i + 1)), r.step.push_back(1);
      r.region.push_back(1);
      ++axis;
    } else if (PySlice_Check(h.ptr())) {
      Py_ssize_t start, stop, step;
      if (PySlice_Unpack(h.ptr(), &start, &stop, &step) < 0) throw nb::python_error();
      int32_t d = a.shape()[axis++];
      Py_ssize_t len = PySlice_AdjustIndices(d, &start, &stop, step);
      if (len == 0) start = stop = 0, step = 1;
      // slice() reads a negative stop as counting from the end: "before the first" is -d-1.
      if (stop < 0) stop = -d - 1;
      r.start.push_back(int32_t(start)), r.stop.push_back(int32_t(stop)), r.step.push_back(int32_t(step));
      r.region.push_back(int32_t(len)), r.result.push_back(int32_t(len));
    } else if (nb::isinstance<array>(h) || PyList_Check(h.ptr()) || nb::hasattr(h, "__array_interface__")) {
      index_error("[getitem] Array indices go through advanced indexing, not here.");
    } else {
      throw nb::type_error(("[getitem] Cannot index with an object of type " +
                            std::string(nb::type_name(h.type()).c_str()) + ".").c_str());
    }
  }
  while (axis < nd) full_axis();
  return r;
}

bool is_array_index(nb::handle h) {
  return nb::isinstance<array>(h) || PyList_Check(h.ptr()) || nb::hasattr(h, "__array_interface__");
}

bool has_array_index(nb::handle index) {
  if (!PyTuple_Check(index.ptr())) return is_array_index(index);
  for (nb::handle h : index)
    if (is_array_index(h)) return true;
  return false;
}

// NumPy advanced indexing (integer arrays and ints, mixed with slices) as one gather on a
// view with the indexed axes in front, flattened into one.
struct AdvancedIndex {
  Shape start, stop, step;   // the slices of the basic axes (indexed axes kept whole)
  Shape region;              // the sliced region's shape, axis by axis
  std::vector<int> perm;     // indexed axes first, then the sliced ones
  Shape front;               // the view: (product of indexed dims, sliced dims...)
  array positions{0};        // flat positions into the indexed dims, shaped like the indices
  std::vector<array> indices;  // the index arrays as given, one per indexed axis
  int insert_at = 0;         // where NumPy puts the index dims in the result
};

AdvancedIndex resolve_advanced(const array& a, nb::handle index) {
  std::vector<nb::handle> items;
  if (PyTuple_Check(index.ptr())) for (nb::handle h : index) items.push_back(h);
  else items.push_back(index);
  int nd = static_cast<int>(a.ndim());
  int given = 0;
  for (auto h : items) {
    if (h.ptr() != Py_Ellipsis) ++given;
  }
  if (given > nd) index_error("[getitem] Too many indices for an array of " + std::to_string(nd) + " dimensions.");
  std::vector<nb::handle> per_axis;
  for (auto h : items) {
    if (h.ptr() == Py_Ellipsis) {
      for (int k = 0; k < nd - given; ++k) per_axis.push_back(nb::none());
    } else {
      per_axis.push_back(h);
    }
  }
  while (static_cast<int>(per_axis.size()) < nd) per_axis.push_back(nb::none());
  AdvancedIndex r;
  std::vector<int> indexed, sliced;
  std::vector<array> idx;
  for (int ax = 0; ax < nd; ++ax) {
    nb::handle h = per_axis[ax];
    int32_t d = a.shape()[ax];
    if (h.is_none() || PySlice_Check(h.ptr())) {
      Py_ssize_t start = 0, stop = d, step = 1, len = d;
      if (!h.is_none()) {
        PySlice_Unpack(h.ptr(), &start, &stop, &step);
        len = PySlice_AdjustIndices(d, &start, &stop, step);
        if (len == 0) start = stop = 0, step = 1;
        if (stop < 0) stop = -d - 1;
      }
      r.start.push_back(int32_t(start)), r.stop.push_back(int32_t(stop)), r.step.push_back(int32_t(step));
      r.region.push_back(int32_t(len));
      sliced.push_back(ax);
      continue;
    }
    array i = to_array(h);
    if (i.dtype() == bool_) index_error("[getitem] A boolean index must be an array with at least one axis.");
    if (!is_integral(i.dtype())) throw nb::type_error("[getitem] Index arrays must hold integers.");
    r.indices.push_back(i);
    // Wrap negatives per axis; send out-of-range ones past the end so the gather raises.
    i = astype(i, int64);
    i = where(less(i, array(int64_t{0})), add(i, array(int64_t{d})), i);
    i = where(logical_or(less(i, array(int64_t{0})), greater_equal(i, array(int64_t{d}))), array(int64_t{-1} - int64_t(a.size())), i);
    r.start.push_back(0), r.stop.push_back(d), r.step.push_back(1);
    r.region.push_back(d);
    indexed.push_back(ax);
    idx.push_back(i);
  }
  // Flat positions over the indexed dims (row-major), broadcast together.
  array pos = zeros({}, int64);
  int64_t stride = 1;
  for (int k = static_cast<int>(indexed.size()) - 1; k >= 0; --k) {
    pos = add(pos, multiply(idx[k], array(stride)));
    stride *= a.shape()[indexed[k]];
  }
  Shape bshape;
  for (auto& i : idx) bshape = broadcast_shapes(bshape, i.shape());
  r.positions = broadcast_to(pos, bshape);
  r.perm = indexed;
  r.perm.insert(r.perm.end(), sliced.begin(), sliced.end());
  r.front = {static_cast<int32_t>(stride)};
  for (int ax : sliced) r.front.push_back(r.region[ax]);
  // Indexed axes next to each other keep their place; apart, they go first (NumPy's rule).
  bool adjacent = true;
  for (size_t k = 1; k < indexed.size(); ++k) adjacent &= indexed[k] == indexed[k - 1] + 1;
  r.insert_at = 0;
  if (adjacent)
    for (int ax : sliced) r.insert_at += ax < indexed[0];
  return r;
}

// The sliced view with the indexed axes flattened in front.
array advanced_view(const array& a, const AdvancedIndex& r) {
  return reshape(transpose(slice(a, r.start, r.stop, r.step), r.perm), r.front);
}

// Moves the index dims (first `k` axes of x) to position `at`, or back with inverse=true.
array place_index_dims(const array& x, int k, int at, bool inverse) {
  if (at == 0) return x;
  int nd = static_cast<int>(x.ndim());
  std::vector<int> perm;
  for (int i = k; i < k + at; ++i) perm.push_back(i);
  for (int i = 0; i < k; ++i) perm.push_back(i);
  for (int i = k + at; i < nd; ++i) perm.push_back(i);
  if (!inverse) return transpose(x, perm);
  std::vector<int> inv(nd);
  for (int i = 0; i < nd; ++i) inv[perm[i]] = i;
  return transpose(x, inv);
}

// None in an advanced index: the same as a unit axis inserted into `a` at that place and
// indexed by a full slice (slices and None both separate index arrays in NumPy's rule).
std::pair<array, nb::object> expand_none(const array& a, nb::handle index) {
  if (!PyTuple_Check(index.ptr())) return {a, nb::borrow(index)};
  int given = 0;
  for (nb::handle h : index) given += !h.is_none() && h.ptr() != Py_Ellipsis;
  std::vector<int> axes;
  nb::list replaced;
  int axis = 0;
  for (nb::handle h : index) {
    if (h.is_none()) {
      axes.push_back(axis++);
      replaced.append(nb::slice(nb::none(), nb::none(), nb::none()));
      continue;
    }
    axis += h.ptr() == Py_Ellipsis ? static_cast<int>(a.ndim()) - given : 1;
    replaced.append(h);
  }
  if (axes.empty()) return {a, nb::borrow(index)};
  return {expand_dims(a, axes), nb::tuple(replaced)};
}

// NumPy reads a boolean mask over k axes as the k index arrays of its true positions.
// That is a sync point: nonzero evaluates the mask.
nb::object expand_bool_masks(const array& a, nb::handle index) {
  std::vector<nb::handle> items;
  if (PyTuple_Check(index.ptr())) for (nb::handle h : index) items.push_back(h);
  else items.push_back(index);
  std::vector<std::optional<array>> masks(items.size());
  bool any_mask = false;
  int consumed = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    nb::handle h = items[i];
    if (is_array_index(h)) {
      array m = to_array(h);
      if (m.dtype() == bool_) {
        masks[i] = m;
        any_mask = true;
        consumed += static_cast<int>(m.ndim());
        continue;
      }
    }
    if (!h.is_none() && h.ptr() != Py_Ellipsis) ++consumed;
  }
  if (!any_mask) return nb::borrow(index);
  int nd = static_cast<int>(a.ndim()), axis = 0;
  nb::list out;
  for (size_t i = 0; i < items.size(); ++i) {
    nb::handle h = items[i];
    if (h.ptr() == Py_Ellipsis) {
      axis += std::max(0, nd - consumed);
      out.append(h);
    } else if (h.is_none()) {
      out.append(h);
    } else if (masks[i]) {
      const array& m = *masks[i];
      if (m.ndim() == 0) index_error("[getitem] A 0-d boolean index is not supported; use where or expand_dims.");
      if (axis + static_cast<int>(m.ndim()) > nd)
        index_error("[getitem] Too many indices for an array of " + std::to_string(nd) + " dimensions.");
      for (int d = 0; d < static_cast<int>(m.ndim()); ++d)
        if (m.shape()[d] != a.shape()[axis + d])
          index_error("[getitem] The boolean index does not match the indexed array along axis " +
                      std::to_string(axis + d) + ": the array's size is " + std::to_string(a.shape()[axis + d]) +
                      " but the mask's is " + std::to_string(m.shape()[d]) + ".");
      for (array& coords : nonzero(m)) out.append(nb::cast(coords));
      axis += static_cast<int>(m.ndim());
    } else {
      out.append(h);
      ++axis;
    }
  }
  return nb::tuple(out);
}

array get_advanced(const array& a_in, nb::handle index_in) {
  auto [a, index] = expand_none(a_in, index_in);
  AdvancedIndex r = resolve_advanced(a, index);
  // One gather from the sliced region: a window of one element on each indexed axis (the
  // gather wraps negative indices and raises for out-of-range ones, naming the axis) and
  // whole sliced axes, which come out after the index dims in their order.
  array region = slice(a, r.start, r.stop, r.step);
  int k = static_cast<int>(r.indices.size());
  std::vector<int> axes(r.perm.begin(), r.perm.begin() + k);
  Shape windows = r.region, result = r.positions.shape();
  bool empty_axis = false;
  for (int ax : axes) empty_axis |= windows[ax] == 0, windows[ax] = 1;
  for (size_t j = k; j < r.perm.size(); ++j) result.push_back(r.region[r.perm[j]]);
  int nd = static_cast<int>(r.positions.ndim());
  // (An indexed axis of size 0 has no window: take raises for any index there.)
  if (empty_axis) return place_index_dims(take(advanced_view(a, r), r.positions, 0), nd, r.insert_at, false);
  array out = reshape(gather(region, r.indices, axes, windows), result);
  return place_index_dims(out, nd, r.insert_at, false);
}

// a with the indexed elements combined with `value` by `op` (Set for assignment).
array update_advanced(const array& a_in, nb::handle index_in, nb::handle value, ScatterOp op) {
  auto [a, index] = expand_none(a_in, index_in);
  AdvancedIndex r = resolve_advanced(a, index);
  array view = advanced_view(a, r);
  array result_like = place_index_dims(take(view, r.positions, 0), static_cast<int>(r.positions.ndim()), r.insert_at, false);
  array v = broadcast_to(astype(to_array_like(value, a), a.dtype()), result_like.shape());
  v = place_index_dims(v, static_cast<int>(r.positions.ndim()), r.insert_at, true);
  array updated = view;
  switch (op) {
    case ScatterOp::Set: updated = scatter(view, r.positions, v, 0); break;
    case ScatterOp::Add: updated = scatter_add(view, r.positions, v, 0); break;
    case ScatterOp::Prod: updated = scatter_prod(view, r.positions, v, 0); break;
    case ScatterOp::Max: updated = scatter_max(view, r.positions, v, 0); break;
    case ScatterOp::Min: updated = scatter_min(view, r.positions, v, 0); break;
  }
  // Undo the flattening and the transpose, then put the region back.
  Shape tshape;
  for (int ax : r.perm) tshape.push_back(r.region[ax]);
  std::vector<int> inv(r.perm.size());
  for (size_t i = 0; i < r.perm.size(); ++i) inv[r.perm[i]] = static_cast<int>(i);
  array region = transpose(reshape(updated, tshape), inv);
  return reshape(slice_update(a, region, r.start, r.stop, r.step), a_in.shape());
}

array get_item(const array& a, nb::handle index) {
  if (has_array_index(index)) return get_advanced(a, expand_bool_masks(a, index));
  if (a.ndim() == 0 && !(index.is_none() || index.ptr() == Py_Ellipsis || PyTuple_Check(index.ptr())))
    index_error("[getitem] A 0-d array cannot be indexed by an int or slice.");
  BasicIndex r = resolve_index(a, index);
  array out = a.ndim() ? slice(a, r.start, r.stop, r.step) : a;
  return reshape(out, r.result);
}

std::string shape_text(const Shape& shape) {
  std::string t = "(";
  for (size_t i = 0; i < shape.size(); ++i) t += (i ? ", " : "") + std::to_string(shape[i]);
  return t + (shape.size() == 1 ? ",)" : ")");
}

std::optional<array> sole_bool_mask(nb::handle index) {
  if (PyTuple_Check(index.ptr()) || !is_array_index(index)) return std::nullopt;
  array m = to_array(index);
  if (m.dtype() != bool_) return std::nullopt;
  return m;
}

// a[mask] = v. With NumPy's mask (over a's leading axes), a v with one row per true position
// fills them in order (masked_scatter); a v that broadcasts against the rest is a select,
// as is a mask that only broadcasts against a (MLX's reading). Neither evaluates anything.
array set_masked(const array& a, const array& mask, nb::handle value) {
  array v = astype(to_array_like(value, a), a.dtype());
  int k = static_cast<int>(mask.ndim());
  bool leading = k <= static_cast<int>(a.ndim()) && std::equal(mask.shape().begin(), mask.shape().end(), a.shape().begin());
  if (!leading || k == 0) return where(mask, v, a);
  Shape rest(a.shape().begin() + k, a.shape().end());
  Shape mask_shape = mask.shape();
  mask_shape.insert(mask_shape.end(), rest.size(), 1);
  array m = reshape(mask, mask_shape);
  if (v.ndim() > rest.size() && v.shape()[0] != 1) {
    Shape rows{v.shape()[0]};
    rows.insert(rows.end(), rest.begin(), rest.end());
    Shape b;
    try {
      b = broadcast_shapes(v.shape(), rows);
    } catch (const std::invalid_argument&) {
    }
    if (b != rows)
      throw nb::value_error(("[setitem] Cannot assign a value of shape " + shape_text(v.shape()) +
                             " to masked elements of shape " + shape_text(rest) + ".")
                                .c_str());
    return masked_scatter(a, m, broadcast_to(v, rows));
  }
  return where(m, v, a);
}

array set_item(const array& a, nb::handle index, nb::handle value) {
  if (auto mask = sole_bool_mask(index)) return set_masked(a, *mask, value);
  if (has_array_index(index)) return update_advanced(a, expand_bool_masks(a, index), value, ScatterOp::Set);
  BasicIndex r = resolve_index(a, index);
  array v = astype(to_array_like(value, a), a.dtype());
  // The value broadcasts against the indexed result, then fills the region.
  Shape b;
  try {
    b = broadcast_shapes(v.shape(), r.result);
  } catch (const std::invalid_argument&) {
  }
  if (b != r.result)
    throw nb::value_error("[setitem] Cannot assign a value of this shape to the indexed region.");
  v = reshape(broadcast_to(v, r.result), r.region);
  if (a.ndim() == 0) return reshape(v, {});
  return slice_update(a, v, r.start, r.stop, r.step);
}

// a.at[index].add(v) and friends: out-of-place updates of the indexed elements; with
// integer-array indices, repeated indices all apply (a scatter, not a read-modify-write).
struct ArrayAt {
  array a;
  nb::object index;
  template <typename F>
  array apply(nb::handle value, ScatterOp op, F&& elementwise) const {
    if (has_array_index(index)) return update_advanced(a, expand_bool_masks(a, index), value, op);
    array current = get_item(a, index);
    return set_item(a, index, nb::cast(elementwise(current, to_array_like(value, current))));
  }
};

// iter(a): the subarrays along axis 0, built lazily one at a time.
struct ArrayIterator {
  array a;
  int32_t next;
};

// ---- the buffer protocol ------------------------------------------------------------------

struct BufferHold {
  array a;  // a row-major, evaluated copy (or the array itself when it already is one)
  std::vector<Py_ssize_t> shape, strides;
  std::string format;
};

std::string buffer_format(Dtype t) {
  switch (t.val) {
    case Dtype::Val::bool_: return "?";
    case Dtype::Val::uint8: return "B";
    case Dtype::Val::uint16: return "H";
    case Dtype::Val::uint32: return "I";
    case Dtype::Val::uint64: return "Q";
    case Dtype::Val::int8: return "b";
    case Dtype::Val::int16: return "h";
    case Dtype::Val::int32: return "i";
    case Dtype::Val::int64: return "q";
    case Dtype::Val::float16: return "e";
    case Dtype::Val::float32: return "f";
    case Dtype::Val::float64: return "d";
    case Dtype::Val::complex64: return "Zf";
    default: return "";
  }
}

int getbuffer(PyObject* self, Py_buffer* view, int) {
  try {
    array a = nb::cast<array>(nb::handle(self));
    std::string format = buffer_format(a.dtype());
    if (format.empty())
      throw nb::type_error("[buffer] bfloat16 has no buffer format; use a.view(lazuli.core.uint16) or astype.");
    auto* hold = new BufferHold{contiguous(a), {}, {}, format};
    {
      nb::gil_scoped_release release;
      hold->a.eval();
      hold->a = host_readable(hold->a);  // device-only memory (DLPack imports) is copied to the host
    }
    for (size_t i = 0; i < a.ndim(); ++i) {
      hold->shape.push_back(a.shape()[i]);
      hold->strides.push_back(static_cast<Py_ssize_t>(hold->a.strides()[i] * a.itemsize()));
    }
    view->buf = hold->a.raw_data();
    view->obj = self;
    Py_INCREF(self);
    view->len = static_cast<Py_ssize_t>(a.nbytes());
    view->readonly = 0;
    view->itemsize = static_cast<Py_ssize_t>(a.itemsize());
    view->format = const_cast<char*>(hold->format.c_str());
    view->ndim = static_cast<int>(a.ndim());
    view->shape = hold->shape.data();
    view->strides = hold->strides.data();
    view->suboffsets = nullptr;
    view->internal = hold;
    return 0;
  } catch (nb::python_error& e) {
    e.restore();
  } catch (nb::builtin_exception& e) {
    PyErr_SetString(e.type() == nb::exception_type::type_error ? PyExc_TypeError : PyExc_ValueError, e.what());
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  }
  view->obj = nullptr;
  return -1;
}

void releasebuffer(PyObject*, Py_buffer* view) { delete static_cast<BufferHold*>(view->internal); }

PyType_Slot array_slots[] = {{Py_bf_getbuffer, reinterpret_cast<void*>(getbuffer)},
                             {Py_bf_releasebuffer, reinterpret_cast<void*>(releasebuffer)},
                             {0, nullptr}};

nb::object to_numpy(const array& a, nb::handle dtype) {
  nb::module_ np = nb::module_::import_("numpy");
  nb::object view = a.dtype() == bfloat16 ? nb::cast(astype(a, float32)) : nb::cast(a);
  nb::object out = np.attr("asarray")(nb::steal(PyMemoryView_FromObject(view.ptr())));
  return dtype.is_none() ? out : out.attr("astype")(dtype);
}

// ---- operators ---------------------------------------------------------------------------

using BinaryFn = array (*)(const array&, const array&, StreamOrDevice);

template <BinaryFn F>
array binary(nb::handle a, nb::handle b) {
  auto [x, y] = to_arrays(a, b);
  return F(x, y, {});
}

// Replaces the array inside a Python object (in-place operators and __setitem__ rebind
// the graph node, as MLX does).
void rebind(nb::handle self, array value) { *nb::inst_ptr<array>(self) = std::move(value); }

std::optional<std::vector<int>> axes_arg(nb::handle axis) { return to_axes(axis); }

template <typename F>
array reduce(const array& a, nb::handle axis, bool keepdims, F f) {
  auto axes = to_axes(axis);
  if (!axes) {
    std::vector<int> all(a.ndim());
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
    return f(a, all, keepdims);
  }
  return f(a, *axes, keepdims);
}

std::string repr(array a) {
  {
    nb::gil_scoped_release release;
    a.eval();
  }
  std::string s = to_string(a);
  // Python spells booleans True/False.
  for (auto [from, to] : {std::pair<std::string, std::string>{"true", "True"}, {"false", "False"}}) {
    for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  }
  return s;
}

}  // namespace

void init_array(nb::module_& m) {
  m.def("from_dlpack", &from_dlpack, "x"_a,
        "An array from any object with __dlpack__: CUDA tensors (PyTorch, CuPy, ...) share their memory\n"
        "(zero-copy); CPU ones are copied.");
  nb::class_<ArrayAt>(m, "ArrayAt", "a.at[index]: out-of-place updates of the indexed region.")
      .def("add", [](const ArrayAt& at, nb::handle v) {
        return at.apply(v, ScatterOp::Add, [](const auto& x, const auto& y) { return add(x, y); });
      })
      .def("subtract", [](const ArrayAt& at, nb::handle v) {
        return at.apply(nb::cast(negative(to_array_like(v, at.a))), ScatterOp::Add,
                        [](const auto& x, const auto& y) { return add(x, y); });
      })
      .def("multiply", [](const ArrayAt& at, nb::handle v) {
        return at.apply(v, ScatterOp::Prod, [](const auto& x, const auto& y) { return multiply(x, y); });
      })
      .def("divide", [](const ArrayAt& at, nb::handle v) {
        return at.apply(nb::cast(reciprocal(astype(to_array_like(v, at.a), at.a.dtype()))), ScatterOp::Prod,
                        [](const auto& x, const auto& y) { return multiply(x, y); });
      })
      .def("maximum", [](const ArrayAt& at, nb::handle v) {
        return at.apply(v, ScatterOp::Max, [](const auto& x, const auto& y) { return maximum(x, y); });
      })
      .def("minimum", [](const ArrayAt& at, nb::handle v) {
        return at.apply(v, ScatterOp::Min, [](const auto& x, const auto& y) { return minimum(x, y); });
      });
  struct AtIndexer {
    array a;
  };
  nb::class_<AtIndexer>(m, "_ArrayAtIndexer")
      .def("__getitem__", [](const AtIndexer& i, nb::object index) { return ArrayAt{i.a, index}; }, "index"_a.none());

  nb::class_<ArrayIterator>(m, "ArrayIterator", "Iterates over an array's first axis.")
      .def("__iter__", [](nb::handle self) { return nb::borrow(self); })
      .def("__next__", [](ArrayIterator& it) {
        if (it.next >= it.a.shape()[0]) throw nb::stop_iteration();
        return get_item(it.a, nb::int_(it.next++));
      });
  struct ArrayLike {};
  nb::class_<ArrayLike>(m, "ArrayLike",
                        "Any Python object with an __mlx_array__ (or __lazuli_array__) method returning an array.");

  auto cls = nb::class_<array>(m, "array", nb::type_slots(array_slots), nb::is_weak_referenceable(),
                               "A lazy N-dimensional array.");
  cls.def("__init__",
          [](array* self, nb::handle val, std::optional<Dtype> dtype) { new (self) array(to_array(val, dtype)); },
          "val"_a, "dtype"_a = nb::none())
      .def_prop_ro("shape", [](const array& a) {
        nb::list l;
        for (auto d : a.shape()) l.append(d);
        return nb::tuple(l);
      })
      .def_prop_ro("dtype", &array::dtype)
      .def_prop_ro("ndim", &array::ndim)
      .def_prop_ro("size", &array::size)
      .def_prop_ro("itemsize", &array::itemsize)
      .def_prop_ro("nbytes", &array::nbytes)
      .def_prop_ro("T", [](const array& a) { return transpose(a); })
      .def_prop_ro("real", [](const array& a) { return real(a); })
      .def_prop_ro("imag", [](const array& a) { return imag(a); })
      .def_prop_ro("at", [](const array& a) { return AtIndexer{a}; })
      .def("item", [](const array& a) { return to_scalar(a); })
      .def("tolist", [](const array& a) { return to_list(a); })
      .def("astype", [](const array& a, Dtype t, nb::handle s) { return astype(a, t, to_stream_or_device(s)); },
           "dtype"_a, "stream"_a = nb::none())
      .def("view", [](const array& a, Dtype t, nb::handle s) { return view(a, t, to_stream_or_device(s)); },
           "dtype"_a, "stream"_a = nb::none())
      .def("__repr__", &repr)
      .def("__str__", &repr)
      .def("__len__", [](const array& a) {
        if (a.ndim() == 0) throw nb::type_error("len() of unsized (0-d) array");
        return a.shape()[0];
      })
      .def("__iter__", [](const array& a) {
        if (a.ndim() == 0) throw nb::type_error("iteration over a 0-d array");
        return ArrayIterator{a, 0};
      })
      .def("__getitem__", [](const array& a, nb::handle index) { return get_item(a, index); }, "index"_a.none())
      .def("__setitem__", [](nb::handle self, nb::handle index, nb::handle value) {
        rebind(self, set_item(nb::cast<array>(self), index, value));
      }, "index"_a.none(), "value"_a)
      .def("__bool__", [](const array& a) { return nb::cast<bool>(to_scalar(astype(a, bool_))); })
      .def("__int__", [](const array& a) { return nb::int_(to_scalar(a)); })
      .def("__float__", [](const array& a) { return nb::float_(to_scalar(a)); })
      .def("__complex__", [](const array& a) { return to_scalar(astype(a, complex64)); })
      .def("__index__", [](const array& a) {
        if (!is_integral(a.dtype())) throw nb::type_error("only integer arrays can be used as an index");
        return nb::int_(to_scalar(a));
      })
      .def("__format__", [](const array& a, nb::handle spec) -> nb::object {
        // 0-d arrays format like their Python scalar (f"{loss:.3f}").
        if (a.ndim() == 0) return nb::module_::import_("builtins").attr("format")(to_scalar(a), spec);
        return nb::str(repr(a).c_str());
      })
      .def("__array__", [](const array& a, nb::handle dtype, nb::handle) { return to_numpy(a, dtype); },
           "dtype"_a = nb::none(), "copy"_a = nb::none())
      .def("__dlpack__", &dlpack_export, "stream"_a = nb::none(), nb::kw_only(), "max_version"_a = nb::none(),
           "dl_device"_a = nb::none(), "copy"_a = nb::none())
      .def("__dlpack_device__", &dlpack_device)
      .def("__array_namespace__", [](const array&) { return nb::module_::import_("lazuli.core"); })
      .def("__copy__", [](const array& a) { return copy(a); })
      .def("__deepcopy__", [](const array& a, nb::handle) { return copy(a); }, "memo"_a)
      .def("__getstate__", [](const array& a) {
        // NumPy holds the bytes; bfloat16 travels as its uint16 bit pattern.
        array bits = a.dtype() == bfloat16 ? view(a, uint16) : a;
        return nb::make_tuple(to_numpy(bits, nb::none()), dtype_name(a.dtype()));
      })
      .def("__setstate__", [](array& self, nb::tuple state) {
        std::string name = nb::cast<std::string>(state[1]);
        array a = to_array(state[0]);
        if (name == "bfloat16") a = view(a, bfloat16);
        new (&self) array(a);
      });

  // Operators. Python scalars are weakly typed against the array operand.
#define LAZULI_BINOP(name, rname, iname, fn)                                                      \
  cls.def(name, [](nb::handle a, nb::handle b) { return binary<fn>(a, b); }, nb::is_operator());  \
  cls.def(rname, [](nb::handle a, nb::handle b) { return binary<fn>(b, a); }, nb::is_operator()); \
  cls.def(iname, [](nb::handle a, nb::handle b) {                                                 \
    rebind(a, binary<fn>(a, b));                                                                  \
    return nb::borrow(a);                                                                         \
  }, nb::is_operator());
  LAZULI_BINOP("__add__", "__radd__", "__iadd__", add)
  LAZULI_BINOP("__sub__", "__rsub__", "__isub__", subtract)
  LAZULI_BINOP("__mul__", "__rmul__", "__imul__", multiply)
  LAZULI_BINOP("__truediv__", "__rtruediv__", "__itruediv__", divide)
  LAZULI_BINOP("__floordiv__", "__rfloordiv__", "__ifloordiv__", floor_divide)
  LAZULI_BINOP("__mod__", "__rmod__", "__imod__", remainder)
  LAZULI_BINOP("__pow__", "__rpow__", "__ipow__", power)
  LAZULI_BINOP("__and__", "__rand__", "__iand__", bitwise_and)
  LAZULI_BINOP("__or__", "__ror__", "__ior__", bitwise_or)
  LAZULI_BINOP("__xor__", "__rxor__", "__ixor__", bitwise_xor)
  LAZULI_BINOP("__lshift__", "__rlshift__", "__ilshift__", left_shift)
  LAZULI_BINOP("__rshift__", "__rrshift__", "__irshift__", right_shift)
#undef LAZULI_BINOP
  cls.def("__matmul__", [](nb::handle a, nb::handle b) { return binary<matmul>(a, b); }, nb::is_operator());
  cls.def("__imatmul__", [](nb::handle a, nb::handle b) {
    rebind(a, binary<matmul>(a, b));
    return nb::borrow(a);
  }, nb::is_operator());
  cls.def("__div__", [](nb::handle a, nb::handle b) { return binary<divide>(a, b); }, nb::is_operator());
  cls.def("__rdiv__", [](nb::handle a, nb::handle b) { return binary<divide>(b, a); }, nb::is_operator());
  cls.def("__eq__", [](nb::handle a, nb::handle b) { return binary<equal>(a, b); }, nb::is_operator());
  cls.def("__ne__", [](nb::handle a, nb::handle b) { return binary<not_equal>(a, b); }, nb::is_operator());
  cls.def("__lt__", [](nb::handle a, nb::handle b) { return binary<less>(a, b); }, nb::is_operator());
  cls.def("__le__", [](nb::handle a, nb::handle b) { return binary<less_equal>(a, b); }, nb::is_operator());
  cls.def("__gt__", [](nb::handle a, nb::handle b) { return binary<greater>(a, b); }, nb::is_operator());
  cls.def("__ge__", [](nb::handle a, nb::handle b) { return binary<greater_equal>(a, b); }, nb::is_operator());
  cls.def("__neg__", [](const array& a) { return negative(a); });
  cls.def("__abs__", [](const array& a) { return abs(a); });
  cls.def("__invert__", [](const array& a) { return a.dtype() == bool_ ? logical_not(a) : bitwise_invert(a); });
  cls.def("__hash__", [](const array& a) { return static_cast<Py_ssize_t>(a.id()); });

  // Named methods: the same ops as the module functions, with the array first.
#define LAZULI_UNARY_METHOD(name, fn) \
  cls.def(name, [](const array& a, nb::handle s) { return fn(a, stream_of(s)); }, nb::kw_only(), "stream"_a = nb::none());
  LAZULI_UNARY_METHOD("abs", abs)
  LAZULI_UNARY_METHOD("square", square)
  LAZULI_UNARY_METHOD("sqrt", sqrt)
  LAZULI_UNARY_METHOD("rsqrt", rsqrt)
  LAZULI_UNARY_METHOD("reciprocal", reciprocal)
  LAZULI_UNARY_METHOD("exp", exp)
  LAZULI_UNARY_METHOD("log", log)
  LAZULI_UNARY_METHOD("log2", log2)
  LAZULI_UNARY_METHOD("log10", log10)
  LAZULI_UNARY_METHOD("log1p", log1p)
  LAZULI_UNARY_METHOD("sin", sin)
  LAZULI_UNARY_METHOD("cos", cos)
  LAZULI_UNARY_METHOD("conj", conjugate)
#undef LAZULI_UNARY_METHOD
  cls.def("round", [](const array& a, int decimals, nb::handle s) { return round(a, decimals, stream_of(s)); },
          "decimals"_a = 0, nb::kw_only(), "stream"_a = nb::none());
#define LAZULI_REDUCE_METHOD(name, fn)                                                                   \
  cls.def(name, [](const array& a, nb::handle axis, bool keepdims, nb::handle s) {                      \
    return reduce(a, axis, keepdims, [&](const array& x, const std::vector<int>& ax, bool k) { return fn(x, ax, k, stream_of(s)); }); \
  }, "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none());
  LAZULI_REDUCE_METHOD("all", all)
  LAZULI_REDUCE_METHOD("any", any)
  LAZULI_REDUCE_METHOD("sum", sum)
  LAZULI_REDUCE_METHOD("prod", prod)
  LAZULI_REDUCE_METHOD("min", min)
  LAZULI_REDUCE_METHOD("max", max)
  LAZULI_REDUCE_METHOD("mean", mean)
  LAZULI_REDUCE_METHOD("logsumexp", logsumexp)
#undef LAZULI_REDUCE_METHOD
  cls.def("var", [](const array& a, nb::handle axis, bool keepdims, int ddof, nb::handle s) {
    return reduce(a, axis, keepdims, [&](const array& x, const std::vector<int>& ax, bool k) { return var(x, ax, k, ddof, stream_of(s)); });
  }, "axis"_a = nb::none(), "keepdims"_a = false, "ddof"_a = 0, nb::kw_only(), "stream"_a = nb::none());
  cls.def("std", [](const array& a, nb::handle axis, bool keepdims, int ddof, nb::handle s) {
    return reduce(a, axis, keepdims, [&](const array& x, const std::vector<int>& ax, bool k) { return lazuli::std(x, ax, k, ddof, stream_of(s)); });
  }, "axis"_a = nb::none(), "keepdims"_a = false, "ddof"_a = 0, nb::kw_only(), "stream"_a = nb::none());
  cls.def("argmax", [](const array& a, std::optional<int> axis, bool keepdims, nb::handle s) {
    return axis ? argmax(a, *axis, keepdims, stream_of(s)) : argmax(a, keepdims, stream_of(s));
  }, "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none());
  cls.def("argmin", [](const array& a, std::optional<int> axis, bool keepdims, nb::handle s) {
    return axis ? argmin(a, *axis, keepdims, stream_of(s)) : argmin(a, keepdims, stream_of(s));
  }, "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none());
  cls.def("reshape", [](const array& a, nb::args shape, nb::kwargs kw) {
    nb::handle s = kw.contains("stream") ? nb::handle(kw["stream"]) : nb::none();
    Shape sh = (shape.size() == 1 && !PyLong_Check(shape[0].ptr())) ? to_shape(shape[0]) : to_shape(shape);
    return reshape(a, sh, stream_of(s));
  });
  cls.def("transpose", [](const array& a, nb::args axes, nb::kwargs kw) {
    nb::handle s = kw.contains("stream") ? nb::handle(kw["stream"]) : nb::none();
    if (axes.size() == 0) return transpose(a, stream_of(s));
    auto ax = (axes.size() == 1 && !PyLong_Check(axes[0].ptr())) ? *to_axes(axes[0]) : *to_axes(axes);
    return transpose(a, ax, stream_of(s));
  });
  cls.def("flatten", [](const array& a, int start_axis, int end_axis, nb::handle s) {
    return flatten(a, start_axis, end_axis, stream_of(s));
  }, "start_axis"_a = 0, "end_axis"_a = -1, nb::kw_only(), "stream"_a = nb::none());
  cls.def("squeeze", [](const array& a, nb::handle axis, nb::handle s) {
    auto ax = to_axes(axis);
    return ax ? squeeze(a, *ax, stream_of(s)) : squeeze(a, stream_of(s));
  }, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  cls.def("moveaxis", [](const array& a, int src, int dst, nb::handle s) { return moveaxis(a, src, dst, stream_of(s)); },
          "source"_a, "destination"_a, nb::kw_only(), "stream"_a = nb::none());
  cls.def("swapaxes", [](const array& a, int a1, int a2, nb::handle s) { return swapaxes(a, a1, a2, stream_of(s)); },
          "axis1"_a, "axis2"_a, nb::kw_only(), "stream"_a = nb::none());
  cls.def("split", [](const array& a, nb::handle parts, int axis, nb::handle s) {
    std::vector<array> out = PyLong_Check(parts.ptr()) ? split(a, nb::cast<int>(parts), axis, stream_of(s))
                                                        : split(a, to_shape(parts), axis, stream_of(s));
    return out;
  }, "indices_or_sections"_a, "axis"_a = 0, nb::kw_only(), "stream"_a = nb::none());
}
