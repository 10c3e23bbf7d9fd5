// Reading zip archives (.npz): the central directory, ZIP64 records included, and stored or
// deflated members, checked against the archive's size and their CRC.
#include <zlib.h>

#include <algorithm>
#include <limits>

#include "lazuli/io/formats.h"

namespace lazuli::io {

namespace {
constexpr uint32_t sig_eocd = 0x06054b50, sig_eocd64 = 0x06064b50, sig_locator64 = 0x07064b50;
constexpr uint32_t sig_central = 0x02014b50, sig_local = 0x04034b50;
constexpr uint32_t u32_max = 0xFFFFFFFF;
// Deflate cannot expand data by more than about 1032:1; a larger claimed size is a lie.
constexpr uint64_t max_deflate_ratio = 1032;
}  // namespace

std::vector<ZipEntry> parse_zip(Bytes b, const std::string& file) {
  Cursor c(b, "load npz", file);
  if (b.size < 22) c.fail("truncated: too short for a zip archive");
  // The end-of-central-directory record sits at the end, before a comment of at most 64 KB.
  size_t eocd = std::string::npos;
  size_t lowest = b.size >= 22 + 65535 ? b.size - 22 - 65535 : 0;
  for (size_t p = b.size - 22 + 1; p-- > lowest;) {
    uint32_t s;
    std::memcpy(&s, b.data + p, 4);
    if (s == sig_eocd) { eocd = p; break; }
  }
  if (eocd == std::string::npos) c.fail("not a zip archive (no end of central directory record)");
  c.seek(eocd + 10, "the end of central directory");
  uint64_t count = c.read<uint16_t>("the entry count");
  uint64_t cd_size = c.read<uint32_t>("the central directory size");
  uint64_t cd_offset = c.read<uint32_t>("the central directory offset");
  if (count == 0xFFFF || cd_size == u32_max || cd_offset == u32_max) {
    if (eocd < 20) c.fail("truncated: the ZIP64 locator is missing");
    c.seek(eocd - 20, "the ZIP64 locator");
    if (c.read<uint32_t>("the ZIP64 locator") != sig_locator64) c.fail("the ZIP64 locator is missing");
    c.read<uint32_t>("the ZIP64 locator");
    uint64_t eocd64 = c.read<uint64_t>("the ZIP64 record offset");
    c.seek(eocd64, "the ZIP64 end of central directory");
    if (c.read<uint32_t>("the ZIP64 record") != sig_eocd64) c.fail("bad ZIP64 end of central directory record");
    c.take(20, "the ZIP64 record");
    c.read<uint64_t>("the ZIP64 record");
    count = c.read<uint64_t>("the ZIP64 entry count");
    cd_size = c.read<uint64_t>("the ZIP64 central directory size");
    cd_offset = c.read<uint64_t>("the ZIP64 central directory offset");
  }
  if (cd_offset > b.size || cd_size > b.size - cd_offset)
    c.fail("the central directory (offset " + std::to_string(cd_offset) + ", " + std::to_string(cd_size) +
           " bytes) runs past the end of the archive");
  if (count > cd_size / 46) c.fail("the entry count " + std::to_string(count) + " does not fit the central directory");

  std::vector<ZipEntry> entries;
  entries.reserve(count);
  c.seek(cd_offset, "the central directory");
  for (uint64_t i = 0; i < count; ++i) {
    if (c.read<uint32_t>("a central directory entry") != sig_central) c.fail("bad central directory entry");
    c.take(4, "a central directory entry");
    uint16_t flags = c.read<uint16_t>("an entry's flags");
    ZipEntry e;
    e.method = c.read<uint16_t>("an entry's method");
    c.take(4, "an entry's time");
    e.crc = c.read<uint32_t>("an entry's CRC");
    e.compressed_size = c.read<uint32_t>("an entry's size");
    e.size = c.read<uint32_t>("an entry's size");
    uint16_t name_len = c.read<uint16_t>("an entry's name length");
    uint16_t extra_len = c.read<uint16_t>("an entry's extra length");
    uint16_t comment_len = c.read<uint16_t>("an entry's comment length");
    c.take(8, "an entry's attributes");
    uint64_t local = c.read<uint32_t>("an entry's offset");
    const uint8_t* name = c.take(name_len, "an entry's name");
    e.name.assign(reinterpret_cast<const char*>(name), name_len);
    if (!valid_utf8(e.name)) c.fail("a member name is not valid UTF-8");
    Cursor extra({c.take(extra_len, "an entry's extra field"), extra_len}, "load npz", file);
    c.take(comment_len, "an entry's comment");
    while (extra.left() >= 4) {
      uint16_t id = extra.read<uint16_t>("an extra field");
      uint16_t len = extra.read<uint16_t>("an extra field");
      Cursor field({extra.take(len, "an extra field"), len}, "load npz", file);
      if (id != 0x0001) continue;  // ZIP64 sizes, each present only where the 32-bit one is saturated
      if (e.size == u32_max) e.size = field.read<uint64_t>("a ZIP64 size");
      if (e.compressed_size == u32_max) e.compressed_size = field.read<uint64_t>("a ZIP64 size");
      if (local == u32_max) local = field.read<uint64_t>("a ZIP64 offset");
    }
    if (flags & 1) c.fail("member '" + e.name + "' is encrypted");
    if (e.method != 0 && e.method != 8)
      c.fail("member '" + e.name + "' uses compression method " + std::to_string(e.method) + " (only stored and deflated are supported)");
    // The local header repeats the name and has its own extra field; the data follow it.
    Cursor lh(b, "load npz", file);
    lh.seek(local, "a member's local header");
    if (lh.read<uint32_t>("a local header") != sig_local) c.fail("bad local header of member '" + e.name + "'");
    lh.take(22, "a local header");
    uint64_t skip = uint64_t{lh.read<uint16_t>("a local header")} + lh.read<uint16_t>("a local header");
    lh.take(skip, "a local header's name and extra field");
    e.data_offset = lh.pos();
    if (e.compressed_size > lh.left())
      c.fail("member '" + e.name + "' claims " + std::to_string(e.compressed_size) + " bytes but the archive ends first");
    if (e.method == 0 && e.compressed_size != e.size) c.fail("stored member '" + e.name + "' has two different sizes");
    if (e.method == 8 && e.size / max_deflate_ratio > e.compressed_size + 1024)
      c.fail("member '" + e.name + "' claims an impossible size of " + std::to_string(e.size) + " bytes");
    entries.push_back(std::move(e));
  }
  return entries;
}

Bytes zip_member(Bytes archive, const ZipEntry& e, std::vector<uint8_t>& out, const std::string& file) {
  Bytes in{archive.data + e.data_offset, e.compressed_size};
  Bytes result = in;
  if (e.method == 8) {
    out.resize(e.size);
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) bad_file("load npz", file, "zlib could not start");
    z.next_in = const_cast<Bytef*>(in.data);
    z.next_out = out.data();
    uint64_t in_left = in.size, out_left = out.size();
    int rc = Z_OK;
    while (rc == Z_OK) {
      // zlib counts in 32-bit units; feed large members in pieces.
      uInt in_chunk = static_cast<uInt>(std::min<uint64_t>(in_left, 1u << 30));
      uInt out_chunk = static_cast<uInt>(std::min<uint64_t>(out_left, 1u << 30));
      z.avail_in = in_chunk;
      z.avail_out = out_chunk;
      rc = inflate(&z, Z_NO_FLUSH);
      in_left -= in_chunk - z.avail_in;
      out_left -= out_chunk - z.avail_out;
      if (rc == Z_BUF_ERROR && (in_left == 0 || out_left == 0)) break;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END || out_left != 0)
      bad_file("load npz", file, "member '" + e.name + "' is corrupt (its deflated data do not inflate to " +
                                     std::to_string(e.size) + " bytes)");
    result = {out.data(), out.size()};
  }
  uLong crc = crc32_z(0L, result.data, result.size);
  if (crc != e.crc) bad_file("load npz", file, "member '" + e.name + "' fails its CRC check");
  return result;
}

}  // namespace lazuli::io
