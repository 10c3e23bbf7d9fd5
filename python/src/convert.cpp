#include "convert.h"

#include "dlpack.h"
#include "lazuli/device_memory.h"

#include <nanobind/stl/string.h>

#include <complex>
#include <cstring>

#include "lazuli/backend/common/cast.h"

namespace lazuli::py {

bool is_python_scalar(nb::handle obj) {
  return PyBool_Check(obj.ptr()) || PyLong_Check(obj.ptr()) || PyFloat_Check(obj.ptr()) ||
         PyComplex_Check(obj.ptr());
}

namespace {

// Element kinds found in a nested list, in promotion order.
enum class Kind { none, boolean, integer, floating, complex };

struct ListScan {
  Shape shape;
  Kind kind = Kind::none;
  bool big_int = false;
  std::vector<nb::handle> leaves;
  bool has_arrays = false;
};

void scan(nb::handle obj, size_t depth, ListScan& s) {
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    auto n = static_cast<int32_t>(nb::len(obj));
    if (depth == s.shape.size()) s.shape.push_back(n);
    else if (depth > s.shape.size() || s.shape[depth] != n)
      throw std::invalid_argument("[array] Initialization encountered non-uniform length (a ragged nested list).");
    for (nb::handle item : obj) scan(item, depth + 1, s);
    return;
  }
  if (depth != s.shape.size())
    throw std::invalid_argument("[array] Initialization encountered non-uniform length (a ragged nested list).");
  if (nb::isinstance<array>(obj)) {
    s.has_arrays = true;
  } else if (PyBool_Check(obj.ptr())) {
    s.kind = std::max(s.kind, Kind::boolean);
  } else if (PyLong_Check(obj.ptr())) {
    s.kind = std::max(s.kind, Kind::integer);
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
    if (overflow || v > INT32_MAX || v < INT32_MIN) s.big_int = true;
  } else if (PyFloat_Check(obj.ptr())) {
    s.kind = std::max(s.kind, Kind::floating);
  } else if (PyComplex_Check(obj.ptr())) {
    s.kind = Kind::complex;
  } else {
    throw nb::type_error(("[array] Cannot make an array from an element of type " +
                          std::string(nb::type_name(obj.type()).c_str()) + ".").c_str());
  }
  s.leaves.push_back(obj);
}

array from_list(nb::handle obj, std::optional<Dtype> dtype) {
  ListScan s;
  scan(obj, 0, s);
  if (s.has_arrays) {
    std::vector<array> parts;
    for (nb::handle item : obj) parts.push_back(to_array(item, dtype));
    return parts.empty() ? zeros({0}, dtype.value_or(float32)) : stack(parts);
  }
  Dtype t = dtype.value_or(s.kind == Kind::complex    ? complex64
                           : s.kind == Kind::floating ? float32
                           : s.kind == Kind::integer  ? (s.big_int ? int64 : int32)
                           : s.kind == Kind::boolean  ? bool_
                                                      : float32);
  // Gather into the widest exact C++ type of the kind, then cast once.
  size_t n = s.leaves.size();
  if (s.kind == Kind::complex) {
    std::vector<complex64_t> v(n);
    for (size_t i = 0; i < n; ++i) {
      Py_complex c = PyComplex_AsCComplex(s.leaves[i].ptr());
      v[i] = complex64_t(float(c.real), float(c.imag));
    }
    return array(v.begin(), s.shape, t);
  }
  if (s.kind == Kind::floating) {
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = PyFloat_AsDouble(s.leaves[i].ptr());
    return array(v.begin(), s.shape, t);
  }
  std::vector<int64_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    int overflow = 0;
    v[i] = PyLong_AsLongLongAndOverflow(s.leaves[i].ptr(), &overflow);
    if (overflow) throw nb::value_error("[array] A Python int does not fit in int64.");
  }
  return array(v.begin(), s.shape, t);
}

Dtype from_numpy_dtype(const std::string& str) {
  // NumPy's array-interface type strings: byte order, kind, size.
  char kind = str[1];
  int size = std::stoi(str.substr(2));
  if (str[0] == '>') throw nb::value_error("[array] Big-endian NumPy arrays are not supported.");
  switch (kind) {
    case 'b': return bool_;
    case 'u': return size == 1 ? uint8 : size == 2 ? uint16 : size == 4 ? uint32 : uint64;
    case 'i': return size == 1 ? int8 : size == 2 ? int16 : size == 4 ? int32 : int64;
    case 'f': return size == 2 ? float16 : size == 4 ? float32 : float64;
    case 'c': return complex64;
    default: throw nb::type_error(("[array] Unsupported NumPy dtype " + str + ".").c_str());
  }
}

