// Trains a character-level transformer language model on a text file, in C++: token
// embeddings plus sinusoidal positional encodings, a TransformerEncoder with a causal mask
// (so each position sees only earlier ones), and a Linear head over the characters. It
// trains with AdamW on random windows of the text for a number of steps or seconds
// (whichever ends first), printing the loss and tokens per second; saves the weights
// (safetensors), reloads them into a fresh model (checking that its logits are equal) and
// generates text from a prompt.
//   transformer_lm [text file] [--steps N] [--seconds S] [--weights FILE] [--prompt TEXT]
//                  [--generate N] [--dims D] [--heads H] [--layers L] [--context C]
//                  [--batch B] [--lr LR] [--seed S] [--device gpu|cpu]
// The text defaults to data/shakespeare.txt; the device to the GPU when there is one.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "lazuli/lazuli.h"

namespace lz = lazuli;
namespace nn = lazuli::nn;

namespace {

struct Config {
  std::string text = "data/shakespeare.txt";
  int steps = 1000;
  double seconds = 60;
  std::string weights = "transformer_lm.safetensors";
  std::string prompt;
  int generate = 300;
  int dims = 128, heads = 4, layers = 3, context = 64, batch = 32;
  double lr = 2e-3;
  int seed = 0;
  std::string device = "gpu";
};

Config parse_args(int argc, char** argv) {
  Config c;
  std::map<std::string, std::string> options;
  bool text_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0) {
      if (i + 1 >= argc) throw std::invalid_argument("option " + arg + " needs a value");
      options[arg.substr(2)] = argv[++i];
    } else if (!text_given) {
      c.text = arg;
      text_given = true;
    } else {
      throw std::invalid_argument("unexpected argument '" + arg + "'");
    }
  }
  auto take = [&](const std::string& name, auto& field) {
    auto it = options.find(name);
    if (it == options.end()) return;
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::string>) {
      field = it->second;
    } else {
      std::istringstream in(it->second);
      if (!(in >> field) || !in.eof()) throw std::invalid_argument("bad value '" + it->second + "' for --" + name);
    }
    options.erase(it);
  };
  take("steps", c.steps);
  take("seconds", c.seconds);
  take("generate", c.generate);
  take("dims", c.dims);
  take("heads", c.heads);
  take("layers", c.layers);
  take("context", c.context);
  take("batch", c.batch);
  take("lr", c.lr);
  take("seed", c.seed);
  take("weights", c.weights);
  take("prompt", c.prompt);
  take("device", c.device);
  if (c.device != "gpu" && c.device != "cpu") throw std::invalid_argument("--device must be gpu or cpu");
  if (!options.empty()) throw std::invalid_argument("unknown option --" + options.begin()->first);
  if (c.context < 1 || c.batch < 1 || c.steps < 0 || c.generate < 0)
    throw std::invalid_argument("--context and --batch must be positive, --steps and --generate not negative");
  return c;
}

// The distinct characters of a text, in sorted order, and their ids.
struct Vocabulary {
  explicit Vocabulary(const std::string& text) : chars(text.begin(), text.end()) {
    std::sort(chars.begin(), chars.end());
    chars.erase(std::unique(chars.begin(), chars.end()), chars.end());
  }
  int size() const { return static_cast<int>(chars.size()); }
  std::vector<int32_t> encode(const std::string& text) const {
    std::vector<int32_t> ids;
    for (char c : text) {
      auto it = std::lower_bound(chars.begin(), chars.end(), c);
      if (it == chars.end() || *it != c) throw std::invalid_argument(std::string("character not in the text: '") + c + "'");
      ids.push_back(static_cast<int32_t>(it - chars.begin()));
    }
    return ids;
  }
  std::vector<char> chars;
};

class CharTransformer : public nn::Module {
 public:
  CharTransformer(int vocab_size, const Config& c) : Module("CharTransformer"), context_(c.context) {
    register_module("tokens", std::make_shared<nn::Embedding>(vocab_size, c.dims));
    register_module("positions", std::make_shared<nn::SinusoidalPositionalEncoding>(c.dims));
    register_module("encoder", std::make_shared<nn::TransformerEncoder>(c.layers, c.dims, c.heads));
    register_module("head", std::make_shared<nn::Linear>(c.dims, vocab_size));
  }

  // ids (batch, length <= context) -> logits (batch, length, vocab).
  lz::array operator()(const lz::array& ids) override {
    int length = ids.shape(1);
    if (length > context_)
      throw std::invalid_argument("a sequence of " + std::to_string(length) + " tokens is longer than the context (" +
                                  std::to_string(context_) + ")");
    lz::array x = child("tokens")(ids) + child("positions")(lz::arange(0.0, static_cast<double>(length)));
    return child("head")(child_as<nn::TransformerEncoder>("encoder")(x, "causal"));
  }

  int context() const { return context_; }

 private:
  int context_;
};

lz::array loss(nn::Module& model, const lz::array& inputs, const lz::array& targets) {
  return nn::cross_entropy(model(inputs), targets, std::nullopt, -1, 0.0, "mean");
}

