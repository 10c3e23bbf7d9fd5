// What the loaders and savers share: mapped input files, arrays viewing them, and output
// files that appear only once complete.
#pragma once
#include <cstdio>
#include <memory>
#include <string>

#include "lazuli/array.h"
#include "lazuli/io.h"
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

// Where the writers put their bytes.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(const void* data, size_t n) = 0;
  void write(const std::string& s) { write(s.data(), s.size()); }
  uint64_t written() const { return written_; }

 protected:
  uint64_t written_ = 0;
};

// Writes to a temporary file beside `path`; commit() renames it into place. Destroyed
// without commit() (an exception), it removes the temporary file.
class AtomicFile : public Sink {
 public:
  AtomicFile(const std::string& path, const std::string& format);
  ~AtomicFile() override;
  void write(const void* data, size_t n) override;
  using Sink::write;
  void commit();

 private:
  std::string path_, tmp_, format_;
  FILE* f_ = nullptr;
};

class MemorySink : public Sink {
 public:
  void write(const void* data, size_t n) override {
    bytes.append(static_cast<const char*>(data), n);
    written_ += n;
  }
  using Sink::write;
  std::string bytes;
};

// The formats over bytes in memory (`owner` keeps them alive for the arrays viewing them)
// and into any sink; `name` names the source in errors. The file functions of io.h map
// the file or write an AtomicFile and call these.
array read_npy(std::shared_ptr<const void> owner, Bytes b, const std::string& name);
ArrayMap read_npz(std::shared_ptr<const void> owner, Bytes b, const std::string& name);
SafetensorsLoad read_safetensors(std::shared_ptr<const void> owner, Bytes b, const std::string& name);
GGUFLoad read_gguf(std::shared_ptr<const void> owner, Bytes b, const std::string& name);
void write_npy(Sink& out, const array& a);
void write_npz(Sink& out, const ArrayMap& arrays, bool compressed, const std::string& name);
void write_safetensors(Sink& out, const ArrayMap& arrays, const StringMap& metadata, const std::string& name);
void write_gguf(Sink& out, const ArrayMap& arrays, const std::unordered_map<std::string, GGUFMetaData>& metadata,
                const std::string& name);

// The row-major bytes of `a` (evaluated; copied first when not row-contiguous).
array row_major(const array& a);

// "name" plus `ext` unless it already ends with it (MLX's savers add the extension).
std::string with_extension(const std::string& file, const std::string& ext);

}  // namespace lazuli::io
