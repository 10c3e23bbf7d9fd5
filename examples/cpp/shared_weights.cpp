// Shares the weights of C++ layers with Python: a small TransformerEncoder and an LSTM
// whose weights are safetensors files that the Python classes load (and write) as they are.
//   shared_weights <dir>
// Loads <dir>/encoder.safetensors and <dir>/lstm.safetensors when they exist (as Python's
// save_weights writes them), else initialises the models and saves theirs there; likewise
// takes the inputs from <dir>/inputs.safetensors ("encoder_input" (2, 4, 8), "lstm_input"
// (2, 5, 3)) or makes and saves them. Writes the outputs to <dir>/outputs.safetensors:
// "encoder" (causal mask), "lstm_hidden", "lstm_cell".
//   shared_weights --parameters
// Prints "<model> <parameter> <shape> <trainable 0/1>" for each parameter of a list of
// models built from the layer classes, to compare with the Python classes' parameters.
// python/tests/test_cpp_python_weights.py runs both.
#include <filesystem>
#include <iostream>

#include "lazuli/lazuli.h"

namespace lz = lazuli;
namespace nn = lazuli::nn;
namespace fs = std::filesystem;

namespace {

// The models whose parameters --parameters lists; the Python test builds the same.
std::vector<std::pair<std::string, std::shared_ptr<nn::Module>>> models_to_list() {
  auto quantized = std::make_shared<nn::Sequential>(nn::Embedding(16, 64), nn::Linear(64, 64), nn::ReLU(),
                                                    nn::Linear(64, 8));
  nn::quantize(*quantized, 64, 8);
  auto qq_eval = std::make_shared<nn::QQLinear>(64, 8, std::nullopt, std::nullopt, "mxfp8");
  qq_eval->eval();
  return {
      {"RoPE", std::make_shared<nn::RoPE>(4)},
      {"SinusoidalPositionalEncoding", std::make_shared<nn::SinusoidalPositionalEncoding>(8)},
      {"ALiBi", std::make_shared<nn::ALiBi>()},
      {"MultiHeadAttention", std::make_shared<nn::MultiHeadAttention>(8, 2)},
      {"MultiHeadAttention_sizes",
       std::make_shared<nn::MultiHeadAttention>(8, 2, 3, 5, std::nullopt, 6, 7, true)},
      {"TransformerEncoderLayer", std::make_shared<nn::TransformerEncoderLayer>(8, 2)},
      {"TransformerDecoderLayer", std::make_shared<nn::TransformerDecoderLayer>(8, 2, 16)},
      {"TransformerEncoder", std::make_shared<nn::TransformerEncoder>(2, 8, 2, 16)},
      {"TransformerDecoder", std::make_shared<nn::TransformerDecoder>(1, 8, 2)},
      {"Transformer", std::make_shared<nn::Transformer>(8, 2, 1, 2, 16)},
      {"RNN", std::make_shared<nn::RNN>(3, 4)},
      {"RNN_nobias", std::make_shared<nn::RNN>(3, 4, false)},
      {"GRU", std::make_shared<nn::GRU>(3, 4)},
      {"GRU_nobias", std::make_shared<nn::GRU>(3, 4, false)},
      {"LSTM", std::make_shared<nn::LSTM>(3, 4)},
      {"LSTM_nobias", std::make_shared<nn::LSTM>(3, 4, false)},
      {"Upsample", std::make_shared<nn::Upsample>(2.0)},
      {"QuantizedLinear", std::make_shared<nn::QuantizedLinear>(64, 8)},
      {"QuantizedLinear_8bit", std::make_shared<nn::QuantizedLinear>(64, 8, false, 32, 8)},
      {"QuantizedEmbedding", std::make_shared<nn::QuantizedEmbedding>(10, 64)},
      {"QuantizedEmbedding_mxfp4", std::make_shared<nn::QuantizedEmbedding>(10, 64, 32, 4, "mxfp4")},
      {"quantize", quantized},
      {"QQLinear", std::make_shared<nn::QQLinear>(64, 8)},
      {"QQLinear_eval", qq_eval},
  };
}

void list_parameters() {
  for (auto& [label, model] : models_to_list()) {
    nn::Params trainable = model->trainable_parameters();
    std::cout << label << " - - -\n";  // a line even for models without parameters
    for (auto& [name, p] : model->parameters()) {
      std::cout << label << " " << name << " ";
      for (size_t i = 0; i < p.ndim(); ++i) std::cout << (i ? "x" : "") << p.shape(i);
      std::cout << " " << trainable.count(name) << "\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--parameters") {
    list_parameters();
    return 0;
  }
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
