// Shape ops: views where the layout allows, compositions of a few primitives otherwise.
#include <numeric>
#include <set>

#include "lazuli/ops/ops_util.h"

namespace lazuli {
namespace detail {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << s[i] << (s.size() == 1 ? "," : i + 1 < s.size() ? ", " : "");
  os << ")";
  return os.str();
}

void fail(const char* op, const std::string& msg) {
  throw std::invalid_argument(std::string("[") + op + "] " + msg);
}

int normalize_axis(int axis, int ndim, const char* op) {
  if (axis < -ndim || axis >= ndim)
    fail(op, "Axis " + std::to_string(axis) + " is out of bounds for an array with " + std::to_string(ndim) +
                 " dimensions.");
  return axis < 0 ? axis + ndim : axis;
}

std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op) {
  std::vector<int> out;
  for (int a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) fail(op, "Repeated axis in axes.");
  return out;
}

}  // namespace detail
using namespace detail;

namespace {
// Slice with start/stop already normalised (stop may be -1 for a reverse slice to the start).
array raw_slice(const array& a, Shape start, Shape stop, Shape strides, S s) {
  return make_node<Slice>({a}, a.dtype(), s, std::move(start), std::move(stop), std::move(strides));
}

// NumPy's slice normalisation of one axis: negative indices count from the end, then clamp.
void normalize_slice(int32_t& start, int32_t& stop, int32_t step, int32_t dim) {
  auto norm = [&](int32_t& v) {
    if (v < 0) v += dim;
    if (step > 0) v = std::clamp(v, 0, dim);
    else v = std::clamp(v, -1, dim - 1);
  };
  norm(start);
  norm(stop);
}

void check_slice_args(const array& a, const Shape& start, const Shape& stop, const Shape& strides,
                      const char* op) {
  if (start.size() != a.ndim() || stop.size() != a.ndim() || strides.size() != a.ndim())
    fail(op, "start, stop and strides need " + std::to_string(a.ndim()) + " entries each, got " +
                 std::to_string(start.size()) + ", " + std::to_string(stop.size()) + " and " +
                 std::to_string(strides.size()) + ".");
  for (auto st : strides)
    if (st == 0) fail(op, "A slice step cannot be zero.");
}
}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int32_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int32_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      fail("broadcast_shapes", "Shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast.");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

array broadcast_to(const array& a, const Shape& shape, S s) {
  if (a.shape() == shape) return a;
  shape_size(shape, "broadcast_to");
  Shape b;
  try {
    b = broadcast_shapes(a.shape(), shape);
  } catch (const std::invalid_argument&) {
  }
  if (b != shape) fail("broadcast_to", "Cannot broadcast an array of shape " + shape_str(a.shape()) + " to " + shape_str(shape) + ".");
  return make_node<Broadcast>({a}, a.dtype(), s, shape);
}

std::vector<array> broadcast_arrays(const std::vector<array>& inputs, S s) {
  Shape shape;
  for (auto& in : inputs) {
    try {
      shape = broadcast_shapes(shape, in.shape());
    } catch (const std::invalid_argument&) {
      fail("broadcast_arrays", "Shapes " + shape_str(shape) + " and " + shape_str(in.shape()) + " cannot be broadcast.");
    }
  }
  std::vector<array> out;
  for (auto& in : inputs) out.push_back(broadcast_to(in, shape, s));
  return out;
}

array reshape(const array& a, Shape shape, S s) {
  int infer = -1;
  size_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) fail("reshape", "Only one dimension can be -1 in " + shape_str(shape) + ".");
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      fail("reshape", "Negative dimension in " + shape_str(shape) + ".");
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || a.size() % known != 0)
      fail("reshape", "Cannot infer the -1 in " + shape_str(shape) + " for an array of size " + std::to_string(a.size()) + ".");
    shape[infer] = static_cast<int32_t>(a.size() / known);
    known *= shape[infer];
  }
  if (known != a.size())
    fail("reshape", "Cannot reshape an array of size " + std::to_string(a.size()) + " into shape " + shape_str(shape) + ".");
  if (shape == a.shape()) return a;
  return make_node<Reshape>({a}, a.dtype(), s, std::move(shape));
}

