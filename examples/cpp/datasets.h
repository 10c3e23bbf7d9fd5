// Readers of two classic image datasets for the C++ examples (header-only):
//   MNIST in IDX format (http://yann.lecun.com/exdb/mnist/): big-endian, a magic number
//     00 00 <type> <ndim>, then ndim uint32 sizes, then the data;
//   CIFAR-10 binary version: records of 1 label byte and 3072 pixel bytes (1024 red,
//     1024 green, 1024 blue, each a 32x32 image in row-major order).
// Both check the file against its own size and throw std::runtime_error naming the file
// and the problem.
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lazuli/lazuli.h"

namespace datasets {

namespace detail {

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline uint32_t big_endian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// The big-endian value of type T at p, in the machine's byte order.
template <typename T>
T big_endian_value(const uint8_t* p) {
  uint8_t bytes[sizeof(T)];
  for (size_t b = 0; b < sizeof(T); ++b)
    bytes[b] = std::endian::native == std::endian::little ? p[sizeof(T) - 1 - b] : p[b];
  T value;
  std::memcpy(&value, bytes, sizeof(T));
  return value;
}

template <typename T>
lazuli::array big_endian_array(const uint8_t* data, size_t count, const lazuli::Shape& shape) {
  std::vector<T> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = big_endian_value<T>(data + i * sizeof(T));
  return lazuli::array(values.begin(), shape);
}

}  // namespace detail

// An IDX file as an array of its own type (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
// 0x0D float32, 0x0E float64) and shape.
inline lazuli::array read_idx(const std::string& path) {
  std::vector<uint8_t> bytes = detail::read_file(path);
  auto bad = [&](const std::string& why) { return std::runtime_error("[read_idx] " + path + ": " + why); };
  if (bytes.size() < 4) throw bad("too short for an IDX header (" + std::to_string(bytes.size()) + " bytes)");
  if (bytes[0] != 0 || bytes[1] != 0) throw bad("bad magic number: the first two bytes must be zero");
  const uint8_t type = bytes[2];
  const int ndim = bytes[3];
  size_t width = 0;
  switch (type) {
    case 0x08: case 0x09: width = 1; break;
    case 0x0B: width = 2; break;
    case 0x0C: case 0x0D: width = 4; break;
    case 0x0E: width = 8; break;
    default: throw bad("unknown data type 0x" + [&] {
      const char* hex = "0123456789abcdef";
      return std::string{hex[type >> 4], hex[type & 15]};
    }());
  }
  if (ndim == 0) throw bad("no dimensions");
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  if (bytes.size() < header) throw bad("file ends inside the header of " + std::to_string(ndim) + " dimensions");
  lazuli::Shape shape;
  size_t count = 1;
  for (int i = 0; i < ndim; ++i) {
    uint32_t size = detail::big_endian32(bytes.data() + 4 + 4 * i);
    if (size > static_cast<uint32_t>(INT32_MAX)) throw bad("dimension " + std::to_string(i) + " is too large");
    shape.push_back(static_cast<int32_t>(size));
    count *= size;
    if (count > bytes.size()) break;  // the size check below reports it
  }
  if (bytes.size() - header != count * width)
    throw bad("expected " + std::to_string(count * width) + " data bytes after the header, found " +
              std::to_string(bytes.size() - header));
  const uint8_t* data = bytes.data() + header;
  switch (type) {
    case 0x08: return lazuli::array(data, shape);
    case 0x09: return detail::big_endian_array<int8_t>(data, count, shape);
    case 0x0B: return detail::big_endian_array<int16_t>(data, count, shape);
    case 0x0C: return detail::big_endian_array<int32_t>(data, count, shape);
    case 0x0D: return detail::big_endian_array<float>(data, count, shape);
    default: return detail::big_endian_array<double>(data, count, shape);
  }
}

struct Split {
  lazuli::array images;  // uint8, (N, H, W) for MNIST, (N, 32, 32, 3) for CIFAR-10
  lazuli::array labels;  // uint8, (N,)
};

// MNIST's four files (uncompressed) in `dir`: train-images-idx3-ubyte and so on.
inline std::pair<Split, Split> load_mnist(const std::string& dir) {
  auto split = [&](const std::string& prefix) {
    Split s{read_idx(dir + "/" + prefix + "-images-idx3-ubyte"), read_idx(dir + "/" + prefix + "-labels-idx1-ubyte")};
    if (s.images.ndim() != 3 || s.labels.ndim() != 1 || s.images.shape(0) != s.labels.shape(0))
      throw std::runtime_error("[load_mnist] " + dir + ": " + prefix + " images and labels do not match");
    return s;
  };
  return {split("train"), split("t10k")};
}

// One CIFAR-10 batch file: images (N, 32, 32, 3) uint8, channels last, and labels (N,).
inline Split read_cifar10(const std::string& path) {
  constexpr size_t kPixels = 32 * 32, kRecord = 1 + 3 * kPixels;
  std::vector<uint8_t> bytes = detail::read_file(path);
  if (bytes.empty() || bytes.size() % kRecord != 0)
    throw std::runtime_error("[read_cifar10] " + path + ": size " + std::to_string(bytes.size()) +
                             " is not a positive multiple of the record size " + std::to_string(kRecord));
  const size_t n = bytes.size() / kRecord;
  std::vector<uint8_t> labels(n), pixels(n * 3 * kPixels);
  for (size_t r = 0; r < n; ++r) {
    const uint8_t* record = bytes.data() + r * kRecord;
    if (record[0] > 9)
      throw std::runtime_error("[read_cifar10] " + path + ": record " + std::to_string(r) + " has label " +
                               std::to_string(record[0]) + ", not in 0..9");
    labels[r] = record[0];
    // Planar (C, H, W) to channels last (H, W, C).
    for (size_t c = 0; c < 3; ++c)
      for (size_t i = 0; i < kPixels; ++i) pixels[(r * kPixels + i) * 3 + c] = record[1 + c * kPixels + i];
  }
  int count = static_cast<int>(n);
  return {lazuli::array(pixels.begin(), {count, 32, 32, 3}), lazuli::array(labels.begin(), {count})};
}

// data_batch_1.bin ... data_batch_5.bin and test_batch.bin in `dir`.
inline std::pair<Split, Split> load_cifar10(const std::string& dir) {
  std::vector<lazuli::array> images, labels;
  for (int i = 1; i <= 5; ++i) {
    Split s = read_cifar10(dir + "/data_batch_" + std::to_string(i) + ".bin");
    images.push_back(s.images);
    labels.push_back(s.labels);
  }
  return {Split{lazuli::concatenate(images, 0), lazuli::concatenate(labels, 0)}, read_cifar10(dir + "/test_batch.bin")};
}

}  // namespace datasets
