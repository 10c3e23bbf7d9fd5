// The optimizer classes: state bookkeeping around the update rules of optimizers.h.
#include "lazuli/nn/optimizer.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "lazuli/io.h"

namespace lazuli::optimizers {

namespace {

[[noreturn]] void fail(const std::string& op, const std::string& msg) {
  throw std::invalid_argument("[" + op + "] " + msg);
}

std::string number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

// ---- Optimizer ----

Optimizer::Optimizer() { state_.insert_or_assign("step", array(static_cast<uint64_t>(0), uint64)); }

void Optimizer::schedule(const std::string& name, const Schedulable& value) {
  if (auto* fixed = std::get_if<double>(&value.value)) {
    state_.insert_or_assign(name, array(static_cast<float>(*fixed)));
  } else {
    const Schedule& fn = std::get<Schedule>(value.value);
    schedules_[name] = fn;
    state_.insert_or_assign(name, fn(step()));
  }
}

array Optimizer::learning_rate() const {
  auto it = state_.find("learning_rate");
  if (it == state_.end()) fail("Optimizer", "this optimizer has no learning_rate.");
  return it->second;
}

void Optimizer::set_learning_rate(double learning_rate) {
  schedules_.erase("learning_rate");
  state_.insert_or_assign("learning_rate", array(static_cast<float>(learning_rate)));
}

std::vector<array> Optimizer::initial_state(const array& parameter) const {
  return std::vector<array>(slots(parameter).size(), zeros_like(parameter));
}

bool Optimizer::has_state(const std::string& name, const array& parameter) const {
  for (auto& slot : slots(parameter))
    if (!state_.count(name + "." + slot)) return false;
  return true;
}

void Optimizer::init(const Params& parameters) {
  for (auto& [name, parameter] : parameters) {
    if (has_state(name, parameter)) continue;
    auto names = slots(parameter);
    auto values = initial_state(parameter);
    for (size_t i = 0; i < names.size(); ++i) state_.insert_or_assign(name + "." + names[i], values[i]);
  }
}

Params Optimizer::apply_gradients(const Params& gradients, const Params& parameters) {
  init(gradients);
  for (auto& [name, fn] : schedules_) state_.insert_or_assign(name, fn(step()));
  state_.insert_or_assign("step", step() + array(static_cast<uint64_t>(1), uint64));
  Params out;
  for (auto& [name, gradient] : gradients) {
    auto it = parameters.find(name);
    if (it == parameters.end()) fail("Optimizer::apply_gradients", "no parameter for the gradient \"" + name + "\".");
    auto slot_names = slots(gradient);
    std::vector<array> values;
    for (auto& slot : slot_names) values.push_back(state_.at(name + "." + slot));
    Update update = compute(gradient, it->second, values);
    for (size_t i = 0; i < slot_names.size(); ++i) state_.insert_or_assign(name + "." + slot_names[i], update.state[i]);
    out.emplace(name, update.parameter);
  }
  return out;
}

void Optimizer::update(nn::Module& model, const Params& gradients) {
  model.update(apply_gradients(gradients, model.parameters()));
}

void Optimizer::set_state(const Params& state) {
  if (!state.count("step")) fail("Optimizer::set_state", "the state has no \"step\".");
  state_ = state;
}

void Optimizer::save_state(const std::string& file) const {
  Params s = state();
  save_safetensors(file, ArrayMap(s.begin(), s.end()));
}

void Optimizer::load_state(const std::string& file) {
  ArrayMap arrays = load_safetensors(file).first;
  set_state(Params(arrays.begin(), arrays.end()));
}

// ---- the optimizers ----

SGD::SGD(Schedulable learning_rate, double momentum, double weight_decay, double dampening, bool nesterov)
    : momentum_(momentum), weight_decay_(weight_decay), dampening_(dampening), nesterov_(nesterov) {
  if (nesterov && (momentum <= 0 || dampening != 0))
    fail("SGD", "Nesterov momentum requires a momentum and zero dampening.");
  schedule("learning_rate", learning_rate);
}

Update SGD::compute(const array& g, const array& p, const std::vector<array>& state) {
  return sgd(p, g, state[0], learning_rate(), momentum_, weight_decay_, dampening_, nesterov_);
}

RMSprop::RMSprop(Schedulable learning_rate, double alpha, double eps) : alpha_(alpha), eps_(eps) {
  if (alpha < 0) fail("RMSprop", "alpha should be >=0, " + number(alpha) + " was provided instead");
  if (eps < 0) fail("RMSprop", "epsilon should be >0, " + number(eps) + " was provided instead");
  schedule("learning_rate", learning_rate);
}

Update RMSprop::compute(const array& g, const array& p, const std::vector<array>& state) {
  return rmsprop(p, g, state[0], learning_rate(), alpha_, eps_);
}

Adagrad::Adagrad(Schedulable learning_rate, double eps) : eps_(eps) {
  if (eps < 0) fail("Adagrad", "epsilon should be >0, " + number(eps) + " was provided instead");
  schedule("learning_rate", learning_rate);
}

Update Adagrad::compute(const array& g, const array& p, const std::vector<array>& state) {
  return adagrad(p, g, state[0], learning_rate(), eps_);
}

AdaDelta::AdaDelta(Schedulable learning_rate, double rho, double eps) : rho_(rho), eps_(eps) {
  if (rho < 0) fail("AdaDelta", "rho should be >=0, " + number(rho) + " was provided instead");
  if (eps < 0) fail("AdaDelta", "epsilon should be >0, " + number(eps) + " was provided instead");
  schedule("learning_rate", learning_rate);
}

Update AdaDelta::compute(const array& g, const array& p, const std::vector<array>& state) {
  return adadelta(p, g, state[0], state[1], learning_rate(), rho_, eps_);
}

Adam::Adam(Schedulable learning_rate, std::pair<double, double> betas, double eps, bool bias_correction)
    : betas_(betas), eps_(eps), bias_correction_(bias_correction) {
  schedule("learning_rate", learning_rate);
}

Update Adam::compute(const array& g, const array& p, const std::vector<array>& state) {
  return adam(p, g, state[0], state[1], learning_rate(), step(), betas_.first, betas_.second, eps_, bias_correction_);
}

AdamW::AdamW(Schedulable learning_rate, std::pair<double, double> betas, double eps, double weight_decay,
             bool bias_correction)
    : Adam(std::move(learning_rate), betas, eps, bias_correction), weight_decay_(weight_decay) {}

Update AdamW::compute(const array& g, const array& p, const std::vector<array>& state) {
  return adamw(p, g, state[0], state[1], learning_rate(), step(), betas_.first, betas_.second, eps_, weight_decay_,
               bias_correction_);
}

Adamax::Adamax(Schedulable learning_rate, std::pair<double, double> betas, double eps)
    : Adam(std::move(learning_rate), betas, eps) {
  if (eps < 0) fail("Adamax", "Epsilon value should be >=0, " + number(eps) + " was provided instead");
}

Update Adamax::compute(const array& g, const array& p, const std::vector<array>& state) {
  return adamax(p, g, state[0], state[1], learning_rate(), betas_.first, betas_.second, eps_);
}

Lion::Lion(Schedulable learning_rate, std::pair<double, double> betas, double weight_decay)
    : betas_(betas), weight_decay_(weight_decay) {
  schedule("learning_rate", learning_rate);
}

Update Lion::compute(const array& g, const array& p, const std::vector<array>& state) {
  return lion(p, g, state[0], learning_rate(), betas_.first, betas_.second, weight_decay_);
}

Adafactor::Adafactor(std::optional<Schedulable> learning_rate, AdafactorOptions options) : options_(options) {
  if (learning_rate) schedule("learning_rate", *learning_rate);
}

std::vector<std::string> Adafactor::slots(const array& parameter) const {
  std::vector<std::string> names = parameter.ndim() >= 2 ? std::vector<std::string>{"exp_avg_sq_row", "exp_avg_sq_col"}
                                                         : std::vector<std::string>{"exp_avg_sq"};
  if (options_.beta1) names.push_back("exp_avg");
  return names;
}

std::vector<array> Adafactor::initial_state(const array& parameter) const {
  return adafactor_init(parameter, options_);
}

Update Adafactor::compute(const array& g, const array& p, const std::vector<array>& state) {
  auto it = state_.find("learning_rate");
  std::optional<array> lr = it == state_.end() ? std::nullopt : std::optional<array>(it->second);
  return adafactor(p, g, state, lr, step(), options_);
}

Muon::Muon(Schedulable learning_rate, double momentum, double weight_decay, bool nesterov, int ns_steps)
    : momentum_(momentum), weight_decay_(weight_decay), nesterov_(nesterov), ns_steps_(ns_steps) {
  schedule("learning_rate", learning_rate);
}

Update Muon::compute(const array& g, const array& p, const std::vector<array>& state) {
  return muon(p, g, state[0], learning_rate(), momentum_, weight_decay_, nesterov_, ns_steps_);
}

// ---- MultiOptimizer ----

MultiOptimizer::MultiOptimizer(std::vector<std::shared_ptr<Optimizer>> optimizers, std::vector<Filter> filters)
    : optimizers_(std::move(optimizers)), filters_(std::move(filters)) {
  if (optimizers_.empty()) fail("MultiOptimizer", "needs at least one optimizer.");
  if (filters_.size() != optimizers_.size() - 1)
    fail("MultiOptimizer", "Given " + std::to_string(filters_.size()) + " filters but " +
                               std::to_string(optimizers_.size() - 1) + " needed.");
  state_.clear();
}

std::vector<Params> MultiOptimizer::split(const Params& gradients) const {
  std::vector<Params> parts(optimizers_.size());
  for (auto& [name, g] : gradients) {
    size_t i = 0;
    while (i < filters_.size() && !filters_[i](name, g)) ++i;
    parts[i].emplace(name, g);
  }
  return parts;
}

void MultiOptimizer::init(const Params& parameters) {
  auto parts = split(parameters);
  for (size_t i = 0; i < optimizers_.size(); ++i) optimizers_[i]->init(parts[i]);
}

Params MultiOptimizer::apply_gradients(const Params& gradients, const Params& parameters) {
  auto parts = split(gradients);
  Params out;
  for (size_t i = 0; i < optimizers_.size(); ++i) out.merge(optimizers_[i]->apply_gradients(parts[i], parameters));
  return out;
}

Params MultiOptimizer::state() const {
  Params out;
  for (size_t i = 0; i < optimizers_.size(); ++i)
    for (auto& [name, value] : optimizers_[i]->state())
      out.emplace("states." + std::to_string(i) + "." + name, value);
  return out;
}

void MultiOptimizer::set_state(const Params& state) {
  std::vector<Params> parts(optimizers_.size());
  for (auto& [name, value] : state) {
    size_t i = 0;
    while (i < parts.size() && !starts_with(name, "states." + std::to_string(i) + ".")) ++i;
    if (i == parts.size()) fail("MultiOptimizer::set_state", "Invalid state provided: unexpected key \"" + name + "\".");
    parts[i].emplace(name.substr(("states." + std::to_string(i) + ".").size()), value);
  }
  for (size_t i = 0; i < optimizers_.size(); ++i) optimizers_[i]->set_state(parts[i]);
}

void MultiOptimizer::set_learning_rate(double learning_rate) {
  for (auto& o : optimizers_) o->set_learning_rate(learning_rate);
}

// ---- clip_grad_norm ----

std::pair<Params, array> clip_grad_norm_params(const Params& gradients, double max_norm) {
  std::vector<array> leaves;
  for (auto& [name, g] : gradients) leaves.push_back(g);
  auto [clipped, norm] = clip_grad_norm(leaves, max_norm);
  Params out;
  size_t i = 0;
  for (auto& [name, g] : gradients) out.emplace(name, clipped[i++]);
  return {out, norm};
}

// ---- schedules ----
// The step is an integer count; as in Python, arithmetic with float scalars gives float32.

namespace {
array as_float(const array& step) { return astype(step, float32); }
array scalar(double v) { return array(static_cast<float>(v)); }
}  // namespace

Schedule exponential_decay(double init, double decay_rate) {
  return [=](const array& step) { return scalar(init) * power(scalar(decay_rate), as_float(step)); };
}

Schedule step_decay(double init, double decay_rate, int step_size) {
  if (step_size < 1) fail("step_decay", "step_size must be positive, got " + std::to_string(step_size) + ".");
  return [=](const array& step) {
    array periods = floor_divide(step, array(static_cast<uint64_t>(step_size), step.dtype()));
    return scalar(init) * power(scalar(decay_rate), as_float(periods));
  };
}

Schedule cosine_decay(double init, int decay_steps, double end) {
  if (decay_steps < 1) fail("cosine_decay", "decay_steps must be positive, got " + std::to_string(decay_steps) + ".");
  return [=](const array& step) {
    array s = minimum(as_float(step), scalar(decay_steps));
    array decay = scalar(0.5) * (scalar(1.0) + cos(scalar(std::acos(-1.0) / decay_steps) * s));
    return scalar(end) + decay * scalar(init - end);
  };
}

Schedule linear_schedule(double init, double end, int steps) {
  if (steps < 1) fail("linear_schedule", "steps must be greater than 0, but got " + std::to_string(steps) + ".");
  return [=](const array& step) {
    array s = minimum(as_float(step), scalar(steps));
    return s * scalar((end - init) / steps) + scalar(init);
  };
}

Schedule join_schedules(const std::vector<Schedule>& schedules, const std::vector<int>& boundaries) {
  if (schedules.empty()) fail("join_schedules", "Must provide at least 1 schedule to join.");
  if (schedules.size() != boundaries.size() + 1)
    fail("join_schedules", "Received " + std::to_string(boundaries.size()) + " boundaries but expected " +
                               std::to_string(schedules.size() - 1) + ".");
  return [=](const array& step) {
    array output = schedules[0](step);
    for (size_t i = 0; i < boundaries.size(); ++i) {
      array boundary(static_cast<uint64_t>(boundaries[i]), step.dtype());
      // Before a boundary the later schedule is not used; clamp its step at 0 there, as the
      // unsigned step - boundary would wrap around.
      array since = where(step < boundary, zeros_like(step), step - boundary);
      output = where(step < boundary, output, schedules[i + 1](since));
    }
    return output;
  };
}

}  // namespace lazuli::optimizers
