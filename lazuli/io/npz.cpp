// NumPy's .npz: a zip archive of .npy members, stored or deflated (zlib).
#include <zlib.h>

#include <algorithm>
#include <limits>
#include <map>

#include "lazuli/io.h"
#include "lazuli/io/io_util.h"

namespace lazuli {
namespace io {
array npy_to_array(Bytes b, std::shared_ptr<const void> owner, const std::string& file);
std::string npy_bytes_header(const array& a);

namespace {

template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Raw deflate of `in` (no zlib header, as zip wants it).
std::string deflate_bytes(const std::string& header, const void* data, size_t n, const std::string& file) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    bad_file("savez_compressed", file, "zlib could not start");
  std::string out(deflateBound(&z, header.size() + n) + 64, '\0');
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(header.data()));
  z.avail_in = static_cast<uInt>(header.size());
  int rc = deflate(&z, Z_NO_FLUSH);
  z.next_in = static_cast<Bytef*>(const_cast<void*>(data));
  z.avail_in = static_cast<uInt>(n);
  rc = deflate(&z, Z_FINISH);
  size_t produced = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) bad_file("savez_compressed", file, "zlib failed to compress");
  out.resize(produced);
  return out;
}

}  // namespace
}  // namespace io

void savez(const std::string& file_, const ArrayMap& arrays, bool compressed) {
  const char* op = compressed ? "savez_compressed" : "savez";
  std::string file = io::with_extension(file_, ".npz");
  // Members in name order, so the same arrays always make the same archive.
  std::map<std::string, const array*> sorted;
  for (auto& [name, a] : arrays) sorted.emplace(name, &a);
  io::AtomicFile out(file, op);
  std::string central;
  for (auto& [name, a] : sorted) {
    array data = io::row_major(*a);
    std::string header = io::npy_bytes_header(data);
    uint64_t size = header.size() + data.nbytes();
    // zlib's stream counters are 32-bit; and ZIP64 writing is not implemented.
    if (size >= std::numeric_limits<uint32_t>::max() || out.written() >= std::numeric_limits<uint32_t>::max())
      io::bad_file(op, file, "archives over 4 GiB are not supported (array '" + name + "')");
    uLong crc = crc32_z(crc32_z(0L, reinterpret_cast<const Bytef*>(header.data()), header.size()),
                        static_cast<const Bytef*>(data.raw_data()), data.nbytes());
    std::string packed;
    if (compressed) packed = io::deflate_bytes(header, data.raw_data(), data.nbytes(), file);
    uint64_t csize = compressed ? packed.size() : size;
    std::string member = name + ".npy";
    uint32_t offset = static_cast<uint32_t>(out.written());
    uint16_t method = compressed ? 8 : 0;
    // Local header: version 2.0, no flags, DOS date 1980-01-01.
    std::string local;
    io::put<uint32_t>(local, 0x04034b50);
    io::put<uint16_t>(local, 20);
    io::put<uint16_t>(local, 0);
    io::put<uint16_t>(local, method);
    io::put<uint16_t>(local, 0);
    io::put<uint16_t>(local, 0x21);
    io::put<uint32_t>(local, static_cast<uint32_t>(crc));
    io::put<uint32_t>(local, static_cast<uint32_t>(csize));
    io::put<uint32_t>(local, static_cast<uint32_t>(size));
    io::put<uint16_t>(local, static_cast<uint16_t>(member.size()));
    io::put<uint16_t>(local, 0);
    local += member;
    out.write(local);
    if (compressed) {
      out.write(packed);
    } else {
      out.write(header);
      out.write(data.raw_data(), data.nbytes());
    }
    // Its central directory entry repeats the local header's fields and adds the offset.
    io::put<uint32_t>(central, 0x02014b50);
    io::put<uint16_t>(central, 20);
    central.append(local, 4, 26);
    io::put<uint16_t>(central, 0);  // comment length
    io::put<uint16_t>(central, 0);  // disk
    io::put<uint16_t>(central, 0);  // internal attributes
    io::put<uint32_t>(central, 0);  // external attributes
    io::put<uint32_t>(central, offset);
    central += member;
  }
  if (sorted.size() >= 0xFFFF) io::bad_file(op, file, "too many arrays for a zip archive without ZIP64");
  uint32_t cd_offset = static_cast<uint32_t>(out.written());
  std::string end;
  io::put<uint32_t>(end, 0x06054b50);
  io::put<uint32_t>(end, 0);
  io::put<uint16_t>(end, static_cast<uint16_t>(sorted.size()));
  io::put<uint16_t>(end, static_cast<uint16_t>(sorted.size()));
  io::put<uint32_t>(end, static_cast<uint32_t>(central.size()));
  io::put<uint32_t>(end, cd_offset);
  io::put<uint16_t>(end, 0);
  out.write(central);
  out.write(end);
  out.commit();
}

ArrayMap load_npz(const std::string& file, StreamOrDevice s) {
  auto m = io::map_file(file, "load npz");
  ArrayMap out;
  for (auto& e : io::parse_zip(m->bytes(), file)) {
    auto buffer = std::make_shared<std::vector<uint8_t>>();
    io::Bytes member = io::zip_member(m->bytes(), e, *buffer, file);
    std::string name = e.name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    std::shared_ptr<const void> owner = e.method == 0 ? std::shared_ptr<const void>(m) : buffer;
    array a = io::npy_to_array(member, owner, file + ":" + e.name);
    if (!out.emplace(name, a).second) io::bad_file("load npz", file, "duplicate member '" + e.name + "'");
  }
  return out;
}

}  // namespace lazuli
