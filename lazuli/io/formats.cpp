// The shared pieces of the parsers (errors, cursor, sizes, JSON) and the .npy and
// safetensors headers.
#include "lazuli/io/formats.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace lazuli::io {

static_assert(std::endian::native == std::endian::little, "the file formats are little-endian");

bool valid_utf8(const std::string& s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (!len || i + len > n) return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // No overlong forms, surrogates or values past U+10FFFF.
    static constexpr uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || (cp >= 0xD800 && cp < 0xE000) || cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

namespace {
// Error messages quote names read from the file: escape what is not valid UTF-8 text.
std::string printable(const std::string& s) {
  if (valid_utf8(s)) return s;
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}
}  // namespace

void bad_file(const std::string& format, const std::string& file, const std::string& problem) {
  throw std::invalid_argument(printable("[" + format + "] " + (file.empty() ? "" : "'" + file + "': ") + problem));
}

void Cursor::seek(size_t p, const char* what) {
  if (p > b_.size)
    fail(std::string(what) + " at offset " + std::to_string(p) + " is past the end of the file (" +
         std::to_string(b_.size) + " bytes)");
  pos_ = p;
}

const uint8_t* Cursor::take(size_t n, const char* what) {
  if (n > left())
    fail("truncated: " + std::string(what) + " needs " + std::to_string(n) + " bytes at offset " +
         std::to_string(pos_) + " but only " + std::to_string(left()) + " remain");
  const uint8_t* p = b_.data + pos_;
  pos_ += n;
  return p;
}

uint64_t checked_nbytes(const std::vector<uint64_t>& dims, uint64_t itemsize, uint64_t limit, const Cursor& c,
                        const std::string& tensor) {
  constexpr size_t max_ndim = 64;
  if (dims.size() > max_ndim)
    c.fail("tensor '" + tensor + "' has " + std::to_string(dims.size()) + " dimensions (at most " +
           std::to_string(max_ndim) + " are supported)");
  for (uint64_t d : dims)
    if (d > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
      c.fail("tensor '" + tensor + "' has a dimension of " + std::to_string(d) + " (more than 2^31 - 1)");
  if (std::find(dims.begin(), dims.end(), 0) != dims.end()) return 0;
  uint64_t n = itemsize;
  for (uint64_t d : dims)
    if (__builtin_mul_overflow(n, d, &n) || n > limit) n = std::numeric_limits<uint64_t>::max();
  if (n > limit)
    c.fail("tensor '" + tensor + "' needs more bytes than the file holds (" + std::to_string(limit) + " available)");
  return n;
}

// ---- JSON ------------------------------------------------------------------------------------

const Json* Json::find(const std::string& key) const {
  for (auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}

namespace {

class JsonParser {
 public:
  JsonParser(Bytes b, const std::string& format, const std::string& file) : c_(b, format, file), b_(b) {}
  Json document() {
    Json v = value(0);
    skip_space();
    if (c_.left() != 0) c_.fail("JSON: unexpected text after the value at offset " + std::to_string(c_.pos()));
    return v;
  }

 private:
  static constexpr int max_depth = 64;
  // Each value costs about 100 bytes parsed: a cap keeps a hostile 100 MB header of tiny
  // values from costing gigabytes. (A checkpoint of 100k tensors needs about 1M values.)
  static constexpr size_t max_values = 10'000'000;
  size_t values_ = 0;
  Cursor c_;
  Bytes b_;

  void skip_space() {
    while (c_.left() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) c_.take(1, "");
  }
  char peek() { return static_cast<char>(b_.data[c_.pos()]); }
  char next(const char* what) { return static_cast<char>(*c_.take(1, what)); }
  void expect(char ch) {
    skip_space();
    char got = next("JSON");
    if (got != ch) c_.fail(std::string("JSON: expected '") + ch + "' at offset " + std::to_string(c_.pos() - 1));
  }
  void literal(const char* word) {
    for (const char* p = word; *p; ++p)
      if (next("JSON") != *p) c_.fail("JSON: invalid literal at offset " + std::to_string(c_.pos() - 1));
  }

  Json value(int depth) {
    if (depth > max_depth) c_.fail("JSON: nested more than " + std::to_string(max_depth) + " levels deep");
    if (++values_ > max_values) c_.fail("JSON: more than " + std::to_string(max_values) + " values");
    skip_space();
    if (!c_.left()) c_.fail("truncated: JSON value expected at the end");
    Json v;
    char ch = peek();
    if (ch == '{') {
      v.kind = Json::Kind::object;
      c_.take(1, "");
      skip_space();
      if (c_.left() && peek() == '}') { c_.take(1, ""); return v; }
      while (true) {
        skip_space();
        if (!c_.left() || peek() != '"') c_.fail("JSON: expected a key string at offset " + std::to_string(c_.pos()));
        std::string key = string();
        if (v.find(key)) c_.fail("JSON: duplicate key \"" + key + "\"");
        expect(':');
        v.members.push_back({std::move(key), value(depth + 1)});
        skip_space();
        char sep = next("JSON");
        if (sep == '}') break;
        if (sep != ',') c_.fail("JSON: expected ',' or '}' at offset " + std::to_string(c_.pos() - 1));
      }
    } else if (ch == '[') {
      v.kind = Json::Kind::array;
      c_.take(1, "");
      skip_space();
      if (c_.left() && peek() == ']') { c_.take(1, ""); return v; }
      while (true) {
        v.items.push_back(value(depth + 1));
        skip_space();
        char sep = next("JSON");
        if (sep == ']') break;
        if (sep != ',') c_.fail("JSON: expected ',' or ']' at offset " + std::to_string(c_.pos() - 1));
      }
    } else if (ch == '"') {
      v.kind = Json::Kind::string;
      v.text = string();
    } else if (ch == 't') {
      literal("true");
      v.kind = Json::Kind::boolean;
      v.boolean = true;
    } else if (ch == 'f') {
      literal("false");
      v.kind = Json::Kind::boolean;
    } else if (ch == 'n') {
      literal("null");
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
      v.kind = Json::Kind::number;
      v.text = number();
    } else {
      c_.fail("JSON: unexpected character at offset " + std::to_string(c_.pos()));
    }
    return v;
  }

  std::string number() {
    size_t start = c_.pos();
    auto digits = [&] {
      size_t n = 0;
      while (c_.left() && peek() >= '0' && peek() <= '9') c_.take(1, ""), ++n;
      if (!n) c_.fail("JSON: malformed number at offset " + std::to_string(start));
    };
    if (peek() == '-') c_.take(1, "");
    digits();
    if (c_.left() && peek() == '.') c_.take(1, ""), digits();
    if (c_.left() && (peek() == 'e' || peek() == 'E')) {
      c_.take(1, "");
      if (c_.left() && (peek() == '+' || peek() == '-')) c_.take(1, "");
      digits();
    }
    return std::string(reinterpret_cast<const char*>(b_.data) + start, c_.pos() - start);
  }

  uint32_t hex4() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = next("JSON \\u escape");
      v <<= 4;
      if (h >= '0' && h <= '9') v |= h - '0';
      else if (h >= 'a' && h <= 'f') v |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') v |= h - 'A' + 10;
      else c_.fail("JSON: bad \\u escape at offset " + std::to_string(c_.pos() - 1));
    }
    return v;
  }

  static void put_utf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string string() {
    c_.take(1, "");  // the opening quote
    std::string s;
    while (true) {
      char ch = next("JSON string");
      if (ch == '"') {
        if (!valid_utf8(s)) c_.fail("JSON: a string is not valid UTF-8");
        return s;
      }
      if (static_cast<unsigned char>(ch) < 0x20) c_.fail("JSON: control character in a string at offset " + std::to_string(c_.pos() - 1));
      if (ch != '\\') { s += ch; continue; }
      char e = next("JSON string escape");
      switch (e) {
        case '"': s += '"'; break;
        case '\\': s += '\\'; break;
        case '/': s += '/'; break;
        case 'b': s += '\b'; break;
        case 'f': s += '\f'; break;
        case 'n': s += '\n'; break;
        case 'r': s += '\r'; break;
        case 't': s += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
            if (next("JSON string") != '\\' || next("JSON string") != 'u') c_.fail("JSON: unpaired surrogate");
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) c_.fail("JSON: unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(s, cp);
          break;
        }
        default: c_.fail("JSON: bad escape at offset " + std::to_string(c_.pos() - 1));
      }
    }
  }
};

}  // namespace

