// DLPack exchange (the Python array API's __dlpack__ protocol) with NumPy, PyTorch, CuPy and
// others. With a GPU, Lazuli's buffers are CUDA managed memory and export as CUDA memory
// without a copy; CUDA tensors import without a copy, as arrays over device-only memory
// that the host reads only through staged copies (lazuli/device_memory.h).
#include <nanobind/ndarray.h>

#include <cstring>

#include "convert.h"
#include "dlpack.h"
#include "lazuli/device_memory.h"

using namespace lazuli;

namespace lazuli::py {
namespace {

// DLPack's device types (DLDeviceType).
constexpr int kDLCPU = 1, kDLCUDA = 2, kDLCUDAManaged = 13;

[[noreturn]] void buffer_error(const std::string& msg) {
  PyErr_SetString(PyExc_BufferError, msg.c_str());
  throw nb::python_error();
}

std::string device_name(int type, int id) { return "(" + std::to_string(type) + ", " + std::to_string(id) + ")"; }

nb::dlpack::dtype to_dlpack_dtype(Dtype t) {
  using Code = nb::dlpack::dtype_code;
  auto code = [](Code c) { return uint8_t(c); };
  uint8_t bits = uint8_t(8 * t.size);
  if (t == bfloat16) return {code(Code::Bfloat), 16, 1};
  switch (kindof(t)) {
    case Dtype::Kind::b: return {code(Code::Bool), 8, 1};
    case Dtype::Kind::u: return {code(Code::UInt), bits, 1};
    case Dtype::Kind::i: return {code(Code::Int), bits, 1};
    case Dtype::Kind::c: return {code(Code::Complex), bits, 1};
    default: return {code(Code::Float), bits, 1};
  }
}

Dtype from_dlpack_dtype(nb::dlpack::dtype t) {
  using Code = nb::dlpack::dtype_code;
  auto unsupported = [&]() -> Dtype {
    throw nb::type_error(("[from_dlpack] Unsupported DLPack dtype (code " + std::to_string(t.code) + ", " +
                          std::to_string(t.bits) + " bits, " + std::to_string(t.lanes) + " lanes).").c_str());
  };
  if (t.lanes != 1) return unsupported();
  switch (Code(t.code)) {
    case Code::Bool: return t.bits == 8 ? bool_ : unsupported();
    case Code::UInt:
      return t.bits == 8 ? uint8 : t.bits == 16 ? uint16 : t.bits == 32 ? uint32 : t.bits == 64 ? uint64 : unsupported();
    case Code::Int:
      return t.bits == 8 ? int8 : t.bits == 16 ? int16 : t.bits == 32 ? int32 : t.bits == 64 ? int64 : unsupported();
    case Code::Float: return t.bits == 16 ? float16 : t.bits == 32 ? float32 : t.bits == 64 ? float64 : unsupported();
    case Code::Bfloat: return t.bits == 16 ? bfloat16 : unsupported();
    case Code::Complex: return t.bits == 64 ? complex64 : unsupported();
    default: return unsupported();
  }
}

// The DLPack device of an evaluated array: CUDA for CUDA memory (managed or device-only),
// else the CPU.
std::pair<int, int> device_of(const array& a) {
  if (memory_kind(a) == MemoryKind::host) return {kDLCPU, 0};
  return {kDLCUDA, cuda_device()};
}

array evaluated(array a) {
  nb::gil_scoped_release release;
  a.eval();
  return a;
}

bool has_negative_stride(const array& a) {
  for (size_t i = 0; i < a.ndim(); ++i)
    if (a.shape()[i] > 1 && a.strides()[i] < 0) return true;
  return false;
}

std::optional<std::pair<int, int>> requested_device(nb::handle dl_device) {
  if (dl_device.is_none()) return std::nullopt;
  if (!PyTuple_Check(dl_device.ptr()) || nb::len(dl_device) != 2)
    type_error("[__dlpack__] dl_device must be None or a (device_type, device_id) tuple, got " +
               py_type_name(dl_device) + ".");
  return std::pair<int, int>{nb::cast<int>(dl_device[0]), nb::cast<int>(dl_device[1])};
}

// Lets go of an imported tensor. The last array over it may die on a scheduler thread while
// the main thread holds the GIL and waits for that thread, so taking the GIL there could
// deadlock: the release is handed to the interpreter (Py_AddPendingCall) unless this thread
// holds the GIL. After the interpreter is gone, the tensor is left to the process exit.
void release_import(nb::ndarray<>* held) {
#if PY_VERSION_HEX >= 0x030D0000
  bool finalizing = Py_IsFinalizing();
#else
  bool finalizing = _Py_IsFinalizing();
#endif
  if (!Py_IsInitialized() || finalizing) return;
  if (PyGILState_Check()) {
    delete held;
    return;
  }
  auto release = [](void* p) {
    delete static_cast<nb::ndarray<>*>(p);
    return 0;
  };
  if (Py_AddPendingCall(release, held) != 0) {  // the queue is full: wait for the GIL instead
    nb::gil_scoped_acquire gil;
    delete held;
  }
}

// A CUDA tensor as an array over the same memory.
array import_cuda(nb::handle obj, int device_type, int device_id) {
  int gpu = cuda_device();
  if (gpu < 0)
    throw nb::value_error(("[from_dlpack] The tensor lives on CUDA device " + device_name(device_type, device_id) +
                           ", which needs a CUDA build of Lazuli on a machine with a GPU.").c_str());
  if (device_id != gpu)
    throw nb::value_error(("[from_dlpack] The tensor lives on CUDA device " + std::to_string(device_id) +
                           ", but Lazuli runs on CUDA device " + std::to_string(gpu) + ".").c_str());
  // stream=1 (CUDA's legacy default stream): the producer orders its pending work before
  // that stream, and a host-side wait on it makes the memory ready for every Lazuli stream
  // (they are non-blocking streams, which the legacy stream does not order) and the host.
  nb::object capsule = obj.attr("__dlpack__")("stream"_a = 1);
  nb::ndarray<> t;
  if (!nb::try_cast(capsule, t))
    type_error("[from_dlpack] __dlpack__ of " + py_type_name(obj) + " did not return a DLPack capsule.");
  {
    nb::gil_scoped_release release;
    synchronize_dlpack_producers();
  }
  Dtype dtype = from_dlpack_dtype(t.dtype());
  Shape shape;
  Strides strides;
  bool row_major = true;
  int64_t expected = 1;
  for (size_t i = t.ndim(); i-- > 0;) {
    if (t.shape(i) > size_t(INT32_MAX))
      throw nb::value_error(("[from_dlpack] Dimension " + std::to_string(i) + " of size " +
                             std::to_string(t.shape(i)) + " is too large (at most 2^31 - 1).").c_str());
    row_major &= t.shape(i) == 1 || t.stride(i) == expected;
    expected *= int64_t(t.shape(i));
  }
  for (size_t i = 0; i < t.ndim(); ++i) shape.push_back(int32_t(t.shape(i))), strides.push_back(t.stride(i));
  // The span the elements cover, in elements from the first one (strides may be negative).
  int64_t lo = 0, hi = 0;
  for (size_t i = 0; i < t.ndim(); ++i) {
    int64_t reach = (int64_t(shape[i]) - 1) * strides[i];
    (reach < 0 ? lo : hi) += reach;
  }
  bool empty = expected == 0;
  char* first = static_cast<char*>(t.data());  // data plus byte_offset
  auto* held = new nb::ndarray<>(std::move(t));
  auto deleter = [held](void*) { release_import(held); };
  if (row_major || empty) return array(first, shape, dtype, deleter);
  if (hi - lo + 1 > int64_t(INT32_MAX))
    throw nb::value_error("[from_dlpack] The strided tensor spans more than 2^31 - 1 elements.");
  array span(first + lo * int64_t(dtype.size), Shape{int32_t(hi - lo + 1)}, dtype, deleter);
  // A view made on the GPU stream shares the memory (on a CPU stream it would be a staged copy).
  return as_strided(span, shape, strides, size_t(-lo), Device(Device::gpu));
}

}  // namespace

// A row-major copy of `a` in a host-readable buffer of its own (contiguous() and copy()
// share a row-major input's buffer).
array owned_copy(const array& a) {
  array x = host_readable(evaluated(contiguous(a)));
  if (x.size() > 0 && a.has_data() && x.buffer().ptr == a.buffer().ptr) {
    array out(x.shape(), x.dtype(), nullptr, {});
    out.set_data(allocator::malloc(x.nbytes()));
    std::memcpy(out.raw_data(), x.raw_data(), x.nbytes());
    out.set_status(array::Status::available);
    return out;
  }
  return x;
}

nb::tuple dlpack_device(const array& a) {
  auto [type, id] = device_of(evaluated(a));
  return nb::make_tuple(type, id);
}

nb::object dlpack_export(const array& a, nb::handle stream, nb::handle max_version, nb::handle dl_device,
                         nb::handle copy_arg) {
  if (!stream.is_none() && !PyLong_Check(stream.ptr()))
    type_error("[__dlpack__] stream must be None or an int, got " + py_type_name(stream) + ".");
  if (!max_version.is_none() && !PyTuple_Check(max_version.ptr()))
    type_error("[__dlpack__] max_version must be None or a (major, minor) tuple, got " + py_type_name(max_version) + ".");
  if (!copy_arg.is_none() && !PyBool_Check(copy_arg.ptr()))
    type_error("[__dlpack__] copy must be None, True or False, got " + py_type_name(copy_arg) + ".");
  std::optional<bool> copy_request;
  if (!copy_arg.is_none()) copy_request = copy_arg.ptr() == Py_True;
  // The data is made ready on the host side (eval waits for the GPU work that makes it),
  // so it is ready for whatever stream the consumer names.
  array x = evaluated(a);
  auto [type, id] = device_of(x);
  auto want = requested_device(dl_device).value_or(std::pair<int, int>{type, id});
  bool needs_copy = copy_request.value_or(false) || has_negative_stride(x);
  if (want.first == kDLCPU && want.second == 0) {
    // Managed memory is host memory too; device-only memory needs a host copy.
    if (memory_kind(x) == MemoryKind::device_only) needs_copy = true;
  } else if (want.first != kDLCUDA || type != kDLCUDA || want.second != id) {
    buffer_error("[__dlpack__] Cannot export to DLPack device " + device_name(want.first, want.second) +
                 ": the array lives on " + device_name(type, id) + " (1 is the CPU, 2 CUDA).");
  }
  if (needs_copy) {
    if (copy_request == false)
      buffer_error("[__dlpack__] copy=False, but exporting to " + device_name(want.first, want.second) +
                   " needs a copy (device-only memory to the CPU, or negative strides).");
    x = owned_copy(x);
  }
  auto* hold = new array(x);
  nb::capsule owner(hold, [](void* p) noexcept { delete static_cast<array*>(p); });
  std::vector<size_t> shape(x.shape().begin(), x.shape().end());
  std::vector<int64_t> strides(x.strides().begin(), x.strides().end());
  nb::ndarray<> view(hold->raw_data(), x.ndim(), shape.data(), owner, strides.data(), to_dlpack_dtype(x.dtype()),
                     want.first, want.second);
  return nb::cast(view);  // a "dltensor" capsule that keeps the array alive
}

array from_dlpack(nb::handle obj) {
  if (!nb::hasattr(obj, "__dlpack__"))
    type_error("[from_dlpack] Expected an object with __dlpack__ (a DLPack producer), got " + py_type_name(obj) + ".");
  int type = kDLCPU, id = 0;
  if (nb::hasattr(obj, "__dlpack_device__")) {
    nb::object device = obj.attr("__dlpack_device__")();
    type = nb::cast<int>(device[0]), id = nb::cast<int>(device[1]);
  }
  if (type == kDLCUDA || type == kDLCUDAManaged) return import_cuda(obj, type, id);
  if (type != kDLCPU)
    throw nb::value_error(("[from_dlpack] Unsupported DLPack device " + device_name(type, id) +
                           ": Lazuli imports CPU (1), CUDA (2) and CUDA managed (13) memory.").c_str());
  return to_array(nb::module_::import_("numpy").attr("from_dlpack")(obj));  // copied
}

bool is_cuda_dlpack(nb::handle obj) {
  if (!nb::hasattr(obj, "__dlpack__") || !nb::hasattr(obj, "__dlpack_device__")) return false;
  nb::object device = obj.attr("__dlpack_device__")();
  int type = nb::cast<int>(device[0]);
  return type == kDLCUDA || type == kDLCUDAManaged;
}

}  // namespace lazuli::py
