// Python bindings of the scans and miscellaneous ops (cumsum, ..., softmax, roll, diag, ...).
// MLX's names, argument names and defaults; every op takes a keyword-only `stream`.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <typeinfo>

#include "convert.h"

using lz::array;
using SD = lz::StreamOrDevice;
namespace py = lz::py;

using py::stream_of;
using py::type_error;

namespace {


using ScanAxisFn = array (*)(const array&, int, bool, bool, SD);
using ScanFlatFn = array (*)(const array&, bool, bool, SD);
struct ScanOp {
  const char* name;
  ScanAxisFn axis;
  ScanFlatFn flat;
  const char* doc;
};
const ScanOp scan_ops[] = {
    {"cumsum", &lz::cumsum, &lz::cumsum, "Cumulative sum along an axis (of the flattened array when axis is None)."},
    {"cumprod", &lz::cumprod, &lz::cumprod,
     "Cumulative product along an axis (of the flattened array when axis is None)."},
    {"cummax", &lz::cummax, &lz::cummax, "Cumulative maximum along an axis (NaN propagates)."},
    {"cummin", &lz::cummin, &lz::cummin, "Cumulative minimum along an axis (NaN propagates)."},
    {"logcumsumexp", &lz::logcumsumexp, &lz::logcumsumexp,
     "Cumulative log(sum(exp(a))) along an axis, computed stably."},
};

array run_scan(const ScanOp& op, nb::handle a, std::optional<int> axis, bool reverse, bool inclusive, nb::handle s) {
  array x = py::to_array(a);
  return axis ? op.axis(x, *axis, reverse, inclusive, stream_of(s)) : op.flat(x, reverse, inclusive, stream_of(s));
}


std::optional<std::vector<int>> axes_of(nb::handle obj, const char* op) {
  if (PyUnicode_Check(obj.ptr())) type_error(std::string("[") + op + "] axis must be None, an int or ints, got str.");
  try {
    return py::to_axes(obj);
  } catch (const std::bad_cast&) {
    type_error(std::string("[") + op + "] axis must be None, an int or a sequence of ints.");
  }
}

lz::Shape shape_of(nb::handle obj, const char* op, const char* name) {
  if (PyUnicode_Check(obj.ptr())) type_error(std::string("[") + op + "] " + name + " must be an int or ints, got str.");
  try {
    return py::to_shape(obj);
  } catch (const std::bad_cast&) {
    type_error(std::string("[") + op + "] " + name + " must be an int or a sequence of ints.");
  }
}

}  // namespace