array from_numpy(nb::handle obj, std::optional<Dtype> dtype) {
  nb::module_ np = nb::module_::import_("numpy");
  nb::object arr = np.attr("asarray")(obj, nb::arg("order") = "C");  // keeps 0-d arrays 0-d
  std::string type_str = nb::cast<std::string>(arr.attr("dtype").attr("str"));
  if (type_str == "<c16") arr = arr.attr("astype")("complex64"), type_str = "<c8";
  Dtype src = from_numpy_dtype(type_str);
  Shape shape;
  for (nb::handle d : arr.attr("shape")) shape.push_back(nb::cast<int32_t>(d));
  nb::tuple data = nb::cast<nb::tuple>(arr.attr("__array_interface__")["data"]);
  void* ptr = reinterpret_cast<void*>(nb::cast<uintptr_t>(data[0]));
  // Copy now: the result must not depend on the NumPy buffer staying alive or unchanged.
  array out(shape, src, nullptr, {});
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.nbytes()) std::memcpy(out.raw_data(), ptr, out.nbytes());
  out.set_status(array::Status::available);
  Dtype want = dtype.value_or(src == float64 ? float32 : src);
  return astype(out, want);
}

// A CUDA tensor (PyTorch, CuPy, ...) copied now, as array() copies NumPy arrays.
array from_cuda_dlpack(nb::handle obj, std::optional<Dtype> dtype) {
  array own = owned_copy(from_dlpack(obj));
  Dtype src = own.dtype();
  return astype(own, dtype.value_or(src == float64 ? float32 : src));
}

}  // namespace

array to_array(nb::handle obj, std::optional<Dtype> dtype) {
  if (nb::isinstance<array>(obj)) {
    array a = nb::cast<array>(obj);
    return dtype ? astype(a, *dtype) : a;
  }
  if (PyBool_Check(obj.ptr())) return array(obj.ptr() == Py_True, dtype.value_or(bool_));
  if (PyLong_Check(obj.ptr())) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
    if (overflow) throw nb::value_error("[array] A Python int does not fit in int64.");
    return array(static_cast<int64_t>(v), dtype.value_or(v > INT32_MAX || v < INT32_MIN ? int64 : int32));
  }
  if (PyFloat_Check(obj.ptr())) return array(PyFloat_AsDouble(obj.ptr()), dtype.value_or(float32));
  if (PyComplex_Check(obj.ptr())) {
    Py_complex c = PyComplex_AsCComplex(obj.ptr());
    return array(complex64_t(float(c.real), float(c.imag)), dtype.value_or(complex64));
  }
  if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) return from_list(obj, dtype);
  if (nb::hasattr(obj, "__lazuli_array__")) return to_array(obj.attr("__lazuli_array__")(), dtype);
  if (nb::hasattr(obj, "__mlx_array__")) return to_array(obj.attr("__mlx_array__")(), dtype);  // MLX's ArrayLike
  if (is_cuda_dlpack(obj)) return from_cuda_dlpack(obj, dtype);
  if (nb::hasattr(obj, "__array_interface__") || nb::hasattr(obj, "__array__")) return from_numpy(obj, dtype);
  throw nb::type_error(("[array] Cannot make an array from an object of type " +
                        std::string(nb::type_name(obj.type()).c_str()) + ".").c_str());
}

array to_array_like(nb::handle obj, const array& like) {
  if (!is_python_scalar(obj)) return to_array(obj);
  Dtype t = like.dtype();
  bool inexact = is_floating_point(t) || is_complex(t);
  if (PyBool_Check(obj.ptr())) return array(obj.ptr() == Py_True);
  if (PyLong_Check(obj.ptr())) {
    if (t == bool_ || !is_integral(t)) return to_array(obj, t == bool_ ? std::optional<Dtype>() : std::optional<Dtype>(t));
    // An int that the array's integer dtype cannot hold is an error, as in MLX.
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
    iinfo info(t);
    bool fits = !overflow && (v < 0 ? v >= info.min : static_cast<unsigned long long>(v) <= info.max);
    if (!fits)
      throw nb::value_error(("Converting " + nb::cast<std::string>(nb::str(obj)) + " to " + dtype_name(t) +
                             " would result in overflow.").c_str());
    return to_array(obj, t);
  }
  if (PyFloat_Check(obj.ptr())) return to_array(obj, inexact ? t : float32);
  return to_array(obj, complex64);
}

