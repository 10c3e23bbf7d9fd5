// Function transforms over pytrees: eval, async_eval, grad, value_and_grad, vjp, jvp, vmap,
// stop_gradient, checkpoint and the custom_function class, with MLX's Python semantics.
//
// Each transform flattens its Python arguments (nested lists, tuples and dicts; every other
// object is a leaf) to a vector of arrays, calls the C++ transform with a function that puts
// the arrays back into the Python structure, calls the Python function and flattens its
// result, then rebuilds the Python structure of the outputs. Leaves that are not arrays are
// constants: they are passed to the function as they are.
#include <nanobind/stl/string.h>

#include <algorithm>
#include <mutex>
#include <numeric>
#include <unordered_set>

#include "convert.h"
#include "lazuli/transforms/tape.h"

using namespace nb::literals;
using lazuli::array;
using lazuli::py::py_type_name;
using lazuli::py::to_array;
using lazuli::py::type_error;

namespace {

[[noreturn]] void value_error(const std::string& msg) { throw std::invalid_argument(msg); }


nb::object py(const array& a) { return nb::cast(a, nb::rv_policy::copy); }

bool is_array(nb::handle h) { return nb::isinstance<array>(h); }

// fun(*args, **kwargs); kwargs may be empty.
nb::object call(nb::handle fun, nb::handle args, nb::handle kwargs = nb::handle()) {
  PyObject* out = PyObject_Call(fun.ptr(), args.ptr(), kwargs.ptr());
  if (!out) throw nb::python_error();
  return nb::steal(out);
}

// ---- pytrees ---------------------------------------------------------------------------------
// Containers are lists, tuples and dicts (and their subclasses); every other object is a leaf.
// Leaves are visited depth first: lists and tuples by position, dicts in iteration order.

bool is_sequence(nb::handle h) { return PyList_Check(h.ptr()) || PyTuple_Check(h.ptr()); }

// A tuple of `items` of tree's type: plain tuples stay plain, namedtuples keep their class.
nb::object make_tuple_like(nb::handle tree, nb::list items) {
  nb::object tuple = nb::steal(PyList_AsTuple(items.ptr()));
  if (PyTuple_CheckExact(tree.ptr()) || !nb::hasattr(tree, "_fields")) return tuple;
  return call(tree.type(), tuple);
}

template <typename F>
void for_each_leaf(nb::handle tree, F&& f) {
  if (is_sequence(tree)) {
    for (nb::handle item : tree) for_each_leaf(item, f);
  } else if (PyDict_Check(tree.ptr())) {
    for (auto [key, value] : nb::borrow<nb::dict>(tree)) for_each_leaf(value, f);
  } else {
    f(tree);
  }
}

// A copy of tree's containers (lists, tuples, namedtuples; dicts become plain dicts) with
// every leaf replaced by f(leaf).
template <typename F>
nb::object map_leaves(nb::handle tree, F&& f) {
  if (is_sequence(tree)) {
    nb::list items;
    for (nb::handle item : tree) items.append(map_leaves(item, f));
    return PyList_Check(tree.ptr()) ? nb::object(items) : make_tuple_like(tree, items);
  }
  if (PyDict_Check(tree.ptr())) {
    nb::dict out;
    for (auto [key, value] : nb::borrow<nb::dict>(tree)) out[key] = map_leaves(value, f);
    return out;
  }
  return f(tree);
}

// The arrays among tree's leaves, in order.
std::vector<array> tree_arrays(nb::handle tree) {
  std::vector<array> out;
  for_each_leaf(tree, [&](nb::handle leaf) {
    if (is_array(leaf)) out.push_back(nb::cast<array>(leaf));
  });
  return out;
}

// tree with its array leaves replaced, in order, by arrays[next], arrays[next + 1], ...
nb::object with_arrays(nb::handle tree, const std::vector<array>& arrays, size_t& next) {
  return map_leaves(tree, [&](nb::handle leaf) -> nb::object {
    if (!is_array(leaf)) return nb::borrow(leaf);
    if (next >= arrays.size()) throw std::logic_error("[pytree] Fewer arrays than array leaves.");
    return py(arrays[next++]);
  });
}

nb::object with_arrays(nb::handle tree, const std::vector<array>& arrays) {
  size_t next = 0;
  nb::object out = with_arrays(tree, arrays, next);
  if (next != arrays.size()) throw std::logic_error("[pytree] More arrays than array leaves.");
  return out;
}

// ---- Python references held by C++ closures ---------------------------------------------------
// The functions given to custom_function and checkpoint are kept by a primitive of the graph,
// which is freed wherever its last array is released: often on an evaluation thread that does
// not hold the GIL (and must not wait for it: the thread holding it may be waiting for that
// evaluation). Their Python state is therefore freed through `free_with_gil`: at once when this
// thread holds the GIL, else later on the interpreter's main thread.

// Frees waiting for the GIL. Never destroyed: evaluation threads may still use it at exit.
struct Pending {
  std::mutex mutex;
  std::vector<std::function<void()>> frees;
  bool scheduled = false;
};
Pending& pending() {
  static Pending* p = new Pending;
  return *p;
}

int run_pending(void*) {
  std::vector<std::function<void()>> frees;
  {
    std::lock_guard<std::mutex> lock(pending().mutex);
    frees.swap(pending().frees);
    pending().scheduled = false;
  }
  for (auto& f : frees) f();
  return 0;
}

bool python_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

void free_with_gil(std::function<void()> free) {
  if (PyGILState_Check()) return free();
  if (!Py_IsInitialized() || python_finalizing()) return;  // at exit: leave it
  Pending& p = pending();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.frees.push_back(std::move(free));
  if (!p.scheduled) p.scheduled = Py_AddPendingCall(run_pending, nullptr) == 0;
}

template <typename T>
std::shared_ptr<T> gil_shared(T value) {
  return std::shared_ptr<T>(new T(std::move(value)), [](T* p) { free_with_gil([p] { delete p; }); });
}

// ---- grad and value_and_grad -----------------------------------------------------------------

struct GradOptions {
  std::vector<int> argnums;  // sorted, unique, non-negative
  std::unordered_set<std::string> argnames;
  bool with_value;  // value_and_grad, else grad
  const char* tag() const { return with_value ? "[value_and_grad]" : "[grad]"; }
};

GradOptions grad_options(nb::handle argnums, nb::handle argnames, bool with_value) {
  GradOptions o{{}, {}, with_value};
  std::string tag = o.tag();
  if (PyUnicode_Check(argnames.ptr())) {
    o.argnames.insert(nb::cast<std::string>(argnames));
  } else if (is_sequence(argnames)) {
    for (nb::handle name : argnames) {
      if (!PyUnicode_Check(name.ptr())) type_error(tag + " argnames must be a string or a sequence of strings.");
      o.argnames.insert(nb::cast<std::string>(name));
    }
  } else {
    type_error(tag + " argnames must be a string or a sequence of strings.");
  }
  auto to_int = [&](nb::handle h) {
    if (!PyLong_Check(h.ptr())) type_error(tag + " argnums must be None, an int or a sequence of ints.");
    return nb::cast<int>(h);
  };
  if (argnums.is_none()) {
    if (o.argnames.empty()) o.argnums = {0};
  } else if (is_sequence(argnums)) {
    for (nb::handle a : argnums) o.argnums.push_back(to_int(a));
  } else {
    o.argnums = {to_int(argnums)};
  }
  std::sort(o.argnums.begin(), o.argnums.end());
  if (o.argnums.empty() && o.argnames.empty()) value_error(tag + " Gradient wrt no argument requested.");
  if (!o.argnums.empty() && o.argnums[0] < 0)
    value_error(tag + " Can't compute the gradient of negative argument index " + std::to_string(o.argnums[0]) + ".");
  for (size_t i = 1; i < o.argnums.size(); ++i)
    if (o.argnums[i] == o.argnums[i - 1])
      value_error(tag + " Duplicate argument index " + std::to_string(o.argnums[i]) + " is not allowed.");
  return o;
}

// The arrays of an argument we differentiate: its leaves must be arrays (or None).
void differentiable_arrays(nb::handle arg, std::vector<array>& out, const char* tag) {
  for_each_leaf(arg, [&](nb::handle leaf) {
    if (is_array(leaf)) out.push_back(nb::cast<array>(leaf));
    else if (!leaf.is_none())
      value_error(std::string(tag) + " The arguments to differentiate must contain only arrays (or None), got a leaf of type " +
                  py_type_name(leaf) + ".");
  });
}

// The function's output: a scalar array, or (value_and_grad only) a tuple whose first element
// is a scalar array; the rest is carried along. The scalar shape is checked by the C++ side.
void check_loss(nb::handle out, const GradOptions& o) {
  std::string tag = o.tag();
  if (is_array(out)) return;
  if (!o.with_value)
    value_error(tag + " The function whose gradient we compute must return a scalar array, but it returned " +
                py_type_name(out) + ".");
  if (!PyTuple_Check(out.ptr()))
    value_error(tag + " The function must return a scalar array or a tuple whose first element is a scalar array, "
                      "but it returned " + py_type_name(out) + ".");
  if (nb::len(out) == 0)
    value_error(tag + " The function must return a scalar array or a non-empty tuple whose first element is a "
                      "scalar array, but it returned an empty tuple.");
  nb::handle first = nb::borrow<nb::tuple>(out)[0];
  if (!is_array(first))
    value_error(tag + " The function returned a tuple whose first element is of type " + py_type_name(first) +
                ", not a scalar array.");
}

// Changes made to the caller's lists and dicts while the function runs on traced arrays.
struct Undo {
  nb::object container, key, before, after;
};

// Puts values[next], values[next + 1], ... in place of tree's array leaves. Lists and dicts are
// changed in place (so the function sees the caller's containers, nn.Module included), each
// change recorded in `undo`; tuples are rebuilt. Returns the filled tree.
nb::object fill_in_place(nb::handle tree, const std::vector<nb::object>& values, size_t& next, std::vector<Undo>& undo) {
  if (is_array(tree)) return values[next++];
  auto set = [&](nb::handle container, nb::object key, nb::object before, nb::object after) {
    if (after.is(before)) return;
    if (PyObject_SetItem(container.ptr(), key.ptr(), after.ptr()) != 0) throw nb::python_error();
    undo.push_back({nb::borrow(container), std::move(key), std::move(before), std::move(after)});
  };
  if (PyList_Check(tree.ptr())) {
    for (size_t i = 0, n = nb::len(tree); i < n; ++i) {
      nb::object child = nb::borrow(PyList_GET_ITEM(tree.ptr(), i));
      set(tree, nb::int_(i), child, fill_in_place(child, values, next, undo));
    }
  } else if (PyTuple_Check(tree.ptr())) {
    nb::list items;
    bool changed = false;
    for (nb::handle child : tree) {
      items.append(fill_in_place(child, values, next, undo));
      changed |= !items[items.size() - 1].is(child);
    }
    if (changed) return make_tuple_like(tree, items);
  } else if (PyDict_Check(tree.ptr())) {
    std::vector<std::pair<nb::object, nb::object>> items;
    for (auto [key, value] : nb::borrow<nb::dict>(tree)) items.emplace_back(nb::borrow(key), nb::borrow(value));
    for (auto& [key, value] : items) set(tree, key, value, fill_in_place(value, values, next, undo));
  }
  return nb::borrow(tree);
}

// Puts the caller's objects back, except where the function stored something else.
void undo_changes(std::vector<Undo>& undo) {
  for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
    PyObject* now = PyObject_GetItem(it->container.ptr(), it->key.ptr());
    if (!now) {
      PyErr_Clear();
      continue;
    }
    if (now == it->after.ptr() && PyObject_SetItem(it->container.ptr(), it->key.ptr(), it->before.ptr()) != 0)
      PyErr_Clear();
    Py_DECREF(now);
  }
  undo.clear();
}

