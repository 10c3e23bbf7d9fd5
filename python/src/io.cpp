// Python bindings of file formats (save, load, savez, safetensors, gguf, sharded checkpoints).
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <string>

#include "convert.h"
#include "lazuli/io.h"
#include "lazuli/io/io_util.h"

using lz::array;
namespace py = lz::py;

using py::stream_of;

namespace {

bool is_path(nb::handle file) { return nb::isinstance<nb::str>(file) || nb::hasattr(file, "__fspath__"); }

// A str or os.PathLike (pathlib.Path) as a path.
std::string to_path(nb::handle file, const char* op) {
  if (nb::isinstance<nb::str>(file)) return nb::cast<std::string>(file);
  if (nb::hasattr(file, "__fspath__")) {
    nb::object p = file.attr("__fspath__")();
    if (nb::isinstance<nb::str>(p)) return nb::cast<std::string>(p);
  }
  py::type_error(std::string("[") + op + "] file must be a str, a path-like object or a binary file object, got " +
                 py::py_type_name(file) + ".");
}

// Saves to a path through `to_file`, or to a file object (anything with write()) by
// writing the bytes `to_sink` produces.
template <typename ToFile, typename ToSink>
void save_to(nb::handle file, const char* op, ToFile&& to_file, ToSink&& to_sink) {
  if (!is_path(file) && nb::hasattr(file, "write")) {
    lz::io::MemorySink sink;
    to_sink(sink);
    file.attr("write")(nb::bytes(sink.bytes.data(), sink.bytes.size()));
    return;
  }
  to_file(to_path(file, op));
}

lz::ArrayMap to_array_map(nb::handle arrays, const char* op) {
  if (!nb::isinstance<nb::dict>(arrays))
    py::type_error(std::string("[") + op + "] arrays must be a dict of str to array, got " + py::py_type_name(arrays) + ".");
  lz::ArrayMap out;
  for (auto [k, v] : nb::borrow<nb::dict>(arrays)) {
    if (!nb::isinstance<nb::str>(k)) py::type_error(std::string("[") + op + "] array names must be str.");
    out.emplace(nb::cast<std::string>(k), py::to_array(v));
  }
  return out;
}

nb::dict to_dict(const lz::ArrayMap& arrays) {
  nb::dict d;
  for (auto& [k, v] : arrays) d[nb::str(k.c_str(), k.size())] = nb::cast(v);
  return d;
}

nb::dict to_dict(const lz::StringMap& strings) {
  nb::dict d;
  for (auto& [k, v] : strings) d[nb::str(k.c_str(), k.size())] = nb::str(v.c_str(), v.size());
  return d;
}

nb::object gguf_metadata_value(const lz::GGUFMetaData& v) {
  if (auto* a = std::get_if<array>(&v)) return nb::cast(*a);
  if (auto* s = std::get_if<std::string>(&v)) return nb::str(s->c_str(), s->size());
  if (auto* l = std::get_if<std::vector<std::string>>(&v)) {
    nb::list out;
    for (auto& s : *l) out.append(nb::str(s.c_str(), s.size()));
    return out;
  }
  return nb::none();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

nb::object load_sharded(const std::string& path, bool return_metadata, nb::handle s) {
  auto [arrays, metadata] = lz::load_sharded_safetensors(path, stream_of(s));
  if (return_metadata) return nb::make_tuple(to_dict(arrays), to_dict(metadata));
  return to_dict(arrays);
}

void savez_impl(nb::handle file, nb::args args, nb::kwargs kwargs, bool compressed) {
  const char* op = compressed ? "savez_compressed" : "savez";
  lz::ArrayMap arrays;
  for (size_t i = 0; i < args.size(); ++i) arrays.emplace("arr_" + std::to_string(i), py::to_array(args[i]));
  for (auto [k, v] : kwargs) {
    std::string name = nb::cast<std::string>(k);
    if (!arrays.emplace(name, py::to_array(v)).second)
      throw std::invalid_argument(std::string("[") + op + "] Cannot use un-named variables and keyword " + name + ".");
  }
  save_to(file, op, [&](const std::string& path) { lz::savez(path, arrays, compressed); },
          [&](lz::io::Sink& out) { lz::io::write_npz(out, arrays, compressed, "<file object>"); });
}

}  // namespace

void init_io(nb::module_& m) {
  m.def(
      "load",
      [](nb::handle file, std::optional<std::string> format, bool return_metadata, nb::handle s) -> nb::object {
        // A file object is read whole into memory; a path is mapped.
        bool from_object = !is_path(file) && nb::hasattr(file, "read");
        std::string path = from_object ? (nb::hasattr(file, "name") && nb::isinstance<nb::str>(file.attr("name"))
                                              ? nb::cast<std::string>(file.attr("name"))
                                              : "<file object>")
                                       : to_path(file, "load");
        std::string fmt;
        if (format) {
          fmt = *format;
        } else if (!from_object && ends_with(path, ".safetensors.index.json")) {
          return load_sharded(path, return_metadata, s);
        } else {
          size_t dot = path.rfind('.');
          size_t slash = path.rfind('/');
          if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
            throw std::invalid_argument("[load] Could not infer the file format of '" + path + "' (no extension); pass format=.");
          fmt = path.substr(dot + 1);
        }
        if (fmt != "npy" && fmt != "npz" && fmt != "safetensors" && fmt != "gguf")
          throw std::invalid_argument("[load] Unknown file format '" + fmt + "' (npy, npz, safetensors, gguf).");
        if (return_metadata && (fmt == "npy" || fmt == "npz"))
          throw std::invalid_argument("[load] metadata not supported for format " + fmt + ".");

        std::shared_ptr<const void> owner;
        lz::io::Bytes bytes{nullptr, 0};
        if (from_object) {
          nb::object data = file.attr("read")();
          if (!nb::isinstance<nb::bytes>(data)) py::type_error("[load] the file object must be opened in binary mode.");
          auto held = std::make_shared<std::string>(nb::borrow<nb::bytes>(data).c_str(), nb::len(data));
          bytes = {reinterpret_cast<const uint8_t*>(held->data()), held->size()};
          owner = held;
        } else {
          auto m = lz::io::map_file(path, fmt == "npy" || fmt == "npz" ? "load " + fmt : "load_" + fmt);
          bytes = m->bytes();
          owner = m;
        }
        if (fmt == "npy") return nb::cast(lz::io::read_npy(owner, bytes, path));
        if (fmt == "npz") return to_dict(lz::io::read_npz(owner, bytes, path));
        if (fmt == "safetensors") {
          auto [arrays, metadata] = lz::io::read_safetensors(owner, bytes, path);
          if (return_metadata) return nb::make_tuple(to_dict(arrays), to_dict(metadata));
          return to_dict(arrays);
        }
        auto [arrays, metadata] = lz::io::read_gguf(owner, bytes, path);
        if (!return_metadata) return to_dict(arrays);
        nb::dict meta;
        for (auto& [k, v] : metadata) meta[nb::str(k.c_str(), k.size())] = gguf_metadata_value(v);
        return nb::make_tuple(to_dict(arrays), meta);
      },
      "file"_a, "format"_a.none() = nb::none(), "return_metadata"_a = false, nb::kw_only(), "stream"_a = nb::none(),
      "Load arrays from a .npy, .npz, .safetensors or .gguf file, given as a path or a binary file "
      "object (format= overrides the extension, and is needed for a file object without a name). "
      ".npy gives an array, the others a dict of arrays; with return_metadata=True, safetensors and "
      "GGUF give (arrays, metadata). safetensors files are memory-mapped: a tensor is read when used. "
      "GGUF Q4_0/Q4_1/Q8_0 tensors load quantized ('<name>.weight', '<name>.scales', '<name>.biases', "
      "group size 32), k-quants dequantized to float32. A path ending in '.safetensors.index.json' "
      "loads a sharded checkpoint (see load_sharded_safetensors).");

  m.def(
      "save",
      [](nb::handle file, nb::handle arr) {
        array a = py::to_array(arr);
        save_to(file, "save", [&](const std::string& path) { lz::save(path, a); },
                [&](lz::io::Sink& out) { lz::io::write_npy(out, a); });
      },
      "file"_a, "arr"_a,
      "Save an array in NumPy's .npy format to a path ('.npy' is added when missing) or a binary file object.");
  m.def(
      "savez", [](nb::handle file, nb::args args, nb::kwargs kwargs) { savez_impl(file, args, kwargs, false); },
      "file"_a, "args"_a, "kwargs"_a,
      "Save several arrays to an uncompressed .npz archive: positional ones as arr_0, arr_1, ..., "
      "keyword ones under their names.");
  m.def(
      "savez_compressed",
      [](nb::handle file, nb::args args, nb::kwargs kwargs) { savez_impl(file, args, kwargs, true); }, "file"_a,
      "args"_a, "kwargs"_a, "Save several arrays to a zlib-compressed .npz archive (as savez).");
  m.def(
      "save_safetensors",
      [](nb::handle file, nb::handle arrays, std::optional<nb::dict> metadata) {
        lz::StringMap meta;
        if (metadata)
          for (auto [k, v] : *metadata) {
            if (!nb::isinstance<nb::str>(k) || !nb::isinstance<nb::str>(v))
              py::type_error("[save_safetensors] metadata must be a dict of str to str.");
            meta.emplace(nb::cast<std::string>(k), nb::cast<std::string>(v));
          }
        lz::ArrayMap a = to_array_map(arrays, "save_safetensors");
        save_to(file, "save_safetensors", [&](const std::string& path) { lz::save_safetensors(path, a, meta); },
                [&](lz::io::Sink& out) { lz::io::write_safetensors(out, a, meta, "<file object>"); });
      },
      "file"_a, "arrays"_a, "metadata"_a.none() = nb::none(),
      "Save a dict of arrays to a .safetensors file with optional str-to-str metadata.");
  m.def(
      "save_gguf",
      [](nb::handle file, nb::handle arrays, std::optional<nb::dict> metadata) {
        std::unordered_map<std::string, lz::GGUFMetaData> meta;
        if (metadata)
          for (auto [k, v] : *metadata) {
            if (!nb::isinstance<nb::str>(k)) py::type_error("[save_gguf] metadata keys must be str.");
            std::string key = nb::cast<std::string>(k);
            if (nb::isinstance<nb::str>(v)) {
              meta.emplace(key, nb::cast<std::string>(v));
            } else if (nb::isinstance<nb::list>(v) && nb::len(v) > 0 && nb::isinstance<nb::str>(v[0])) {
              std::vector<std::string> strs;
              for (nb::handle item : v) {
                if (!nb::isinstance<nb::str>(item)) py::type_error("[save_gguf] metadata '" + key + "' mixes str and other values.");
                strs.push_back(nb::cast<std::string>(item));
              }
              meta.emplace(key, std::move(strs));
            } else {
              meta.emplace(key, py::to_array(v));
            }
          }
        lz::ArrayMap a = to_array_map(arrays, "save_gguf");
        save_to(file, "save_gguf", [&](const std::string& path) { lz::save_gguf(path, a, meta); },
                [&](lz::io::Sink& out) { lz::io::write_gguf(out, a, meta, "<file object>"); });
      },
      "file"_a, "arrays"_a, "metadata"_a.none() = nb::none(),
      "Save a dict of arrays to a .gguf file (float32, float16, bfloat16, float64, int8-int64). "
      "metadata values: arrays (0-d or 1-d), str, or list of str.");
  m.def(
      "load_sharded_safetensors",
      [](nb::handle path, bool return_metadata, nb::handle s) {
        return load_sharded(to_path(path, "load_sharded_safetensors"), return_metadata, s);
      },
      "path"_a, "return_metadata"_a = false, nb::kw_only(), "stream"_a = nb::none(),
      "Load a sharded Hugging Face safetensors checkpoint into one dict: path is the index file "
      "(model.safetensors.index.json) or the folder holding it. Each tensor in the index's weight_map is "
      "memory-mapped from its shard. With return_metadata=True, also the shards' metadata merged with the "
      "index's \"metadata\" (non-string values as JSON text).");
}
