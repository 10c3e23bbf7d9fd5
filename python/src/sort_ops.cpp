// Python bindings of sorting and searching (sort, argsort, partition, topk, searchsorted, median).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <string>

#include "convert.h"

using lz::array;
namespace py = lz::py;

using py::stream_of;

namespace {


// sort/argsort: axis None flattens.
using AxisFn = array (*)(const array&, int, lz::StreamOrDevice);
using FlatFn = array (*)(const array&, lz::StreamOrDevice);
// partition/argpartition/topk: (a, k, axis) or (a, k) flattened.
using KAxisFn = array (*)(const array&, int, int, lz::StreamOrDevice);
using KFlatFn = array (*)(const array&, int, lz::StreamOrDevice);

}  // namespace

void init_sort_ops(nb::module_& m) {
  struct ByAxis {
    const char* name;
    AxisFn axis;
    FlatFn flat;
    const char* doc;
  };
  const ByAxis by_axis[] = {
      {"sort", &lz::sort, &lz::sort, "Sorted copy of the array along an axis (None: flattened). NaNs sort last."},
      {"argsort", &lz::argsort, &lz::argsort,
       "Indices (uint32) that sort the array along an axis (None: flattened); stable."},
  };
  for (const ByAxis& op : by_axis)
    m.def(
        op.name,
        [op](nb::handle a, std::optional<int> axis, nb::handle s) {
          array x = py::to_array(a);
          return axis ? op.axis(x, *axis, stream_of(s)) : op.flat(x, stream_of(s));
        },
        "a"_a, "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none(), op.doc);

  struct WithK {
    const char* name;
    const char* k_name;
    KAxisFn axis;
    KFlatFn flat;
    const char* doc;
  };
  const WithK with_k[] = {
      {"partition", "kth", &lz::partition, &lz::partition,
       "The kth element where sorting would put it, smaller elements before it and larger after."},
      {"argpartition", "kth", &lz::argpartition, &lz::argpartition,
       "Indices (uint32) that partition the array around its kth element."},
      {"topk", "k", &lz::topk, &lz::topk, "The k largest elements along an axis, in no particular order."},
  };
  for (const WithK& op : with_k)
    m.def(
        op.name,
        [op](nb::handle a, int k, std::optional<int> axis, nb::handle s) {
          array x = py::to_array(a);
          return axis ? op.axis(x, k, *axis, stream_of(s)) : op.flat(x, k, stream_of(s));
        },
        "a"_a, nb::arg(op.k_name), "axis"_a.none() = -1, nb::kw_only(), "stream"_a = nb::none(),
        op.doc);

  m.def(
      "searchsorted",
      [](nb::handle a, nb::handle v, const std::string& side, nb::handle s) {
        array x = py::to_array(a);
        array y = py::is_python_scalar(v) ? py::to_array_like(v, x) : py::to_array(v);
        return lz::searchsorted(x, y, side, stream_of(s));
      },
      "a"_a, "v"_a, "side"_a = "left", nb::kw_only(), "stream"_a = nb::none(),
      "Indices (uint32) where the values of v would be inserted into the sorted 1-D array a: before equal "
      "elements (side='left') or after them (side='right').");

  m.def(
      "median",
      [](nb::handle a, nb::handle axis, bool keepdims, nb::handle s) {
        array x = py::to_array(a);
        auto axes = py::to_axes(axis);
        return axes ? lz::median(x, *axes, keepdims, stream_of(s)) : lz::median(x, keepdims, stream_of(s));
      },
      "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none(),
      "Median over the given axes (None: all). Integers give float32; a NaN makes the result NaN.");
}
