// safetensors: an 8-byte header length, a JSON header, then the tensors' bytes. Loading
// maps the file and hands out views into it; Hugging Face's sharded checkpoints are a JSON
// index naming the shard of each tensor.
#include <sys/stat.h>

#include <map>

#include "lazuli/io.h"
#include "lazuli/io/io_util.h"

namespace lazuli {

namespace {

std::string json_text(const io::Json& j) {
  switch (j.kind) {
    case io::Json::Kind::null: return "null";
    case io::Json::Kind::boolean: return j.boolean ? "true" : "false";
    case io::Json::Kind::number: return j.text;
    case io::Json::Kind::string: return io::json_quote(j.text);
    case io::Json::Kind::array: {
      std::string s = "[";
      for (size_t i = 0; i < j.items.size(); ++i) {
        if (i) s += ',';
        s += json_text(j.items[i]);
      }
      return s + "]";
    }
    case io::Json::Kind::object: {
      std::string s = "{";
      for (size_t i = 0; i < j.members.size(); ++i) {
        if (i) s += ',';
        s += io::json_quote(j.members[i].first) + ":" + json_text(j.members[i].second);
      }
      return s + "}";
    }
  }
  return "";
}

bool is_directory(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

namespace io {

SafetensorsLoad read_safetensors(std::shared_ptr<const void> owner, Bytes b, const std::string& file) {
  SafetensorsHeader h = parse_safetensors(b, file);
  SafetensorsLoad out;
  for (auto& t : h.tensors) out.first.emplace(t.name, view_bytes(owner, b.data + t.offset, to_shape(t.shape), t.dtype));
  for (auto& [k, v] : h.metadata) out.second.emplace(k, v);
  return out;
}

void write_safetensors(Sink& out, const ArrayMap& arrays, const StringMap& metadata, const std::string& file) {
  std::map<std::string, const array*> sorted;  // a stable layout: tensors in name order
  for (auto& [name, a] : arrays) {
    if (name == "__metadata__") bad_file("save_safetensors", file, "'__metadata__' cannot name a tensor");
    sorted.emplace(name, &a);
  }
  std::string header = "{";
  if (!metadata.empty()) {
    std::map<std::string, std::string> meta(metadata.begin(), metadata.end());
    header += "\"__metadata__\":{";
    for (auto& [k, v] : meta) header += json_quote(k) + ":" + json_quote(v) + ",";
    header.back() = '}';
    header += ",";
  }
  uint64_t offset = 0;
  for (auto& [name, a] : sorted) {
    header += json_quote(name) + ":{\"dtype\":\"" + safetensors_dtype_name(a->dtype()) + "\",\"shape\":[";
    for (size_t i = 0; i < a->ndim(); ++i) {
      if (i) header += ',';
      header += std::to_string(a->shape()[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + a->nbytes()) + "]},";
    offset += a->nbytes();
  }
  if (header.size() > 1) header.pop_back();
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // the data start 8-byte aligned
  uint64_t len = header.size();
  out.write(&len, 8);
  out.write(header);
  for (auto& [name, a] : sorted) {
    array data = row_major(*a);  // one at a time: only one tensor's copy is alive
    out.write(data.raw_data(), data.nbytes());
  }
}

}  // namespace io

SafetensorsLoad load_safetensors(const std::string& file, StreamOrDevice s) {
  auto m = io::map_file(file, "load_safetensors");
  return io::read_safetensors(m, m->bytes(), file);
}

void save_safetensors(const std::string& file_, const ArrayMap& arrays, const StringMap& metadata) {
  std::string file = io::with_extension(file_, ".safetensors");
  io::AtomicFile out(file, "save_safetensors");
  io::write_safetensors(out, arrays, metadata, file);
  out.commit();
}

SafetensorsLoad load_sharded_safetensors(const std::string& path, StreamOrDevice s) {
  const char* op = "load_sharded_safetensors";
  std::string index = is_directory(path) ? path + "/model.safetensors.index.json" : path;
  size_t slash = index.rfind('/');
  std::string dir = slash == std::string::npos ? "" : index.substr(0, slash + 1);
  auto m = io::map_file(index, op);
  io::Json j = io::parse_json(m->bytes(), op, index);
  const io::Json* weight_map = j.kind == io::Json::Kind::object ? j.find("weight_map") : nullptr;
  if (!weight_map || weight_map->kind != io::Json::Kind::object)
    io::bad_file(op, index, "the index has no \"weight_map\" object");

  SafetensorsLoad out;
  std::map<std::string, ArrayMap> shards;
  for (auto& [name, shard] : weight_map->members) {
    if (shard.kind != io::Json::Kind::string) io::bad_file(op, index, "the shard of '" + name + "' is not a string");
    const std::string& f = shard.text;
    // Shards live beside the index: no absolute paths, no climbing out of the folder.
    if (f.empty() || f[0] == '/' || f == ".." || f.rfind("../", 0) == 0 || f.find("/../") != std::string::npos ||
        (f.size() >= 3 && f.compare(f.size() - 3, 3, "/..") == 0))
      io::bad_file(op, index, "shard '" + f + "' is not a file beside the index");
    auto it = shards.find(f);
    if (it == shards.end()) {
      SafetensorsLoad loaded = load_safetensors(dir + f, s);
      for (auto& [k, v] : loaded.second) out.second.emplace(k, v);
      it = shards.emplace(f, std::move(loaded.first)).first;
    }
    auto t = it->second.find(name);
    if (t == it->second.end()) io::bad_file(op, index, "tensor '" + name + "' is not in its shard '" + f + "'");
    out.first.emplace(name, t->second);
  }
  if (const io::Json* meta = j.find("metadata"); meta && meta->kind == io::Json::Kind::object)
    for (auto& [k, v] : meta->members)
      out.second.insert_or_assign(k, v.kind == io::Json::Kind::string ? v.text : json_text(v));
  return out;
}

}  // namespace lazuli
