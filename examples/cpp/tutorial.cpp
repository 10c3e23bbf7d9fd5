// A first look at Lazuli: arrays are lazy, broadcasting follows NumPy, and eval runs work.
#include <iostream>

#include "lazuli/lazuli.h"

namespace lz = lazuli;

int main() {
  // Ops record a graph and return at once; nothing is computed yet.
  lz::array x = lz::reshape(lz::arange(6.0), {2, 3});
  lz::array y = lz::exp(x) * 2.0f;
  std::cout << "y is evaluated: " << std::boolalpha << y.is_available() << "\n";

  // eval (or printing, or item) runs the graph.
  lz::eval(y);
  std::cout << "after eval: " << y.is_available() << "\n" << y << "\n\n";

  // Broadcasting: a (2, 3) matrix plus a row of 3 and a column of 2.
  lz::array row = lz::array({10.f, 20.f, 30.f});
  lz::array col = lz::reshape(lz::array({100.f, 200.f}), {2, 1});
  std::cout << "x + row + col =\n" << (x + row + col) << "\n\n";

  // Reductions over any axes.
  std::cout << "sum over axis 0: " << lz::sum(x, 0) << "\n";
  std::cout << "mean of all:     " << lz::mean(x) << "\n";
  std::cout << "max over axis 1: " << lz::max(x, 1, /*keepdims=*/true) << "\n\n";

  // Matrix products, with batch broadcasting.
  lz::array w = lz::ones({3, 4});
  std::cout << "x @ w =\n" << lz::matmul(x, w) << "\n\n";

  // Errors name the op and the offending values.
  try {
    lz::add(lz::ones({2, 3}), lz::ones({4}));
  } catch (const std::invalid_argument& e) {
    std::cout << "error: " << e.what() << "\n";
  }
  return 0;
}