std::pair<array, array> to_arrays(nb::handle a, nb::handle b) {
  bool sa = is_python_scalar(a), sb = is_python_scalar(b);
  if (sa && !sb) {
    array y = to_array(b);
    return {to_array_like(a, y), y};
  }
  if (sb && !sa) {
    array x = to_array(a);
    return {x, to_array_like(b, x)};
  }
  return {to_array(a), to_array(b)};
}

StreamOrDevice to_stream_or_device(nb::handle obj) {
  if (obj.is_none()) return std::monostate{};
  if (nb::isinstance<Stream>(obj)) return nb::cast<Stream>(obj);
  if (nb::isinstance<Device>(obj)) return nb::cast<Device>(obj);
  if (nb::isinstance<Device::DeviceType>(obj)) return Device(nb::cast<Device::DeviceType>(obj));
  throw nb::type_error("stream must be a Stream, a Device or None.");
}

namespace {
// An int from a Python object, or TypeError naming what it was.
int32_t int_arg(nb::handle h, const char* what) {
  if (!PyLong_Check(h.ptr()) && !PyIndex_Check(h.ptr()))
    throw nb::type_error((std::string(what) + " must hold ints, got " + nb::type_name(h.type()).c_str() + ".").c_str());
  return nb::cast<int32_t>(h);
}
template <typename T>
std::vector<T> int_list(nb::handle obj, const char* what) {
  if (PyLong_Check(obj.ptr()) || PyIndex_Check(obj.ptr())) return {static_cast<T>(int_arg(obj, what))};
  if (PyUnicode_Check(obj.ptr()) || !nb::hasattr(obj, "__iter__"))
    throw nb::type_error((std::string(what) + " must be an int or a sequence of ints, got " +
                          nb::type_name(obj.type()).c_str() + ".").c_str());
  std::vector<T> out;
  for (nb::handle h : obj) out.push_back(static_cast<T>(int_arg(h, what)));
  return out;
}
}  // namespace

std::optional<std::vector<int>> to_axes(nb::handle obj) {
  if (obj.is_none()) return std::nullopt;
  return int_list<int>(obj, "axis");
}

Shape to_shape(nb::handle obj) { return int_list<int32_t>(obj, "shape"); }

namespace {
template <typename T>
nb::object py_value(T v) {
  if constexpr (std::is_same_v<T, bool>) return nb::bool_(v);
  else if constexpr (std::is_integral_v<T>) return nb::int_(static_cast<int64_t>(v));
  else if constexpr (is_complex_type<T>::value)
    return nb::steal(PyComplex_FromDoubles(v.real(), v.imag()));
  else return nb::float_(static_cast<double>(v));
}
template <>
nb::object py_value<uint64_t>(uint64_t v) {
  return nb::steal(PyLong_FromUnsignedLongLong(v));
}
}  // namespace

nb::object to_scalar(array a) {
  if (a.size() != 1)
    throw nb::value_error(("[item] Only arrays of one element convert to Python scalars, got " +
                           std::to_string(a.size()) + " elements.").c_str());
  {
    nb::gil_scoped_release release;
    a.eval();
  }
  return dispatch_dtype(a.dtype(), [&](auto t) {
    using T = decltype(t);
    return py_value(cast_value<T>(a.item<T>()));
  });
}

nb::object to_list(array a) {
  if (a.ndim() == 0) return to_scalar(a);
  array c = contiguous(a);
  {
    nb::gil_scoped_release release;
    c.eval();
    c = host_readable(c);  // device-only memory (DLPack imports) is copied to the host
  }
  return dispatch_dtype(c.dtype(), [&](auto t) -> nb::object {
    using T = decltype(t);
    const T* p = static_cast<const T*>(c.raw_data());
    std::function<nb::object(size_t, size_t)> build = [&](size_t dim, size_t offset) -> nb::object {
      nb::list out;
      size_t stride = 1;
      for (size_t d = dim + 1; d < c.ndim(); ++d) stride *= c.shape()[d];
      for (int32_t i = 0; i < c.shape()[dim]; ++i) {
        if (dim + 1 == c.ndim()) out.append(py_value(static_cast<std::conditional_t<is_half_type<T>::value, float, T>>(p[offset + i])));
        else out.append(build(dim + 1, offset + i * stride));
      }
      return out;
    };
    return build(0, 0);
  });
}

}  // namespace lazuli::py