nb::object value_and_grad_call(nb::handle fun, const GradOptions& o, const nb::args& args, const nb::kwargs& kwargs) {
  std::string tag = o.tag();
  if (!o.argnums.empty() && o.argnums.back() >= static_cast<int>(args.size()))
    value_error(tag + " Can't compute the gradient of argument index " + std::to_string(o.argnums.back()) +
                " because the function is called with only " + std::to_string(args.size()) +
                " positional arguments.");
  // Keyword arguments to differentiate, in the order they were passed.
  std::vector<nb::object> names;
  for (auto [key, value] : kwargs)
    if (o.argnames.count(nb::cast<std::string>(key))) names.push_back(nb::borrow(key));
  for (auto& name : o.argnames)
    if (!kwargs.contains(name.c_str())) {
      std::string passed;
      for (auto [key, value] : kwargs) passed += (passed.empty() ? "" : ", ") + nb::cast<std::string>(key);
      value_error(tag + " Can't compute the gradient of keyword argument '" + name +
                  "' because the function is called with the keyword arguments {" + passed + "}.");
    }

  std::vector<array> primals;
  for (int i : o.argnums) differentiable_arrays(args[i], primals, o.tag());
  for (auto& name : names) differentiable_arrays(kwargs[name], primals, o.tag());

  nb::object out;  // what the function returned
  auto traced = [&](const std::vector<array>& xs) {
    nb::gil_scoped_acquire gil;
    std::vector<nb::object> tracers;
    for (auto& x : xs) tracers.push_back(py(x));
    nb::list call_args;
    for (nb::handle a : args) call_args.append(a);
    nb::dict call_kwargs = nb::steal<nb::dict>(PyDict_Copy(kwargs.ptr()));
    std::vector<Undo> undo;
    size_t next = 0;
    try {
      for (int i : o.argnums) call_args[i] = fill_in_place(args[i], tracers, next, undo);
      for (auto& name : names) call_kwargs[name] = fill_in_place(kwargs[name], tracers, next, undo);
      out = call(fun, nb::steal(PyList_AsTuple(call_args.ptr())), call_kwargs);
    } catch (...) {
      undo_changes(undo);
      throw;
    }
    undo_changes(undo);
    check_loss(out, o);
    return tree_arrays(out);
  };

  std::vector<array> grads;
  if (primals.empty()) {  // nothing to differentiate (say, an empty dict): no gradients
    auto outs = traced({});
    if (outs[0].ndim() != 0) value_error(tag + " The function must return a scalar (0-d) array.");
  } else {
    std::vector<int> all(primals.size());
    std::iota(all.begin(), all.end(), 0);
    grads = lazuli::value_and_grad(lazuli::Fn(traced), all)(primals).second;
  }

  // Gradients come back with the structure of the arguments they belong to.
  size_t next = 0;
  nb::object positional = nb::none();
  if (o.argnums.size() == 1) {
    positional = with_arrays(args[o.argnums[0]], grads, next);
  } else if (o.argnums.size() > 1) {
    nb::list per_arg;
    for (int i : o.argnums) per_arg.append(with_arrays(args[i], grads, next));
    positional = nb::steal(PyList_AsTuple(per_arg.ptr()));
  }
  nb::object result = positional;
  if (!o.argnames.empty()) {
    nb::dict keyword;
    for (auto& name : names) keyword[name] = with_arrays(kwargs[name], grads, next);
    result = nb::make_tuple(positional, keyword);
  }
  return o.with_value ? nb::object(nb::make_tuple(out, result)) : result;
}

