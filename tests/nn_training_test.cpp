// The C++ examples and their pieces: the IDX (MNIST) and CIFAR-10 readers on small files
// written here, good and bad; a small MLP trained to a target loss with the shared loop; and
// the example programs run on tiny data sets.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <sys/wait.h>

#include "../examples/cpp/classifier.h"
#include "../examples/cpp/datasets.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::contains;
using lazuli::test::error_of;
using lazuli::test::expect_values;
using lazuli::test::to_vector;
namespace fs = std::filesystem;

namespace {

std::string write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
  std::string path = (fs::temp_directory_path() / ("lazuli_data_" + name)).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return path;
}

// An IDX header: magic 00 00 type ndim, then the sizes big-endian.
std::vector<uint8_t> idx_header(uint8_t type, const std::vector<uint32_t>& dims) {
  std::vector<uint8_t> out{0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(d >> shift));
  return out;
}

std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST(ExampleData, IdxReaderReadsEveryType) {
  auto bytes = cat(idx_header(0x08, {2, 3}), {0, 1, 2, 253, 254, 255});
  array a = datasets::read_idx(write_file("u8.idx", bytes));
  EXPECT_EQ(a.dtype(), uint8);
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  expect_values(a, {0, 1, 2, 253, 254, 255});
  // Big-endian int16 -2 and 258, int32 -70000, float32 1.5, float64 -0.25, int8 -1.
  array i16 = datasets::read_idx(write_file("i16.idx", cat(idx_header(0x0B, {2}), {0xFF, 0xFE, 0x01, 0x02})));
  EXPECT_EQ(i16.dtype(), int16);
  expect_values(i16, {-2, 258});
  array i32 = datasets::read_idx(write_file("i32.idx", cat(idx_header(0x0C, {1}), {0xFF, 0xFE, 0xEE, 0x90})));
  expect_values(i32, {-70000});
  array f32 = datasets::read_idx(write_file("f32.idx", cat(idx_header(0x0D, {1}), {0x3F, 0xC0, 0, 0})));
  EXPECT_EQ(f32.dtype(), float32);
  expect_values(f32, {1.5});
  array f64 = datasets::read_idx(write_file("f64.idx", cat(idx_header(0x0E, {1, 1}), {0xBF, 0xD0, 0, 0, 0, 0, 0, 0})));
  EXPECT_EQ(f64.shape(), (Shape{1, 1}));
  expect_values(f64, {-0.25});
  expect_values(datasets::read_idx(write_file("i8.idx", cat(idx_header(0x09, {1}), {0xFF}))), {-1});
}

TEST(ExampleData, IdxReaderRejectsBadFiles) {
  auto error = [](const std::vector<uint8_t>& bytes) {
    return error_of<std::runtime_error>([&] { datasets::read_idx(write_file("bad.idx", bytes)); });
  };
  EXPECT_TRUE(contains(error({0, 0}), "too short")) << error({0, 0});
  EXPECT_TRUE(contains(error({1, 0, 8, 1, 0, 0, 0, 0}), "bad magic number"));
  EXPECT_TRUE(contains(error({0, 0, 0x07, 1, 0, 0, 0, 0}), "unknown data type 0x07"));
  EXPECT_TRUE(contains(error({0, 0, 8, 0}), "no dimensions"));
  EXPECT_TRUE(contains(error({0, 0, 8, 2, 0, 0, 0, 1}), "ends inside the header"));
  auto msg = error(cat(idx_header(0x08, {2, 2}), {1, 2, 3}));
  EXPECT_TRUE(contains(msg, "expected 4 data bytes after the header, found 3")) << msg;
  msg = error(cat(idx_header(0x0C, {0xFFFFFFF0u, 0xFFFFFFF0u}), {1}));
  EXPECT_TRUE(contains(msg, "too large") || contains(msg, "data bytes")) << msg;
  msg = error_of<std::runtime_error>([] { datasets::read_idx("/nonexistent/file.idx"); });
  EXPECT_TRUE(contains(msg, "cannot open /nonexistent/file.idx")) << msg;
  msg = error_of<std::runtime_error>([] { datasets::load_mnist("/nonexistent"); });
  EXPECT_TRUE(contains(msg, "train-images-idx3-ubyte")) << msg;
}