array flatten(const array& a, int start_axis, int end_axis, S s) {
  int nd = static_cast<int>(a.ndim());
  if (nd == 0) return reshape(a, {1}, s);
  start_axis = normalize_axis(start_axis, nd, "flatten");
  end_axis = normalize_axis(end_axis, nd, "flatten");
  if (start_axis > end_axis) fail("flatten", "start_axis must not come after end_axis.");
  Shape shape(a.shape().begin(), a.shape().begin() + start_axis);
  shape.push_back(-1);
  shape.insert(shape.end(), a.shape().begin() + end_axis + 1, a.shape().end());
  if (a.size() == 0) {  // -1 cannot be inferred next to zeros
    int32_t n = 1;
    for (int i = start_axis; i <= end_axis; ++i) n *= a.shape()[i];
    shape[start_axis] = n;
  }
  return reshape(a, shape, s);
}

array unflatten(const array& a, int axis, Shape shape, S s) {
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), "unflatten");
  if (shape.empty()) fail("unflatten", "The new shape must not be empty.");
  Shape out(a.shape().begin(), a.shape().begin() + axis);
  int32_t dim = a.shape()[axis];
  int32_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) fail("unflatten", "Only one dimension can be -1.");
      infer = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || dim % known) fail("unflatten", "Cannot infer the -1 in " + shape_str(shape) + ".");
    shape[infer] = dim / known;
    known = dim;
  }
  if (known != dim)
    fail("unflatten", "Shape " + shape_str(shape) + " does not have " + std::to_string(dim) + " elements.");
  out.insert(out.end(), shape.begin(), shape.end());
  out.insert(out.end(), a.shape().begin() + axis + 1, a.shape().end());
  return reshape(a, out, s);
}

array squeeze(const array& a, const std::vector<int>& axes, S s) {
  auto ax = normalize_axes(axes, static_cast<int>(a.ndim()), "squeeze");
  Shape shape;
  for (int i = 0, j = 0; i < static_cast<int>(a.ndim()); ++i) {
    if (j < static_cast<int>(ax.size()) && ax[j] == i) {
      if (a.shape()[i] != 1)
        fail("squeeze", "Cannot squeeze axis " + std::to_string(i) + " of size " + std::to_string(a.shape()[i]) + ".");
      ++j;
    } else {
      shape.push_back(a.shape()[i]);
    }
  }
  return reshape(a, shape, s);
}
array squeeze(const array& a, int axis, S s) { return squeeze(a, std::vector<int>{axis}, s); }
array squeeze(const array& a, S s) {
  std::vector<int> axes;
  for (int i = 0; i < static_cast<int>(a.ndim()); ++i)
    if (a.shape()[i] == 1) axes.push_back(i);
  return squeeze(a, axes, s);
}

array expand_dims(const array& a, const std::vector<int>& axes, S s) {
  int out_nd = static_cast<int>(a.ndim() + axes.size());
  auto ax = normalize_axes(axes, out_nd, "expand_dims");
  Shape shape;
  for (int i = 0, j = 0, k = 0; i < out_nd; ++i) {
    if (j < static_cast<int>(ax.size()) && ax[j] == i) shape.push_back(1), ++j;
    else shape.push_back(a.shape()[k++]);
  }
  return reshape(a, shape, s);
}
array expand_dims(const array& a, int axis, S s) { return expand_dims(a, std::vector<int>{axis}, s); }