// ---- vmap ------------------------------------------------------------------------------------

bool is_axis(nb::handle h) { return h.is_none() || PyLong_Check(h.ptr()); }

// Matches an axes tree (in_axes or out_axes) against a tree of arrays: an int or None applies
// to every array below it; lists, tuples and dicts match containers of the same length or
// keys. Appends each array leaf and its axis (normalized; -1 when not mapped). `extra` is 1
// for out_axes, which index the output with its new batch axis. Other leaves get no axis.
void match_axes(nb::handle tree, nb::handle axes, int extra, std::vector<array>& arrays, std::vector<int>& out,
                const char* what) {
  if (is_axis(axes)) {
    for_each_leaf(tree, [&](nb::handle leaf) {
      if (!is_array(leaf)) return;
      array a = nb::cast<array>(leaf);
      int ax = -1;
      if (!axes.is_none()) {
        int nd = static_cast<int>(a.ndim()) + extra;
        int given = nb::cast<int>(axes);
        ax = given < 0 ? given + nd : given;
        if (ax < 0 || ax >= nd) {
          std::string shape;
          for (auto d : a.shape()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
          value_error(std::string("[vmap] Invalid ") + (extra ? "output " : "") + "vectorization axis " +
                      std::to_string(given) + " for array with shape (" + shape + ").");
        }
      }
      arrays.push_back(a);
      out.push_back(ax);
    });
    return;
  }
  auto mismatch = [&] {
    value_error(std::string("[vmap] ") + what + " must be an int, None, or a tree of them matching the structure of " +
                (extra ? "the outputs." : "the arguments."));
  };
  if (is_array(tree) && is_sequence(axes) && nb::len(axes) == 1 && is_axis(axes[0]))
    return match_axes(tree, axes[0], extra, arrays, out, what);  // (0,) for a single array
  if (is_sequence(axes)) {
    if (!is_sequence(tree) || nb::len(tree) != nb::len(axes)) mismatch();
    for (size_t i = 0, n = nb::len(tree); i < n; ++i) match_axes(tree[i], axes[i], extra, arrays, out, what);
  } else if (PyDict_Check(axes.ptr())) {
    if (!PyDict_Check(tree.ptr()) || nb::len(tree) != nb::len(axes)) mismatch();
    nb::dict axes_dict = nb::borrow<nb::dict>(axes);
    for (auto [key, value] : nb::borrow<nb::dict>(tree)) {
      if (!axes_dict.contains(key)) mismatch();
      match_axes(value, axes_dict[key], extra, arrays, out, what);
    }
  } else if (is_array(tree) || is_sequence(tree) || PyDict_Check(tree.ptr())) {
    value_error("[vmap] axis must be int or None.");
  }
}

// Whether `a` is computed from any of the arrays `ids`.
bool depends_on(const array& a, const std::unordered_set<uintptr_t>& ids) {
  std::vector<array> stack{a};
  std::unordered_set<uintptr_t> seen;
  while (!stack.empty()) {
    array x = std::move(stack.back());
    stack.pop_back();
    if (ids.count(x.id())) return true;
    if (!seen.insert(x.id()).second) continue;
    for (auto& in : x.inputs()) stack.push_back(in);
  }
  return false;
}

nb::object vmap_call(nb::handle fun, nb::handle in_axes, nb::handle out_axes, const nb::args& args,
                     const nb::kwargs& kwargs) {
  if (kwargs.size() != 0) type_error("[vmap] The vectorized function takes positional arguments only.");
  // MLX matches in_axes against the lone argument itself, except (axis,) which names it.
  bool per_argument = args.size() != 1 || (is_sequence(in_axes) && nb::len(in_axes) == 1);
  std::vector<array> inputs;
  std::vector<int> axes;
  nb::handle tree = per_argument ? nb::handle(args) : nb::handle(args[0]);
  match_axes(tree, in_axes, 0, inputs, axes, "in_axes");

  std::unordered_set<uintptr_t> stand_ins;  // what the function sees of the mapped inputs
  nb::object out;
  auto per_sample = [&](const std::vector<array>& xs) {
    nb::gil_scoped_acquire gil;
    for (size_t i = 0; i < xs.size(); ++i)
      if (axes[i] != -1) stand_ins.insert(xs[i].id());
    out = call(fun, with_arrays(args, xs));
    return tree_arrays(out);
  };
  std::vector<array> batched = lazuli::vmap(lazuli::Fn(per_sample), axes)(inputs);

  std::vector<array> samples;
  std::vector<int> out_ax;
  match_axes(out, out_axes, 1, samples, out_ax, "out_axes");
  std::vector<array> results;
  for (size_t j = 0; j < batched.size(); ++j) {
    if (out_ax[j] == -1) {  // None: an output that does not depend on the mapped inputs
      if (depends_on(samples[j], stand_ins))
        value_error("[vmap] Output " + std::to_string(j) + " depends on the mapped inputs, so its out_axes cannot be None.");
      results.push_back(samples[j]);
    } else {
      results.push_back(out_ax[j] == 0 ? batched[j] : lazuli::moveaxis(batched[j], 0, out_ax[j]));
    }
  }
  return with_arrays(out, results);
}

// ---- custom_function and checkpoint ----------------------------------------------------------

// The Python side of one call of a custom function, shared by its forward function and rules
// (which outlive the call inside the graph; see gil_shared).
struct CustomCall {
  nb::object fun, vjp, jvp, vmap;  // rules may be unset (null)
  nb::object inputs;               // (args, kwargs) as called: the structure of the inputs
  nb::object outputs;              // what fun returned: the structure of outputs and cotangents
  size_t num_positional = 0;       // arrays among args (the rest are in kwargs)
  size_t num_outputs = 0;

  // The call's (args, kwargs) with its arrays replaced by `arrays`.
  std::pair<nb::tuple, nb::dict> arguments(const std::vector<array>& arrays) const {
    nb::object both = with_arrays(inputs, arrays);
    return {nb::borrow<nb::tuple>(PyTuple_GET_ITEM(both.ptr(), 0)), nb::borrow<nb::dict>(PyTuple_GET_ITEM(both.ptr(), 1))};
  }
  // What the rules receive for the arguments: the lone argument itself, or the tuple of them.
  static nb::object primals(const nb::tuple& args) { return args.size() == 1 ? nb::object(args[0]) : nb::object(args); }
  static void positional_only(const nb::dict& kwargs, const char* rule) {
    if (kwargs.size() != 0)
      value_error(std::string("[custom_function] A custom ") + rule +
                  " needs the function to be called with positional arguments only.");
  }
  void check_outputs(size_t n, const char* rule) const {
    if (n != num_outputs)
      value_error(std::string("[custom_function] The custom ") + rule + " returned " + std::to_string(n) +
                  " arrays for a function with " + std::to_string(num_outputs) + " array outputs.");
  }
};

lazuli::Fn forward_of(std::shared_ptr<CustomCall> c) {
  return [c](const std::vector<array>& xs) {
    nb::gil_scoped_acquire gil;
    auto [args, kwargs] = c->arguments(xs);
    c->outputs = call(c->fun, args, kwargs);
    auto outs = tree_arrays(c->outputs);
    c->num_outputs = outs.size();
    return outs;
  };
}

// The rules below run while a transform walks its tape; the transform keeps the trace marked
// meanwhile, so an evaluation inside a rule (say, .item()) keeps the graph it reads.

// vjp(primals, cotangents, outputs, **kwargs) -> cotangents of the positional arrays.
lazuli::VjpRule vjp_of(std::shared_ptr<CustomCall> c) {
  return [c](const std::vector<array>& primals, const std::vector<array>& cotangents, const std::vector<array>& outputs) {
    nb::gil_scoped_acquire gil;
    auto [args, kwargs] = c->arguments(primals);
    nb::object result = call(c->vjp, nb::make_tuple(CustomCall::primals(args), with_arrays(c->outputs, cotangents),
                                                    with_arrays(c->outputs, outputs)),
                             kwargs);
    std::vector<array> grads = tree_arrays(result);
    if (grads.size() == c->num_positional)  // keyword arrays get no cotangent
      for (size_t i = grads.size(); i < primals.size(); ++i) grads.push_back(lazuli::zeros_like(primals[i]));
    if (grads.size() != primals.size())
      value_error("[custom_function] The custom vjp returned " + std::to_string(grads.size()) + " arrays for " +
                  std::to_string(c->num_positional) + " array arguments.");
    return grads;
  };
}

// jvp(primals, tangents) -> tangents of the outputs; tangents has None for inputs without one.
lazuli::JvpRule jvp_of(std::shared_ptr<CustomCall> c) {
  return [c](const std::vector<array>& primals, const std::vector<array>& tangents, const std::vector<int>& argnums) {
    nb::gil_scoped_acquire gil;
    auto [args, kwargs] = c->arguments(primals);
    CustomCall::positional_only(kwargs, "jvp");
    std::vector<nb::object> slots(primals.size(), nb::none());
    for (size_t k = 0; k < argnums.size(); ++k) slots[argnums[k]] = py(tangents[k]);
    size_t next = 0;
    nb::tuple tans = nb::borrow<nb::tuple>(map_leaves(args, [&](nb::handle leaf) -> nb::object {
      if (!is_array(leaf)) return nb::none();
      return slots[next++];
    }));
    nb::object result = call(c->jvp, nb::make_tuple(CustomCall::primals(args), CustomCall::primals(tans)));
    std::vector<array> outs = tree_arrays(result);
    c->check_outputs(outs.size(), "jvp");
    return outs;
  };
}

// vmap(inputs, axes) -> (outputs, out_axes); axes has None for inputs that are not mapped.
lazuli::VmapRule vmap_of(std::shared_ptr<CustomCall> c) {
  return [c](const std::vector<array>& inputs, const std::vector<int>& axes) {
    nb::gil_scoped_acquire gil;
    auto [args, kwargs] = c->arguments(inputs);
    CustomCall::positional_only(kwargs, "vmap");
    size_t next = 0;
    nb::tuple in_axes = nb::borrow<nb::tuple>(map_leaves(args, [&](nb::handle leaf) -> nb::object {
      if (!is_array(leaf)) return nb::none();
      int ax = axes[next++];
      return ax >= 0 ? nb::object(nb::int_(ax)) : nb::none();
    }));
    nb::object result = call(c->vmap, nb::make_tuple(CustomCall::primals(args), CustomCall::primals(in_axes)));
    if (!PyTuple_Check(result.ptr()) || nb::len(result) != 2)
      value_error("[custom_function] The custom vmap must return a tuple (outputs, out_axes).");
    std::vector<array> outs;
    std::vector<int> out_axes;
    match_axes(result[0], result[1], 0, outs, out_axes, "The custom vmap's out_axes");
    c->check_outputs(outs.size(), "vmap");
    return std::make_pair(outs, out_axes);
  };
}

// Calls fun through a CustomTransforms node with the rules that are set; with none set, the
// node recomputes fun in the backward pass (checkpoint).
nb::object custom_call(nb::handle fun, nb::handle vjp, nb::handle jvp, nb::handle vmap, const nb::args& args,
                       const nb::kwargs& kwargs) {
  auto c = gil_shared(CustomCall{nb::borrow(fun), nb::borrow(vjp), nb::borrow(jvp), nb::borrow(vmap),
                                 nb::make_tuple(args, kwargs)});
  std::vector<array> inputs = tree_arrays(c->inputs);
  c->num_positional = tree_arrays(args).size();
  std::optional<lazuli::VjpRule> vjp_rule;
  std::optional<lazuli::JvpRule> jvp_rule;
  std::optional<lazuli::VmapRule> vmap_rule;
  if (vjp.is_valid()) vjp_rule = vjp_of(c);
  if (jvp.is_valid()) jvp_rule = jvp_of(c);
  if (vmap.is_valid()) vmap_rule = vmap_of(c);
  auto outputs = lazuli::custom_function(forward_of(c), vjp_rule, jvp_rule, vmap_rule)(inputs);
  return with_arrays(c->outputs, outputs);
}

// The Python class custom_function. Its Python references are visited by the garbage collector
// (tp_traverse), so a function that refers to its own custom_function can be freed.
struct CustomFunction {
  nb::object fun, vjp, jvp, vmap;  // null: not set

  nb::object operator()(const nb::args& args, const nb::kwargs& kwargs) const {
    if (!vjp.is_valid() && !jvp.is_valid() && !vmap.is_valid()) return call(fun, args, kwargs);
    return custom_call(fun, vjp, jvp, vmap, args, kwargs);
  }
};

int custom_function_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  if (!nb::inst_ready(self)) return 0;
  auto* f = nb::inst_ptr<CustomFunction>(self);
  for (auto* o : {&f->fun, &f->vjp, &f->jvp, &f->vmap}) Py_VISIT(o->ptr());
  return 0;
}

