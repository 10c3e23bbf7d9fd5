// The module-level ops of lazuli.core, with MLX's Python names, argument names and defaults.
// Every op takes a keyword-only `stream` (None, a Stream or a Device). Array arguments accept
// arrays, NumPy arrays and Python scalars; next to another operand, Python scalars are weakly
// typed (float16 array + 2.5 stays float16). The bindings only convert arguments and call
// the C++ API; ops never evaluate, so they need no GIL handling.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <typeinfo>
#include <utility>

#include "convert.h"

using namespace nb::literals;
using lz::array;
using lz::Dtype;
using lz::Shape;
using lz::Strides;
using SD = lz::StreamOrDevice;
namespace py = lz::py;

using py::py_type_name;
using py::stream_of;
using py::type_error;

namespace {




// to_shape / to_axes signal an element that is not an int with a C++ bad_cast, which would
// reach Python as RuntimeError: report it as TypeError, naming the op and the argument.
// A str would pass: nanobind converts "3" to an int.
bool is_text(nb::handle obj) { return PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()); }

Shape shape_arg(nb::handle obj, const char* op, const char* name = "shape") {
  if (is_text(obj)) type_error(std::string("[") + op + "] " + name + " must be an int or a sequence of ints, got str.");
  try {
    return py::to_shape(obj);
  } catch (const std::bad_cast&) {
    type_error(std::string("[") + op + "] " + name + " must be an int or a sequence of ints, got " +
               py_type_name(obj) + ".");
  }
}

std::optional<std::vector<int>> axes_arg(nb::handle obj, const char* op, const char* name = "axis") {
  if (is_text(obj))
    type_error(std::string("[") + op + "] " + name + " must be None, an int or a sequence of ints, got str.");
  try {
    return py::to_axes(obj);
  } catch (const std::bad_cast&) {
    type_error(std::string("[") + op + "] " + name + " must be None, an int or a sequence of ints, got " +
               py_type_name(obj) + ".");
  }
}

// An axis list that must be given (None is a type error).
std::vector<int> required_axes(nb::handle obj, const char* op, const char* name = "axis") {
  auto axes = axes_arg(obj, op, name);
  if (!axes) type_error(std::string("[") + op + "] " + name + " must be an int or a sequence of ints, not None.");
  return *axes;
}

std::vector<array> arrays_arg(nb::handle seq, const char* op) {
  if (py::is_python_scalar(seq) || nb::isinstance<array>(seq) || !PySequence_Check(seq.ptr()))
    type_error(std::string("[") + op + "] Expected a list or tuple of arrays, got " + py_type_name(seq) + ".");
  std::vector<array> out;
  for (nb::handle h : seq) out.push_back(py::to_array(h));
  return out;
}

nb::tuple to_tuple(const nb::list& l) { return nb::steal<nb::tuple>(PyList_AsTuple(l.ptr())); }
nb::tuple to_tuple(const std::vector<array>& v) {
  nb::list l;
  for (auto& a : v) l.append(nb::cast(a));
  return to_tuple(l);
}

// ---- tables of the regular ops ----

using UnaryFn = array (*)(const array&, SD);
struct Unary {
  const char* name;
  UnaryFn fn;
  const char* doc;
};

const Unary unary_ops[] = {
    {"abs", &lz::abs, "Element-wise absolute value."},
    {"negative", &lz::negative, "Element-wise negation."},
    {"sign", &lz::sign, "Element-wise sign."},
    {"sqrt", &lz::sqrt, "Element-wise square root."},
    {"rsqrt", &lz::rsqrt, "Element-wise reciprocal square root."},
    {"square", &lz::square, "Element-wise square."},
    {"reciprocal", &lz::reciprocal, "Element-wise reciprocal."},
    {"exp", &lz::exp, "Element-wise exponential."},
    {"expm1", &lz::expm1, "Element-wise exp(x) - 1, accurate near zero."},
    {"log", &lz::log, "Element-wise natural logarithm."},
    {"log1p", &lz::log1p, "Element-wise log(1 + x), accurate near zero."},
    {"log2", &lz::log2, "Element-wise base-2 logarithm."},
    {"log10", &lz::log10, "Element-wise base-10 logarithm."},
    {"sin", &lz::sin, "Element-wise sine."},
    {"cos", &lz::cos, "Element-wise cosine."},
    {"tan", &lz::tan, "Element-wise tangent."},
    {"arcsin", &lz::arcsin, "Element-wise inverse sine."},
    {"arccos", &lz::arccos, "Element-wise inverse cosine."},
    {"arctan", &lz::arctan, "Element-wise inverse tangent."},
    {"sinh", &lz::sinh, "Element-wise hyperbolic sine."},
    {"cosh", &lz::cosh, "Element-wise hyperbolic cosine."},
    {"tanh", &lz::tanh, "Element-wise hyperbolic tangent."},
    {"arcsinh", &lz::arcsinh, "Element-wise inverse hyperbolic sine."},
    {"arccosh", &lz::arccosh, "Element-wise inverse hyperbolic cosine."},
    {"arctanh", &lz::arctanh, "Element-wise inverse hyperbolic tangent."},
    {"sigmoid", &lz::sigmoid, "Element-wise logistic sigmoid 1 / (1 + exp(-x))."},
    {"erf", &lz::erf, "Element-wise error function."},
    {"erfinv", &lz::erfinv, "Element-wise inverse error function."},
    {"floor", &lz::floor, "Element-wise floor."},
    {"ceil", &lz::ceil, "Element-wise ceiling."},
    {"trunc", &lz::trunc, "Element-wise rounding toward zero."},
    {"degrees", &lz::degrees, "Convert angles from radians to degrees."},
    {"radians", &lz::radians, "Convert angles from degrees to radians."},
    {"logical_not", &lz::logical_not, "Element-wise logical not."},
    {"bitwise_invert", &lz::bitwise_invert, "Element-wise bitwise inversion (~)."},
    {"isnan", &lz::isnan, "Element-wise test for NaN."},
    {"isinf", &lz::isinf, "Element-wise test for positive or negative infinity."},
    {"isfinite", &lz::isfinite, "Element-wise test for finite values (not infinite, not NaN)."},
    {"isposinf", &lz::isposinf, "Element-wise test for positive infinity."},
    {"isneginf", &lz::isneginf, "Element-wise test for negative infinity."},
    {"conjugate", &lz::conjugate, "Element-wise complex conjugate."},
    {"real", &lz::real, "The real part of a complex array."},
    {"imag", &lz::imag, "The imaginary part of a complex array."},
};

