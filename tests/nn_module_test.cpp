// lazuli::nn::Module and the C++ layer classes: the parameter tree, freezing, modes, weights
// files, value_and_grad (against finite differences), and each layer against its functional
// form or values worked out by hand.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "lazuli/nn/module.h"
#include "lazuli/nn/modules.h"
#include "nn_test_util.h"

using namespace lazuli;
using lazuli::test::contains;
using lazuli::test::error_of;
using lazuli::test::expect_values;
using lazuli::test::to_vector;
using lazuli::test::data;
using lazuli::test::expect_close;
using lazuli::test::keys;

namespace fs = std::filesystem;

namespace {

// A model with a parameter of its own, a named child and a Sequential of children.
class Net : public nn::Module {
 public:
  Net() : Module("Net") {
    set_param("scale", array({2.0f}));
    register_module("encoder", std::make_shared<nn::Linear>(3, 4));
    register_module("head", std::make_shared<nn::Sequential>(nn::ReLU(), nn::Linear(4, 2, false)));
  }
  array operator()(const array& x) override { return child("head")(child("encoder")(x)) * param("scale"); }
};

std::string temp_path(const std::string& name) { return (fs::temp_directory_path() / ("lazuli_nn_" + name)).string(); }

}  // namespace

// ---------------------------------------------------------------- the tree

TEST(NnModule, ParametersAreKeyedByDottedPaths) {
  Net net;
  EXPECT_EQ(keys(net.parameters()),
            (std::vector<std::string>{"encoder.bias", "encoder.weight", "head.layers.1.weight", "scale"}));
  EXPECT_EQ(net.parameters().at("encoder.weight").shape(), (Shape{4, 3}));
  EXPECT_EQ(net.children().size(), 2u);
  EXPECT_EQ(net.children()[0].first, "encoder");
  std::vector<std::string> names;
  for (auto& [name, m] : net.named_modules()) names.push_back(name + ":" + m->type_name());
  EXPECT_EQ(names, (std::vector<std::string>{":Net", "encoder:Linear", "head:Sequential", "head.layers.0:ReLU",
                                             "head.layers.1:Linear"}));
  EXPECT_EQ(net.modules().size(), 5u);
  std::vector<std::string> leaves;
  for (auto& [name, m] : net.leaf_modules()) leaves.push_back(name);
  EXPECT_EQ(leaves, (std::vector<std::string>{"encoder", "head.layers.0", "head.layers.1"}));
  EXPECT_EQ(net.child_as<nn::Sequential>("head").size(), 2u);
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { net.child("decoder"); }), "decoder"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { net.param("bias"); }), "[Net] no parameter"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { nn::Module()(array(1.0f)); }), "no forward pass"));
}

TEST(NnModule, UpdateReplacesByPathAndStrictRejectsUnknownNames) {
  Net net;
  net.update({{"head.layers.1.weight", ones({2, 4})}, {"scale", array({3.0f})}});
  expect_values(net.parameters().at("head.layers.1.weight"), std::vector<double>(8, 1.0));
  expect_values(net.param("scale"), {3.0});
  auto msg = error_of<std::invalid_argument>([&] { net.update({{"head.layers.2.weight", ones({1})}}); });
  EXPECT_TRUE(contains(msg, "[Module::update]") && contains(msg, "head.layers.2.weight")) << msg;
  net.update({{"nothing", ones({1})}, {"scale", array({4.0f})}}, false);
  expect_values(net.param("scale"), {4.0});
  // The forward pass reads the new values.
  net.update({{"encoder.weight", zeros({4, 3})}, {"encoder.bias", ones({4})}});
  expect_values(net(zeros({1, 3})), {16.0, 16.0});
}

