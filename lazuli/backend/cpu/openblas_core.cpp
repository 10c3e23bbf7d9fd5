// OpenBLAS (built for every x86 generation, as Debian ships it) picks its kernels from the
// CPU's model number. Virtual machines that report a generic model ("Intel Xeon
// Processor") make it fall back to its Prescott (SSE3) kernels, which run sgemm 2-3x slower
// than the AVX2 or AVX-512 kernels the CPU supports. When that happened and the user set no
// OPENBLAS_CORETYPE, pick the core from the CPU's features and let OpenBLAS select again;
// this runs while the library loads, before any BLAS call.
#include <cstdlib>
#include <cstring>
#include <initializer_list>

extern "C" {
char* openblas_get_corename(void);
// Only in OpenBLAS builds with DYNAMIC_ARCH: weak, so other builds link and skip this.
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace lazuli::cpu {
namespace {

const char* core_from_features() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

bool generic_core(const char* name) {
  for (const char* old : {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "unknown"})
    if (name && std::strcmp(name, old) == 0) return true;
  return false;
}

const bool core_checked = [] {
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || std::getenv("OPENBLAS_CORETYPE")) return false;
  const char* core = core_from_features();
  if (!core || !generic_core(openblas_get_corename())) return false;
  setenv("OPENBLAS_CORETYPE", core, 0);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  return true;
}();

}  // namespace
}  // namespace lazuli::cpu
