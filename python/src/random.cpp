// Python bindings of lazuli.core.random, with MLX's names, arguments and defaults. A key is
// a uint32 array of shape (2,); without one, samplers split the global key (`seed`).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>

#include "convert.h"

using lz::array;
using lz::Dtype;
using lz::Shape;
namespace py = lz::py;
namespace rnd = lz::random;

using py::stream_of;

namespace {


std::optional<array> key_of(nb::handle k) {
  if (k.is_none()) return std::nullopt;
  return py::to_array(k);
}

std::optional<array> opt_array(nb::handle a) {
  if (a.is_none()) return std::nullopt;
  return py::to_array(a);
}

Shape shape_of(nb::handle obj, const char* op) {
  if (PyUnicode_Check(obj.ptr()))
    throw nb::type_error((std::string("[") + op + "] shape must be a sequence of ints, got str.").c_str());
  try {
    return py::to_shape(obj);
  } catch (const std::bad_cast&) {
    throw nb::type_error((std::string("[") + op + "] shape must be a sequence of ints.").c_str());
  }
}

std::optional<Shape> opt_shape(nb::handle obj, const char* op) {
  if (obj.is_none()) return std::nullopt;
  return shape_of(obj, op);
}

bool is_int(nb::handle h) { return PyLong_Check(h.ptr()) && !PyBool_Check(h.ptr()); }

}  // namespace

