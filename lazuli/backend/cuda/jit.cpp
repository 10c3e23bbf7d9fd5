// NVRTC compilation with an in-memory and an on-disk cache, and module loading and launch
// through the driver API. The driver's entry points are fetched from the CUDA runtime
// (cudaGetDriverEntryPointByVersion) rather than linked: linking libcuda would make the
// library unloadable on machines without an NVIDIA driver, where the CPU backend must work.
#include "lazuli/backend/cuda/jit.h"

#include <nvrtc.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/jit_embedded.h"

namespace fs = std::filesystem;

namespace lazuli::cuda::jit {
namespace {

// The standard headers Lazuli's device headers include, answered with libcu++ (which NVRTC
// compiles) and its names made visible as std::..., so the same header text serves both sides.
std::string std_shim(const std::string& header) {
  std::string text = "#pragma once\n#include <cuda/std/" + header + ">\nnamespace std { using namespace ::cuda::std; }\n";
  // libcu++ has no erf, erfc or fmod (math.h's Erf, ErfInv, Remainder): CUDA's own, in the
  // global namespace with float and double overloads, are what nvcc's std:: versions call.
  if (header == "cmath") text += "namespace std { using ::erf; using ::erfc; using ::fmod; }\n";
  return text;
}
const char* const kStdShims[] = {"cmath", "complex", "cstdint", "limits", "type_traits"};

void check_nvrtc(nvrtcResult r, const char* call) {
  if (r != NVRTC_SUCCESS)
    throw std::runtime_error(std::string("[jit] ") + call + " failed: " + nvrtcGetErrorString(r) + ".");
}
#define LAZULI_NVRTC_CHECK(call) check_nvrtc((call), #call)

std::vector<std::string> compile_options(bool contract_fma) {
  // No --use_fast_math: kernels round as the library's own kernels do.
  std::vector<std::string> options = {"--gpu-architecture=sm_90", "--std=c++20", "-default-device",
                                      contract_fma ? "--fmad=true" : "--fmad=false"};
  for (size_t i = 0; i < detail::kToolkitIncludeDirCount; ++i)
    options.push_back(std::string("-I") + detail::kToolkitIncludeDirs[i]);
  return options;
}

// FNV-1a, 64 bits, over `data` continuing from `h`: stable across processes and builds,
// unlike std::hash, so it can name files.
uint64_t fnv1a(const std::string& data, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = digits[v & 15];
  return s;
}

std::string nvrtc_version() {
  int major = 0, minor = 0;
  LAZULI_NVRTC_CHECK(nvrtcVersion(&major, &minor));
  return std::to_string(major) + "." + std::to_string(minor);
}

// The cache key: 128 bits (two differently seeded FNV-1a hashes) of everything that
// determines the image.
std::string cache_key(const std::string& source, const std::vector<std::string>& options) {
  std::string all = "nvrtc " + nvrtc_version() + '\n';
  for (const auto& o : options) all += o + '\n';
  for (size_t i = 0; i < detail::kEmbeddedHeaderCount; ++i)
    all += std::string(detail::kEmbeddedHeaders[i].text) + '\n';
  for (const char* h : kStdShims) all += std_shim(h) + '\n';  // a changed shim compiles anew
  all += '\0' + source;
  return hex(fnv1a(all)) + hex(fnv1a(all, 0x84222325cbf29ce4ull));
}

std::string nvrtc_log(nvrtcProgram p) {
  size_t size = 0;
  if (nvrtcGetProgramLogSize(p, &size) != NVRTC_SUCCESS || size == 0) return "";
  std::string log(size, '\0');
  if (nvrtcGetProgramLog(p, log.data()) != NVRTC_SUCCESS) return "";
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log;
}

std::atomic<size_t> compiles{0};

std::string run_nvrtc(const std::string& source, const std::string& name, const std::vector<std::string>& options) {
  std::vector<std::string> shim_texts;
  std::vector<const char*> header_texts, header_names;
  for (size_t i = 0; i < detail::kEmbeddedHeaderCount; ++i) {
    header_names.push_back(detail::kEmbeddedHeaders[i].name);
    header_texts.push_back(detail::kEmbeddedHeaders[i].text);
  }
  for (const char* h : kStdShims) shim_texts.push_back(std_shim(h));
  for (size_t i = 0; i < shim_texts.size(); ++i) {
    header_names.push_back(kStdShims[i]);
    header_texts.push_back(shim_texts[i].c_str());
  }
  nvrtcProgram program = nullptr;
  LAZULI_NVRTC_CHECK(nvrtcCreateProgram(&program, source.c_str(), (name + ".cu").c_str(),
                                        static_cast<int>(header_texts.size()), header_texts.data(),
                                        header_names.data()));
  struct Destroy {
    nvrtcProgram& p;
    ~Destroy() { nvrtcDestroyProgram(&p); }
  } destroy{program};
  std::vector<const char*> option_ptrs;
  for (const auto& o : options) option_ptrs.push_back(o.c_str());
  ++compiles;
  nvrtcResult r = nvrtcCompileProgram(program, static_cast<int>(option_ptrs.size()), option_ptrs.data());
  if (r != NVRTC_SUCCESS)
    throw std::runtime_error("[jit] Kernel '" + name + "' did not compile (" + nvrtcGetErrorString(r) +
                             "):\n" + nvrtc_log(program));
  size_t size = 0;
  LAZULI_NVRTC_CHECK(nvrtcGetCUBINSize(program, &size));
  std::string image(size, '\0');
  LAZULI_NVRTC_CHECK(nvrtcGetCUBIN(program, image.data()));
  return image;
}

// ---- the disk cache ----
// A file is a magic line, the image's size and checksum (8 bytes each, little-endian as
// written by this machine), then the image: a truncated or altered file fails the check.
const std::string kMagic = "lazuli-cubin-1\n";

fs::path cache_dir() {
  if (const char* dir = std::getenv("LAZULI_KERNEL_CACHE"); dir && *dir) return dir;
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache/lazuli/kernels";
  return {};
}

std::string read_cached(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "";
  std::string magic(kMagic.size(), '\0');
  uint64_t size = 0, sum = 0;
  if (!in.read(magic.data(), magic.size()) || magic != kMagic) return "";
  if (!in.read(reinterpret_cast<char*>(&size), 8) || !in.read(reinterpret_cast<char*>(&sum), 8)) return "";
  if (size == 0 || size > (uint64_t(1) << 31)) return "";
  std::string image(size, '\0');
  if (!in.read(image.data(), size) || in.peek() != std::char_traits<char>::eof()) return "";
  return fnv1a(image) == sum ? image : "";
}

// Writes a temporary file beside `file`, then renames it into place, so readers see either
// no file or a whole one. Any failure (read-only folder, full disk) leaves the cache as it was.
void write_cached(const fs::path& file, const std::string& image) {
  static std::atomic<uint64_t> counter{0};
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec) return;
  fs::path tmp = file;
  tmp += ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    uint64_t size = image.size(), sum = fnv1a(image);
    out.write(kMagic.data(), kMagic.size());
    out.write(reinterpret_cast<const char*>(&size), 8);
    out.write(reinterpret_cast<const char*>(&sum), 8);
    out.write(image.data(), image.size());
    out.close();
    if (!out) {
      fs::remove(tmp, ec);
      return;
    }
  }
  fs::rename(tmp, file, ec);
  if (ec) fs::remove(tmp, ec);
}

