// NumPy's .npz: a zip archive of .npy members, stored or deflated (zlib).
#include <zlib.h>

#include <algorithm>
#include <limits>
#include <map>

#include "lazuli/io.h"
#include "lazuli/io/io_util.h"

namespace lazuli {
namespace io {
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

void write_npz(Sink& out, const ArrayMap& arrays, bool compressed, const std::string& file) {
  const char* op = compressed ? "savez_compressed" : "savez";
  // Members in name order, so the same arrays always make the same archive.
  std::map<std::string, const array*> sorted;
  for (auto& [name, a] : arrays) sorted.emplace(name, &a);
  std::string central;
  for (auto& [name, a] : sorted) {
    array data = row_major(*a);
    std::string header = npy_bytes_header(data);
    uint64_t size = header.size() + data.nbytes();
    // zlib's stream counters are 32-bit; and ZIP64 writing is not implemented.
    if (size >= std::numeric_limits<uint32_t>::max() || out.written() >= std::numeric_limits<uint32_t>::max())
      bad_file(op, file, "archives over 4 GiB are not supported (array '" + name + "')");
    uLong crc = crc32_z(crc32_z(0L, reinterpret_cast<const Bytef*>(header.data()), header.size()),
                        static_cast<const Bytef*>(data.raw_data()), data.nbytes());
    std::string packed;
    if (compressed) packed = deflate_bytes(header, data.raw_data(), data.nbytes(), file);
    uint64_t csize = compressed ? packed.size() : size;
    std::string member = name + ".npy";
    uint32_t offset = static_cast<uint32_t>(out.written());
    uint16_t method = compressed ? 8 : 0;
    // Local header: version 2.0, no flags, DOS date 1980-01-01.
    std::string local;
    put<uint32_t>(local, 0x04034b50);
    put<uint16_t>(local, 20);
    put<uint16_t>(local, 0);
    put<uint16_t>(local, method);
    put<uint16_t>(local, 0);
    put<uint16_t>(local, 0x21);
    put<uint32_t>(local, static_cast<uint32_t>(crc));
    put<uint32_t>(local, static_cast<uint32_t>(csize));
    put<uint32_t>(local, static_cast<uint32_t>(size));
    put<uint16_t>(local, static_cast<uint16_t>(member.size()));
    put<uint16_t>(local, 0);
    local += member;
    out.write(local);
    if (compressed) {
      out.write(packed);
    } else {
      out.write(header);
      out.write(data.raw_data(), data.nbytes());
    }
    // Its central directory entry repeats the local header's fields and adds the offset.
    put<uint32_t>(central, 0x02014b50);
    put<uint16_t>(central, 20);
    central.append(local, 4, 26);
    put<uint16_t>(central, 0);  // comment length
    put<uint16_t>(central, 0);  // disk
    put<uint16_t>(central, 0);  // internal attributes
    put<uint32_t>(central, 0);  // external attributes
    put<uint32_t>(central, offset);
    central += member;
  }
  if (sorted.size() >= 0xFFFF) bad_file(op, file, "too many arrays for a zip archive without ZIP64");
  uint32_t cd_offset = static_cast<uint32_t>(out.written());
  std::string end;
  put<uint32_t>(end, 0x06054b50);
  put<uint32_t>(end, 0);
  put<uint16_t>(end, static_cast<uint16_t>(sorted.size()));
  put<uint16_t>(end, static_cast<uint16_t>(sorted.size()));
  put<uint32_t>(end, static_cast<uint32_t>(central.size()));
  put<uint32_t>(end, cd_offset);
  put<uint16_t>(end, 0);
  out.write(central);
  out.write(end);
}

ArrayMap read_npz(std::shared_ptr<const void> owner, Bytes b, const std::string& file) {
  ArrayMap out;
  for (auto& e : parse_zip(b, file)) {
    auto buffer = std::make_shared<std::vector<uint8_t>>();
    Bytes member = zip_member(b, e, *buffer, file);
    std::string name = e.name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    array a = read_npy(e.method == 0 ? owner : std::shared_ptr<const void>(buffer), member, file + ":" + e.name);
    if (!out.emplace(name, a).second) bad_file("load npz", file, "duplicate member '" + e.name + "'");
  }
  return out;
}

}  // namespace io

void savez(const std::string& file_, const ArrayMap& arrays, bool compressed) {
  std::string file = io::with_extension(file_, ".npz");
  io::AtomicFile out(file, compressed ? "savez_compressed" : "savez");
  io::write_npz(out, arrays, compressed, file);
  out.commit();
}

ArrayMap load_npz(const std::string& file, StreamOrDevice s) {
  auto m = io::map_file(file, "load npz");
  return io::read_npz(m, m->bytes(), file);
}

}  // namespace lazuli