TEST(NnModule, UpdateModulesReplacesChildren) {
  Net net;
  net.update_modules({{"head.layers.0", std::make_shared<nn::Tanh>()}});
  EXPECT_EQ(net.child_as<nn::Sequential>("head")[0].type_name(), "Tanh");
  auto msg = error_of<std::invalid_argument>([&] { net.update_modules({{"head.layers.5", std::make_shared<nn::ReLU>()}}); });
  EXPECT_TRUE(contains(msg, "head.layers.5")) << msg;
  net.update_modules({{"missing", std::make_shared<nn::ReLU>()}}, false);
}

TEST(NnModule, FreezeAndUnfreeze) {
  Net net;
  net.freeze();
  EXPECT_TRUE(net.trainable_parameters().empty());
  EXPECT_EQ(net.parameters().size(), 4u);
  net.unfreeze();
  EXPECT_EQ(net.trainable_parameters().size(), 4u);
  // Without recursion only the module's own parameters.
  net.freeze(false);
  EXPECT_EQ(keys(net.trainable_parameters()),
            (std::vector<std::string>{"encoder.bias", "encoder.weight", "head.layers.1.weight"}));
  net.unfreeze();
  // By key, in every module that has it.
  net.freeze(true, std::vector<std::string>{"weight"});
  EXPECT_EQ(keys(net.trainable_parameters()), (std::vector<std::string>{"encoder.bias", "scale"}));
  net.child("encoder").unfreeze(true, std::vector<std::string>{"weight"});
  EXPECT_EQ(keys(net.trainable_parameters()), (std::vector<std::string>{"encoder.bias", "encoder.weight", "scale"}));
  auto msg = error_of<std::invalid_argument>([&] { net.freeze(false, std::vector<std::string>{"nope"}, true); });
  EXPECT_TRUE(contains(msg, "[Module::freeze]") && contains(msg, "nope")) << msg;
  msg = error_of<std::invalid_argument>([&] { net.unfreeze(false, std::vector<std::string>{"nope"}, true); });
  EXPECT_TRUE(contains(msg, "[Module::unfreeze]")) << msg;
  net.freeze(false, std::vector<std::string>{"encoder"}, true);  // a child's name is a member
}

TEST(NnModule, ApplyAndSetDtype) {
  Net net;
  net.apply([](const array& p) { return zeros_like(p); });
  for (auto& [name, p] : net.parameters()) EXPECT_EQ(sum(abs(p)).item<float>(), 0.0f) << name;
  net.apply([](const array& p) { return p + 1.0f; },
            [](const nn::Module& m, const std::string& name, const array&) { return name == "bias"; });
  expect_values(net.parameters().at("encoder.bias"), {1, 1, 1, 1});
  expect_values(net.param("scale"), {0.0});

  // set_dtype casts floating parameters only; an integer parameter stays.
  nn::Embedding emb(5, 2);
  emb.update({{"weight", ones({5, 2}, int32)}});
  Net other;
  other.set_dtype(float16);
  for (auto& [name, p] : other.parameters()) EXPECT_EQ(p.dtype(), float16) << name;
  emb.set_dtype(float16);
  EXPECT_EQ(emb.param("weight").dtype(), int32);
  emb.set_dtype(float16, [](Dtype) { return true; });
  EXPECT_EQ(emb.param("weight").dtype(), float16);
}

TEST(NnModule, TrainAndEvalSwitchDropoutAndBatchNorm) {
  nn::Sequential model(nn::Dropout(0.5), nn::BatchNorm(3));
  EXPECT_TRUE(model.training());
  model.eval();
  for (auto* m : model.modules()) EXPECT_FALSE(m->training());
  array x = data({64, 3});
  // Eval: dropout is the identity and BatchNorm uses the initial running stats (0, 1).
  expect_close(model(x), x / std::sqrt(1 + 1e-5f));
  model.train();
  // Train: dropout zeros about half and doubles the rest.
  auto kept = to_vector<float>(model[0](ones({1000})));
  int zeros_count = 0;
  for (float v : kept) {
    EXPECT_TRUE(v == 0.0f || v == 2.0f) << v;
    zeros_count += v == 0.0f;
  }
  EXPECT_GT(zeros_count, 400);
  EXPECT_LT(zeros_count, 600);
}