std::mutex cache_mutex;
std::unordered_map<std::string, std::string> memory_cache;  // key -> image

// ---- the driver API, reached through the runtime ----
template <typename F> F driver_entry(const char* symbol) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult found{};
  LAZULI_CUDA_CHECK(cudaGetDriverEntryPointByVersion(symbol, &fn, 12000, cudaEnableDefault, &found));
  if (found != cudaDriverEntryPointSuccess || !fn)
    throw std::runtime_error(std::string("[jit] The CUDA driver has no ") + symbol + ".");
  return reinterpret_cast<F>(fn);
}

struct Driver {
  decltype(&cuGetErrorString) get_error_string = driver_entry<decltype(&cuGetErrorString)>("cuGetErrorString");
  decltype(&cuModuleLoadData) module_load_data = driver_entry<decltype(&cuModuleLoadData)>("cuModuleLoadData");
  decltype(&cuModuleGetFunction) module_get_function =
      driver_entry<decltype(&cuModuleGetFunction)>("cuModuleGetFunction");
  decltype(&cuLaunchKernel) launch_kernel = driver_entry<decltype(&cuLaunchKernel)>("cuLaunchKernel");
  decltype(&cuFuncSetAttribute) func_set_attribute =
      driver_entry<decltype(&cuFuncSetAttribute)>("cuFuncSetAttribute");
};
const Driver& driver() {
  static const Driver d;
  return d;
}