Json parse_json(Bytes b, const std::string& format, const std::string& file) {
  return JsonParser(b, format, file).document();
}

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"') out += "\\\"";
    else if (ch == '\\') out += "\\\\";
    else if (ch < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else out += static_cast<char>(ch);
  }
  return out + "\"";
}

// ---- .npy ----------------------------------------------------------------------------------------

namespace {

struct DescrEntry {
  const char* code;  // kind and size, after the byte-order character
  Dtype dtype;
};
// bfloat16 has no NumPy type: MLX writes it as two raw bytes ('V2'), and so do we.
constexpr DescrEntry descr_table[] = {
    {"b1", bool_},   {"u1", uint8},   {"u2", uint16},  {"u4", uint32},  {"u8", uint64},
    {"i1", int8},    {"i2", int16},   {"i4", int32},   {"i8", int64},   {"f2", float16},
    {"f4", float32}, {"f8", float64}, {"V2", bfloat16}, {"c8", complex64},
};

// The Python dict literal of a .npy header: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class NpyDictParser {
 public:
  NpyDictParser(const std::string& text, const Cursor& c) : s_(text), c_(c) {}
  void parse(std::string& descr, bool& fortran, std::vector<uint64_t>& shape) {
    bool seen[3] = {false, false, false};
    expect('{');
    while (true) {
      space();
      if (peek() == '}') { ++i_; break; }
      std::string key = quoted();
      expect(':');
      space();
      if (key == "descr") {
        descr = quoted();
        seen[0] = true;
      } else if (key == "fortran_order") {
        if (s_.compare(i_, 4, "True") == 0) fortran = true, i_ += 4;
        else if (s_.compare(i_, 5, "False") == 0) fortran = false, i_ += 5;
        else fail("fortran_order is neither True nor False");
        seen[1] = true;
      } else if (key == "shape") {
        expect('(');
        while (true) {
          space();
          if (peek() == ')') { ++i_; break; }
          shape.push_back(integer());
          space();
          if (peek() == ',') ++i_;
          else if (peek() != ')') fail("malformed shape tuple");
          if (shape.size() > 64) fail("the shape has more than 64 dimensions");
        }
        seen[2] = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      space();
      if (peek() == ',') ++i_;
      else if (peek() != '}') fail("expected ',' or '}'");
    }
    for (char ch : s_.substr(i_))
      if (ch != ' ' && ch != '\n' && ch != '\0') fail("unexpected text after the header dict");
    if (!seen[0] || !seen[1] || !seen[2]) fail("the header lacks one of 'descr', 'fortran_order', 'shape'");
  }

 private:
  const std::string& s_;
  const Cursor& c_;
  size_t i_ = 0;
  [[noreturn]] void fail(const std::string& m) { c_.fail("malformed header: " + m); }
  char peek() { return i_ < s_.size() ? s_[i_] : '\0'; }
  void space() {
    while (peek() == ' ') ++i_;
  }
  void expect(char ch) {
    space();
    if (peek() != ch) fail(std::string("expected '") + ch + "'");
    ++i_;
  }
  std::string quoted() {
    space();
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return out;
  }
  uint64_t integer() {
    size_t start = i_;
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (v > (uint64_t{1} << 40)) fail("a dimension is too large");
      v = v * 10 + (s_[i_++] - '0');
    }
    if (i_ == start) fail("expected a dimension");
    if (peek() == 'L') ++i_;  // Python 2 longs
    return v;
  }
};

}  // namespace