TEST(NnModule, BatchNormRunningStatisticsStayFrozen) {
  nn::BatchNorm bn(2, 1e-5, 0.1);
  EXPECT_EQ(keys(bn.trainable_parameters()), (std::vector<std::string>{"bias", "weight"}));
  bn.unfreeze();
  EXPECT_EQ(bn.trainable_parameters().size(), 2u);
  EXPECT_EQ(bn.parameters().size(), 4u);
  array x = array({1.0f, 10.0f, 3.0f, 20.0f, 5.0f, 30.0f}, {3, 2});
  // Training: batch statistics (mean 3, 20; biased var 8/3, 200/3) normalise x.
  array y = bn(x);
  expect_values(y, {-1 / std::sqrt(8 / 3. + 1e-5) * 2, -10 / std::sqrt(200 / 3. + 1e-5), 0, 0,
                    2 / std::sqrt(8 / 3. + 1e-5), 10 / std::sqrt(200 / 3. + 1e-5)},
                1e-4);
  expect_values(bn.param("running_mean"), {0.3, 2.0}, 1e-6);
  expect_values(bn.param("running_var"), {0.9 + 0.1 * 8 / 3., 0.9 + 0.1 * 200 / 3.}, 1e-5);
  bn.eval();
  expect_close(bn(x), nn::batch_norm(x, bn.param("running_mean"), bn.param("running_var"), bn.param("weight"),
                                     bn.param("bias")));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { bn(ones({2})); }), "2, 3 or 4 dimensions"));
  nn::BatchNorm plain(2, 1e-5, 0.1, false, false);
  EXPECT_TRUE(plain.parameters().empty());
  plain.eval();
  expect_close(plain(x), nn::batch_norm(x, mean(x, 0), var(x, 0), std::nullopt, std::nullopt));
}

// ---------------------------------------------------------------- weights files

TEST(NnModule, SaveAndLoadWeightsRoundTrip) {
  for (std::string ext : {".safetensors", ".npz"}) {
    Net a, b;
    std::string file = temp_path("weights" + ext);
    a.save_weights(file);
    b.load_weights(file);
    for (auto& [name, p] : a.parameters()) expect_close(b.parameters().at(name), p, 0.0);
    array x = data({2, 3});
    expect_close(b(x), a(x), 0.0);
    fs::remove(file);
  }
}

TEST(NnModule, LoadWeightsChecksNamesAndShapes) {
  Net net;
  nn::Params good = net.parameters();
  auto with = [&](const std::string& name, const array& value) {
    nn::Params p = good;
    p.insert_or_assign(name, value);
    return p;
  };
  auto msg = error_of<std::invalid_argument>([&] { net.load_weights(with("encoder.weight", zeros({3, 4}))); });
  EXPECT_TRUE(contains(msg, "[Module::load_weights] expected shape (4, 3) but received shape (3, 4) for parameter "
                            "encoder.weight"))
      << msg;
  msg = error_of<std::invalid_argument>([&] { net.load_weights(with("extra", zeros({1}))); });
  EXPECT_TRUE(contains(msg, "1 parameters not in the model: extra")) << msg;
  nn::Params missing = good;
  missing.erase("scale");
  msg = error_of<std::invalid_argument>([&] { net.load_weights(missing); });
  EXPECT_TRUE(contains(msg, "missing 1 parameters: scale")) << msg;
  // Not strict: the given names are replaced, the others kept, unknown ones ignored.
  net.load_weights({{"scale", array({7.0f})}, {"extra", zeros({1})}}, false);
  expect_values(net.param("scale"), {7.0});

  // A file saved from another model, with a mismatched shape.
  nn::Linear small(3, 2, false);
  std::string file = temp_path("small.safetensors");
  small.save_weights(file);
  nn::Linear big(3, 4, false);
  msg = error_of<std::invalid_argument>([&] { big.load_weights(file); });
  EXPECT_TRUE(contains(msg, "expected shape (4, 3) but received shape (2, 3) for parameter weight")) << msg;
  fs::remove(file);
  // Bad extensions and bad files.
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { big.save_weights(temp_path("w.bin")); }),
                       "unsupported file extension"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { big.load_weights(temp_path("w.pt")); }),
                       "unsupported file extension"));
  for (std::string ext : {".safetensors", ".npz"}) {
    std::string bad = temp_path("bad" + ext);
    std::ofstream(bad, std::ios::binary) << "not a weights file";
    EXPECT_THROW(big.load_weights(bad), std::invalid_argument) << ext;
    fs::remove(bad);
  }
}

