// Dtypes, categories, finfo/iinfo, and the constants.
#include <nanobind/operators.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>

#include <cmath>
#include <limits>
#include <variant>

#include "convert.h"

using namespace lazuli;
using DtypeOrCategory = std::variant<Dtype, DtypeCategory>;

void init_dtypes(nb::module_& m) {
  nb::class_<Dtype>(m, "Dtype", "An element type: lazuli.core.float32 and friends.")
      .def_prop_ro("size", [](const Dtype& t) { return t.size; }, "Bytes per element.")
      .def("__repr__", [](const Dtype& t) { return "lazuli.core." + dtype_name(t); })
      .def("__str__", [](const Dtype& t) { return "lazuli.core." + dtype_name(t); })
      .def("__eq__", [](const Dtype& a, nb::handle b) { return nb::isinstance<Dtype>(b) && a == nb::cast<Dtype>(b); })
      .def("__hash__", [](const Dtype& t) { return static_cast<int>(t.val); });
  for (int i = 0; i < num_dtypes; ++i) {
    Dtype t = dtype_from_index(i);
    m.attr((t == bool_ ? std::string("bool_") : dtype_name(t)).c_str()) = t;
  }

  nb::enum_<DtypeCategory>(m, "DtypeCategory")
      .value("complexfloating", DtypeCategory::complexfloating)
      .value("floating", DtypeCategory::floating)
      .value("inexact", DtypeCategory::inexact)
      .value("signedinteger", DtypeCategory::signedinteger)
      .value("unsignedinteger", DtypeCategory::unsignedinteger)
      .value("integer", DtypeCategory::integer)
      .value("number", DtypeCategory::number)
      .value("generic", DtypeCategory::generic)
      .export_values();

  m.def(
      "issubdtype",
      [](const DtypeOrCategory& a, const DtypeOrCategory& b) {
        return std::visit([](auto x, auto y) { return issubdtype(x, y); }, a, b);
      },
      "arg1"_a, "arg2"_a, "Whether arg1 is arg2 or a kind of it.");
  m.def(
      "result_type",
      [](nb::args args) {
        // Arrays, dtypes and Python scalars: scalars are weak, as in the ops.
        std::optional<Dtype> t;
        for (nb::handle a : args) {
          if (nb::isinstance<Dtype>(a)) t = t ? promote_types(*t, nb::cast<Dtype>(a)) : nb::cast<Dtype>(a);
          else if (!py::is_python_scalar(a)) t = t ? promote_types(*t, py::to_array(a).dtype()) : py::to_array(a).dtype();
        }
        for (nb::handle a : args) {
          if (!py::is_python_scalar(a)) continue;
          Dtype scalar = t ? py::to_array_like(a, zeros({}, *t)).dtype() : py::to_array(a).dtype();
          t = t ? promote_types(*t, scalar) : scalar;
        }
        if (!t) throw nb::value_error("[result_type] needs at least one argument.");
        return *t;
      },
      "The dtype that the arguments promote to.");
  m.def("can_cast", [](Dtype from, Dtype to) { return can_cast(from, to); }, "from_"_a, "to"_a);

  nb::class_<finfo>(m, "finfo")
      .def(nb::init<Dtype>(), "dtype"_a)
      .def_ro("min", &finfo::min)
      .def_ro("max", &finfo::max)
      .def_ro("eps", &finfo::eps)
      .def_ro("smallest_normal", &finfo::smallest_normal)
      .def_ro("bits", &finfo::bits)
      .def_ro("dtype", &finfo::dtype)
      .def("__repr__", [](const finfo& f) {
        return "finfo(min=" + std::to_string(f.min) + ", max=" + std::to_string(f.max) + ", dtype=" + dtype_name(f.dtype) + ")";
      });
  nb::class_<iinfo>(m, "iinfo")
      .def(nb::init<Dtype>(), "dtype"_a)
      .def_ro("min", &iinfo::min)
      .def_ro("max", &iinfo::max)
      .def_ro("bits", &iinfo::bits)
      .def_ro("dtype", &iinfo::dtype)
      .def("__repr__", [](const iinfo& f) {
        return "iinfo(min=" + std::to_string(f.min) + ", max=" + std::to_string(f.max) + ", dtype=" + dtype_name(f.dtype) + ")";
      });

  m.attr("e") = M_E;
  m.attr("euler_gamma") = 0.5772156649015329;
  m.attr("inf") = std::numeric_limits<double>::infinity();
  m.attr("nan") = std::numeric_limits<double>::quiet_NaN();
  m.attr("newaxis") = nb::none();
  m.attr("pi") = M_PI;
}
