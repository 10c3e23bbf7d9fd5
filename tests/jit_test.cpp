// The CUDA JIT (lazuli/backend/cuda/jit.h): NVRTC compilation and its caches. NVRTC needs
// no GPU, so these run with the CPU tests wherever the CUDA backend is built; launching is
// tested in gpu_jit_test.cpp.
#ifdef LAZULI_CUDA
#include "lazuli/backend/cuda/jit.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

namespace fs = std::filesystem;
namespace jit = lazuli::cuda::jit;

namespace {

// A kernel that includes Lazuli's math header and applies one of its functors.
const std::string kExpKernel = R"(
#include "lazuli/backend/common/math.h"
extern "C" __global__ void exp_kernel(const float* in, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = lazuli::math::Exp{}(in[i]);
}
)";

// Points LAZULI_KERNEL_CACHE at a fresh folder for the test's life, and restores it after.
class JitCache {
 public:
  JitCache() {
    const char* old = std::getenv("LAZULI_KERNEL_CACHE");
    if (old) old_ = old;
    dir_ = fs::temp_directory_path() / ("lazuli-jit-test-" + std::to_string(getpid()) + "-" + std::to_string(n_++));
    fs::remove_all(dir_);
    setenv("LAZULI_KERNEL_CACHE", dir_.c_str(), 1);
    jit::detail::clear_memory_cache();
  }
  ~JitCache() {
    if (old_) setenv("LAZULI_KERNEL_CACHE", old_->c_str(), 1);
    else unsetenv("LAZULI_KERNEL_CACHE");
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, ec);
    fs::remove_all(dir_, ec);
    jit::detail::clear_memory_cache();
  }
  const fs::path& dir() const { return dir_; }
  std::vector<fs::path> files() const {
    std::vector<fs::path> out;
    if (fs::exists(dir_))
      for (auto& e : fs::directory_iterator(dir_)) out.push_back(e.path());
    return out;
  }

 private:
  fs::path dir_;
  std::optional<std::string> old_;
  static inline int n_ = 0;
};

// A source unique to this process and call, so no earlier run's disk cache answers it.
std::string fresh(const std::string& source) {
  static int n = 0;
  return source + "// " + std::to_string(getpid()) + " " + std::to_string(n++) + "\n";
}

bool is_elf(const std::string& image) { return image.size() > 4 && image.compare(0, 4, "\x7f" "ELF") == 0; }

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST(Jit, CompilesKernelUsingMathHeader) {
  JitCache cache;
  std::string image = jit::compile(fresh(kExpKernel), "exp_kernel");
  EXPECT_TRUE(is_elf(image));
  // The kernel's extern "C" name is in the image's symbol table.
  EXPECT_NE(image.find("exp_kernel"), std::string::npos);
}

TEST(Jit, CudaHeadersAreFound) {
  JitCache cache;
  std::string source = fresh(R"(
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda/std/complex>
extern "C" __global__ void halves(__half* h, __nv_bfloat16* b, cuda::std::complex<float>* c) {
  h[0] = __float2half(1.5f); b[0] = __float2bfloat16(2.5f); c[0] = c[0] * c[0];
}
)");
  EXPECT_TRUE(is_elf(jit::compile(source, "halves")));
}

TEST(Jit, CompileErrorNamesKernelAndGivesLog) {
  JitCache cache;
  try {
    jit::compile(fresh("extern \"C\" __global__ void broken() { undeclared_thing = 1; }\n"), "my_broken_kernel");
    FAIL() << "expected a compile error";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("my_broken_kernel"), std::string::npos) << what;
    EXPECT_NE(what.find("undeclared_thing"), std::string::npos) << what;  // from NVRTC's log
  }
  EXPECT_TRUE(cache.files().empty());  // nothing cached for a failed compile
}

TEST(Jit, MemoryCacheReturnsSameImageWithoutCompiling) {
  JitCache cache;
  std::string source = fresh(kExpKernel);
  std::string first = jit::compile(source, "exp_kernel");
  size_t compiles = jit::detail::compile_count();
  std::string second = jit::compile(source, "exp_kernel");
  EXPECT_EQ(jit::detail::compile_count(), compiles);
  EXPECT_EQ(first, second);
  // A different source is a different program.
  jit::compile(fresh(kExpKernel), "exp_kernel");
  EXPECT_EQ(jit::detail::compile_count(), compiles + 1);
}

TEST(Jit, DiskCacheServesANewProcess) {
  JitCache cache;
  std::string source = fresh(kExpKernel);
  std::string first = jit::compile(source, "exp_kernel");
  auto files = cache.files();
  ASSERT_EQ(files.size(), 1u);  // LAZULI_KERNEL_CACHE honoured; no temporary left behind
  EXPECT_EQ(files[0].extension(), ".cubin");
  jit::detail::clear_memory_cache();  // as a new process starts
  size_t compiles = jit::detail::compile_count();
  EXPECT_EQ(jit::compile(source, "exp_kernel"), first);
  EXPECT_EQ(jit::detail::compile_count(), compiles);
}

TEST(Jit, CorruptCacheFilesAreRebuilt) {
  JitCache cache;
  std::string source = fresh(kExpKernel);
  std::string image = jit::compile(source, "exp_kernel");
  auto files = cache.files();
  ASSERT_EQ(files.size(), 1u);
  const fs::path file = files[0];
  const std::string whole = read_file(file);
  // Truncated (as a crash mid-write without the rename would leave it), one byte altered,
  // empty, and garbage: each is ignored, recompiled and replaced by a good file.
  std::string flipped = whole;
  flipped[flipped.size() / 2] ^= 0x40;
  for (const std::string& bad : {whole.substr(0, whole.size() / 2), flipped, std::string(), std::string("junk")}) {
    { std::ofstream(file, std::ios::binary | std::ios::trunc) << bad; }
    jit::detail::clear_memory_cache();
    size_t compiles = jit::detail::compile_count();
    EXPECT_EQ(jit::compile(source, "exp_kernel"), image);
    EXPECT_EQ(jit::detail::compile_count(), compiles + 1);
    EXPECT_EQ(read_file(file), whole);
  }
  EXPECT_EQ(cache.files().size(), 1u);
}

TEST(Jit, UnwritableCacheDirOnlyDisablesDiskCache) {
  JitCache cache;
  // A cache folder that cannot be made (its parent is a file; unlike a read-only folder,
  // this holds for root too) leaves compilation working, uncached on disk.
  fs::create_directories(cache.dir());
  { std::ofstream(cache.dir() / "file") << "x"; }
  setenv("LAZULI_KERNEL_CACHE", (cache.dir() / "file" / "sub").c_str(), 1);
  std::string source = fresh(kExpKernel);
  std::string image = jit::compile(source, "exp_kernel");
  EXPECT_TRUE(is_elf(image));
  EXPECT_EQ(cache.files().size(), 1u);  // only the file put there
  jit::detail::clear_memory_cache();
  size_t compiles = jit::detail::compile_count();
  EXPECT_EQ(jit::compile(source, "exp_kernel"), image);
  EXPECT_EQ(jit::detail::compile_count(), compiles + 1);
}
#endif  // LAZULI_CUDA