int custom_function_clear(PyObject* self) {
  auto* f = nb::inst_ptr<CustomFunction>(self);
  for (auto* o : {&f->fun, &f->vjp, &f->jvp, &f->vmap}) o->reset();
  return 0;
}

PyType_Slot custom_function_slots[] = {{Py_tp_traverse, (void*)custom_function_traverse},
                                       {Py_tp_clear, (void*)custom_function_clear},
                                       {0, nullptr}};

// ---- the functions grad, value_and_grad, vmap and checkpoint return ----------------------------

// A callable that applies `impl` to the wrapped function. The wrapped function lives in the
// instance __dict__ as __wrapped__ (with __name__, __doc__, ... copied as functools.wraps does),
// where the garbage collector sees it; `impl` holds no reference that could form a cycle.
struct Transformed {
  std::function<nb::object(nb::handle fun, const nb::args&, const nb::kwargs&)> impl;
};

nb::object transformed(nb::handle fun, decltype(Transformed::impl) impl) {
  if (!PyCallable_Check(fun.ptr())) type_error("Expected a callable, got an object of type " + py_type_name(fun) + ".");
  nb::object self = nb::cast(Transformed{std::move(impl)});
  nb::module_::import_("functools").attr("update_wrapper")(self, fun);
  return self;
}

}  // namespace

