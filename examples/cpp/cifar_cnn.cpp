// Trains a small convolutional network on CIFAR-10 with Adam, in C++.
//   cifar_cnn <data dir> [epochs]
// The data dir holds CIFAR-10's binary version (cifar-10-batches-bin): data_batch_1.bin
// ... data_batch_5.bin and test_batch.bin.
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
  const char* dir = argc > 1 ? argv[1] : std::getenv("CIFAR10_DIR");
  if (!dir || !std::filesystem::exists(std::string(dir) + "/data_batch_1.bin")) {
    std::cerr << "cifar_cnn: no CIFAR-10 data. Put the binary version's files\n"
                 "  data_batch_1.bin ... data_batch_5.bin test_batch.bin\n"
                 "(cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, unpacked) in a folder\n"
                 "and run\n"
                 "  cifar_cnn <folder> [epochs]   (or set CIFAR10_DIR)\n";
    return 1;
  }
  int epochs = argc > 2 ? std::atoi(argv[2]) : 1;
  try {
    auto [train, test] = datasets::load_cifar10(dir);
    // Pixels to [0, 1]; images are (N, 32, 32, 3), channels last as the layers expect.
    lz::array train_x = lz::astype(train.images, lz::float32) / 255.0f;
    lz::array test_x = lz::astype(test.images, lz::float32) / 255.0f;
    lz::array train_y = lz::astype(train.labels, lz::int32), test_y = lz::astype(test.labels, lz::int32);
    lz::eval(train_x, test_x, train_y, test_y);

    lz::random::seed(0);
    // Two conv / batch-norm / pool stages (32x32 -> 16x16 -> 8x8), then a linear classifier.
    auto flatten = std::make_shared<nn::Activation>("Flatten", [](const lz::array& x) {
      return lz::reshape(x, {x.shape(0), -1});
    });
    nn::Sequential model({std::make_shared<nn::Conv2d>(3, 32, 3, 1, 1), std::make_shared<nn::BatchNorm>(32),
                          std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
                          std::make_shared<nn::Conv2d>(32, 64, 3, 1, 1), std::make_shared<nn::BatchNorm>(64),
                          std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), flatten,
                          std::make_shared<nn::Linear>(64 * 8 * 8, 10)});
    lz::optimizers::Adam optimizer(1e-3);
    std::mt19937 rng(0);
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      auto start = std::chrono::steady_clock::now();
      double loss = classifier::train_epoch(model, optimizer, train_x, train_y, 64, rng);
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cout << "epoch " << epoch << ": train loss " << loss << ", test accuracy "
                << classifier::accuracy(model, test_x, test_y) << " (" << seconds << " s)\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "cifar_cnn: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
