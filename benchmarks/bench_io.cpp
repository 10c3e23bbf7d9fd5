// File-format benchmarks: loading a 1 GB safetensors file and touching every tensor (a sum
// of each), against the hardware limit for a file in the page cache, plain read() of the
// same file into a buffer, measured back to back in this program. The file is made in
// /tmp, warmed into the page cache first, and deleted afterwards.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "lazuli/io.h"
#include "bench_util.h"
#include "lazuli/lazuli.h"

using namespace lazuli;

// A page-aligned buffer, faulted in. (read() copies into an unaligned buffer several times
// slower on this machine: the kernel's copy wants aligned destinations.)
struct Buffer {
  char* p;
  size_t n;
  explicit Buffer(size_t size) : p(static_cast<char*>(std::aligned_alloc(4096, (size + 4095) / 4096 * 4096))), n(size) {
    std::memset(p, 1, n);
  }
  ~Buffer() { std::free(p); }
  char* data() { return p; }
  size_t size() const { return n; }
};

// Reads the whole file with read() into `buf`.
static void read_all(const std::string& path, Buffer& buf) {
  int fd = open(path.c_str(), O_RDONLY);
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = read(fd, buf.data() + done, std::min<size_t>(buf.size() - done, 16 << 20));
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  if (done != buf.size()) std::abort();
}

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "";
  auto want = [&](const std::string& n) { return only.empty() || n.find(only) != std::string::npos; };
  if (!want("safetensors")) return 0;

  char tmpl[] = "/tmp/lazuli-bench-io-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/model.safetensors";
  // 64 float32 tensors of 4096 x 1024: 1 GiB, the size of a small model's weights.
  {
    ArrayMap weights;
    for (int i = 0; i < 64; ++i)
      weights.emplace("layers." + std::to_string(i) + ".weight", full({4096, 1024}, array(static_cast<float>(i) / 64)));
    save_safetensors(path, weights);
  }
  {
    // Flush it to disk now, so that writeback does not run during the measurements.
    int fd = open(path.c_str(), O_RDONLY);
    fsync(fd);
    close(fd);
  }
  size_t file_bytes = std::filesystem::file_size(path);
  Buffer buf(file_bytes);
  read_all(path, buf);  // into the page cache
  Buffer stream_buf(16 << 20);

  // The page-cache limit: the same bytes through read().
  report_bytes("safetensors 1GB: read() from page cache", median_ms([&] { read_all(path, buf); }, 7), file_bytes);
  // A stricter limit: streaming the page cache through one reused 16 MB buffer, which
  // stays in cache (the bytes are not kept, so this is not a load).
  report_bytes("safetensors 1GB: read() through a reused 16MB buffer", median_ms([&] {
           int fd = open(path.c_str(), O_RDONLY);
           while (read(fd, stream_buf.data(), stream_buf.size()) > 0) {
           }
           close(fd);
         }, 7), file_bytes);
  // Loading maps the file; summing each tensor touches every byte once.
  report_bytes("safetensors 1GB: load + sum each tensor", median_ms([&] {
           auto tensors = load_safetensors(path).first;
           std::vector<array> sums;
           for (auto& [name, t] : tensors) sums.push_back(sum(t));
           eval(sums);
         }, 7), file_bytes);
  // For reference: the same sums over the buffer read() filled, that is read() then compute.
  report_bytes("safetensors 1GB: read() + sum each tensor", median_ms([&] {
           read_all(path, buf);
           std::vector<array> sums;
           const size_t header = 8 + *reinterpret_cast<uint64_t*>(buf.data());
           for (int i = 0; i < 64; ++i) {
             array t(buf.data() + header + size_t(i) * (16u << 20), {4096, 1024}, float32, [](void*) {});
             sums.push_back(sum(t));
           }
           eval(sums);
         }, 7), file_bytes);

  // The loaded sums must be the values written (each tensor holds i/64 everywhere).
  auto tensors = load_safetensors(path).first;
  for (int i = 0; i < 64; ++i) {
    float got = sum(tensors.at("layers." + std::to_string(i) + ".weight")).item<float>();
    if (std::abs(got - i / 64.0f * 4096 * 1024) > 1e-5f * 4096 * 1024) std::abort();
  }
  tensors.clear();
  std::filesystem::remove_all(dir);
  return 0;
}
