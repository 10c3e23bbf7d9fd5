// NumPy's .npy: one array, a text header then the raw elements.
#include <algorithm>
#include <cstring>

#include "lazuli/io.h"
#include "lazuli/io/io_util.h"
#include "lazuli/ops.h"

namespace lazuli {
namespace io {

array read_npy(std::shared_ptr<const void> owner, Bytes b, const std::string& file) {
  NpyHeader h = parse_npy(b, file);
  Shape shape = to_shape(h.shape);
  // A Fortran-order array is the row-major array of the reversed shape, transposed.
  if (h.fortran_order) std::reverse(shape.begin(), shape.end());
  const uint8_t* data = b.data + h.data_offset;
  auto make = [&] {
    if (!h.big_endian) return view_bytes(std::move(owner), data, shape, h.dtype);
    array a = copy_bytes(data, shape, h.dtype);
    uint8_t* p = static_cast<uint8_t*>(a.raw_data());
    size_t width = h.dtype.val == complex64.val ? 4 : h.dtype.size;  // each component swaps alone
    for (size_t i = 0; i < h.nbytes; i += width) std::reverse(p + i, p + i + width);
    return a;
  };
  array a = make();
  return h.fortran_order ? transpose(a) : a;
}

std::string npy_bytes_header(const array& a) {
  std::vector<uint64_t> dims(a.shape().begin(), a.shape().end());
  return npy_header(a.dtype(), dims);
}

void write_npy(Sink& out, const array& a) {
  array data = row_major(a);
  out.write(npy_bytes_header(data));
  out.write(data.raw_data(), data.nbytes());
}

}  // namespace io

void save(const std::string& file_, array a) {
  std::string file = io::with_extension(file_, ".npy");
  io::AtomicFile out(file, "save");
  io::write_npy(out, a);
  out.commit();
}

array load(const std::string& file, StreamOrDevice s) {
  auto m = io::map_file(file, "load npy");
  return io::read_npy(m, m->bytes(), file);
}

}  // namespace lazuli