// ---------------------------------------------------------------- value_and_grad, checkpoint

TEST(NnModule, ValueAndGradMatchesFiniteDifferences) {
  random::seed(3);
  nn::Sequential model(nn::Linear(3, 4), nn::Tanh(), nn::Linear(4, 2));
  model.set_dtype(float64);
  array x = astype(data({5, 3}), float64), y = astype(data({5, 2}, 2), float64);
  auto loss = [&](const std::vector<array>& in) { return nn::mse_loss(model(in[0]), in[1]); };
  auto [value, grads] = nn::value_and_grad(model, loss)({x, y});
  EXPECT_NEAR(value.item<double>(), loss({x, y}).item<double>(), 1e-12);
  ASSERT_EQ(keys(grads), keys(model.parameters()));
  const double h = 1e-6;
  for (auto& [name, p] : model.parameters()) {
    auto base = to_vector<double>(p);
    auto g = to_vector<double>(grads.at(name));
    for (size_t i = 0; i < base.size(); ++i) {
      auto shifted = [&](double d) {
        std::vector<double> v = base;
        v[i] += d;
        model.update({{name, array(v.begin(), p.shape())}});
        double out = loss({x, y}).item<double>();
        model.update({{name, p}});
        return out;
      };
      EXPECT_NEAR(g[i], (shifted(h) - shifted(-h)) / (2 * h), 1e-6) << name << "[" << i << "]";
    }
  }
  // Frozen parameters get no gradient; the model keeps its parameters afterwards.
  model.child("layers.0").freeze();
  auto [v2, g2] = nn::value_and_grad(model, loss)({x, y});
  EXPECT_EQ(keys(g2), (std::vector<std::string>{"layers.2.bias", "layers.2.weight"}));
  expect_close(grads.at("layers.2.weight"), g2.at("layers.2.weight"), 1e-12);
  EXPECT_NEAR(v2.item<double>(), value.item<double>(), 1e-12);
  model.freeze();
  auto [v3, g3] = nn::value_and_grad(model, loss)({x, y});
  EXPECT_TRUE(g3.empty());
  EXPECT_NEAR(v3.item<double>(), value.item<double>(), 1e-12);
}

TEST(NnModule, ValueAndGradKeepsBatchNormRunningStatistics) {
  // The running statistics updated inside the differentiated function stay updated (they
  // are not trainable, so value_and_grad does not put them back), with real values.
  nn::Sequential model(nn::Linear(2, 2), nn::BatchNorm(2));
  nn::Sequential twin(nn::Linear(2, 2), nn::BatchNorm(2));
  twin.update(model.parameters());
  array x = data({8, 2});
  auto [value, grads] = nn::value_and_grad(model, [&](const std::vector<array>& in) { return sum(model(in[0])); })({x});
  EXPECT_EQ(keys(grads), (std::vector<std::string>{"layers.0.bias", "layers.0.weight", "layers.1.bias",
                                                   "layers.1.weight"}));
  twin(x);
  expect_close(model.parameters().at("layers.1.running_mean"), twin.parameters().at("layers.1.running_mean"));
  expect_close(model.parameters().at("layers.1.running_var"), twin.parameters().at("layers.1.running_var"));
  EXPECT_GT(sum(abs(model.parameters().at("layers.1.running_mean"))).item<float>(), 0.0f);
}