TEST(ExampleData, Cifar10ReaderMakesChannelsLastImages) {
  // Two records: labels 3 and 9; pixel value = channel * 100 + (position % 100) in record 0.
  std::vector<uint8_t> bytes;
  for (uint8_t label : {3, 9}) {
    bytes.push_back(label);
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 1024; ++i) bytes.push_back(static_cast<uint8_t>(label == 3 ? c * 100 + i % 100 : 7));
  }
  auto split = datasets::read_cifar10(write_file("cifar.bin", bytes));
  EXPECT_EQ(split.images.shape(), (Shape{2, 32, 32, 3}));
  EXPECT_EQ(split.images.dtype(), uint8);
  expect_values(split.labels, {3, 9});
  auto pixels = to_vector<int>(split.images);
  // Image 0, row 1, column 2 (position 34): channels 34, 134, 234.
  size_t at = ((0 * 32 + 1) * 32 + 2) * 3;
  EXPECT_EQ(pixels[at], 34);
  EXPECT_EQ(pixels[at + 1], 134);
  EXPECT_EQ(pixels[at + 2], 234);
  EXPECT_EQ(pixels[3072 + 5], 7);

  auto msg = error_of<std::runtime_error>([&] {
    datasets::read_cifar10(write_file("short.bin", std::vector<uint8_t>(bytes.begin(), bytes.end() - 1)));
  });
  EXPECT_TRUE(contains(msg, "is not a positive multiple of the record size 3073")) << msg;
  EXPECT_TRUE(contains(error_of<std::runtime_error>([&] { datasets::read_cifar10(write_file("empty.bin", {})); }),
                       "size 0"));
  bytes[0] = 10;
  msg = error_of<std::runtime_error>([&] { datasets::read_cifar10(write_file("label.bin", bytes)); });
  EXPECT_TRUE(contains(msg, "record 0 has label 10")) << msg;
}

TEST(ExampleTraining, SmallMlpLearnsASyntheticTask) {
  // Two classes no line separates: points within radius 1 of the origin, and points on the
  // ring of radii 1.5 to 2.5 around them.
  random::seed(7);
  const int per_class = 100;
  array angle = random::uniform(array(0.0f), array(6.2831853f), {2 * per_class});
  array inner = random::uniform(array(0.0f), array(1.0f), {per_class});
  array outer = random::uniform(array(1.5f), array(2.5f), {per_class});
  array radius = concatenate({inner, outer}, 0);
  array x = stack({radius * cos(angle), radius * sin(angle)}, 1);
  array y = concatenate({zeros({per_class}, int32), ones({per_class}, int32)}, 0);
  nn::Sequential model(nn::Linear(2, 32), nn::ReLU(), nn::Linear(32, 2));
  optimizers::Adam adam(0.02);
  std::mt19937 rng(0);
  double initial = classifier::loss(model, x, y).item<float>(), last = initial;
  for (int epoch = 0; epoch < 60; ++epoch) last = classifier::train_epoch(model, adam, x, y, 40, rng);
  EXPECT_GT(initial, 0.5);
  EXPECT_LT(last, 0.1) << "initial loss " << initial;
  EXPECT_GT(classifier::accuracy(model, x, y), 0.97);
  EXPECT_FALSE(model.training());  // accuracy evaluates in eval mode
}

