// Trains a multi-layer perceptron on MNIST with Adam, in C++.
//   mnist_mlp <data dir> [epochs]
// The data dir holds MNIST's four uncompressed IDX files (train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte).
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>

#include "classifier.h"
#include "datasets.h"
#include "lazuli/lazuli.h"

namespace lz = lazuli;
namespace nn = lazuli::nn;

int main(int argc, char** argv) {
  const char* dir = argc > 1 ? argv[1] : std::getenv("MNIST_DIR");
  if (!dir || !std::filesystem::exists(std::string(dir) + "/train-images-idx3-ubyte")) {
    std::cerr << "mnist_mlp: no MNIST data. Put the four uncompressed IDX files\n"
                 "  train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte\n"
                 "(from http://yann.lecun.com/exdb/mnist/, gunzipped) in a folder and run\n"
                 "  mnist_mlp <folder> [epochs]   (or set MNIST_DIR)\n";
    return 1;
  }
  int epochs = argc > 2 ? std::atoi(argv[2]) : 3;
  try {
    auto [train, test] = datasets::load_mnist(dir);
    // Pixels to [0, 1], each image flattened to 784 values.
    auto prepare = [](const lz::array& images) {
      return lz::reshape(lz::astype(images, lz::float32) / 255.0f, {images.shape(0), -1});
    };
    lz::array train_x = prepare(train.images), test_x = prepare(test.images);
    lz::array train_y = lz::astype(train.labels, lz::int32), test_y = lz::astype(test.labels, lz::int32);
    lz::eval(train_x, test_x, train_y, test_y);

    lz::random::seed(0);
    nn::Sequential model(nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 256), nn::ReLU(), nn::Linear(256, 10));
    lz::optimizers::Adam optimizer(1e-3);
    std::mt19937 rng(0);
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      auto start = std::chrono::steady_clock::now();
      double loss = classifier::train_epoch(model, optimizer, train_x, train_y, 128, rng);
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cout << "epoch " << epoch << ": train loss " << loss << ", test accuracy "
                << classifier::accuracy(model, test_x, test_y) << " (" << seconds << " s)\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "mnist_mlp: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