TEST(NnModule, CheckpointGivesTheSameValuesAndGradients) {
  nn::Sequential block(nn::Linear(3, 3), nn::SiLU(), nn::Linear(3, 3));
  auto checkpointed = nn::checkpoint(block);
  array x = data({4, 3});
  expect_close(checkpointed(x), block(x));
  auto plain = nn::value_and_grad(block, [&](const std::vector<array>& in) { return sum(block(in[0])); });
  auto saved = nn::value_and_grad(block, [&](const std::vector<array>& in) { return sum(checkpointed(in[0])); });
  auto [v1, g1] = plain({x});
  auto [v2, g2] = saved({x});
  EXPECT_NEAR(v1.item<float>(), v2.item<float>(), 1e-5);
  for (auto& [name, g] : g1) expect_close(g2.at(name), g);
}

// ---------------------------------------------------------------- layers

TEST(NnLayers, LinearBilinearEmbeddingShapesInitAndForward) {
  random::seed(0);
  nn::Linear lin(16, 8);
  EXPECT_EQ(lin.param("weight").shape(), (Shape{8, 16}));
  EXPECT_LE(max(abs(lin.param("weight"))).item<float>(), 0.25f);
  EXPECT_LE(max(abs(lin.param("bias"))).item<float>(), 0.25f);
  array x = data({2, 16});
  expect_close(lin(x), matmul(x, transpose(lin.param("weight"))) + lin.param("bias"));
  EXPECT_FALSE(nn::Linear(2, 3, false).has_param("bias"));

  nn::Bilinear bil(3, 4, 5);
  EXPECT_EQ(bil.param("weight").shape(), (Shape{5, 4, 3}));
  array x1 = data({2, 3}), x2 = data({2, 4}, 2);
  expect_close(bil(x1, x2), nn::bilinear(x1, x2, bil.param("weight"), bil.param("bias")));

  nn::Embedding emb(10, 4);
  EXPECT_EQ(emb.param("weight").shape(), (Shape{10, 4}));
  array idx = array({3, 0, 9});
  expect_close(emb(idx), take(emb.param("weight"), idx, 0));
  expect_close(emb.as_linear(ones({1, 4})), reshape(sum(emb.param("weight"), 1), {1, 10}));
}

TEST(NnLayers, NormalisationLayersCallTheirFunctionalForms) {
  array x = data({2, 3, 4, 6});
  nn::LayerNorm ln(6);
  EXPECT_EQ(keys(ln.parameters()), (std::vector<std::string>{"bias", "weight"}));
  expect_close(ln(x), nn::layer_norm(x, ones({6}), zeros({6})));
  EXPECT_EQ(nn::LayerNorm(6, 1e-5, true, false).parameters().size(), 1u);
  EXPECT_TRUE(nn::LayerNorm(6, 1e-5, false).parameters().empty());
  nn::RMSNorm rms(6, 1e-6);
  rms.update({{"weight", arange(6.0f)}});
  expect_close(rms(x), nn::rms_norm(x, arange(6.0f), 1e-6));
  nn::GroupNorm gn(3, 6, 1e-5, true, true);
  expect_close(gn(x), nn::group_norm(x, 3, ones({6}), zeros({6}), 1e-5, true));
  nn::GroupNorm gn2(2, 6);
  expect_close(gn2(x), nn::group_norm(x, 2, ones({6}), zeros({6})));
  nn::InstanceNorm in(6);
  EXPECT_TRUE(in.parameters().empty());
  expect_close(in(x), nn::instance_norm(x, std::nullopt, std::nullopt));
  EXPECT_EQ(nn::InstanceNorm(6, 1e-5, true).parameters().size(), 2u);
}

