// Shares the weights of C++ layers with Python: a small TransformerEncoder and an LSTM
// whose weights are safetensors files that the Python classes load (and write) as they are.
//   shared_weights <dir>
// Loads <dir>/encoder.safetensors and <dir>/lstm.safetensors when they exist (as Python's
// save_weights writes them), else initialises the models and saves theirs there; likewise
// takes the inputs from <dir>/inputs.safetensors ("encoder_input" (2, 4, 8), "lstm_input"
// (2, 5, 3)) or makes and saves them. Writes the outputs to <dir>/outputs.safetensors:
// "encoder" (causal mask), "lstm_hidden", "lstm_cell". python/tests/test_cpp_python_weights.py
// runs it.
#include <filesystem>
#include <iostream>

#include "lazuli/lazuli.h"

namespace lz = lazuli;
namespace nn = lazuli::nn;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: shared_weights <dir>\n";
    return 2;
  }
  try {
    fs::path dir = argv[1];
    fs::create_directories(dir);
    lz::random::seed(0);
    nn::TransformerEncoder encoder(2, 8, 2, 16);
    nn::LSTM lstm(3, 5);
    for (auto [model, name] : {std::pair<nn::Module*, const char*>{&encoder, "encoder"}, {&lstm, "lstm"}}) {
      fs::path file = dir / (std::string(name) + ".safetensors");
      bool loaded = fs::exists(file);
      if (loaded)
        model->load_weights(file.string());
      else
        model->save_weights(file.string());
      std::cout << name << ": " << (loaded ? "loaded " : "saved ") << model->parameters().size()
                << " parameters\n";
    }
    fs::path inputs_file = dir / "inputs.safetensors";
    lz::ArrayMap inputs;
    if (fs::exists(inputs_file)) {
      inputs = lz::load_safetensors(inputs_file.string()).first;
    } else {
      inputs = {{"encoder_input", lz::random::normal({2, 4, 8})}, {"lstm_input", lz::random::normal({2, 5, 3})}};
      lz::save_safetensors(inputs_file.string(), inputs);
    }
    auto [hidden, cell] = lstm(inputs.at("lstm_input"));
    lz::ArrayMap outputs{{"encoder", encoder(inputs.at("encoder_input"), "causal")},
                         {"lstm_hidden", hidden},
                         {"lstm_cell", cell}};
    lz::save_safetensors((dir / "outputs.safetensors").string(), outputs);
  } catch (const std::exception& e) {
    std::cerr << "shared_weights: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