std::mutex module_mutex;
// (device, image) -> loaded module, and (module, kernel) -> function. Modules stay loaded
// for the life of the process, as the kernels compiled into the library do.
std::map<std::pair<int, std::string>, CUmodule> modules;
std::map<std::pair<CUmodule, std::string>, CUfunction> functions;

}  // namespace

void check_cu(CUresult r, const char* call) {
  if (r == CUDA_SUCCESS) return;
  const char* message = nullptr;
  if (driver().get_error_string(r, &message) != CUDA_SUCCESS || !message) message = "unknown error";
  throw std::runtime_error(std::string("[jit] ") + call + " failed: " + message + " (" + std::to_string(r) + ").");
}

std::string compile(const std::string& source, const std::string& name, bool contract_fma) {
  const std::vector<std::string> options = compile_options(contract_fma);
  const std::string key = cache_key(source, options);
  {
    std::lock_guard lock(cache_mutex);
    if (auto it = memory_cache.find(key); it != memory_cache.end()) return it->second;
  }
  const fs::path dir = cache_dir();
  const fs::path file = dir.empty() ? fs::path() : dir / (key + ".cubin");
  std::string image = file.empty() ? "" : read_cached(file);
  if (image.empty()) {
    image = run_nvrtc(source, name, options);  // outside the lock: compiles may overlap
    if (!file.empty()) write_cached(file, image);
  }
  std::lock_guard lock(cache_mutex);
  return memory_cache.emplace(key, std::move(image)).first->second;
}

CUfunction function(const std::string& image, const std::string& kernel) {
  int device = 0;
  LAZULI_CUDA_CHECK(cudaGetDevice(&device));
  // Makes the device's primary context (the runtime's) current in this thread, for the
  // driver calls here and the launch that follows.
  LAZULI_CUDA_CHECK(cudaSetDevice(device));
  std::lock_guard lock(module_mutex);
  CUmodule& module = modules[{device, image}];
  if (!module) {
    CUresult r = driver().module_load_data(&module, image.data());
    if (r != CUDA_SUCCESS) {
      modules.erase({device, image});
      check_cu(r, "cuModuleLoadData");
    }
  }
  CUfunction& f = functions[{module, kernel}];
  if (!f) {
    CUresult r = driver().module_get_function(&f, module, kernel.c_str());
    if (r != CUDA_SUCCESS) {
      functions.erase({module, kernel});
      check_cu(r, ("cuModuleGetFunction(" + kernel + ")").c_str());
    }
  }
  return f;
}

void launch(CUfunction f, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, void** args) {
  // Past 48 KiB of dynamic shared memory a kernel must opt in.
  if (shared_bytes > 48 * 1024)
    check_cu(driver().func_set_attribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                         static_cast<int>(shared_bytes)),
             "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
  check_cu(driver().launch_kernel(f, grid.x, grid.y, grid.z, block.x, block.y, block.z,
                                  static_cast<unsigned>(shared_bytes), reinterpret_cast<CUstream>(stream), args,
                                  nullptr),
           "cuLaunchKernel");
}

namespace detail {
size_t compile_count() { return compiles; }
void clear_memory_cache() {
  std::lock_guard lock(cache_mutex);
  memory_cache.clear();
}
}  // namespace detail

}  // namespace lazuli::cuda::jit
