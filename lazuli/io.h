// Reading and writing arrays: NumPy's .npy and .npz, safetensors (one file or a sharded
// Hugging Face checkpoint) and GGUF. Every reader checks the file against its own size
// before trusting any length in it and raises std::invalid_argument naming the format and
// the problem; every writer writes a temporary file beside the target and renames it, so a
// failed save leaves no file behind.
#pragma once
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/device.h"

namespace lazuli {

using StringMap = std::unordered_map<std::string, std::string>;
using ArrayMap = std::unordered_map<std::string, array>;

// ---- NumPy ---------------------------------------------------------------------------
// One array in .npy format (row-major; bfloat16 as MLX writes it, descr '<V2').
void save(const std::string& file, array a);
array load(const std::string& file, StreamOrDevice s = {});  // a .npy file
// Several arrays in a .npz (zip) archive, each stored as "<name>.npy"; compressed with
// zlib's deflate when `compressed`.
void savez(const std::string& file, const ArrayMap& arrays, bool compressed = false);
ArrayMap load_npz(const std::string& file, StreamOrDevice s = {});

// ---- safetensors -----------------------------------------------------------------------
// Loading maps the file: each array views its bytes in the mapping, so only the tensors a
// program reads are paged in. (A tensor whose offset is not aligned to its element size
// is copied instead.)
using SafetensorsLoad = std::pair<ArrayMap, StringMap>;  // arrays, "__metadata__"
SafetensorsLoad load_safetensors(const std::string& file, StreamOrDevice s = {});
void save_safetensors(const std::string& file, const ArrayMap& arrays, const StringMap& metadata = {});
// A Hugging Face checkpoint split into shards: `path` is the index file
// (model.safetensors.index.json) or the folder holding it. Every tensor of the index's
// "weight_map" is loaded (lazily, as above) from its shard into one map; the metadata are
// the shards' "__metadata__" together with the index's "metadata" (values as JSON text
// where they are not strings).
SafetensorsLoad load_sharded_safetensors(const std::string& path, StreamOrDevice s = {});

// ---- GGUF --------------------------------------------------------------------------------
// Metadata values: numbers and booleans as 0-d arrays, arrays of them as 1-d arrays,
// strings, and arrays of strings.
using GGUFMetaData = std::variant<std::monostate, array, std::string, std::vector<std::string>>;
using GGUFLoad = std::pair<ArrayMap, std::unordered_map<std::string, GGUFMetaData>>;
// F32, F16, BF16, F64 and the integer types load as arrays of that dtype. Q4_0, Q4_1 and
// Q8_0 stay quantized in the affine layout of `quantize` (group size 32; 4 or 8 bits
// packed into uint32 along the last axis): a tensor "x.weight" gives "x.weight" (uint32),
// "x.scales" and "x.biases" (float16), as MLX's load does. Q4_K, Q5_K and Q6_K are
// dequantized to float32.
GGUFLoad load_gguf(const std::string& file, StreamOrDevice s = {});
// Arrays of dtype float32, float16, bfloat16, float64, int8/16/32/64 are written as such.
void save_gguf(const std::string& file, const ArrayMap& arrays,
               const std::unordered_map<std::string, GGUFMetaData>& metadata = {});

}  // namespace lazuli
