// Python bindings of dynamic slices (slice, slice_update), unstack, depends, and beyond MLX
// nonzero and unique (NumPy's, sync points).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "lazuli/indexing.h"

using lz::array;
namespace py = lz::py;

using py::stream_of;

namespace {

std::vector<int> int_list(nb::handle obj, const char* op, const char* what) {
  if (PyLong_Check(obj.ptr())) return {nb::cast<int>(obj)};
  if (!PySequence_Check(obj.ptr()))
    py::type_error(std::string("[") + op + "] " + what + " must be a sequence of ints, got " + py::py_type_name(obj) +
                   ".");
  std::vector<int> out;
  for (nb::handle h : obj) {
    if (!PyLong_Check(h.ptr()))
      py::type_error(std::string("[") + op + "] " + what + " must hold ints, got " + py::py_type_name(h) + ".");
    out.push_back(nb::cast<int>(h));
  }
  return out;
}

std::vector<array> array_list(nb::handle obj) {
  std::vector<array> out;
  if (nb::isinstance<array>(obj)) return {nb::cast<array>(obj)};
  for (nb::handle h : obj) out.push_back(py::to_array(h));
  return out;
}

}  // namespace

void init_indexing_ops(nb::module_& m) {
  m.def(
      "slice",
      [](nb::handle a, nb::handle start_indices, nb::handle axes, nb::handle slice_size, nb::handle s) {
        lz::Shape size;
        for (int v : int_list(slice_size, "slice", "slice_size")) size.push_back(v);
        return lz::dynamic_slice(py::to_array(a), py::to_array(start_indices), int_list(axes, "slice", "axes"), size,
                                 stream_of(s));
      },
      "a"_a, "start_indices"_a, "axes"_a, "slice_size"_a, nb::kw_only(), "stream"_a = nb::none(),
      "The sub-array of size `slice_size` (one size per axis) starting at start_indices[k] on axes[k] and at 0 "
      "elsewhere. The start indices are an array, so the start may change without a new graph; starts are "
      "clamped so that the slice fits.");
  m.def(
      "slice_update",
      [](nb::handle a, nb::handle update, nb::handle start_indices, nb::handle axes, nb::handle s) {
        array x = py::to_array(a);
        return lz::dynamic_slice_update(x, py::to_array_like(update, x), py::to_array(start_indices),
                                        int_list(axes, "slice_update", "axes"), stream_of(s));
      },
      "a"_a, "update"_a, "start_indices"_a, "axes"_a, nb::kw_only(), "stream"_a = nb::none(),
      "a with `update` written at start_indices[k] on axes[k] (0 elsewhere); starts are clamped so that the "
      "update fits.");
  m.def(
      "unstack",
      [](nb::handle a, int axis, nb::handle s) { return lz::unstack(py::to_array(a), axis, stream_of(s)); },
      "a"_a, "axis"_a = 0, nb::kw_only(), "stream"_a = nb::none(),
      "The list of subarrays of a along `axis`, with that axis removed.");
  m.def(
      "depends",
      [](nb::handle inputs, nb::handle dependencies) -> nb::object {
        auto out = lz::depends(array_list(inputs), array_list(dependencies));
        if (nb::isinstance<array>(inputs)) return nb::cast(out[0]);
        return nb::cast(out);
      },
      "inputs"_a, "dependencies"_a,
      "The inputs unchanged, but evaluating them first evaluates the dependencies (an array or a list, as "
      "given).");
  m.def(
      "nonzero",
      [](nb::handle a, nb::handle s) {
        nb::list out;
        for (array& x : lz::nonzero(py::to_array(a), stream_of(s))) out.append(nb::cast(x));
        return nb::tuple(out);
      },
      "a"_a, nb::kw_only(), "stream"_a = nb::none(),
      "Beyond MLX (NumPy's nonzero): a tuple with one int64 array per axis holding the coordinates of the "
      "nonzero elements. The output shape depends on the data, so this evaluates `a` (a sync point).");
  m.def(
      "unique",
      [](nb::handle a, bool return_index, bool return_inverse, bool return_counts, std::optional<int> axis,
         nb::handle s) -> nb::object {
        auto r = lz::unique(py::to_array(a), return_index, return_inverse, return_counts, axis, stream_of(s));
        if (!return_index && !return_inverse && !return_counts) return nb::cast(r.values);
        nb::list out;
        out.append(nb::cast(r.values));
        for (auto* extra : {&r.index, &r.inverse, &r.counts})
          if (*extra) out.append(nb::cast(**extra));
        return nb::tuple(out);
      },
      "a"_a, "return_index"_a = false, "return_inverse"_a = false, "return_counts"_a = false,
      "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "Beyond MLX (NumPy's unique): the sorted distinct elements (of the flattened array, or the distinct "
      "subarrays along `axis`), with, as asked, the index of each one's first occurrence, the inverse "
      "(shaped like `a` without an axis, as in NumPy 2; 1-D along one) and the counts, as int64 arrays. "
      "NaNs count as one value. The output shape depends on the data, so this evaluates `a` (a sync point).");
}
