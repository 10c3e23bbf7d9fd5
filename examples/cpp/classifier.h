// The training loop shared by the C++ examples: minibatch training of a classifier with
// cross-entropy and any optimizer, and its accuracy on held-out data.
#pragma once
#include <algorithm>
#include <chrono>
#include <iostream>
#include <numeric>
#include <random>
#include <vector>

#include "lazuli/lazuli.h"

namespace classifier {

namespace lz = lazuli;

// Mean cross-entropy of the model's logits for inputs x and integer labels y.
inline lz::array loss(lz::nn::Module& model, const lz::array& x, const lz::array& y) {
  return lz::nn::cross_entropy(model(x), y, std::nullopt, -1, 0.0, "mean");
}

// One pass over (x, y) in shuffled batches; returns the mean loss of the batches.
inline double train_epoch(lz::nn::Module& model, lz::optimizers::Optimizer& optimizer, const lz::array& x,
                          const lz::array& y, int batch_size, std::mt19937& rng) {
  model.train();
  auto step = lz::nn::value_and_grad(model, [&](const std::vector<lz::array>& in) { return loss(model, in[0], in[1]); });
  std::vector<int32_t> order(x.shape(0));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  double total = 0;
  int batches = 0;
  for (size_t start = 0; start < order.size(); start += batch_size) {
    int count = static_cast<int>(std::min(order.size() - start, static_cast<size_t>(batch_size)));
    lz::array indices(order.begin() + start, {count});
    auto [value, grads] = step({lz::take(x, indices, 0), lz::take(y, indices, 0)});
    optimizer.update(model, grads);
    std::vector<lz::array> outputs{value};
    for (auto& [name, p] : model.parameters()) outputs.push_back(p);
    for (auto& [name, s] : optimizer.state()) outputs.push_back(s);
    lz::eval(outputs);
    total += value.item<float>();
    ++batches;
  }
  return total / std::max(batches, 1);
}

// The fraction of (x, y) that the model classifies correctly, in evaluation mode.
inline double accuracy(lz::nn::Module& model, const lz::array& x, const lz::array& y, int batch_size = 1000) {
  model.eval();
  double correct = 0;
  for (int start = 0; start < x.shape(0); start += batch_size) {
    int stop = std::min(x.shape(0), start + batch_size);
    lz::array indices = lz::arange(start, stop);
    lz::array predicted = lz::argmax(model(lz::take(x, indices, 0)), -1);
    lz::array labels = lz::astype(lz::take(y, indices, 0), predicted.dtype());
    correct += lz::sum(lz::astype(lz::equal(predicted, labels), lz::float32)).item<float>();
  }
  return correct / x.shape(0);
}

}  // namespace classifier
