// lazuli.core's compile support: the C++ compile of a function over a flat list of arrays.
// The pytree handling (arguments, constants, captured state) is Python, in
// lazuli/_compile.py, which defines mx.compile on top of this.
#include <nanobind/stl/vector.h>

#include "convert.h"
#include "lazuli/compile.h"

using lz::array;

namespace {

// A compiled function; calls take and return lists of arrays. It holds the Python function
// it traces, so it tells Python's garbage collector about it: a cycle through it (the
// function's globals holding the compiled function) can then be collected.
struct CompiledFunction {
  nb::object fun;
  lz::Fn fn;
  std::vector<array> operator()(const std::vector<array>& args) const {
    if (!fn) throw std::invalid_argument("[compile] This compiled function was cleared.");
    return fn(args);
  }
};

int compiled_traverse(PyObject* self, visitproc visit, void* arg) {
  auto* c = nb::inst_ptr<CompiledFunction>(self);
  if (nb::inst_ready(self) && c->fun.is_valid()) Py_VISIT(c->fun.ptr());
  Py_VISIT(Py_TYPE(self));
  return 0;
}

int compiled_clear(PyObject* self) {
  auto* c = nb::inst_ptr<CompiledFunction>(self);
  c->fn = nullptr;
  c->fun.reset();
  return 0;
}

PyType_Slot compiled_slots[] = {{Py_tp_traverse, reinterpret_cast<void*>(compiled_traverse)},
                                {Py_tp_clear, reinterpret_cast<void*>(compiled_clear)},
                                {0, nullptr}};

}  // namespace

void init_compile(nb::module_& m) {
  nb::class_<CompiledFunction>(m, "_CompiledFunction", nb::type_slots(compiled_slots))
      .def("__call__", &CompiledFunction::operator());
  m.def(
      "_compile",
      [](nb::callable fun, bool shapeless) {
        // The closure borrows the function: CompiledFunction::fun owns it.
        lz::Fn traced = [f = fun.ptr()](const std::vector<array>& args) {
          nb::gil_scoped_acquire gil;
          nb::list in;
          for (auto& a : args) in.append(nb::cast(a));
          nb::object out = nb::handle(f)(in);
          std::vector<array> result;
          for (nb::handle o : out) result.push_back(lz::py::to_array(o));
          return result;
        };
        return CompiledFunction{fun, lz::compile(std::move(traced), shapeless)};
      },
      "fun"_a, "shapeless"_a = false,
      "Compiles fun(list of arrays) -> list of arrays (private; use mx.compile).");
  m.def("disable_compile", &lz::disable_compile, "Makes compiled functions run their Python function directly.");
  m.def("enable_compile", &lz::enable_compile, "Turns compilation back on (see disable_compile).");
  m.def("_compile_enabled", &lz::compile_enabled);
}
