// File formats from C++: round trips of every dtype through .npy, .npz, safetensors and
// GGUF, metadata, sharded checkpoints, memory-mapped loading, malformed files and atomic
// saves. (Files written by NumPy, safetensors and gguf are checked in python/tests/test_io.py.)
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "lazuli/io.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::contains;
using lazuli::test::error_of;
namespace fs = std::filesystem;

namespace {

const Dtype all_dtypes[] = {bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
                            float16, bfloat16, float32, float64, complex64};

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/lazuli-io-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  bool has_temp_files() const {
    for (auto& e : fs::directory_iterator(path))
      if (contains(e.path().filename().string(), ".tmp.")) return true;
    return false;
  }
};

array sample(Dtype dt, Shape shape) {
  array a = reshape(astype(arange(0.0, static_cast<double>(shape_size(shape))) * 0.75 - 3.0, dt), shape);
  a.eval();
  return a;
}

// Byte-for-byte equality of dtype, shape and elements.
void expect_same(const array& got, const array& want) {
  ASSERT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(got.shape(), want.shape());
  array g = contiguous(got), w = contiguous(want);
  g.eval();
  w.eval();
  EXPECT_EQ(std::memcmp(g.raw_data(), w.raw_data(), g.nbytes()), 0);
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(Io, NpyRoundTripEveryDtypeAndShape) {
  TempDir d;
  for (Dtype dt : all_dtypes)
    for (Shape shape : {Shape{}, Shape{0}, Shape{5}, Shape{2, 3}, Shape{2, 0, 4}, Shape{2, 3, 4}}) {
      array a = sample(dt, shape);
      save(d / "a.npy", a);
      expect_same(load(d / "a.npy"), a);
    }
  save(d / "noext", arange(3));  // the extension is added
  expect_same(load(d / "noext.npy"), arange(3));
}

TEST(Io, NpyNonContiguousAndFortran) {
  TempDir d;
  array base = sample(float32, {4, 6});
  for (array v : {transpose(base), slice(base, {0, 1}, {4, 6}, {2, 2}), broadcast_to(arange(3), {2, 3})}) {
    save(d / "v.npy", v);
    expect_same(load(d / "v.npy"), v);
  }
  // A Fortran-order file: the data of the transposed shape, column-major.
  std::string header = "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string file = std::string("\x93NUMPY\x01\x00", 8) + std::string(1, char(header.size())) + '\0' + header;
  int16_t col_major[] = {0, 3, 1, 4, 2, 5};
  file.append(reinterpret_cast<const char*>(col_major), sizeof col_major);
  write_file(d / "f.npy", file);
  expect_same(load(d / "f.npy"), reshape(astype(arange(6), int16), {2, 3}));
}

TEST(Io, NpzRoundTripStoredAndCompressed) {
  TempDir d;
  ArrayMap arrays;
  for (Dtype dt : all_dtypes) arrays.emplace(dtype_name(dt), sample(dt, {3, 4}));
  arrays.emplace("empty", zeros({0}));
  arrays.emplace("scalar", array(2.5f));
  for (bool compressed : {false, true}) {
    savez(d / "a", arrays, compressed);
    ArrayMap loaded = load_npz(d / "a.npz");
    ASSERT_EQ(loaded.size(), arrays.size());
    for (auto& [k, v] : arrays) expect_same(loaded.at(k), v);
  }
  // Compressing repetitive data shrinks the archive.
  savez(d / "z", {{"z", zeros({100000})}}, true);
  EXPECT_LT(fs::file_size(d / "z.npz"), 10000u);
}

TEST(Io, SafetensorsRoundTripWithMetadata) {
  TempDir d;
  ArrayMap arrays;
  for (Dtype dt : all_dtypes) arrays.emplace(dtype_name(dt), sample(dt, {2, 5}));
  arrays.emplace("scalar", array(1.0f));
  arrays.emplace("transposed", transpose(sample(float32, {3, 4})));
  save_safetensors(d / "a", arrays, {{"format", "mlx"}, {"quote", "\"\\\n"}});
  auto [loaded, meta] = load_safetensors(d / "a.safetensors");
  ASSERT_EQ(loaded.size(), arrays.size());
  for (auto& [k, v] : arrays) expect_same(loaded.at(k), v);
  EXPECT_EQ(meta.at("format"), "mlx");
  EXPECT_EQ(meta.at("quote"), "\"\\\n");
}

TEST(Io, SafetensorsLoadsByMappingTheFile) {
  TempDir d;
  array big = ones({1024, 1024});
  save_safetensors(d / "m.safetensors", {{"big", big}, {"small", arange(4)}});
  size_t before = get_active_memory();
  auto loaded = load_safetensors(d / "m.safetensors").first;
  EXPECT_LT(get_active_memory() - before, 4096u);  // views into the mapping, no copies
  EXPECT_EQ(sum(loaded.at("big")).item<float>(), 1024.0f * 1024.0f);
  array small = loaded.at("small");
  loaded.clear();  // the mapping stays while an array uses it
  expect_same(small, arange(4));
}

TEST(Io, ShardedCheckpoint) {
  TempDir d;
  save_safetensors(d / "model-00001-of-00002.safetensors", {{"a", arange(3)}, {"b", ones({2})}}, {{"format", "pt"}});
  save_safetensors(d / "model-00002-of-00002.safetensors", {{"c", zeros({4})}});
  write_file(d / "model.safetensors.index.json",
             R"({"metadata": {"total_size": 36}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                 "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}})");
  for (auto path : {d.path.string(), d / "model.safetensors.index.json"}) {
    auto [arrays, meta] = load_sharded_safetensors(path);
    ASSERT_EQ(arrays.size(), 3u);
    expect_same(arrays.at("a"), arange(3));
    expect_same(arrays.at("c"), zeros({4}));
    EXPECT_EQ(meta.at("total_size"), "36");
    EXPECT_EQ(meta.at("format"), "pt");
  }
  write_file(d / "bad.json", R"({"weight_map": {"a": "../../etc/passwd"}})");
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { load_sharded_safetensors(d / "bad.json"); }),
                       "not a file beside the index"));
}

