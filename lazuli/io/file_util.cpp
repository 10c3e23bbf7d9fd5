#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lazuli/device_memory.h"
#include "lazuli/io/io_util.h"
#include "lazuli/ops.h"

namespace lazuli::io {

Mapping::~Mapping() {
  if (base) munmap(base, size);
}

std::shared_ptr<Mapping> map_file(const std::string& path, const std::string& format) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) bad_file(format, path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    bad_file(format, path, "not a regular file");
  }
  auto m = std::make_shared<Mapping>();
  m->size = static_cast<size_t>(st.st_size);
  if (m->size) {
    void* p = mmap(nullptr, m->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      bad_file(format, path, std::string("cannot map: ") + std::strerror(errno));
    }
    m->base = p;
  }
  ::close(fd);  // the mapping keeps the file
  return m;
}

Shape to_shape(const std::vector<uint64_t>& dims) { return Shape(dims.begin(), dims.end()); }

array new_array(const Shape& shape, Dtype dtype) {
  auto buffer = allocator::malloc(shape_size(shape) * dtype.size);
  return array(buffer.ptr, shape, dtype, [buffer](void*) { allocator::free(buffer); });
}

array copy_bytes(const uint8_t* data, const Shape& shape, Dtype dtype) {
  array a = new_array(shape, dtype);
  if (a.nbytes()) std::memcpy(a.raw_data(), data, a.nbytes());
  return a;
}

array view_bytes(std::shared_ptr<const void> owner, const uint8_t* data, const Shape& shape, Dtype dtype) {
  if (reinterpret_cast<uintptr_t>(data) % dtype.size != 0) return copy_bytes(data, shape, dtype);
  return array(const_cast<uint8_t*>(data), shape, dtype, [owner = std::move(owner)](void*) {});
}

AtomicFile::AtomicFile(const std::string& path, const std::string& format) : path_(path), format_(format) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  tmp_ = dir + "/." + base + ".tmp.XXXXXX";
  int fd = mkstemp(tmp_.data());
  if (fd < 0) bad_file(format_, path_, std::string("cannot create a file in '") + dir + "': " + std::strerror(errno));
  // mkstemp makes the file private; give it the permissions a plain create would.
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  f_ = fdopen(fd, "wb");
  if (!f_) {
    ::close(fd);
    unlink(tmp_.c_str());
    bad_file(format_, path_, "cannot open the temporary file");
  }
}

AtomicFile::~AtomicFile() {
  if (f_) {
    fclose(f_);
    unlink(tmp_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t n) {
  if (n && fwrite(data, 1, n, f_) != n) bad_file(format_, path_, std::string("write failed: ") + std::strerror(errno));
  written_ += n;
}

void AtomicFile::commit() {
  int rc = fclose(f_);
  f_ = nullptr;
  if (rc != 0 || rename(tmp_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    unlink(tmp_.c_str());
    bad_file(format_, path_, std::string("cannot write the file: ") + std::strerror(err));
  }
}

array row_major(const array& a) {
  array out = a;
  out.eval();
  if (!out.flags().row_contiguous) {
    out = contiguous(out);
    out.eval();
  }
  return host_readable(out);  // device-only memory (DLPack imports) is copied to the host
}

std::string with_extension(const std::string& file, const std::string& ext) {
  if (file.size() >= ext.size() && file.compare(file.size() - ext.size(), ext.size(), ext) == 0) return file;
  return file + ext;
}

}  // namespace lazuli::io
