// Internal to jit.cpp: what the build embeds (see CMakeLists.txt here, which generates
// jit_embedded.cpp): Lazuli's device-compatible headers by their include name, and the
// CUDA toolkit's include folders found when Lazuli was configured.
#pragma once
#include <cstddef>

namespace lazuli::cuda::jit::detail {

struct EmbeddedHeader {
  const char* name;  // as kernels include it, e.g. "lazuli/backend/common/math.h"
  const char* text;
};
extern const EmbeddedHeader kEmbeddedHeaders[];
extern const size_t kEmbeddedHeaderCount;
extern const char* const kToolkitIncludeDirs[];
extern const size_t kToolkitIncludeDirCount;

}  // namespace lazuli::cuda::jit::detail