void init_random(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("random", "Random sampling with explicit keys (Threefry-2x32-20).");

  m.def("seed", [](uint64_t seed) { rnd::seed(seed); }, "seed"_a, "Seed the global key.");
  m.def("key", [](uint64_t seed) { return rnd::key(seed); }, "seed"_a,
        "A key (uint32 array of shape (2,)) from a seed.");
  // mx.random.state (python/lazuli/__init__.py) reads and writes the global key through these.
  m.def("_global_key", &rnd::global_key);
  m.def("_set_global_key", [](nb::handle key) { rnd::set_global_key(py::to_array(key)); });
  m.def(
      "split", [](nb::handle key, int num, nb::handle s) { return rnd::split(py::to_array(key), num, stream_of(s)); },
      "key"_a, "num"_a = 2, "stream"_a = nb::none(), "Split a key into num new keys: an array of shape (num, 2).");
  m.def(
      "uniform",
      [](nb::handle low, nb::handle high, nb::handle shape, std::optional<Dtype> dtype, nb::handle key,
         nb::handle s) {
        return rnd::uniform(py::to_array(low), py::to_array(high), shape_of(shape, "uniform"),
                            dtype.value_or(lz::float32), key_of(key), stream_of(s));
      },
      "low"_a = 0, "high"_a = 1, "shape"_a = nb::list(), "dtype"_a = nb::none(), "key"_a = nb::none(),
      "stream"_a = nb::none(), "Uniform samples in [low, high).");
  m.def(
      "normal",
      [](nb::handle shape, std::optional<Dtype> dtype, nb::handle loc, nb::handle scale, nb::handle key,
         nb::handle s) {
        return rnd::normal(shape_of(shape, "normal"), dtype.value_or(lz::float32), opt_array(loc), opt_array(scale),
                           key_of(key), stream_of(s));
      },
      "shape"_a = nb::list(), "dtype"_a = nb::none(), "loc"_a = nb::none(), "scale"_a = nb::none(),
      "key"_a = nb::none(), "stream"_a = nb::none(), "Normal samples with mean loc and standard deviation scale.");
  m.def(
      "multivariate_normal",
      [](nb::handle mean, nb::handle cov, nb::handle shape, std::optional<Dtype> dtype, nb::handle key,
         nb::handle s) {
        return rnd::multivariate_normal(py::to_array(mean), py::to_array(cov), shape_of(shape, "multivariate_normal"),
                                        dtype.value_or(lz::float32), key_of(key), stream_of(s));
      },
      "mean"_a, "cov"_a, "shape"_a = nb::list(), "dtype"_a = nb::none(), "key"_a = nb::none(),
      "stream"_a = nb::none(), "Multivariate normal samples of shape shape + (n,).");
  m.def(
      "randint",
      [](nb::handle low, nb::handle high, nb::handle shape, std::optional<Dtype> dtype, nb::handle key,
         nb::handle s) {
        Shape sh = shape_of(shape, "randint");
        Dtype dt = dtype.value_or(lz::int32);
        if (is_int(low) && is_int(high))
          return rnd::randint(nb::cast<int64_t>(low), nb::cast<int64_t>(high), sh, dt, key_of(key), stream_of(s));
        return rnd::randint(py::to_array(low), py::to_array(high), sh, dt, key_of(key), stream_of(s));
      },
      "low"_a, "high"_a, "shape"_a = nb::list(), "dtype"_a = nb::none(), "key"_a = nb::none(),
      "stream"_a = nb::none(), "Random integers in [low, high).");
  m.def(
      "bernoulli",
      [](nb::handle p, nb::handle shape, nb::handle key, nb::handle s) {
        return rnd::bernoulli(py::to_array(p), opt_shape(shape, "bernoulli"), key_of(key), stream_of(s));
      },
      "p"_a = 0.5, "shape"_a = nb::none(), "key"_a = nb::none(), "stream"_a = nb::none(),
      "Booleans that are True with probability p.");
  m.def(
      "truncated_normal",
      [](nb::handle lower, nb::handle upper, nb::handle shape, std::optional<Dtype> dtype, nb::handle key,
         nb::handle s) {
        return rnd::truncated_normal(py::to_array(lower), py::to_array(upper), opt_shape(shape, "truncated_normal"),
                                     dtype.value_or(lz::float32), key_of(key), stream_of(s));
      },
      "lower"_a, "upper"_a, "shape"_a = nb::none(), "dtype"_a = nb::none(), "key"_a = nb::none(),
      "stream"_a = nb::none(), "Standard normal samples truncated to [lower, upper].");
  m.def(
      "gumbel",
      [](nb::handle shape, std::optional<Dtype> dtype, nb::handle key, nb::handle s) {
        return rnd::gumbel(shape_of(shape, "gumbel"), dtype.value_or(lz::float32), key_of(key), stream_of(s));
      },
      "shape"_a = nb::list(), "dtype"_a = nb::none(), "key"_a = nb::none(), "stream"_a = nb::none(),
      "Standard Gumbel samples.");
  m.def(
      "categorical",
      [](nb::handle logits, int axis, nb::handle shape, std::optional<int> num_samples, nb::handle key,
         nb::handle s) {
        array l = py::to_array(logits);
        if (!shape.is_none() && num_samples)
          throw std::invalid_argument("[categorical] At most one of shape or num_samples can be specified.");
        if (num_samples) return rnd::categorical(l, axis, *num_samples, key_of(key), stream_of(s));
        return rnd::categorical(l, axis, opt_shape(shape, "categorical"), key_of(key), stream_of(s));
      },
      "logits"_a, "axis"_a = -1, "shape"_a = nb::none(), "num_samples"_a = nb::none(), "key"_a = nb::none(),
      "stream"_a = nb::none(), "Samples from the categorical distribution given by unnormalised logits.");
  m.def(
      "laplace",
      [](nb::handle shape, std::optional<Dtype> dtype, double loc, double scale, nb::handle key, nb::handle s) {
        return rnd::laplace(shape_of(shape, "laplace"), dtype.value_or(lz::float32), loc, scale, key_of(key),
                            stream_of(s));
      },
      "shape"_a = nb::list(), "dtype"_a = nb::none(), "loc"_a = 0.0, "scale"_a = 1.0, "key"_a = nb::none(),
      "stream"_a = nb::none(), "Laplace samples with location loc and scale scale.");
  m.def(
      "permutation",
      [](nb::handle x, int axis, nb::handle key, nb::handle s) {
        if (is_int(x)) return rnd::permutation(nb::cast<int>(x), key_of(key), stream_of(s));
        return rnd::permutation(py::to_array(x), axis, key_of(key), stream_of(s));
      },
      "x"_a, "axis"_a = 0, "key"_a = nb::none(), "stream"_a = nb::none(),
      "A random permutation of arange(x), or of x along axis.");
}