NpyHeader parse_npy(Bytes b, const std::string& file) {
  Cursor c(b, "load npy", file);
  const uint8_t* magic = c.take(8, "the magic string and version");
  if (std::memcmp(magic, "\x93NUMPY", 6) != 0) c.fail("not a .npy file (bad magic string)");
  uint8_t major = magic[6];
  if (major < 1 || major > 3) c.fail("unsupported .npy version " + std::to_string(major));
  size_t header_len = major == 1 ? c.read<uint16_t>("the header length") : c.read<uint32_t>("the header length");
  if (header_len > c.left())
    c.fail("the header length " + std::to_string(header_len) + " runs past the end of the file");
  const uint8_t* text = c.take(header_len, "the header");
  std::string header(reinterpret_cast<const char*>(text), header_len);

  NpyHeader h;
  std::string descr;
  NpyDictParser(header, c).parse(descr, h.fortran_order, h.shape);
  if (descr.size() < 3) c.fail("unsupported dtype '" + descr + "'");
  char order = descr[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') c.fail("unsupported dtype '" + descr + "'");
  bool found = false;
  for (auto& e : descr_table)
    if (descr.compare(1, std::string::npos, e.code) == 0) h.dtype = e.dtype, found = true;
  if (!found) c.fail("unsupported dtype '" + descr + "'");
  h.big_endian = order == '>' && h.dtype.size > 1;
  h.data_offset = c.pos();
  h.nbytes = checked_nbytes(h.shape, h.dtype.size, c.left(), c, "array");
  return h;
}

std::string npy_header(Dtype dtype, const std::vector<uint64_t>& shape) {
  std::string descr;
  for (auto& e : descr_table)
    if (e.dtype.val == dtype.val) descr = std::string(dtype.size == 1 ? "|" : "<") + e.code;
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dict += ",";
  dict += "), }";
  // NumPy pads the header with spaces so that the data start on a 64-byte boundary.
  bool v1 = dict.size() + 11 < 65536;
  size_t prefix = v1 ? 10 : 12;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(v1 ? 1 : 2);
  out += '\0';
  uint32_t len = static_cast<uint32_t>(dict.size());
  out.append(reinterpret_cast<const char*>(&len), v1 ? 2 : 4);
  return out + dict;
}

// ---- safetensors -------------------------------------------------------------------------

namespace {
struct StEntry {
  const char* name;
  Dtype dtype;
};
constexpr StEntry st_table[] = {
    {"BOOL", bool_},  {"U8", uint8},    {"U16", uint16},   {"U32", uint32},  {"U64", uint64},
    {"I8", int8},     {"I16", int16},   {"I32", int32},    {"I64", int64},   {"F16", float16},
    {"F32", float32}, {"F64", float64}, {"BF16", bfloat16}, {"C64", complex64},
};

uint64_t json_uint(const Json& j, const Cursor& c, const std::string& what) {
  if (j.kind != Json::Kind::number || j.text.empty() || j.text.size() > 19 ||
      j.text.find_first_not_of("0123456789") != std::string::npos)
    c.fail(what + " is not a non-negative integer");
  return std::stoull(j.text);
}
}  // namespace

const char* safetensors_dtype_name(Dtype t) {
  for (auto& e : st_table)
    if (e.dtype.val == t.val) return e.name;
  return "";
}

SafetensorsHeader parse_safetensors(Bytes b, const std::string& file) {
  Cursor c(b, "load_safetensors", file);
  uint64_t header_len = c.read<uint64_t>("the header length");
  constexpr uint64_t max_header = 100 << 20;  // the reference implementation's limit
  if (header_len > c.left())
    c.fail("the header length " + std::to_string(header_len) + " runs past the end of the file (" +
           std::to_string(b.size) + " bytes)");
  if (header_len > max_header) c.fail("the header is larger than 100 MB");
  Json j = parse_json({c.take(header_len, "the header"), header_len}, "load_safetensors", file);
  if (j.kind != Json::Kind::object) c.fail("the header is not a JSON object");
  const uint64_t data_start = c.pos(), data_size = c.left();

  SafetensorsHeader h;
  for (auto& [name, t] : j.members) {
    if (name == "__metadata__") {
      if (t.kind == Json::Kind::null) continue;  // what MLX writes for no metadata
      if (t.kind != Json::Kind::object) c.fail("__metadata__ is not an object");
      for (auto& [k, v] : t.members) {
        if (v.kind != Json::Kind::string) c.fail("__metadata__ value of '" + k + "' is not a string");
        h.metadata.emplace_back(k, v.text);
      }
      continue;
    }
    if (t.kind != Json::Kind::object) c.fail("the entry of tensor '" + name + "' is not an object");
    const Json *dtype = t.find("dtype"), *shape = t.find("shape"), *offsets = t.find("data_offsets");
    if (!dtype || !shape || !offsets) c.fail("tensor '" + name + "' lacks one of dtype, shape, data_offsets");
    TensorInfo info;
    info.name = name;
    if (dtype->kind != Json::Kind::string) c.fail("the dtype of tensor '" + name + "' is not a string");
    bool found = false;
    for (auto& e : st_table)
      if (dtype->text == e.name) info.dtype = e.dtype, found = true;
    if (!found) c.fail("tensor '" + name + "' has unsupported dtype '" + dtype->text + "'");
    if (shape->kind != Json::Kind::array) c.fail("the shape of tensor '" + name + "' is not a list");
    for (auto& d : shape->items) info.shape.push_back(json_uint(d, c, "a dimension of tensor '" + name + "'"));
    if (offsets->kind != Json::Kind::array || offsets->items.size() != 2)
      c.fail("data_offsets of tensor '" + name + "' is not a pair");
    uint64_t begin = json_uint(offsets->items[0], c, "data_offsets of '" + name + "'");
    uint64_t end = json_uint(offsets->items[1], c, "data_offsets of '" + name + "'");
    if (begin > end || end > data_size)
      c.fail("tensor '" + name + "' has data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
             "] outside the " + std::to_string(data_size) + " bytes of data");
    info.nbytes = checked_nbytes(info.shape, info.dtype.size, data_size, c, name);
    if (info.nbytes != end - begin)
      c.fail("tensor '" + name + "' has " + std::to_string(end - begin) + " bytes of data but its shape and dtype need " +
             std::to_string(info.nbytes));
    info.offset = data_start + begin;
    h.tensors.push_back(std::move(info));
  }
  // No two tensors may share bytes.
  std::vector<const TensorInfo*> by_offset;
  for (auto& t : h.tensors)
    if (t.nbytes) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->offset < by_offset[i - 1]->offset + by_offset[i - 1]->nbytes)
      c.fail("tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
  return h;
}

}  // namespace lazuli::io
