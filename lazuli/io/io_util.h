// What the loaders and savers share: mapped input files, arrays viewing them, and output
// files that appear only once complete.
#pragma once
#include <cstdio>
#include <memory>
#include <string>

#include "lazuli/array.h"
#include "lazuli/io/formats.h"

namespace lazuli::io {

// A whole file mapped read-only (copy-on-write, so a stray write cannot reach the file).
struct Mapping {
  void* base = nullptr;
  size_t size = 0;
  ~Mapping();
  Bytes bytes() const { return {static_cast<const uint8_t*>(base), size}; }
};
std::shared_ptr<Mapping> map_file(const std::string& path, const std::string& format);

// The bytes at `data` as an array of `shape`: a view where the address suits the dtype
// (`owner`, the mapping or buffer holding them, lives as long as the array), else a copy.
array view_bytes(std::shared_ptr<const void> owner, const uint8_t* data, const Shape& shape, Dtype dtype);
// A fresh array holding a copy of row-major bytes.
array copy_bytes(const uint8_t* data, const Shape& shape, Dtype dtype);
array new_array(const Shape& shape, Dtype dtype);  // uninitialised, row-major
Shape to_shape(const std::vector<uint64_t>& dims);  // dims already checked to fit int32

// Writes to a temporary file beside `path`; commit() renames it into place. Destroyed
// without commit() (an exception), it removes the temporary file.
class AtomicFile {
 public:
  AtomicFile(const std::string& path, const std::string& format);
  ~AtomicFile();
  void write(const void* data, size_t n);
  void write(const std::string& s) { write(s.data(), s.size()); }
  uint64_t written() const { return written_; }
  void commit();

 private:
  std::string path_, tmp_, format_;
  FILE* f_ = nullptr;
  uint64_t written_ = 0;
};

// The row-major bytes of `a` (evaluated; copied first when not row-contiguous).
array row_major(const array& a);

// "name" plus `ext` unless it already ends with it (MLX's savers add the extension).
std::string with_extension(const std::string& file, const std::string& ext);

}  // namespace lazuli::io