// Windows data[s : s + context + 1] at random starts: the inputs and the next characters.
std::pair<lz::array, lz::array> batch(const std::vector<int32_t>& data, int batch_size, int context, std::mt19937& rng) {
  std::uniform_int_distribution<size_t> start(0, data.size() - context - 1);
  std::vector<int32_t> inputs, targets;
  for (int b = 0; b < batch_size; ++b) {
    size_t s = start(rng);
    inputs.insert(inputs.end(), data.begin() + s, data.begin() + s + context);
    targets.insert(targets.end(), data.begin() + s + 1, data.begin() + s + context + 1);
  }
  return {lz::array(inputs.begin(), {batch_size, context}), lz::array(targets.begin(), {batch_size, context})};
}

// Samples `count` characters after the prompt (temperature 0.8), from the last `context` ones.
std::string generate(CharTransformer& model, const Vocabulary& vocab, const std::string& prompt, int count) {
  std::vector<int32_t> ids = vocab.encode(prompt);
  std::string out = prompt;
  for (int i = 0; i < count; ++i) {
    size_t from = ids.size() > static_cast<size_t>(model.context()) ? ids.size() - model.context() : 0;
    int length = static_cast<int>(ids.size() - from);
    lz::array logits = model(lz::array(ids.begin() + from, {1, length}));
    lz::array last = lz::reshape(lz::slice(logits, {0, length - 1, 0}, {1, length, vocab.size()}), {vocab.size()});
    int32_t next = lz::random::categorical(last / 0.8f).item<int32_t>();
    ids.push_back(next);
    out += vocab.chars[next];
  }
  return out;
}

// The GPU when asked for, present and working (a small matmul runs there), else the CPU.
std::string use_device(const std::string& wanted) {
  lz::Device gpu(lz::Device::gpu);
  if (wanted == "gpu" && lz::is_available(gpu)) {
    try {
      lz::array x = lz::ones({4, 4}, lz::float32, gpu);
      lz::eval(lz::softmax(lz::matmul(x, x, gpu), -1, false, gpu));
      lz::set_default_device(gpu);
      return "gpu";
    } catch (const std::exception& e) {
      std::cerr << "transformer_lm: the GPU does not compute (" << e.what() << "); using the CPU\n";
    }
  }
  return "cpu";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Config config = parse_args(argc, argv);
    std::ifstream file(config.text, std::ios::binary);
    if (!file) {
      std::cerr << "transformer_lm: cannot open the text file " << config.text
                << " (give a path: transformer_lm <text file> [options])\n";
      return 1;
    }
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (text.size() < static_cast<size_t>(config.context) + 2)
      throw std::invalid_argument("the text has " + std::to_string(text.size()) + " characters, fewer than context + 2");
    Vocabulary vocab(text);
    std::vector<int32_t> data = vocab.encode(text);

    std::string device = use_device(config.device);
    lz::random::seed(config.seed);
    CharTransformer model(vocab.size(), config);
    size_t count = 0;
    for (auto& [name, p] : model.parameters()) count += p.size();
    std::cout << text.size() << " characters, vocabulary of " << vocab.size() << ", " << count << " parameters, on the " << device << "\n";

    // beta2 = 0.99 with bias correction: the second moments adapt within a short run's steps.
    lz::optimizers::AdamW optimizer(config.lr, {0.9, 0.99}, 1e-8, 0.01, true);
    auto step = nn::value_and_grad(model, [&](const std::vector<lz::array>& in) { return loss(model, in[0], in[1]); });
    std::mt19937 rng(config.seed);
    model.train();
    auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    double recent = 0;
    int recent_steps = 0, steps = 0;
    const int report_every = std::max(1, std::min(50, config.steps / 10));
    while (steps < config.steps && elapsed() < config.seconds) {
      auto [inputs, targets] = batch(data, config.batch, config.context, rng);
      auto [value, grads] = step({inputs, targets});
      optimizer.update(model, grads);
      std::vector<lz::array> outputs{value};
      for (auto& [name, p] : model.parameters()) outputs.push_back(p);
      for (auto& [name, s] : optimizer.state()) outputs.push_back(s);
      lz::eval(outputs);
      recent += value.item<float>();
      ++recent_steps;
      if (++steps % report_every == 0 || steps == 1) {
        double seconds = elapsed();
        std::cout << "step " << steps << ": loss " << std::fixed << std::setprecision(4) << recent / recent_steps
                  << ", " << std::setprecision(0) << steps * double(config.batch) * config.context / seconds
                  << " tokens/s" << std::defaultfloat << "\n";
        recent = 0;
        recent_steps = 0;
      }
    }
    std::cout << "trained " << steps << " steps in " << std::setprecision(3) << elapsed() << " s\n";

    model.eval();
    model.save_weights(config.weights);
    CharTransformer reloaded(vocab.size(), config);
    reloaded.load_weights(config.weights);
    reloaded.eval();
    auto [check, unused] = batch(data, 2, config.context, rng);
    float difference = lz::max(lz::abs(model(check) - reloaded(check))).item<float>();
    std::cout << "saved " << config.weights << "; reloaded model's largest logit difference: " << difference << "\n";
    if (difference != 0) throw std::runtime_error("the reloaded model's logits differ");

    std::string prompt = config.prompt.empty() ? std::string(1, text[0]) : config.prompt;
    std::cout << "---\n" << generate(reloaded, vocab, prompt, config.generate) << "\n---\n";
  } catch (const std::exception& e) {
    std::cerr << "transformer_lm: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