void init_transforms(nb::module_& m) {
  nb::class_<Transformed>(m, "_TransformedFunction", nb::dynamic_attr(),
                          "A function returned by grad, value_and_grad, vmap or checkpoint.")
      .def("__call__", [](nb::pointer_and_handle<Transformed> self, nb::args args, nb::kwargs kwargs) {
        nb::object fun = nb::getattr(self.h, "__wrapped__");
        return self.p->impl(fun, args, kwargs);
      });

  nb::class_<CustomFunction>(m, "custom_function", nb::type_slots(custom_function_slots),
                             R"(Wraps a function so that transforms use the rules you register for it.

Instances call the wrapped function. Under a transform, the rules registered with
:meth:`custom_function.vjp`, :meth:`custom_function.jvp` and :meth:`custom_function.vmap`
replace the default ones; a rule left unset falls back to differentiating (or vectorizing)
the wrapped function. Arrays the function captures from outside its arguments are constants.

Example:

    @mx.custom_function
    def f(x, y):
        return mx.sin(x) * y

    @f.vjp
    def f_vjp(primals, cotangent, output):
        x, y = primals
        return cotangent * mx.cos(x) * y, cotangent * mx.sin(x)
)")
      .def(
          "__init__", [](CustomFunction* self, nb::callable f) { new (self) CustomFunction{f, {}, {}, {}}; }, "f"_a,
          nb::sig("def __init__(self, f: Callable) -> None"))
      .def("__call__", &CustomFunction::operator())
      .def(
          "vjp",
          [](nb::pointer_and_handle<CustomFunction> self, nb::callable f) {
            self.p->vjp = f;
            return nb::borrow(self.h);
          },
          "f"_a, nb::sig("def vjp(self, f: Callable) -> custom_function"),
          R"(Registers the vector-Jacobian product rule ``f(primals, cotangents, outputs)``.

``primals`` is the function's lone positional argument or the tuple of them (any pytree),
``cotangents`` and ``outputs`` have the structure of the function's output. ``f`` returns
the cotangents of the primals, with their structure. Keyword arguments of the call are
passed on to ``f``. Returns this custom_function, so it works as a decorator.)")
      .def(
          "jvp",
          [](nb::pointer_and_handle<CustomFunction> self, nb::callable f) {
            self.p->jvp = f;
            return nb::borrow(self.h);
          },
          "f"_a, nb::sig("def jvp(self, f: Callable) -> custom_function"),
          R"(Registers the Jacobian-vector product rule ``f(primals, tangents)``.

``tangents`` has the structure of ``primals``, with ``None`` for inputs that have no tangent.
``f`` returns the tangents of the outputs, with the structure of the output.)")
      .def(
          "vmap",
          [](nb::pointer_and_handle<CustomFunction> self, nb::callable f) {
            self.p->vmap = f;
            return nb::borrow(self.h);
          },
          "f"_a, nb::sig("def vmap(self, f: Callable) -> custom_function"),
          R"(Registers the vectorization rule ``f(inputs, axes)``.

``axes`` has the structure of ``inputs`` with the mapped axis of each input, or ``None`` for
inputs that are not mapped. ``f`` returns ``(outputs, out_axes)``, out_axes giving the batch
axis of each output (``None``: not batched).)");

  m.def(
      "eval",
      [](const nb::args& args) {
        std::vector<array> arrays = tree_arrays(args);
        nb::gil_scoped_release release;
        lazuli::eval(std::move(arrays));
      },
      nb::sig("def eval(*args) -> None"),
      R"(Evaluates arrays and trees of arrays.

Each argument is an array or a tree (lists, tuples, dicts) of them; other leaves are ignored.)");
  m.def(
      "async_eval",
      [](const nb::args& args) {
        std::vector<array> arrays = tree_arrays(args);
        nb::gil_scoped_release release;
        lazuli::async_eval(std::move(arrays));
      },
      nb::sig("def async_eval(*args) -> None"),
      R"(Starts evaluating arrays and trees of arrays, and returns without waiting.

Each argument is an array or a tree (lists, tuples, dicts) of them; other leaves are ignored.
Reading a result (``item``, ``tolist``, NumPy conversion, ``eval``) waits for it.)");

  m.def(
      "value_and_grad",
      [](nb::callable fun, nb::handle argnums, nb::handle argnames) {
        GradOptions o = grad_options(argnums, argnames, true);
        return transformed(fun, [o](nb::handle f, const nb::args& args, const nb::kwargs& kwargs) {
          return value_and_grad_call(f, o, args, kwargs);
        });
      },
      "fun"_a, "argnums"_a = nb::none(), "argnames"_a = nb::list(),
      nb::sig("def value_and_grad(fun: Callable, argnums: Optional[Union[int, Sequence[int]]] = None, "
              "argnames: Union[str, Sequence[str]] = []) -> Callable"),
      R"(Returns a function computing ``fun``'s value and its gradient.

``fun`` returns a scalar array (the loss) or a tuple whose first element is one; the rest of
the tuple is returned with the value. The gradient is taken with respect to the positional
arguments ``argnums`` (default 0 when ``argnames`` is empty) and the keyword arguments
``argnames``; arguments may be trees (lists, tuples, dicts) of arrays. The returned function
gives ``(value, grads)``: grads has the structure of the argument for one argnum, is a tuple
for several, and with argnames is ``(positional_grads, {name: grad})``.)");
  m.def(
      "grad",
      [](nb::callable fun, nb::handle argnums, nb::handle argnames) {
        GradOptions o = grad_options(argnums, argnames, false);
        return transformed(fun, [o](nb::handle f, const nb::args& args, const nb::kwargs& kwargs) {
          return value_and_grad_call(f, o, args, kwargs);
        });
      },
      "fun"_a, "argnums"_a = nb::none(), "argnames"_a = nb::list(),
      nb::sig("def grad(fun: Callable, argnums: Optional[Union[int, Sequence[int]]] = None, "
              "argnames: Union[str, Sequence[str]] = []) -> Callable"),
      R"(Returns a function computing the gradient of ``fun``, which returns a scalar array.

``argnums`` and ``argnames`` select the arguments as in :func:`value_and_grad`.)");

  auto flat_call = [](nb::handle fun, const std::vector<array>& xs) {
    nb::gil_scoped_acquire gil;
    nb::list args;
    for (auto& x : xs) args.append(py(x));
    nb::object out = call(fun, nb::steal(PyList_AsTuple(args.ptr())));
    if (is_array(out)) return std::vector<array>{nb::cast<array>(out)};
    if (!is_sequence(out)) type_error("The function must return an array or a list or tuple of arrays.");
    std::vector<array> outs;
    for (nb::handle o : out) {
      if (!is_array(o)) type_error("The function must return an array or a list or tuple of arrays.");
      outs.push_back(nb::cast<array>(o));
    }
    return outs;
  };
  auto arrays_of = [](nb::handle seq, const char* what) {
    if (!is_sequence(seq)) type_error(std::string(what) + " must be a list or tuple of arrays.");
    std::vector<array> out;
    for (nb::handle h : seq) out.push_back(to_array(h));
    return out;
  };
  auto lists = [](const std::pair<std::vector<array>, std::vector<array>>& r) {
    nb::list a, b;
    for (auto& x : r.first) a.append(py(x));
    for (auto& x : r.second) b.append(py(x));
    return nb::make_tuple(a, b);
  };
  m.def(
      "vjp",
      [=](nb::callable fun, nb::handle primals, nb::handle cotangents) {
        auto f = [&](const std::vector<array>& xs) { return flat_call(fun, xs); };
        return lists(lazuli::vjp(lazuli::Fn(f), arrays_of(primals, "primals"), arrays_of(cotangents, "cotangents")));
      },
      "fun"_a, "primals"_a, "cotangents"_a,
      nb::sig("def vjp(fun: Callable, primals: list[array], cotangents: list[array]) -> tuple[list[array], list[array]]"),
      R"(Computes the vector-Jacobian product of ``fun`` at ``primals``.

``fun`` takes the primals as positional arrays and returns an array or a list of arrays;
``cotangents`` has one array per output. Returns ``(outputs, vjps)``, vjps having one array
per primal.)");
  m.def(
      "jvp",
      [=](nb::callable fun, nb::handle primals, nb::handle tangents) {
        auto f = [&](const std::vector<array>& xs) { return flat_call(fun, xs); };
        return lists(lazuli::jvp(lazuli::Fn(f), arrays_of(primals, "primals"), arrays_of(tangents, "tangents")));
      },
      "fun"_a, "primals"_a, "tangents"_a,
      nb::sig("def jvp(fun: Callable, primals: list[array], tangents: list[array]) -> tuple[list[array], list[array]]"),
      R"(Computes the Jacobian-vector product of ``fun`` at ``primals``.

``fun`` takes the primals as positional arrays and returns an array or a list of arrays;
``tangents`` has one array per primal. Returns ``(outputs, jvps)``, jvps having one array per
output.)");

  m.def(
      "vmap",
      [](nb::callable fun, nb::object in_axes, nb::object out_axes) {
        return transformed(fun, [in_axes, out_axes](nb::handle f, const nb::args& args, const nb::kwargs& kwargs) {
          return vmap_call(f, in_axes, out_axes, args, kwargs);
        });
      },
      "fun"_a, "in_axes"_a = 0, "out_axes"_a = 0,
      nb::sig("def vmap(fun: Callable, in_axes: object = 0, out_axes: object = 0) -> Callable"),
      R"(Returns ``fun`` vectorized over an axis of its inputs.

``in_axes`` gives the mapped axis of each argument: an int or None (not mapped) for all of
them, or a tree matching the arguments (a lone argument is matched directly) with an int or
None per leaf. ``out_axes`` likewise places the batch axis in each output.)");

  m.def(
      "stop_gradient",
      [](nb::handle a, nb::handle stream) { return lazuli::stop_gradient(to_array(a), lazuli::py::to_stream_or_device(stream)); },
      "a"_a, nb::kw_only(), "stream"_a = nb::none(),
      nb::sig("def stop_gradient(a: array, /, *, stream: Union[None, Stream, Device] = None) -> array"),
      R"(Returns ``a`` unchanged, with a zero gradient: transforms treat it as a constant.)");

  m.def(
      "checkpoint",
      [](nb::callable fun) {
        return transformed(fun, [](nb::handle f, const nb::args& args, const nb::kwargs& kwargs) {
          return custom_call(f, nb::handle(), nb::handle(), nb::handle(), args, kwargs);
        });
      },
      "fun"_a, nb::sig("def checkpoint(fun: Callable) -> Callable"),
      R"(Returns ``fun`` with gradient checkpointing: its intermediate values are not kept for
the backward pass but recomputed there, trading compute for memory.)");
}