using BinaryFn = array (*)(const array&, const array&, SD);
struct Binary {
  const char* name;
  BinaryFn fn;
  const char* doc;
};

const Binary binary_ops[] = {
    {"add", &lz::add, "Element-wise addition with broadcasting."},
    {"subtract", &lz::subtract, "Element-wise subtraction with broadcasting."},
    {"multiply", &lz::multiply, "Element-wise multiplication with broadcasting."},
    {"divide", &lz::divide, "Element-wise true division with broadcasting."},
    {"floor_divide", &lz::floor_divide, "Element-wise floor division with broadcasting."},
    {"remainder", &lz::remainder, "Element-wise remainder (sign of the divisor) with broadcasting."},
    {"power", &lz::power, "Element-wise power a ** b with broadcasting."},
    {"maximum", &lz::maximum, "Element-wise maximum with broadcasting (NaN propagates)."},
    {"minimum", &lz::minimum, "Element-wise minimum with broadcasting (NaN propagates)."},
    {"arctan2", &lz::arctan2, "Element-wise arctangent of a / b, with the quadrant of (b, a)."},
    {"logaddexp", &lz::logaddexp, "Element-wise log(exp(a) + exp(b)), computed stably."},
    {"equal", &lz::equal, "Element-wise a == b."},
    {"not_equal", &lz::not_equal, "Element-wise a != b."},
    {"less", &lz::less, "Element-wise a < b."},
    {"less_equal", &lz::less_equal, "Element-wise a <= b."},
    {"greater", &lz::greater, "Element-wise a > b."},
    {"greater_equal", &lz::greater_equal, "Element-wise a >= b."},
    {"logical_and", &lz::logical_and, "Element-wise logical and."},
    {"logical_or", &lz::logical_or, "Element-wise logical or."},
    {"logical_xor", &lz::logical_xor, "Element-wise logical exclusive or."},
    {"bitwise_and", &lz::bitwise_and, "Element-wise bitwise and."},
    {"bitwise_or", &lz::bitwise_or, "Element-wise bitwise or."},
    {"bitwise_xor", &lz::bitwise_xor, "Element-wise bitwise exclusive or."},
    {"left_shift", &lz::left_shift, "Element-wise left shift a << b."},
    {"right_shift", &lz::right_shift, "Element-wise right shift a >> b."},
};

// Reductions over `axis` (None: all axes; an int; a sequence of ints) with `keepdims`.
using ReduceAllFn = array (*)(const array&, bool, SD);
using ReduceAxesFn = array (*)(const array&, const std::vector<int>&, bool, SD);
struct Reduction {
  const char* name;
  ReduceAllFn all;
  ReduceAxesFn axes;
  const char* doc;
};

const Reduction reductions[] = {
    {"sum", &lz::sum, &lz::sum, "Sum over the given axes."},
    {"prod", &lz::prod, &lz::prod, "Product over the given axes."},
    {"max", &lz::max, &lz::max, "Maximum over the given axes."},
    {"min", &lz::min, &lz::min, "Minimum over the given axes."},
    {"mean", &lz::mean, &lz::mean, "Mean over the given axes."},
    {"all", &lz::all, &lz::all, "Whether all elements over the given axes are true (nonzero)."},
    {"any", &lz::any, &lz::any, "Whether any element over the given axes is true (nonzero)."},
    {"logsumexp", &lz::logsumexp, &lz::logsumexp, "log(sum(exp(a))) over the given axes, computed stably."},
    {"count_nonzero", &lz::count_nonzero, &lz::count_nonzero, "Number of nonzero elements over the given axes."},
};

