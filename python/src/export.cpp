// mx.export_function / import_function / exporter / export_to_dot over lazuli/export.h.
// Inputs are, as in MLX, positional and keyword arrays, or one tuple (or list) of arrays
// and/or one dict of arrays; the function returns an array or a tuple or list of arrays.
#include "export.h"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "lazuli/export.h"

namespace {
using lz::array;

struct Inputs {
  std::vector<array> args;
  lz::Kwargs kwargs;
};

[[noreturn]] void bad_inputs(const char* op) {
  throw std::invalid_argument(std::string("[") + op +
                              "] Inputs can either be a variable number of positional and keyword arrays or a "
                              "single tuple and/or dictionary of arrays.");
}

std::vector<array> arrays_of(nb::handle seq, const char* op) {
  std::vector<array> out;
  for (nb::handle h : seq) {
    if (!nb::isinstance<array>(h)) bad_inputs(op);
    out.push_back(nb::cast<array>(h));
  }
  return out;
}
lz::Kwargs kwargs_of(nb::handle dict, const char* op) {
  lz::Kwargs out;
  for (auto [k, v] : nb::borrow<nb::dict>(dict)) {
    if (!nb::isinstance<nb::str>(k) || !nb::isinstance<array>(v)) bad_inputs(op);
    out.emplace(nb::cast<std::string>(k), nb::cast<array>(v));
  }
  return out;
}

Inputs parse_inputs(const nb::args& args, const nb::kwargs& kwargs, const char* op) {
  auto is_seq = [](nb::handle h) { return PyTuple_Check(h.ptr()) || PyList_Check(h.ptr()); };
  Inputs in;
  size_t n = args.size();
  if (kwargs.size() == 0 && n >= 1 && n <= 2 && (is_seq(args[0]) || PyDict_Check(args[0].ptr()))) {
    // (tuple), (dict) or (tuple, dict)
    if (PyDict_Check(args[0].ptr())) {
      if (n != 1) bad_inputs(op);
      in.kwargs = kwargs_of(args[0], op);
      return in;
    }
    in.args = arrays_of(args[0], op);
    if (n == 2) {
      if (!PyDict_Check(args[1].ptr())) bad_inputs(op);
      in.kwargs = kwargs_of(args[1], op);
    }
    return in;
  }
  in.args = arrays_of(args, op);
  in.kwargs = kwargs_of(kwargs, op);
  return in;
}

// The Python function as a KwFn: called with the arrays, its result flattened to a list.
lz::KwFn wrap(nb::callable fun) {
  return [fun](const std::vector<array>& args, const lz::Kwargs& kwargs) {
    nb::list pos;
    for (auto& a : args) pos.append(nb::cast(a));
    nb::dict kw;
    for (auto& [k, v] : kwargs) kw[nb::str(k.c_str())] = nb::cast(v);
    nb::object out = fun(*nb::tuple(pos), **kw);
    if (nb::isinstance<array>(out)) return std::vector<array>{nb::cast<array>(out)};
    if (!PyTuple_Check(out.ptr()) && !PyList_Check(out.ptr()))
      throw std::invalid_argument("[export_function] Outputs can be either a single array a tuple or list of arrays.");
    std::vector<array> outs;
    for (nb::handle h : out) {
      if (!nb::isinstance<array>(h))
        throw std::invalid_argument("[export_function] Outputs can be either a single array a tuple or list of arrays.");
      outs.push_back(nb::cast<array>(h));
    }
    return outs;
  };
}

std::string path_of(nb::handle file) { return nb::cast<std::string>(nb::str(file)); }

}  // namespace

void init_export(nb::module_& m) {
  m.def(
      "export_function",
      [](nb::handle file, nb::callable fun, nb::args args, bool shapeless, nb::kwargs kwargs) {
        Inputs in = parse_inputs(args, kwargs, "export_function");
        lz::export_function(path_of(file), wrap(fun), in.args, in.kwargs, shapeless);
      },
      "file"_a, "fun"_a, "args"_a, "shapeless"_a = false, "kwargs"_a,
      "Trace fun on the example inputs and write its graph (and the arrays it captures) to file.");

  nb::class_<lz::ImportedFunction>(m, "ImportedFunction")
      .def("__call__",
           [](const lz::ImportedFunction& f, nb::args args, nb::kwargs kwargs) {
             Inputs in = parse_inputs(args, kwargs, "import_function::call");
             auto outs = f(in.args, in.kwargs);
             nb::list items;
             for (auto& o : outs) items.append(nb::cast(o));
             return nb::tuple(items);
           })
      .def_prop_ro("shapeless", &lz::ImportedFunction::shapeless);
  m.def(
      "import_function", [](nb::handle file) { return lz::import_function(path_of(file)); }, "file"_a,
      "Load a function written by export_function; calling it returns a tuple of arrays.");

  nb::class_<lz::FunctionExporter>(m, "FunctionExporter")
      .def("__call__",
           [](lz::FunctionExporter& ex, nb::args args, nb::kwargs kwargs) {
             Inputs in = parse_inputs(args, kwargs, "export_function");
             ex(in.args, in.kwargs);
           })
      .def("close", &lz::FunctionExporter::close)
      .def("__enter__", [](nb::handle self) { return nb::borrow(self); })
      .def("__exit__", [](lz::FunctionExporter& ex, nb::args) { ex.close(); });
  m.def(
      "exporter",
      [](nb::handle file, nb::callable fun, bool shapeless) {
        return lz::FunctionExporter(path_of(file), wrap(fun), shapeless);
      },
      "file"_a, "fun"_a, nb::kw_only(), "shapeless"_a = false,
      "A FunctionExporter: each call traces fun on new inputs; close() (or leaving the with block) writes file.");

  m.def(
      "export_to_dot",
      [](nb::handle file, nb::args args, nb::kwargs kwargs) {
        std::vector<array> outs;
        auto add = [&](nb::handle h) {
          if (nb::isinstance<array>(h)) outs.push_back(nb::cast<array>(h));
          else if (PyTuple_Check(h.ptr()) || PyList_Check(h.ptr()))
            for (nb::handle x : h) outs.push_back(nb::cast<array>(x));
          else throw std::invalid_argument("[export_to_dot] Expected arrays.");
        };
        for (nb::handle h : args) add(h);
        for (auto [k, v] : kwargs) add(v);
        if (nb::hasattr(file, "write")) {
          std::ostringstream os;
          lz::export_to_dot(os, outs);
          file.attr("write")(os.str());
        } else {
          lz::export_to_dot(path_of(file), outs);
        }
      },
      "file"_a, "args"_a, "kwargs"_a, "Write the graph behind the given arrays in Graphviz dot syntax.");
}