array transpose(const array& a, std::vector<int> axes, S s) {
  int nd = static_cast<int>(a.ndim());
  if (static_cast<int>(axes.size()) != nd)
    fail("transpose", "Got " + std::to_string(axes.size()) + " axes for an array with " + std::to_string(nd) + " dimensions.");
  for (auto& ax : axes) ax = normalize_axis(ax, nd, "transpose");
  std::vector<int> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) fail("transpose", "Repeated axis in axes.");
  bool identity = true;
  for (int i = 0; i < nd; ++i) identity &= axes[i] == i;
  if (identity) return a;
  return make_node<Transpose>({a}, a.dtype(), s, std::move(axes));
}
array transpose(const array& a, S s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.rbegin(), axes.rend(), 0);
  return transpose(a, axes, s);
}
array swapaxes(const array& a, int axis1, int axis2, S s) {
  int nd = static_cast<int>(a.ndim());
  axis1 = normalize_axis(axis1, nd, "swapaxes");
  axis2 = normalize_axis(axis2, nd, "swapaxes");
  std::vector<int> axes(nd);
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[axis1], axes[axis2]);
  return transpose(a, axes, s);
}
array moveaxis(const array& a, int source, int destination, S s) {
  int nd = static_cast<int>(a.ndim());
  source = normalize_axis(source, nd, "moveaxis");
  destination = normalize_axis(destination, nd, "moveaxis");
  std::vector<int> axes;
  for (int i = 0; i < nd; ++i)
    if (i != source) axes.push_back(i);
  axes.insert(axes.begin() + destination, source);
  return transpose(a, axes, s);
}

array concatenate(const std::vector<array>& arrays, int axis, S s) {
  if (arrays.empty()) fail("concatenate", "needs at least one array.");
  int nd = static_cast<int>(arrays[0].ndim());
  if (nd == 0) fail("concatenate", "0-d arrays cannot be concatenated.");
  axis = normalize_axis(axis, nd, "concatenate");
  for (auto& a : arrays) {
    bool ok = static_cast<int>(a.ndim()) == nd;
    for (int i = 0; ok && i < nd; ++i) ok = i == axis || a.shape()[i] == arrays[0].shape()[i];
    if (!ok)
      fail("concatenate", "All shapes must match except on axis " + std::to_string(axis) + ", got " +
                              shape_str(arrays[0].shape()) + " and " + shape_str(a.shape()) + ".");
  }
  if (arrays.size() == 1) return arrays[0];
  Dtype t = result_type(arrays);
  std::vector<array> inputs;
  for (auto& a : arrays) inputs.push_back(astype(a, t, s));
  return make_node<Concatenate>(inputs, t, s, axis);
}
array concatenate(const std::vector<array>& arrays, S s) {
  std::vector<array> flat;
  for (auto& a : arrays) flat.push_back(flatten(a, 0, -1, s));
  return concatenate(flat, 0, s);
}

array stack(const std::vector<array>& arrays, int axis, S s) {
  if (arrays.empty()) fail("stack", "needs at least one array.");
  for (auto& a : arrays)
    if (a.shape() != arrays[0].shape())
      fail("stack", "All arrays must have the same shape, got " + shape_str(arrays[0].shape()) + " and " + shape_str(a.shape()) + ".");
  axis = normalize_axis(axis, static_cast<int>(arrays[0].ndim()) + 1, "stack");
  std::vector<array> expanded;
  for (auto& a : arrays) expanded.push_back(expand_dims(a, axis, s));
  return expanded.size() == 1 ? expanded[0] : concatenate(expanded, axis, s);
}

std::vector<array> split(const array& a, const Shape& indices, int axis, S s) {
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), "split");
  int32_t dim = a.shape()[axis];
  std::vector<array> out;
  int32_t prev = 0;
  for (size_t i = 0; i <= indices.size(); ++i) {
    int32_t stop = i < indices.size() ? indices[i] : dim;
    if (stop < 0) stop += dim;
    stop = std::clamp(stop, 0, dim);
    // Piece i is a[indices[i-1]:indices[i]], empty when the indices decrease (NumPy).
    Shape st(a.ndim(), 0), sp = a.shape(), step(a.ndim(), 1);
    st[axis] = prev;
    sp[axis] = std::max(prev, stop);
    out.push_back(raw_slice(a, st, sp, step, s));
    prev = stop;
  }
  return out;
}
std::vector<array> split(const array& a, int num_splits, int axis, S s) {
  int ax = normalize_axis(axis, static_cast<int>(a.ndim()), "split");
  if (num_splits <= 0 || a.shape()[ax] % num_splits != 0)
    fail("split", "Cannot split an axis of size " + std::to_string(a.shape()[ax]) + " into " +
                      std::to_string(num_splits) + " equal parts.");
  Shape indices;
  int32_t step = a.shape()[ax] / num_splits;
  for (int i = 1; i < num_splits; ++i) indices.push_back(i * step);
  return split(a, indices, ax, s);
}