TEST(NnLayers, DropoutChecksItsSettingsAndInputs) {
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([] { nn::Dropout(1.0); }), "[Dropout] The dropout probability"));
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([] { nn::Dropout2d(-0.1); }), "[Dropout2d]"));
  nn::Dropout2d d2;
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { d2(ones({2, 2})); }), "Expected 3 or 4 dimensions"));
  nn::Dropout3d d3(0.5);
  EXPECT_TRUE(contains(error_of<std::invalid_argument>([&] { d3(ones({2, 2, 2})); }), "Expected 4 or 5 dimensions"));
  // Whole channels are zeroed: each (n, c) is all zero or all 2.
  auto v = to_vector<float>(d2(ones({8, 3, 3, 4})));
  for (int n = 0; n < 8; ++n)
    for (int c = 0; c < 4; ++c)
      for (int i = 1; i < 9; ++i) EXPECT_EQ(v[(n * 9 + i) * 4 + c], v[n * 36 + c]);
  nn::Dropout none(0.0);
  expect_close(none(ones({3})), ones({3}), 0.0);
}

TEST(NnLayers, ConvolutionsMatchTheConvOps) {
  random::seed(1);
  nn::Conv1d c1(4, 6, 3, 2, 1, 1, 2);
  EXPECT_EQ(c1.param("weight").shape(), (Shape{6, 3, 2}));
  EXPECT_LE(max(abs(c1.param("weight"))).item<float>(), std::sqrt(1.0f / 12));
  expect_values(c1.param("bias"), std::vector<double>(6, 0.0));
  array x1 = data({2, 9, 4});
  expect_close(c1(x1), conv1d(x1, c1.param("weight"), 2, 1, 1, 2) + c1.param("bias"));

  nn::Conv2d c2(3, 5, {3, 2}, {1, 2}, {1, 0}, {1, 1}, 1, false);
  EXPECT_EQ(c2.param("weight").shape(), (Shape{5, 3, 2, 3}));
  EXPECT_FALSE(c2.has_param("bias"));
  array x2 = data({2, 6, 7, 3});
  expect_close(c2(x2), conv2d(x2, c2.param("weight"), {1, 2}, {1, 0}));

  nn::Conv3d c3(2, 3, 2);
  array x3 = data({1, 4, 4, 4, 2});
  expect_close(c3(x3), conv3d(x3, c3.param("weight")) + c3.param("bias"));

  nn::ConvTranspose1d t1(2, 3, 3, 2, 1, 1, 1);
  EXPECT_EQ(t1.param("weight").shape(), (Shape{3, 3, 2}));
  expect_close(t1(data({1, 5, 2})), conv_transpose1d(data({1, 5, 2}), t1.param("weight"), 2, 1, 1, 1) +
                                        t1.param("bias"));
  nn::ConvTranspose2d t2(2, 3, 2, 2);
  expect_close(t2(data({1, 3, 3, 2})), conv_transpose2d(data({1, 3, 3, 2}), t2.param("weight"), {2, 2}) +
                                           t2.param("bias"));
  nn::ConvTranspose3d t3(2, 1, 2);
  expect_close(t3(data({1, 2, 2, 2, 2})), conv_transpose3d(data({1, 2, 2, 2, 2}), t3.param("weight")) +
                                              t3.param("bias"));
  auto msg = error_of<std::invalid_argument>([] { nn::Conv1d(3, 4, 2, 1, 0, 1, 2); });
  EXPECT_TRUE(contains(msg, "[Conv1d] The number of input channels (3) must be divisible")) << msg;
  msg = error_of<std::invalid_argument>([] { nn::Conv2d(4, 3, 2, 1, 0, 1, 2); });
  EXPECT_TRUE(contains(msg, "[Conv2d] The number of output channels (3)")) << msg;
}

