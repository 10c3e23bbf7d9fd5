// Internal: Highway-vectorised float32/float64 versions of the transcendental unary ops,
// picked at run time for the best instruction set of the machine.
#pragma once
#include <cstddef>

#include "lazuli/dtype.h"
#include "lazuli/primitives.h"

namespace lazuli::cpu {
// Whether op has a vector version for float32 and float64.
bool simd_supported(UnaryOp op);
// Computes op over n contiguous float32 or float64 elements on every core.
void simd_unary(UnaryOp op, Dtype dtype, const void* in, void* out, size_t n);
// The same on the calling thread only (for callers that already split the work).
void simd_unary_serial(UnaryOp op, Dtype dtype, const void* in, void* out, size_t n);
}  // namespace lazuli::cpu
