// Conversions between Python objects and Lazuli values, shared by the binding files.
// Bindings stay thin: they convert arguments and call the C++ API, nothing more.
#pragma once
#include <nanobind/nanobind.h>

#include <optional>
#include <string>
#include <vector>

#include "lazuli/lazuli.h"

namespace nb = nanobind;
namespace lz = lazuli;
using namespace nb::literals;

namespace lazuli::py {

// An array from a Python scalar, (nested) list or tuple, NumPy array, or array, with MLX's
// dtype inference (bool, int32 or int64 when too big, float32, complex64; NumPy keeps its
// dtype except float64, which becomes float32) unless `dtype` is given.
array to_array(nb::handle obj, std::optional<Dtype> dtype = std::nullopt);
bool is_python_scalar(nb::handle obj);
// `obj` next to an array: Python scalars are weakly typed and take the array's dtype
// where the kinds agree (float16 array * 2.5 stays float16).
array to_array_like(nb::handle obj, const array& like);
// Both operands of a binary op, with weak scalars resolved against the other operand.
std::pair<array, array> to_arrays(nb::handle a, nb::handle b);

// stream=None | Stream | Device
StreamOrDevice to_stream_or_device(nb::handle obj);
inline StreamOrDevice stream_of(nb::handle s) { return to_stream_or_device(s); }

[[noreturn]] inline void type_error(const std::string& msg) { throw nb::type_error(msg.c_str()); }
inline std::string py_type_name(nb::handle h) { return nb::type_name(h.type()).c_str(); }
// axis=None | int | sequence of ints (None: all axes).
std::optional<std::vector<int>> to_axes(nb::handle obj);
Shape to_shape(nb::handle obj);  // int or sequence of ints

// Python value of a 0-d or 1-element array (bool, int, float or complex).
nb::object to_scalar(array a);
nb::object to_list(array a);

}  // namespace lazuli::py

// Registration functions of the binding files.
void init_dtypes(nb::module_& m);
void init_devices(nb::module_& m);
void init_array(nb::module_& m);
void init_ops(nb::module_& m);
void init_transforms(nb::module_& m);
void init_compile(nb::module_& m);
void init_scan_ops(nb::module_& m);
void init_sort_ops(nb::module_& m);
void init_random(nb::module_& m);
void init_indexing_ops(nb::module_& m);
void init_einsum_ops(nb::module_& m);
void init_conv_ops(nb::module_& m);
void init_linalg(nb::module_& m);
void init_fft(nb::module_& m);
void init_quantized_ops(nb::module_& m);
void init_io(nb::module_& m);