TEST(Io, GgufRoundTripWithMetadata) {
  TempDir d;
  ArrayMap arrays;
  for (Dtype dt : {float32, float16, bfloat16, float64, int8, int16, int32, int64})
    arrays.emplace(dtype_name(dt), sample(dt, {3, 4}));
  arrays.emplace("scalar", array(2.0f));
  std::unordered_map<std::string, GGUFMetaData> meta = {
      {"name", std::string("tiny")},
      {"tags", std::vector<std::string>{"a", "b"}},
      {"layers", array(4u)},
      {"eps", array(1e-5)},
      {"flag", array(true)},
      {"ids", array({1, 2, 3})},
  };
  save_gguf(d / "g", arrays, meta);
  auto [loaded, m] = load_gguf(d / "g.gguf");
  for (auto& [k, v] : arrays) expect_same(loaded.at(k), v);
  EXPECT_EQ(std::get<std::string>(m.at("name")), "tiny");
  EXPECT_EQ(std::get<std::vector<std::string>>(m.at("tags")), (std::vector<std::string>{"a", "b"}));
  for (auto key : {"layers", "eps", "flag", "ids"}) expect_same(std::get<array>(m.at(key)), std::get<array>(meta.at(key)));

  auto err = error_of<std::invalid_argument>([&] { save_gguf(d / "u.gguf", {{"u", zeros({2}, uint32)}}); });
  EXPECT_TRUE(contains(err, "uint32")) << err;
  EXPECT_FALSE(fs::exists(d / "u.gguf"));
}

TEST(Io, GgufQuantizedBlocks) {
  // One Q8_0 block and one Q4_0 block made by hand: scale 0.5, values known.
  TempDir d;
  auto tensor_info = [](std::string& h, const std::string& name, uint64_t n, uint32_t type, uint64_t offset) {
    uint64_t len = name.size();
    uint32_t ndim = 1;
    h.append(reinterpret_cast<char*>(&len), 8) += name;
    h.append(reinterpret_cast<char*>(&ndim), 4).append(reinterpret_cast<char*>(&n), 8);
    h.append(reinterpret_cast<char*>(&type), 4).append(reinterpret_cast<char*>(&offset), 8);
  };
  std::string h("GGUF\x03\0\0\0", 8);
  uint64_t counts[2] = {2, 0};
  h.append(reinterpret_cast<char*>(counts), 16);
  tensor_info(h, "q8.weight", 32, 8, 0);
  tensor_info(h, "q4.weight", 32, 2, 64);
  h.append((32 - h.size() % 32) % 32, '\0');
  std::string q8("\x00\x38", 2);  // float16 0.5
  for (int i = 0; i < 32; ++i) q8 += static_cast<char>(static_cast<int8_t>(i - 16));
  q8.append(64 - q8.size(), '\0');
  std::string q4("\x00\x38", 2);
  for (int j = 0; j < 16; ++j) q4 += static_cast<char>((j & 0xF) | ((15 - j) << 4));  // element j: j, j+16: 15-j
  write_file(d / "q.gguf", h + q8 + q4);
  ArrayMap a = load_gguf(d / "q.gguf").first;
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a.at("q8.weight").shape(), (Shape{8}));
  EXPECT_EQ(a.at("q4.weight").shape(), (Shape{4}));
  expect_same(a.at("q8.scales"), array({0.5f}, float16));
  expect_same(a.at("q8.biases"), array({-64.0f}, float16));
  expect_same(a.at("q4.biases"), array({-4.0f}, float16));
  // Unpack the words and dequantize: element i of the group at bits (i*bits)%32.
  auto words = lazuli::test::to_vector<uint32_t>(a.at("q8.weight"));
  for (int i = 0; i < 32; ++i) {
    uint32_t q = (words[i / 4] >> (8 * (i % 4))) & 0xFF;
    EXPECT_EQ(q * 0.5f - 64.0f, (i - 16) * 0.5f) << i;
  }
  words = lazuli::test::to_vector<uint32_t>(a.at("q4.weight"));
  for (int i = 0; i < 32; ++i) {
    uint32_t q = (words[i / 8] >> (4 * (i % 8))) & 0xF;
    int expected = i < 16 ? i : 15 - (i - 16);
    EXPECT_EQ(static_cast<int>(q), expected) << i;
  }
}