void init_scan_ops(nb::module_& m) {
  nb::handle cls = m.attr("array");
  for (const ScanOp& op : scan_ops) {
    m.def(
        op.name,
        [op](nb::handle a, std::optional<int> axis, bool reverse, bool inclusive, nb::handle s) {
          return run_scan(op, a, axis, reverse, inclusive, s);
        },
        "a"_a, "axis"_a = nb::none(), nb::kw_only(), "reverse"_a = false, "inclusive"_a = true,
        "stream"_a = nb::none(), op.doc);
    // The array method of the same name: a.cumsum(axis=None, *, reverse, inclusive, stream).
    cls.attr(op.name) = nb::cpp_function(
        [op](nb::handle self, std::optional<int> axis, bool reverse, bool inclusive, nb::handle s) {
          return run_scan(op, self, axis, reverse, inclusive, s);
        },
        nb::is_method(), nb::scope(cls), nb::name(op.name), "axis"_a = nb::none(), nb::kw_only(),
        "reverse"_a = false, "inclusive"_a = true, "stream"_a = nb::none(), op.doc);
  }
  m.attr("cumulative_sum") = m.attr("cumsum");
  m.attr("cumulative_prod") = m.attr("cumprod");

  m.def(
      "diff",
      [](nb::handle a, int n, int axis, nb::handle s) { return lz::diff(py::to_array(a), n, axis, stream_of(s)); },
      "a"_a, "n"_a = 1, "axis"_a = -1, nb::kw_only(), "stream"_a = nb::none(),
      "The n-th discrete difference a[i + 1] - a[i] along axis.");
  m.def(
      "softmax",
      [](nb::handle a, nb::handle axis, bool precise, nb::handle s) {
        array x = py::to_array(a);
        auto axes = axes_of(axis, "softmax");
        return axes ? lz::softmax(x, *axes, precise, stream_of(s)) : lz::softmax(x, precise, stream_of(s));
      },
      "a"_a, "axis"_a = nb::none(), nb::kw_only(), "precise"_a = false, "stream"_a = nb::none(),
      "exp(a) / sum(exp(a)) over the axes (all when axis is None), computed stably.");
  m.def(
      "nan_to_num",
      [](nb::handle a, double nan, std::optional<double> posinf, std::optional<double> neginf, nb::handle s) {
        return lz::nan_to_num(py::to_array(a), nan, posinf, neginf, stream_of(s));
      },
      "a"_a, "nan"_a = 0.0, "posinf"_a = nb::none(), "neginf"_a = nb::none(), nb::kw_only(),
      "stream"_a = nb::none(),
      "Replace NaN by nan and infinities by posinf/neginf (the dtype's extremes when None).");
  m.def(
      "roll",
      [](nb::handle a, nb::handle shift, nb::handle axis, nb::handle s) {
        auto axes = axes_of(axis, "roll");
        return lz::roll(py::to_array(a), shape_of(shift, "roll", "shift"), axes.value_or(std::vector<int>{}),
                        stream_of(s));
      },
      "a"_a, "shift"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "Shift the elements along the axes (of the flattened array when axis is None), wrapping around.");
  auto diagonal_fn = [](nb::handle a, int offset, int axis1, int axis2, nb::handle s) {
    return lz::diagonal(py::to_array(a), offset, axis1, axis2, stream_of(s));
  };
  const char* diagonal_doc = "The diagonal at offset of the planes (axis1, axis2), as the last axis.";
  m.def("diagonal", diagonal_fn, "a"_a, "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, "stream"_a = nb::none(),
        diagonal_doc);
  cls.attr("diagonal") = nb::cpp_function(diagonal_fn, nb::is_method(), nb::scope(cls), nb::name("diagonal"),
                                          "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, "stream"_a = nb::none(),
                                          diagonal_doc);
  auto diag_fn = [](nb::handle a, int k, nb::handle s) { return lz::diag(py::to_array(a), k, stream_of(s)); };
  const char* diag_doc = "1-d: a square matrix with a on diagonal k; 2-d: the k-th diagonal.";
  m.def("diag", diag_fn, "a"_a, "k"_a = 0, nb::kw_only(), "stream"_a = nb::none(), diag_doc);
  cls.attr("diag") = nb::cpp_function(diag_fn, nb::is_method(), nb::scope(cls), nb::name("diag"), "k"_a = 0,
                                      nb::kw_only(), "stream"_a = nb::none(), diag_doc);
  m.def(
      "trace",
      [](nb::handle a, int offset, int axis1, int axis2, std::optional<lz::Dtype> dtype, nb::handle s) {
        return lz::trace(py::to_array(a), offset, axis1, axis2, dtype, stream_of(s));
      },
      "a"_a, "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, "dtype"_a = nb::none(), nb::kw_only(),
      "stream"_a = nb::none(), "The sum of the diagonal at offset of the planes (axis1, axis2).");
  m.def(
      "meshgrid",
      [](nb::args arrays, bool sparse, const std::string& indexing, nb::handle s) {
        std::vector<array> xs;
        for (nb::handle h : arrays) xs.push_back(py::to_array(h));
        nb::list out;
        for (auto& x : lz::meshgrid(xs, sparse, indexing, stream_of(s))) out.append(nb::cast(x));
        return out;
      },
      "arrays"_a, "sparse"_a = false, "indexing"_a = "xy", "stream"_a = nb::none(),
      "Coordinate grids from 1-d arrays; indexing 'xy' (Cartesian) or 'ij' (matrix).");
  m.def(
      "kron",
      [](nb::handle a, nb::handle b, nb::handle s) {
        return lz::kron(py::to_array(a), py::to_array(b), stream_of(s));
      },
      "a"_a, "b"_a, nb::kw_only(), "stream"_a = nb::none(), "The Kronecker product of a and b.");
  m.def(
      "vecdot",
      [](nb::handle a, nb::handle b, int axis, nb::handle s) {
        auto [x, y] = py::to_arrays(a, b);
        return lz::vecdot(x, y, axis, stream_of(s));
      },
      "a"_a, "b"_a, "axis"_a = -1, nb::kw_only(), "stream"_a = nb::none(),
      "sum(conj(a) * b) along axis, with broadcasting.");
}