#ifdef LAZULI_EXAMPLES_DIR
namespace {

// Runs an example program; returns its exit status and what it printed (stdout and stderr).
std::pair<int, std::string> run_example(const std::string& command) {
  std::string output;
  FILE* pipe = popen((std::string(LAZULI_EXAMPLES_DIR) + "/" + command + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::array<char, 256> buffer;
  while (fgets(buffer.data(), buffer.size(), pipe)) output += buffer.data();
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string make_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / name;
  fs::create_directories(dir);
  return dir.string();
}

}  // namespace

TEST(ExamplePrograms, MnistMlpTrainsOnIdxFilesAndExplainsMissingData) {
  auto [missing_status, missing] = run_example("mnist_mlp /nonexistent");
  EXPECT_EQ(missing_status, 1);
  EXPECT_TRUE(contains(missing, "no MNIST data") && contains(missing, "train-images-idx3-ubyte")) << missing;
  // 32 training and 16 test images of 28x28 with labels 0..9.
  std::string dir = make_dir("lazuli_mnist");
  for (auto [prefix, n] : {std::pair<std::string, uint32_t>{"train", 32}, {"t10k", 16}}) {
    std::vector<uint8_t> pixels(n * 28 * 28), labels(n);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
    for (uint32_t i = 0; i < n; ++i) labels[i] = static_cast<uint8_t>(i % 10);
    std::ofstream(dir + "/" + prefix + "-images-idx3-ubyte", std::ios::binary) << [&] {
      auto bytes = cat(idx_header(0x08, {n, 28, 28}), pixels);
      return std::string(bytes.begin(), bytes.end());
    }();
    std::ofstream(dir + "/" + prefix + "-labels-idx1-ubyte", std::ios::binary) << [&] {
      auto bytes = cat(idx_header(0x08, {n}), labels);
      return std::string(bytes.begin(), bytes.end());
    }();
  }
  auto [status, output] = run_example("mnist_mlp " + dir + " 1");
  EXPECT_EQ(status, 0) << output;
  EXPECT_TRUE(contains(output, "epoch 1: train loss") && contains(output, "test accuracy")) << output;
  // A truncated label file is reported.
  fs::resize_file(dir + "/t10k-labels-idx1-ubyte", 10);
  std::tie(status, output) = run_example("mnist_mlp " + dir + " 1");
  EXPECT_EQ(status, 1);
  EXPECT_TRUE(contains(output, "expected 16 data bytes after the header, found 2")) << output;
  fs::remove_all(dir);
}

TEST(ExamplePrograms, CifarCnnTrainsOnBinaryBatches) {
  auto [missing_status, missing] = run_example("cifar_cnn /nonexistent");
  EXPECT_EQ(missing_status, 1);
  EXPECT_TRUE(contains(missing, "no CIFAR-10 data")) << missing;
  std::string dir = make_dir("lazuli_cifar");
  std::string record(3073, '\x40');
  for (std::string name : {"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"}) {
    std::ofstream out(dir + "/" + name + ".bin", std::ios::binary);
    for (char label : {1, 5}) {
      record[0] = label;
      out << record;
    }
  }
  auto [status, output] = run_example("cifar_cnn " + dir + " 1");
  EXPECT_EQ(status, 0) << output;
  EXPECT_TRUE(contains(output, "epoch 1: train loss")) << output;
  fs::remove_all(dir);
}
namespace {

// The losses that transformer_lm printed ("step N: loss X, ..."), in order.
std::vector<double> printed_losses(const std::string& output) {
  std::vector<double> out;
  for (size_t at = output.find(": loss "); at != std::string::npos; at = output.find(": loss ", at + 1))
    out.push_back(std::stod(output.substr(at + 7)));
  return out;
}

}  // namespace

TEST(ExamplePrograms, TransformerLmTrainsSavesReloadsAndGenerates) {
  auto [missing_status, missing] = run_example("transformer_lm /nonexistent/text.txt");
  EXPECT_EQ(missing_status, 1);
  EXPECT_TRUE(contains(missing, "cannot open the text file /nonexistent/text.txt")) << missing;
  // A text with a pattern to learn: sentences from a few words.
  std::string dir = make_dir("lazuli_lm");
  std::string text;
  std::mt19937 rng(3);
  const char* words[] = {"the cat ", "sat on ", "a mat. ", "and the dog ", "ran off. "};
  while (text.size() < 3000) text += words[rng() % 5];
  std::ofstream(dir + "/text.txt") << text;
  std::string weights = dir + "/lm.safetensors";
  auto [status, output] = run_example("transformer_lm " + dir + "/text.txt --steps 30 --dims 32 --heads 2 "
                                      "--layers 1 --context 16 --batch 8 --lr 0.01 --generate 20 --prompt 'the ' "
                                      "--weights " + weights);
  ASSERT_EQ(status, 0) << output;
  auto losses = printed_losses(output);
  ASSERT_GE(losses.size(), 3u) << output;
  EXPECT_LT(losses.back(), losses.front() * 0.75) << output;
  EXPECT_TRUE(contains(output, "tokens/s") && contains(output, "trained 30 steps")) << output;
  EXPECT_TRUE(contains(output, "largest logit difference: 0\n")) << output;
  EXPECT_TRUE(fs::exists(weights));
  // 20 characters generated after the prompt, all from the text's vocabulary.
  size_t begin = output.find("---\nthe ");
  ASSERT_NE(begin, std::string::npos) << output;
  std::string generated = output.substr(begin + 4, 24);
  EXPECT_EQ(generated.find_first_not_of("thecasonmdgrf. "), std::string::npos) << generated;
  // Bad options are reported.
  std::tie(status, output) = run_example("transformer_lm " + dir + "/text.txt --dims x");
  EXPECT_EQ(status, 1);
  EXPECT_TRUE(contains(output, "bad value 'x' for --dims")) << output;
  std::tie(status, output) = run_example("transformer_lm " + dir + "/text.txt --steps 1 --heads 3 --dims 32");
  EXPECT_EQ(status, 1);
  EXPECT_TRUE(contains(output, "must be divisible by num_heads (3)")) << output;
  fs::remove_all(dir);
}
#endif  // LAZULI_EXAMPLES_DIR