// var and std: the same with `ddof`.
using MomentAllFn = array (*)(const array&, bool, int, SD);
using MomentAxesFn = array (*)(const array&, const std::vector<int>&, bool, int, SD);
struct Moment {
  const char* name;
  MomentAllFn all;
  MomentAxesFn axes;
  const char* doc;
};
const Moment moments[] = {
    {"var", &lz::var, &lz::var, "Variance over the given axes; the divisor is N - ddof."},
    {"std", &lz::std, &lz::std, "Standard deviation over the given axes; the divisor is N - ddof."},
};

// argmax / argmin: axis is None (over the flattened array) or one int.
using ArgAllFn = array (*)(const array&, bool, SD);
using ArgAxisFn = array (*)(const array&, int, bool, SD);
struct ArgReduction {
  const char* name;
  ArgAllFn all;
  ArgAxisFn axis;
  const char* doc;
};
const ArgReduction arg_reductions[] = {
    {"argmax", &lz::argmax, &lz::argmax, "Indices of the maxima along an axis (the first one on ties)."},
    {"argmin", &lz::argmin, &lz::argmin, "Indices of the minima along an axis (the first one on ties)."},
};

using AtLeastFn = array (*)(const array&, SD);
struct AtLeast {
  const char* name;
  AtLeastFn fn;
  const char* doc;
};
const AtLeast atleast_ops[] = {
    {"atleast_1d", &lz::atleast_1d, "Views of the inputs with at least one dimension."},
    {"atleast_2d", &lz::atleast_2d, "Views of the inputs with at least two dimensions."},
    {"atleast_3d", &lz::atleast_3d, "Views of the inputs with at least three dimensions."},
};

// ---- argument parsing for the irregular ops ----

// arange's start/stop/step: a Python int (or any object with __index__) or a float.
struct Number {
  double value;
  bool is_int;
};
Number number_arg(nb::handle h, const char* name) {
  if (PyBool_Check(h.ptr())) throw nb::value_error("[arange] bool is not supported for arange.");
  if (nb::isinstance<array>(h))  // reading its value would evaluate it; MLX refuses arrays here too
    type_error(std::string("[arange] ") + name + " must be a Python int or float, got an array.");
  if (PyLong_Check(h.ptr()) || PyIndex_Check(h.ptr())) {
    nb::object i = nb::steal(PyNumber_Index(h.ptr()));
    if (!i.is_valid()) throw nb::python_error();
    return {PyLong_AsDouble(i.ptr()), true};
  }
  if (PyFloat_Check(h.ptr()) || nb::hasattr(h, "__float__")) {
    double v = PyFloat_AsDouble(h.ptr());
    if (v == -1.0 && PyErr_Occurred()) throw nb::python_error();
    return {v, false};
  }
  type_error(std::string("[arange] ") + name + " must be an int or a float, got " + py_type_name(h) + ".");
}

array arange_impl(nb::handle start_, nb::handle stop_, nb::handle step_, std::optional<Dtype> dtype,
                  nb::handle s) {
  Number start = start_.is_none() ? Number{0.0, true} : number_arg(start_, "start");
  Number stop = number_arg(stop_, "stop");
  Number step = step_.is_none() ? Number{1.0, true} : number_arg(step_, "step");
  Dtype t = dtype.value_or(start.is_int && stop.is_int && step.is_int ? lz::int32 : lz::float32);
  return lz::arange(start.value, stop.value, step.value, t, stream_of(s));
}

// NumPy's pad_width forms: n; (n,); (before, after); ((before, after),); ((b0, a0), (b1, a1), ...);
// ((n0,), (n1,), ...).
std::vector<std::pair<int, int>> pad_width_arg(nb::handle obj) {
  auto pair_of = [](nb::handle seq) -> std::pair<int, int> {
    std::vector<int> v;
    for (nb::handle h : seq) {
      if (!PyLong_Check(h.ptr()) || PyBool_Check(h.ptr()))
        type_error("[pad] pad_width entries must be ints, got " + py_type_name(h) + ".");
      v.push_back(nb::cast<int>(h));
    }
    if (v.size() == 1) return {v[0], v[0]};
    if (v.size() == 2) return {v[0], v[1]};
    throw nb::value_error(("[pad] Each pad_width entry must be (before, after) or (n,), got " +
                           std::to_string(v.size()) + " values.").c_str());
  };
  if (!PySequence_Check(obj.ptr()) || py::is_python_scalar(obj) || nb::isinstance<array>(obj))
    type_error("[pad] pad_width must be an int or a sequence, got " + py_type_name(obj) + ".");
  size_t n = nb::len(obj), ints = 0;
  for (nb::handle h : obj) ints += PyLong_Check(h.ptr()) ? 1 : 0;
  if (n > 0 && ints == n) return {pair_of(obj)};
  if (ints != 0) type_error("[pad] pad_width mixes ints and sequences.");
  std::vector<std::pair<int, int>> out;
  for (nb::handle h : obj) {
    if (!PySequence_Check(h.ptr()) || PyUnicode_Check(h.ptr()))
      type_error("[pad] pad_width entries must be sequences of ints, got " + py_type_name(h) + ".");
    out.push_back(pair_of(h));
  }
  if (out.empty()) throw nb::value_error("[pad] pad_width is empty.");
  return out;
}