TEST(NnLayers, PoolingAgainstHandComputedValues) {
  // (1, 4, 1): windows of 2 every 2 over 1, 5, 2, 4.
  array x = array({1.0f, 5.0f, 2.0f, 4.0f}, {1, 4, 1});
  expect_values(nn::MaxPool1d(2)(x), {5, 4});
  expect_values(nn::AvgPool1d(2)(x), {3, 3});
  expect_values(nn::MaxPool1d(2, 1)(x), {5, 5, 4});
  // Padding 1: max ignores the -inf padding, the mean counts the zeros.
  expect_values(nn::MaxPool1d(2, 2, 1)(x), {1, 5, 4});
  expect_values(nn::AvgPool1d(2, 2, 1)(x), {0.5, 3.5, 2});
  // 2-D, (1, 2, 4, 1) with a (2, 2) window and stride (1, 2).
  array img = reshape(arange(8.0f), {1, 2, 4, 1});
  expect_values(nn::MaxPool2d({2, 2}, std::vector<int>{1, 2})(img), {5, 7});
  expect_values(nn::AvgPool2d(2)(img), {2.5, 4.5});
  expect_values(nn::MaxPool3d(2)(reshape(arange(8.0f), {1, 2, 2, 2, 1})), {7});
  expect_values(nn::AvgPool3d(2)(reshape(arange(8.0f), {1, 2, 2, 2, 1})), {3.5});
  EXPECT_TRUE(nn::MaxPool2d(2).parameters().empty());
  auto msg = error_of<std::invalid_argument>([] { nn::MaxPool2d(std::vector<int>{2, 2, 2}); });
  EXPECT_TRUE(contains(msg, "[MaxPool2d] 'kernel_size' must be an integer or a tuple containing 2 integers")) << msg;
  msg = error_of<std::invalid_argument>([&] { nn::MaxPool1d(0)(x); });
  EXPECT_TRUE(contains(msg, "[max_pool] kernel_size and stride must be positive")) << msg;
  msg = error_of<std::invalid_argument>([&] { nn::AvgPool1d(2, 1, -1)(x); });
  EXPECT_TRUE(contains(msg, "[avg_pool] padding must be non-negative")) << msg;
  msg = error_of<std::invalid_argument>([&] { nn::MaxPool2d(2)(x); });
  EXPECT_TRUE(contains(msg, "expected an input of 4 dimensions")) << msg;
  msg = error_of<std::invalid_argument>([&] { nn::MaxPool1d(5)(x); });
  EXPECT_TRUE(contains(msg, "is larger than the (padded) spatial shape")) << msg;
}

