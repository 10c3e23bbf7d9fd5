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

// Raw deflate (no zlib header, as zip wants it) of the header then the data, fed to zlib
// in pieces since its counters are 32-bit.
std::string deflate_bytes(const std::string& header, const void* data, size_t n, const std::string& file) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    bad_file("savez_compressed", file, "zlib could not start");
  std::string out(deflateBound(&z, header.size() + n) + 64, '\0');
  size_t produced = 0;
  constexpr size_t piece = size_t{1} << 30;
  const std::pair<const uint8_t*, size_t> inputs[2] = {
      {reinterpret_cast<const uint8_t*>(header.data()), header.size()}, {static_cast<const uint8_t*>(data), n}};
  int rc = Z_OK;
  for (int i = 0; i < 2; ++i) {
    auto [p, left] = inputs[i];
    do {
      uInt chunk = static_cast<uInt>(std::min(left, piece));
      z.next_in = const_cast<Bytef*>(p);
      z.avail_in = chunk;
      p += chunk;
      left -= chunk;
      int flush = i == 1 && left == 0 ? Z_FINISH : Z_NO_FLUSH;
      do {  // until zlib leaves room in the output: it has taken all the input
        if (out.size() - produced < (1 << 16)) out.resize(out.size() + out.size() / 2 + (1 << 20));
        uInt room = static_cast<uInt>(std::min(out.size() - produced, piece));
        z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        z.avail_out = room;
        rc = deflate(&z, flush);
        produced += room - z.avail_out;
      } while (z.avail_out == 0);
    } while (left > 0);
  }
  deflateEnd(&z);
  if (rc != Z_STREAM_END) bad_file("savez_compressed", file, "zlib failed to compress");
  out.resize(produced);
  return out;
}

}  // namespace

// Every member gets ZIP64 sizes (as NumPy's savez writes them), so archives and members
// of any size work, and the same code runs for small and large ones.
void write_npz(Sink& out, const ArrayMap& arrays, bool compressed, const std::string& file) {
  // Members in name order, so the same arrays always make the same archive.
  std::map<std::string, const array*> sorted;
  for (auto& [name, a] : arrays) sorted.emplace(name, &a);
  constexpr uint32_t u32_max = 0xFFFFFFFF;
  std::string central;
  for (auto& [name, a] : sorted) {
    array data = row_major(*a);
    std::string header = npy_bytes_header(data);
    uint64_t size = header.size() + data.nbytes();
    uLong crc = crc32_z(crc32_z(0L, reinterpret_cast<const Bytef*>(header.data()), header.size()),
                        static_cast<const Bytef*>(data.raw_data()), data.nbytes());
    std::string packed;
    if (compressed) packed = deflate_bytes(header, data.raw_data(), data.nbytes(), file);
    uint64_t csize = compressed ? packed.size() : size;
    std::string member = name + ".npy";
    uint64_t offset = out.written();
    // Local header: version 4.5 (ZIP64), no flags, DOS date 1980-01-01, sizes in the extra field.
    std::string fields;
    put<uint16_t>(fields, 45);
    put<uint16_t>(fields, 0);
    put<uint16_t>(fields, compressed ? 8 : 0);
    put<uint16_t>(fields, 0);
    put<uint16_t>(fields, 0x21);
    put<uint32_t>(fields, static_cast<uint32_t>(crc));
    put<uint32_t>(fields, u32_max);
    put<uint32_t>(fields, u32_max);
    put<uint16_t>(fields, static_cast<uint16_t>(member.size()));
    std::string local;
    put<uint32_t>(local, 0x04034b50);
    local += fields;
    put<uint16_t>(local, 20);  // extra field length
    local += member;
    put<uint16_t>(local, 0x0001);
    put<uint16_t>(local, 16);
    put<uint64_t>(local, size);
    put<uint64_t>(local, csize);
    out.write(local);
    if (compressed) {
      out.write(packed);
    } else {
      out.write(header);
      out.write(data.raw_data(), data.nbytes());
    }
    // Its central directory entry: the same fields, and the offset too in the extra field.
    put<uint32_t>(central, 0x02014b50);
    put<uint16_t>(central, 45);
    central += fields;
    put<uint16_t>(central, 28);  // extra field length
    put<uint16_t>(central, 0);   // comment length
    put<uint16_t>(central, 0);   // disk
    put<uint16_t>(central, 0);   // internal attributes
    put<uint32_t>(central, 0);   // external attributes
    put<uint32_t>(central, u32_max);
    central += member;
    put<uint16_t>(central, 0x0001);
    put<uint16_t>(central, 24);
    put<uint64_t>(central, size);
    put<uint64_t>(central, csize);
    put<uint64_t>(central, offset);
  }
  uint64_t cd_offset = out.written(), count = sorted.size();
  std::string end;
  // ZIP64 end of central directory record and its locator, then the classic record with
  // the fields that overflow saturated.
  put<uint32_t>(end, 0x06064b50);
  put<uint64_t>(end, 44);
  put<uint16_t>(end, 45);
  put<uint16_t>(end, 45);
  put<uint32_t>(end, 0);
  put<uint32_t>(end, 0);
  put<uint64_t>(end, count);
  put<uint64_t>(end, count);
  put<uint64_t>(end, central.size());
  put<uint64_t>(end, cd_offset);
  put<uint32_t>(end, 0x07064b50);
  put<uint32_t>(end, 0);
  put<uint64_t>(end, cd_offset + central.size());
  put<uint32_t>(end, 1);
  put<uint32_t>(end, 0x06054b50);
  put<uint32_t>(end, 0);
  put<uint16_t>(end, static_cast<uint16_t>(std::min<uint64_t>(count, 0xFFFF)));
  put<uint16_t>(end, static_cast<uint16_t>(std::min<uint64_t>(count, 0xFFFF)));
  put<uint32_t>(end, static_cast<uint32_t>(std::min<uint64_t>(central.size(), u32_max)));
  put<uint32_t>(end, static_cast<uint32_t>(std::min<uint64_t>(cd_offset, u32_max)));
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