Strides strides_arg(nb::handle obj) {
  Strides out;
  try {
    for (nb::handle h : obj) out.push_back(nb::cast<int64_t>(h));
  } catch (const std::bad_cast&) {
    type_error("[as_strided] strides must be a sequence of ints, got " + py_type_name(obj) + ".");
  }
  return out;
}

}  // namespace

void init_ops(nb::module_& m) {
  // ---------------------------------------------------------------- creation
  m.def("arange", &arange_impl, "start"_a, "stop"_a, "step"_a = nb::none(), "dtype"_a = nb::none(), nb::kw_only(),
        "stream"_a = nb::none(),
        "Evenly spaced values in [start, stop) with the given step.\n\n"
        "Ints give int32 and floats float32 unless dtype is given.");
  m.def(
      "arange",
      [](nb::handle stop, nb::handle step, std::optional<Dtype> dtype, nb::handle s) {
        return arange_impl(nb::none(), stop, step, dtype, s);
      },
      "stop"_a, "step"_a = nb::none(), "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none());
  m.def(
      "linspace",
      [](double start, double stop, int num, std::optional<Dtype> dtype, nb::handle s) {
        return lz::linspace(start, stop, num, dtype.value_or(lz::float32), stream_of(s));
      },
      "start"_a, "stop"_a, "num"_a = 50, "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "num evenly spaced values from start to stop inclusive (dtype defaults to float32).");
  m.def(
      "full",
      [](nb::handle shape, nb::handle vals, std::optional<Dtype> dtype, nb::handle s) {
        return lz::full(shape_arg(shape, "full"), py::to_array(vals, dtype), stream_of(s));
      },
      "shape"_a, "vals"_a, "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "An array of the given shape filled with vals (broadcast), of vals' dtype unless dtype is given.");
  auto def_filled = [&](const char* name, array (*fn)(const Shape&, Dtype, SD), const char* doc) {
    m.def(
        name,
        [fn, name](nb::handle shape, std::optional<Dtype> dtype, nb::handle s) {
          return fn(shape_arg(shape, name), dtype.value_or(lz::float32), stream_of(s));
        },
        "shape"_a, "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(), doc);
  };
  def_filled("zeros", &lz::zeros, "An array of zeros (dtype defaults to float32).");
  def_filled("ones", &lz::ones, "An array of ones (dtype defaults to float32).");
  def_filled("empty", &lz::zeros, "An array of the given shape; Lazuli fills it with zeros.");
  auto def_like = [&](const char* name, array (*fn)(const array&, SD), const char* doc) {
    m.def(
        name, [fn](nb::handle a, nb::handle s) { return fn(py::to_array(a), stream_of(s)); }, "a"_a,
        nb::kw_only(), "stream"_a = nb::none(), doc);
  };
  def_like("zeros_like", &lz::zeros_like, "An array of zeros with the shape and dtype of a.");
  def_like("ones_like", &lz::ones_like, "An array of ones with the shape and dtype of a.");
  def_like("empty_like", &lz::zeros_like, "An array with the shape and dtype of a; Lazuli fills it with zeros.");
  m.def(
      "full_like",
      [](nb::handle a_, nb::handle vals, std::optional<Dtype> dtype, nb::handle s) {
        array a = py::to_array(a_);
        array v = py::to_array(vals);
        return dtype ? lz::full(a.shape(), v, *dtype, stream_of(s)) : lz::full_like(a, v, stream_of(s));
      },
      "a"_a, "vals"_a, "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "An array with the shape of a filled with vals, of a's dtype unless dtype is given.");
  m.def(
      "eye",
      [](int n, std::optional<int> mm, int k, std::optional<Dtype> dtype, nb::handle s) {
        return lz::eye(n, mm.value_or(n), k, dtype.value_or(lz::float32), stream_of(s));
      },
      "n"_a, "m"_a = nb::none(), "k"_a = 0, "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "An n x m array with ones on the k-th diagonal and zeros elsewhere (dtype defaults to float32).");
  m.def(
      "identity",
      [](int n, std::optional<Dtype> dtype, nb::handle s) {
        return lz::identity(n, dtype.value_or(lz::float32), stream_of(s));
      },
      "n"_a, "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "The n x n identity matrix (dtype defaults to float32).");
  m.def(
      "tri",
      [](int n, std::optional<int> mm, int k, std::optional<Dtype> dtype, nb::handle s) {
        return lz::tri(n, mm.value_or(n), k, dtype.value_or(lz::float32), stream_of(s));
      },
      "n"_a, "m"_a = nb::none(), "k"_a = 0, "dtype"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "An n x m array with ones at and below the k-th diagonal (dtype defaults to float32).");
  m.def(
      "tril", [](nb::handle x, int k, nb::handle s) { return lz::tril(py::to_array(x), k, stream_of(s)); }, "x"_a,
      "k"_a = 0, nb::kw_only(), "stream"_a = nb::none(), "The lower triangle (at and below diagonal k) of x.");
  m.def(
      "triu", [](nb::handle x, int k, nb::handle s) { return lz::triu(py::to_array(x), k, stream_of(s)); }, "x"_a,
      "k"_a = 0, nb::kw_only(), "stream"_a = nb::none(), "The upper triangle (at and above diagonal k) of x.");
  m.def(
      "asarray", [](nb::handle a, std::optional<Dtype> dtype) { return py::to_array(a, dtype); }, "a"_a,
      "dtype"_a = nb::none(), "An array from a (an array is returned as is unless dtype differs).");
  m.def(
      "astype",
      [](nb::handle a, Dtype dtype, nb::handle s) { return lz::astype(py::to_array(a), dtype, stream_of(s)); },
      "a"_a, "dtype"_a, nb::kw_only(), "stream"_a = nb::none(), "a converted to dtype (the function form of a.astype).");
  m.def(
      "view",
      [](nb::handle a, Dtype dtype, nb::handle s) { return lz::view(py::to_array(a), dtype, stream_of(s)); },
      "a"_a, "dtype"_a, nb::kw_only(), "stream"_a = nb::none(),
      "The bytes of a reinterpreted as dtype (the last axis is rescaled when the sizes differ).");

  // ---------------------------------------------------------------- elementwise
  for (const Unary& op : unary_ops)
    m.def(
        op.name, [fn = op.fn](nb::handle a, nb::handle s) { return fn(py::to_array(a), stream_of(s)); }, "a"_a,
        nb::kw_only(), "stream"_a = nb::none(), op.doc);
  m.attr("conj") = m.attr("conjugate");
  m.def(
      "positive", [](nb::handle a, nb::handle) { return py::to_array(a); }, "a"_a, nb::kw_only(),
      "stream"_a = nb::none(), "Element-wise +a (the values of a).");
  m.def(
      "round",
      [](nb::handle a, int decimals, nb::handle s) { return lz::round(py::to_array(a), decimals, stream_of(s)); },
      "a"_a, "decimals"_a = 0, nb::kw_only(), "stream"_a = nb::none(),
      "Round to the given number of decimals (halves to even).");

  for (const Binary& op : binary_ops)
    m.def(
        op.name,
        [fn = op.fn](nb::handle a, nb::handle b, nb::handle s) {
          auto [x, y] = py::to_arrays(a, b);
          return fn(x, y, stream_of(s));
        },
        "a"_a, "b"_a, nb::kw_only(), "stream"_a = nb::none(), op.doc);
  m.def(
      "divmod",
      [](nb::handle a, nb::handle b, nb::handle s) {
        auto [x, y] = py::to_arrays(a, b);
        return to_tuple(lz::divmod(x, y, stream_of(s)));
      },
      "a"_a, "b"_a, nb::kw_only(), "stream"_a = nb::none(),
      "The tuple (a // b, a % b), element-wise with broadcasting.");
  m.def(
      "where",
      [](nb::handle condition, nb::handle x, nb::handle y, nb::handle s) {
        auto [a, b] = py::to_arrays(x, y);
        return lz::where(py::to_array(condition), a, b, stream_of(s));
      },
      "condition"_a, "x"_a, "y"_a, nb::kw_only(), "stream"_a = nb::none(),
      "Elements of x where condition is true, else of y, with broadcasting.");
  m.def(
      "clip",
      [](nb::handle a_, nb::handle a_min, nb::handle a_max, nb::handle s) {
        array a = py::to_array(a_);
        std::optional<array> lo, hi;
        if (!a_min.is_none()) lo = py::to_array_like(a_min, a);
        if (!a_max.is_none()) hi = py::to_array_like(a_max, a);
        return lz::clip(a, lo, hi, stream_of(s));
      },
      "a"_a, "a_min"_a.none(), "a_max"_a.none(), nb::kw_only(), "stream"_a = nb::none(),
      "Clip the values of a to [a_min, a_max]; either bound may be None (not both).");
  auto def_close = [&](const char* name, array (*fn)(const array&, const array&, double, double, bool, SD),
                       const char* doc) {
    m.def(
        name,
        [fn](nb::handle a, nb::handle b, double rtol, double atol, bool equal_nan, nb::handle s) {
          auto [x, y] = py::to_arrays(a, b);
          return fn(x, y, rtol, atol, equal_nan, stream_of(s));
        },
        "a"_a, "b"_a, "rtol"_a = 1e-5, "atol"_a = 1e-8, nb::kw_only(), "equal_nan"_a = false,
        "stream"_a = nb::none(), doc);
  };
  def_close("isclose", &lz::isclose, "Element-wise |a - b| <= atol + rtol * |b|.");
  def_close("allclose", &lz::allclose, "Whether all elements satisfy |a - b| <= atol + rtol * |b|.");
  m.def(
      "array_equal",
      [](nb::handle a, nb::handle b, bool equal_nan, nb::handle s) {
        auto [x, y] = py::to_arrays(a, b);
        return lz::array_equal(x, y, equal_nan, stream_of(s));
      },
      "a"_a, "b"_a, "equal_nan"_a = false, nb::kw_only(), "stream"_a = nb::none(),
      "Whether a and b have the same shape and values (dtypes may differ).");

  // Array API aliases.
  const std::pair<const char*, const char*> aliases[] = {
      {"acos", "arccos"}, {"acosh", "arccosh"}, {"asin", "arcsin"},       {"asinh", "arcsinh"},
      {"atan", "arctan"}, {"atanh", "arctanh"}, {"atan2", "arctan2"},     {"pow", "power"},
      {"bitwise_left_shift", "left_shift"},     {"bitwise_right_shift", "right_shift"}};
  for (auto [alias, name] : aliases) m.attr(alias) = m.attr(name);

  // ---------------------------------------------------------------- reductions
  for (const Reduction& op : reductions)
    m.def(
        op.name,
        [op](nb::handle a, nb::handle axis, bool keepdims, nb::handle s) {
          array x = py::to_array(a);
          auto axes = axes_arg(axis, op.name);
          return axes ? op.axes(x, *axes, keepdims, stream_of(s)) : op.all(x, keepdims, stream_of(s));
        },
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none(), op.doc);
  for (const Moment& op : moments)
    m.def(
        op.name,
        [op](nb::handle a, nb::handle axis, bool keepdims, int ddof, nb::handle s) {
          array x = py::to_array(a);
          auto axes = axes_arg(axis, op.name);
          return axes ? op.axes(x, *axes, keepdims, ddof, stream_of(s)) : op.all(x, keepdims, ddof, stream_of(s));
        },
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, "ddof"_a = 0, nb::kw_only(), "stream"_a = nb::none(),
        op.doc);
  for (const ArgReduction& op : arg_reductions)
    m.def(
        op.name,
        [op](nb::handle a, std::optional<int> axis, bool keepdims, nb::handle s) {
          array x = py::to_array(a);
          return axis ? op.axis(x, *axis, keepdims, stream_of(s)) : op.all(x, keepdims, stream_of(s));
        },
        "a"_a, "axis"_a = nb::none(), "keepdims"_a = false, nb::kw_only(), "stream"_a = nb::none(), op.doc);

  // ---------------------------------------------------------------- shape
  m.def(
      "reshape",
      [](nb::handle a, nb::handle shape, nb::handle s) {
        return lz::reshape(py::to_array(a), shape_arg(shape, "reshape"), stream_of(s));
      },
      "a"_a, "shape"_a, nb::kw_only(), "stream"_a = nb::none(),
      "The elements of a in a new shape of the same size (one entry may be -1).");
  m.def(
      "flatten",
      [](nb::handle a, int start_axis, int end_axis, nb::handle s) {
        return lz::flatten(py::to_array(a), start_axis, end_axis, stream_of(s));
      },
      "a"_a, "start_axis"_a = 0, "end_axis"_a = -1, nb::kw_only(), "stream"_a = nb::none(),
      "Merge the axes start_axis..end_axis (inclusive) into one.");
  m.def(
      "unflatten",
      [](nb::handle a, int axis, nb::handle shape, nb::handle s) {
        return lz::unflatten(py::to_array(a), axis, shape_arg(shape, "unflatten"), stream_of(s));
      },
      "a"_a, "axis"_a, "shape"_a, nb::kw_only(), "stream"_a = nb::none(),
      "Split one axis into the given shape (one entry may be -1).");
  m.def(
      "squeeze",
      [](nb::handle a, nb::handle axis, nb::handle s) {
        array x = py::to_array(a);
        auto axes = axes_arg(axis, "squeeze");
        return axes ? lz::squeeze(x, *axes, stream_of(s)) : lz::squeeze(x, stream_of(s));
      },
      "a"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "Remove size-one axes (all of them when axis is None).");
  m.def(
      "expand_dims",
      [](nb::handle a, nb::handle axis, nb::handle s) {
        return lz::expand_dims(py::to_array(a), required_axes(axis, "expand_dims"), stream_of(s));
      },
      "a"_a, "axis"_a, nb::kw_only(), "stream"_a = nb::none(), "Insert size-one axes at the given positions.");
  m.def(
      "transpose",
      [](nb::handle a, nb::handle axes, nb::handle s) {
        array x = py::to_array(a);
        auto ax = axes_arg(axes, "transpose", "axes");
        return ax ? lz::transpose(x, *ax, stream_of(s)) : lz::transpose(x, stream_of(s));
      },
      "a"_a, "axes"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "Permute the axes (reverse them when axes is None).");
  m.attr("permute_dims") = m.attr("transpose");
  m.attr("matrix_transpose") = m.attr("transpose");
  m.def(
      "swapaxes",
      [](nb::handle a, int axis1, int axis2, nb::handle s) {
        return lz::swapaxes(py::to_array(a), axis1, axis2, stream_of(s));
      },
      "a"_a, "axis1"_a, "axis2"_a, nb::kw_only(), "stream"_a = nb::none(), "Swap two axes.");
  m.def(
      "moveaxis",
      [](nb::handle a, int source, int destination, nb::handle s) {
        return lz::moveaxis(py::to_array(a), source, destination, stream_of(s));
      },
      "a"_a, "source"_a, "destination"_a, nb::kw_only(), "stream"_a = nb::none(),
      "Move one axis to a new position.");
  m.def(
      "broadcast_to",
      [](nb::handle a, nb::handle shape, nb::handle s) {
        return lz::broadcast_to(py::to_array(a), shape_arg(shape, "broadcast_to"), stream_of(s));
      },
      "a"_a, "shape"_a, nb::kw_only(), "stream"_a = nb::none(), "Broadcast a to the given shape.");
  m.def(
      "broadcast_arrays",
      [](nb::args arrays, nb::handle s) {
        std::vector<array> xs;
        for (nb::handle h : arrays) xs.push_back(py::to_array(h));
        return lz::broadcast_arrays(xs, stream_of(s));
      },
      "arrays"_a, "stream"_a = nb::none(), "The inputs broadcast against each other, as a list (as MLX returns).");
  m.def(
      "broadcast_shapes",
      [](nb::args shapes) {
        if (shapes.size() == 0) throw nb::value_error("[broadcast_shapes] Must provide at least one shape.");
        Shape out = shape_arg(shapes[0], "broadcast_shapes");
        for (size_t i = 1; i < shapes.size(); ++i)
          out = lz::broadcast_shapes(out, shape_arg(shapes[i], "broadcast_shapes"));
        nb::list l;
        for (auto d : out) l.append(d);
        return to_tuple(l);
      },
      "shapes"_a, "The shape that the given shapes broadcast to, as a tuple.");
  auto def_concat = [&](const char* name) {
    m.def(
        name,
        [name](nb::handle arrays, std::optional<int> axis, nb::handle s) {
          auto xs = arrays_arg(arrays, name);
          return axis ? lz::concatenate(xs, *axis, stream_of(s)) : lz::concatenate(xs, stream_of(s));
        },
        "arrays"_a, "axis"_a.none() = 0, nb::kw_only(), "stream"_a = nb::none(),
        "Join arrays along an existing axis (flattened first when axis is None).");
  };
  def_concat("concatenate");
  def_concat("concat");
  m.def(
      "stack",
      [](nb::handle arrays, int axis, nb::handle s) {
        return lz::stack(arrays_arg(arrays, "stack"), axis, stream_of(s));
      },
      "arrays"_a, "axis"_a = 0, nb::kw_only(), "stream"_a = nb::none(), "Join arrays along a new axis.");
  m.def(
      "split",
      [](nb::handle a, nb::handle indices_or_sections, int axis, nb::handle s) {
        array x = py::to_array(a);
        if (PyLong_Check(indices_or_sections.ptr()))
          return lz::split(x, nb::cast<int>(indices_or_sections), axis, stream_of(s));
        return lz::split(x, shape_arg(indices_or_sections, "split", "indices_or_sections"), axis, stream_of(s));
      },
      "a"_a, "indices_or_sections"_a, "axis"_a = 0, nb::kw_only(), "stream"_a = nb::none(),
      "Split into equal sections (an int) or at the given indices (a sequence); returns a list.");
  m.def(
      "pad",
      [](nb::handle a_, nb::handle pad_width, const std::string& mode, nb::handle constant_values, nb::handle s) {
        array a = py::to_array(a_);
        array value = py::to_array_like(constant_values, a);
        if (PyLong_Check(pad_width.ptr()) && !PyBool_Check(pad_width.ptr()))
          return lz::pad(a, nb::cast<int>(pad_width), value, mode, stream_of(s));
        return lz::pad(a, pad_width_arg(pad_width), value, mode, stream_of(s));
      },
      "a"_a, "pad_width"_a, "mode"_a = "constant", "constant_values"_a = 0, nb::kw_only(), "stream"_a = nb::none(),
      "Pad with a constant ('constant') or the edge values ('edge'); pad_width takes NumPy's forms.");
  m.def(
      "tile",
      [](nb::handle a, nb::handle reps, nb::handle s) {
        return lz::tile(py::to_array(a), shape_arg(reps, "tile", "reps"), stream_of(s));
      },
      "a"_a, "reps"_a, nb::kw_only(), "stream"_a = nb::none(), "Repeat the whole array reps times along each axis.");
  m.def(
      "repeat",
      [](nb::handle a, int repeats, std::optional<int> axis, nb::handle s) {
        array x = py::to_array(a);
        return axis ? lz::repeat(x, repeats, *axis, stream_of(s)) : lz::repeat(x, repeats, stream_of(s));
      },
      "array"_a, "repeats"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "Repeat each element along an axis (of the flattened array when axis is None).");
  m.def(
      "flip",
      [](nb::handle a, nb::handle axis, nb::handle s) {
        array x = py::to_array(a);
        auto axes = axes_arg(axis, "flip");
        return axes ? lz::flip(x, *axes, stream_of(s)) : lz::flip(x, stream_of(s));
      },
      "a"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "Reverse the order of elements along the given axes (all when axis is None).");
  m.def(
      "as_strided",
      [](nb::handle a, nb::handle shape, nb::handle strides, size_t offset, nb::handle s) {
        array x = py::to_array(a);
        Shape sh = shape.is_none() ? x.shape() : shape_arg(shape, "as_strided");
        Strides st = strides.is_none() ? lz::row_major_strides(sh) : strides_arg(strides);
        return lz::as_strided(x, std::move(sh), std::move(st), offset, stream_of(s));
      },
      "a"_a, "shape"_a = nb::none(), "strides"_a = nb::none(), "offset"_a = 0, nb::kw_only(),
      "stream"_a = nb::none(),
      "A view of a's row-major elements with the given shape, strides and offset (in elements).");
  m.def(
      "contiguous",
      [](nb::handle a, bool allow_col_major, nb::handle s) {
        return lz::contiguous(py::to_array(a), allow_col_major, stream_of(s));
      },
      "a"_a, "allow_col_major"_a = false, nb::kw_only(), "stream"_a = nb::none(),
      "A row-contiguous copy of a.");
  for (const AtLeast& op : atleast_ops)
    m.def(
        op.name,
        [fn = op.fn](nb::args arys, nb::handle s) -> nb::object {
          SD sd = stream_of(s);
          if (arys.size() == 1) return nb::cast(fn(py::to_array(arys[0]), sd));
          nb::list out;
          for (nb::handle h : arys) out.append(nb::cast(fn(py::to_array(h), sd)));
          return out;
        },
        "arys"_a, "stream"_a = nb::none(), op.doc);

  // ---------------------------------------------------------------- matmul family
  auto def_product = [&](const char* name, BinaryFn fn, const char* doc) {
    m.def(
        name,
        [fn](nb::handle a, nb::handle b, nb::handle s) {
          return fn(py::to_array(a), py::to_array(b), stream_of(s));
        },
        "a"_a, "b"_a, nb::kw_only(), "stream"_a = nb::none(), doc);
  };
  def_product("matmul", &lz::matmul, "Matrix product with NumPy's rules for 1-d and batched operands.");
  def_product("inner", &lz::inner, "Inner product over the last axes of a and b.");
  def_product("outer", &lz::outer, "Outer product of the flattened a and b.");
  m.def(
      "addmm",
      [](nb::handle c, nb::handle a, nb::handle b, float alpha, float beta, nb::handle s) {
        return lz::addmm(py::to_array(c), py::to_array(a), py::to_array(b), alpha, beta, stream_of(s));
      },
      "c"_a, "a"_a, "b"_a, "alpha"_a = 1.0f, "beta"_a = 1.0f, nb::kw_only(), "stream"_a = nb::none(),
      "alpha * (a @ b) + beta * c.");
  m.def(
      "tensordot",
      [](nb::handle a_, nb::handle b_, nb::handle axes, nb::handle s) {
        array a = py::to_array(a_), b = py::to_array(b_);
        if (PyLong_Check(axes.ptr())) return lz::tensordot(a, b, nb::cast<int>(axes), stream_of(s));
        if (!PySequence_Check(axes.ptr()) || nb::len(axes) != 2)
          type_error("[tensordot] axes must be an int or a pair of axis lists, got " + py_type_name(axes) + ".");
        return lz::tensordot(a, b, required_axes(axes[0], "tensordot", "axes"),
                             required_axes(axes[1], "tensordot", "axes"), stream_of(s));
      },
      "a"_a, "b"_a, "axes"_a = 2, nb::kw_only(), "stream"_a = nb::none(),
      "Sum of products over the last `axes` axes of a and the first of b, or over the given axis lists.");

  // ---------------------------------------------------------------- indexing
  m.def(
      "take",
      [](nb::handle a, nb::handle indices, std::optional<int> axis, nb::handle s) {
        array x = py::to_array(a), i = py::to_array(indices);
        return axis ? lz::take(x, i, *axis, stream_of(s)) : lz::take(x, i, stream_of(s));
      },
      "a"_a, "indices"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "Elements at `indices` along `axis` (of the flattened array when axis is None).");
  m.def(
      "take_along_axis",
      [](nb::handle a, nb::handle indices, std::optional<int> axis, nb::handle s) {
        array x = py::to_array(a), i = py::to_array(indices);
        if (!axis) return lz::take_along_axis(lz::reshape(x, {-1}), lz::reshape(i, {-1}), 0, stream_of(s));
        return lz::take_along_axis(x, i, *axis, stream_of(s));
      },
      "a"_a, "indices"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "out[..., i, ...] = a[..., indices[..., i, ...], ...] along `axis`.");
  m.def(
      "put_along_axis",
      [](nb::handle a, nb::handle indices, nb::handle values, std::optional<int> axis, nb::handle s) {
        array x = py::to_array(a), i = py::to_array(indices), v = py::to_array_like(values, x);
        if (!axis)
          return lz::reshape(lz::put_along_axis(lz::reshape(x, {-1}), lz::reshape(i, {-1}), lz::reshape(v, {-1}), 0,
                                                stream_of(s)),
                             x.shape());
        return lz::put_along_axis(x, i, v, *axis, stream_of(s));
      },
      "a"_a, "indices"_a, "values"_a, "axis"_a = nb::none(), nb::kw_only(), "stream"_a = nb::none(),
      "a with `values` written at `indices` along `axis`.");
}