TEST(NnLayers, ActivationClassesCallTheirFunctions) {
  array x = array({-3.0f, -0.5f, 0.0f, 0.7f, 2.5f, 7.0f}, {2, 3});
  using F = std::function<array(const array&)>;
  std::vector<std::pair<nn::ModulePtr, F>> cases = {
      {std::make_shared<nn::Sigmoid>(), [](const array& a) { return nn::sigmoid(a); }},
      {std::make_shared<nn::Mish>(), [](const array& a) { return nn::mish(a); }},
      {std::make_shared<nn::ReLU>(), [](const array& a) { return nn::relu(a); }},
      {std::make_shared<nn::ReLU2>(), [](const array& a) { return nn::relu2(a); }},
      {std::make_shared<nn::ReLU6>(), [](const array& a) { return nn::relu6(a); }},
      {std::make_shared<nn::Softplus>(), [](const array& a) { return nn::softplus(a); }},
      {std::make_shared<nn::Softsign>(), [](const array& a) { return nn::softsign(a); }},
      {std::make_shared<nn::SiLU>(), [](const array& a) { return nn::silu(a); }},
      {std::make_shared<nn::LogSigmoid>(), [](const array& a) { return nn::log_sigmoid(a); }},
      {std::make_shared<nn::Tanh>(), [](const array& a) { return nn::tanh(a); }},
      {std::make_shared<nn::Hardswish>(), [](const array& a) { return nn::hardswish(a); }},
      {std::make_shared<nn::SELU>(), [](const array& a) { return nn::selu(a); }},
      {std::make_shared<nn::HardTanh>(), [](const array& a) { return nn::hard_tanh(a); }},
      {std::make_shared<nn::HardShrink>(), [](const array& a) { return nn::hard_shrink(a); }},
      {std::make_shared<nn::Softmax>(), [](const array& a) { return nn::softmax(a); }},
      {std::make_shared<nn::Softmin>(), [](const array& a) { return nn::softmin(a); }},
      {std::make_shared<nn::LogSoftmax>(), [](const array& a) { return nn::log_softmax(a); }},
      {std::make_shared<nn::GLU>(0), [](const array& a) { return nn::glu(a, 0); }},
      {std::make_shared<nn::LeakyReLU>(0.2), [](const array& a) { return nn::leaky_relu(a, 0.2); }},
      {std::make_shared<nn::ELU>(0.5), [](const array& a) { return nn::elu(a, 0.5); }},
      {std::make_shared<nn::CELU>(2.0), [](const array& a) { return nn::celu(a, 2.0); }},
      {std::make_shared<nn::Softshrink>(1.0), [](const array& a) { return nn::softshrink(a, 1.0); }},
      {std::make_shared<nn::Step>(0.5), [](const array& a) { return nn::step(a, 0.5); }},
      {std::make_shared<nn::GELU>(), [](const array& a) { return nn::gelu(a); }},
      {std::make_shared<nn::GELU>("tanh"), [](const array& a) { return nn::gelu_approx(a); }},
      {std::make_shared<nn::GELU>("precise"), [](const array& a) { return nn::gelu_approx(a); }},
      {std::make_shared<nn::GELU>("fast"), [](const array& a) { return nn::gelu_fast_approx(a); }},
  };
  for (auto& [module, fn] : cases) {
    EXPECT_TRUE(module->parameters().empty()) << module->type_name();
    array got = (*module)(x), want = fn(x);
    EXPECT_EQ(got.dtype(), want.dtype()) << module->type_name();
    expect_close(got, want, 0.0);
  }
  // A few against values worked out here.
  expect_values(nn::ReLU()(x), {0, 0, 0, 0.7, 2.5, 7}, 1e-6);
  expect_values(nn::LeakyReLU(0.1)(x), {-0.3, -0.05, 0, 0.7, 2.5, 7}, 1e-6);
  expect_values(nn::ReLU6()(x), {0, 0, 0, 0.7, 2.5, 6}, 1e-6);
  nn::PReLU prelu(1, 0.5);
  EXPECT_EQ(keys(prelu.parameters()), std::vector<std::string>{"weight"});
  expect_values(prelu(x), {-1.5, -0.25, 0, 0.7, 2.5, 7}, 1e-6);
  auto msg = error_of<std::invalid_argument>([] { nn::GELU("erf"); });
  EXPECT_TRUE(contains(msg, "[GELU] The approximation should be in") && contains(msg, "'erf'")) << msg;
}

TEST(NnLayers, SequentialAndIdentity) {
  nn::Sequential empty;
  expect_close(empty(ones({2})), ones({2}), 0.0);
  nn::Identity id;
  expect_close(id(ones({2})), ones({2}), 0.0);
  nn::Sequential seq({std::make_shared<nn::Linear>(2, 3), std::make_shared<nn::ReLU>()});
  EXPECT_EQ(seq.size(), 2u);
  EXPECT_EQ(keys(seq.parameters()), (std::vector<std::string>{"layers.0.bias", "layers.0.weight"}));
  array x = data({4, 2});
  expect_close(seq(x), nn::relu(seq[0](x)));
}