TEST(Io, MalformedFilesAreRejected) {
  TempDir d;
  save(d / "v.npy", arange(10));
  save_safetensors(d / "v.safetensors", {{"a", arange(10)}});
  save_gguf(d / "v.gguf", {{"a", astype(arange(10), float32)}}, {{"s", std::string("x")}});
  savez(d / "v.npz", {{"a", arange(10)}}, true);
  // Every truncation of every format fails cleanly with the format's name.
  struct F {
    const char* file;
    std::function<void(const std::string&)> load;
    const char* tag;
  } formats[] = {{"v.npy", [](auto& f) { load(f); }, "[load npy]"},
                 {"v.safetensors", [](auto& f) { load_safetensors(f); }, "[load_safetensors]"},
                 {"v.gguf", [](auto& f) { load_gguf(f); }, "[load_gguf]"},
                 {"v.npz", [](auto& f) { load_npz(f); }, "[load np"}};
  for (auto& f : formats) {
    std::string bytes = read_file(d / f.file);
    for (size_t n = 0; n < bytes.size(); n += 3) {
      // GGUF's final padding carries no data: only cuts before it must fail.
      if (std::string(f.file) == "v.gguf" && n + 32 > bytes.size()) break;
      write_file(d / "cut", bytes.substr(0, n));
      auto err = error_of<std::invalid_argument>([&] { f.load(d / "cut"); });
      EXPECT_TRUE(contains(err, f.tag)) << f.file << " cut at " << n << ": " << err;
    }
  }
  // A safetensors header whose length lies, and one with overlapping tensors.
  std::string lying("\xff\xff\xff\xff\xff\xff\xff\x0f{}", 10);
  write_file(d / "l.safetensors", lying);
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { load_safetensors(d / "l.safetensors"); }), "runs past the end"));
  std::string json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  uint64_t len = json.size();
  write_file(d / "o.safetensors", std::string(reinterpret_cast<char*>(&len), 8) + json + std::string(12, '\0'));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { load_safetensors(d / "o.safetensors"); }), "overlap"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { load(d / "missing.npy"); }), "cannot open"));
}

TEST(Io, FailedSaveLeavesNoFile) {
  TempDir d;
  // The second array cannot be evaluated under the memory limit: the save fails midway.
  auto failing = [] { return ArrayMap{{"a", arange(4)}, {"b", zeros({1 << 22}) + 1.0f}}; };
  std::function<void(const std::string&, const ArrayMap&)> savers[] = {
      [](auto& f, auto& m) { save(f, m.count("b") ? m.at("b") : m.at("a")); },
      [](auto& f, auto& m) { savez(f, m); },
      [](auto& f, auto& m) { save_safetensors(f, m); },
      [](auto& f, auto& m) { save_gguf(f, m); },
  };
  const char* names[] = {"x.npy", "x.npz", "x.safetensors", "x.gguf"};
  for (int i = 0; i < 4; ++i) {
    size_t old = set_memory_limit(1 << 20);
    EXPECT_THROW(savers[i](d / names[i], failing()), std::runtime_error);
    set_memory_limit(old);
    EXPECT_FALSE(fs::exists(d / names[i])) << names[i];
    EXPECT_FALSE(d.has_temp_files());
    // An existing file survives a failed save untouched.
    savers[i](d / names[i], {{"a", arange(4)}});
    std::string before = read_file(d / names[i]);
    set_memory_limit(1 << 20);
    EXPECT_THROW(savers[i](d / names[i], failing()), std::runtime_error);
    set_memory_limit(old);
    EXPECT_EQ(read_file(d / names[i]), before);
    EXPECT_FALSE(d.has_temp_files());
  }
}