array slice(const array& a, Shape start, Shape stop, Shape strides, S s) {
  check_slice_args(a, start, stop, strides, "slice");
  for (size_t i = 0; i < a.ndim(); ++i) normalize_slice(start[i], stop[i], strides[i], a.shape()[i]);
  return raw_slice(a, std::move(start), std::move(stop), std::move(strides), s);
}
array slice(const array& a, Shape start, Shape stop, S s) {
  return slice(a, std::move(start), std::move(stop), Shape(a.ndim(), 1), s);
}

array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides, S s) {
  check_slice_args(src, start, stop, strides, "slice_update");
  Shape region(src.ndim());
  for (size_t i = 0; i < src.ndim(); ++i) {
    normalize_slice(start[i], stop[i], strides[i], src.shape()[i]);
    region[i] = Slice::slice_length(start[i], stop[i], strides[i]);
  }
  Shape b;
  try {
    b = broadcast_shapes(update.shape(), region);
  } catch (const std::invalid_argument&) {
  }
  if (b != region)
    fail("slice_update", "An update of shape " + shape_str(update.shape()) + " does not fit the slice of shape " +
                             shape_str(region) + ".");
  array upd = broadcast_to(astype(update, src.dtype(), s), region, s);
  return make_node<SliceUpdate>({src, upd}, src.dtype(), s, std::move(start), std::move(stop), std::move(strides));
}
array slice_update(const array& src, const array& update, Shape start, Shape stop, S s) {
  return slice_update(src, update, std::move(start), std::move(stop), Shape(src.ndim(), 1), s);
}

array as_strided(const array& a, Shape shape, Strides strides, size_t offset, S s) {
  if (shape.size() != strides.size())
    fail("as_strided", "shape has " + std::to_string(shape.size()) + " entries but strides has " +
                           std::to_string(strides.size()) + ".");
  size_t n = shape_size(shape, "as_strided");
  if (n > 0) {
    int64_t lo = static_cast<int64_t>(offset), hi = lo;
    for (size_t i = 0; i < shape.size(); ++i) (strides[i] < 0 ? lo : hi) += (shape[i] - 1) * strides[i];
    if (lo < 0 || hi >= static_cast<int64_t>(a.size()))
      fail("as_strided", "The view reaches elements " + std::to_string(lo) + " to " + std::to_string(hi) +
                             " of an array of " + std::to_string(a.size()) + " elements.");
  }
  return make_node<AsStrided>({contiguous(a, false, s)}, a.dtype(), s, std::move(shape), std::move(strides),
                              static_cast<int64_t>(offset));
}

array contiguous(const array& a, bool allow_col_major, S s) {
  (void)allow_col_major;  // Copy keeps column-major inputs as they are only through views
  return make_node<Copy>({a}, a.dtype(), s);
}
array copy(const array& a, S s) { return make_node<Copy>({a}, a.dtype(), s); }

array flip(const array& a, const std::vector<int>& axes, S s) {
  auto ax = normalize_axes(axes, static_cast<int>(a.ndim()), "flip");
  if (ax.empty()) return a;
  Shape start(a.ndim(), 0), stop = a.shape(), step(a.ndim(), 1);
  for (int i : ax) start[i] = a.shape()[i] - 1, stop[i] = -1, step[i] = -1;
  return raw_slice(a, start, stop, step, s);
}
array flip(const array& a, S s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  return flip(a, axes, s);
}

