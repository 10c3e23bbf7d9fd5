// DLPack export and import (python/src/dlpack.cpp).
#pragma once
#include "convert.h"

namespace lazuli::py {
// a.__dlpack_device__(): (2, device) for CUDA memory, else (1, 0).
nb::tuple dlpack_device(const array& a);
// a.__dlpack__(stream=, max_version=, dl_device=, copy=): a "dltensor" capsule over a's
// memory (zero-copy unless a copy is asked for or needed).
nb::object dlpack_export(const array& a, nb::handle stream, nb::handle max_version, nb::handle dl_device,
                         nb::handle copy);
// mx.from_dlpack(x): CUDA tensors zero-copy, CPU ones copied through NumPy.
array from_dlpack(nb::handle obj);
// A row-major copy of `a`, evaluated, in a host-readable buffer of its own.
array owned_copy(const array& a);
// Whether `obj` is a DLPack producer of CUDA memory.
bool is_cuda_dlpack(nb::handle obj);
}  // namespace lazuli::py