array pad(const array& a, const std::vector<std::pair<int, int>>& pad_width, const array& pad_value,
          const std::string& mode, S s) {
  size_t nd = a.ndim();
  std::vector<std::pair<int, int>> w = pad_width;
  if (w.size() == 1 && nd != 1) w.assign(nd, pad_width[0]);
  if (w.size() != nd)
    fail("pad", "Got " + std::to_string(pad_width.size()) + " pad widths for an array with " + std::to_string(nd) +
                    " dimensions.");
  for (auto& [lo, hi] : w)
    if (lo < 0 || hi < 0) fail("pad", "Pad widths must be non-negative, got (" + std::to_string(lo) + ", " + std::to_string(hi) + ").");
  if (mode == "constant") {
    if (pad_value.size() != 1) fail("pad", "pad_value must be a scalar.");
    Shape out_shape = a.shape(), start(nd), stop(nd);
    for (size_t i = 0; i < nd; ++i) {
      out_shape[i] += w[i].first + w[i].second;
      start[i] = w[i].first;
      stop[i] = w[i].first + a.shape()[i];
    }
    array out = full(out_shape, astype(reshape(pad_value, {}, s), a.dtype(), s), s);
    return slice_update(out, a, start, stop, s);
  }
  if (mode == "edge") {
    array out = a;
    for (size_t i = 0; i < nd; ++i) {
      if (w[i].first == 0 && w[i].second == 0) continue;
      int32_t dim = out.shape()[i];
      if (dim == 0) fail("pad", "Edge padding needs a non-empty axis " + std::to_string(i) + ".");
      std::vector<array> parts;
      auto edge = [&](int32_t at, int n) {
        Shape st(nd, 0), sp = out.shape();
        st[i] = at, sp[i] = at + 1;
        Shape target = out.shape();
        target[i] = n;
        parts.push_back(broadcast_to(slice(out, st, sp, s), target, s));
      };
      if (w[i].first) edge(0, w[i].first);
      parts.push_back(out);
      if (w[i].second) edge(dim - 1, w[i].second);
      out = concatenate(parts, static_cast<int>(i), s);
    }
    return out;
  }
  fail("pad", "Unknown mode '" + mode + "'; use 'constant' or 'edge'.");
}
array pad(const array& a, int pad_width, const array& pad_value, const std::string& mode, S s) {
  return pad(a, std::vector<std::pair<int, int>>(a.ndim(), {pad_width, pad_width}), pad_value, mode, s);
}

array tile(const array& a, std::vector<int> reps, S s) {
  for (int r : reps)
    if (r < 0) fail("tile", "Repetitions must be non-negative, got " + std::to_string(r) + ".");
  size_t nd = std::max(a.ndim(), reps.size());
  reps.insert(reps.begin(), nd - reps.size(), 1);
  Shape shape = a.shape();
  shape.insert(shape.begin(), nd - shape.size(), 1);
  Shape expanded, target, out;
  for (size_t i = 0; i < nd; ++i) {
    expanded.push_back(1), expanded.push_back(shape[i]);
    target.push_back(reps[i]), target.push_back(shape[i]);
    out.push_back(reps[i] * shape[i]);
  }
  return reshape(broadcast_to(reshape(a, expanded, s), target, s), out, s);
}

array repeat(const array& a, int repeats, int axis, S s) {
  if (repeats < 0) fail("repeat", "repeats must be non-negative, got " + std::to_string(repeats) + ".");
  axis = normalize_axis(axis, static_cast<int>(a.ndim()), "repeat");
  array x = expand_dims(a, axis + 1, s);
  Shape target = x.shape();
  target[axis + 1] = repeats;
  Shape out = a.shape();
  out[axis] *= repeats;
  return reshape(broadcast_to(x, target, s), out, s);
}
array repeat(const array& a, int repeats, S s) { return repeat(flatten(a, 0, -1, s), repeats, 0, s); }

array atleast_1d(const array& a, S s) { return a.ndim() >= 1 ? a : reshape(a, {1}, s); }
array atleast_2d(const array& a, S s) {
  if (a.ndim() >= 2) return a;
  return a.ndim() == 0 ? reshape(a, {1, 1}, s) : expand_dims(a, 0, s);
}
array atleast_3d(const array& a, S s) {
  if (a.ndim() >= 3) return a;
  if (a.ndim() == 0) return reshape(a, {1, 1, 1}, s);
  if (a.ndim() == 1) return reshape(a, {1, a.shape()[0], 1}, s);
  return expand_dims(a, 2, s);
}

}  // namespace lazuli
